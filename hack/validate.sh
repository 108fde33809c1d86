#!/usr/bin/env bash
# Validates the examples with `crossplane beta validate`, offline: the schemas
# of Crossplane's own types (Composition, Function, XRD, ...) come from the
# CRDs that the crossplane Go module pinned in tools/crossplane ships in
# cluster/crds, written where validate's cache expects the package of
# --crossplane-image, so it never downloads anything.
#   hack/validate.sh                       every example (v2 and legacy)
#   hack/validate.sh EXTENSIONS RESOURCES  one run (comma-separated files or dirs)
# Resources without a schema fail the run (--error-on-missing-schemas): an XR
# whose XRD is missing is an error, not a silent skip. Validate also checks
# each Composition's function input against the Input CRD (package/input).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

crossplane=$(hack/crossplane.sh --path)
version=$(grep -oE 'github.com/crossplane/crossplane/v2 v[^ ]+' tools/crossplane/go.mod | head -1 | cut -d' ' -f2)
crds=$(cd tools/crossplane && go mod download github.com/crossplane/crossplane/v2 &&
  go list -m -f '{{.Dir}}' github.com/crossplane/crossplane/v2)/cluster/crds
[ -d "$crds" ] || { echo "no $crds in the crossplane $version module" >&2; exit 1; }

cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
pkg="$cache/xpkg.crossplane.io/crossplane/crossplane@$version"
mkdir -p "$pkg"
for f in "$crds"/*.yaml; do cat "$f"; echo "---"; done >"$pkg/package.yaml"

validate() {
  echo "crossplane beta validate $1 $2" >&2
  "$crossplane" beta validate "$1" "$2" \
    --cache-dir="$cache" \
    --crossplane-image="xpkg.crossplane.io/crossplane/crossplane:$version" \
    --error-on-missing-schemas
}

if [ $# -eq 2 ]; then
  validate "$1" "$2"
  exit
fi
[ $# -eq 0 ] || { echo "usage: $0 [EXTENSIONS RESOURCES]" >&2; exit 2; }

# The v2 API and the legacy one define the same PacketCapture kind, so each
# is validated on its own. The XRDs are also resources: validated against
# Crossplane's XRD schema.
validate example/xrd.yaml,package/input \
  example/xrd.yaml,example/xr.yaml,example/composition.yaml,example/functions.yaml
validate example/legacy/xrd.yaml,package/input \
  example/legacy/xrd.yaml,example/legacy/claim.yaml,example/legacy/xr.yaml,example/legacy/composition.yaml
# The kpt package's PacketCapture and its functionConfig (an Input).
validate example/xrd.yaml,package/input \
  example/kpt/packetcapture.yaml,example/kpt/fn-config.yaml
