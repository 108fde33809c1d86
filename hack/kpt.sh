#!/usr/bin/env bash
# Runs function-packet-capture as a KRM function in a kpt pipeline: builds it
# into $OUTPUT/bin (the Kptfile's `exec:` names the binary, which kpt looks up
# on PATH), puts that directory first on PATH and renders the package in
# place with `kpt fn render --allow-exec`. The example package is committed
# rendered, and rendering is idempotent: afterwards `git diff example/kpt`
# shows nothing unless the function's output changed.
#   hack/kpt.sh [PACKAGE] [kpt fn render flags...]     (default example/kpt)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output=${OUTPUT:-_output}
case $output in /*) ;; *) output=$root/$output ;; esac
pkg=${1:-$root/example/kpt}
[ $# -gt 0 ] && shift

command -v kpt >/dev/null || { echo "kpt is missing: install kpt v1 (https://kpt.dev/installation/)" >&2; exit 1; }
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$output/bin/function-packet-capture" .)
PATH="$output/bin:$PATH" kpt fn render --allow-exec "$pkg" "$@"
