#!/usr/bin/env bash
# Runs the crossplane CLI at the version pinned in tools/crossplane, building
# it once into a cache outside the repository (about 3 minutes cold).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(grep -oE 'github.com/crossplane/crossplane/v2 v[^ ]+' "$root/tools/crossplane/go.mod" | head -1 | cut -d' ' -f2)
cache=${FPC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fpc-tools}
bin="$cache/crossplane-$version"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  echo "building crossplane CLI $version into $bin (first run only)" >&2
  (cd "$root/tools/crossplane" && go build -o "$bin.tmp.$$" github.com/crossplane/crossplane/v2/cmd/crank)
  mv "$bin.tmp.$$" "$bin"
fi
if [ "${1:-}" = "--path" ]; then echo "$bin"; exit 0; fi
exec "$bin" "$@"
