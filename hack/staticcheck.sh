#!/usr/bin/env bash
# Runs staticcheck at the version pinned in tools/staticcheck, building it
# once into a cache outside the repository (about 15 seconds cold).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(grep -oE 'honnef.co/go/tools v[^ ]+' "$root/tools/staticcheck/go.mod" | head -1 | cut -d' ' -f2)
cache=${FPC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fpc-tools}
bin="$cache/staticcheck-$version"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  echo "building staticcheck $version into $bin (first run only)" >&2
  (cd "$root/tools/staticcheck" && go build -o "$bin.tmp.$$" honnef.co/go/tools/cmd/staticcheck)
  mv "$bin.tmp.$$" "$bin"
fi
exec "$bin" "$@"
