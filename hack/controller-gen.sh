#!/usr/bin/env bash
# Runs controller-gen at the version pinned in tools/controller-gen, building
# it once into a cache outside the repository.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(awk '$1=="sigs.k8s.io/controller-tools" {print $2}' "$root/tools/controller-gen/go.mod")
cache=${FPC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fpc-tools}
bin="$cache/controller-gen-$version"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  (cd "$root/tools/controller-gen" && go build -o "$bin.tmp" sigs.k8s.io/controller-tools/cmd/controller-gen)
  mv "$bin.tmp" "$bin"
fi
exec "$bin" "$@"
