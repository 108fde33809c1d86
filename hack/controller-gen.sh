#!/usr/bin/env bash
# Runs controller-gen at the version pinned in tools/controller-gen, building
# it once into a cache outside the repository.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(grep -oE 'sigs.k8s.io/controller-tools v[^ ]+' "$root/tools/controller-gen/go.mod" | head -1 | cut -d' ' -f2)
cache=${FPC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fpc-tools}
bin="$cache/controller-gen-$version"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  (cd "$root/tools/controller-gen" && go build -o "$bin.tmp" sigs.k8s.io/controller-tools/cmd/controller-gen)
  mv "$bin.tmp" "$bin"
fi
exec "$bin" "$@"
