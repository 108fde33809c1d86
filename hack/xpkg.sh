#!/usr/bin/env bash
# Builds the function's Crossplane package (.xpkg) without a container engine.
#   hack/xpkg.sh [OUTPUT_DIR]          (default: _output)
# For each platform of XPKG_PLATFORMS (default "linux/amd64 linux/arm64"):
#   1. the static function binary (CGO_ENABLED=0, the Dockerfile's flags);
#   2. its runtime image, assembled from scratch by `image function`
#      (tools/image, go-containerregistry) and written as an image tarball;
#   3. `crossplane xpkg build` with package/ as the package root
#      (crossplane.yaml and the Input CRD) and the image embedded,
# giving OUTPUT_DIR/function-packet-capture-<arch>.xpkg. `crossplane xpkg
# push --package-files=a.xpkg,b.xpkg REF` pushes them as one multi-arch
# package. See docs/package.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/_output}
mkdir -p "$out"
out=$(cd "$out" && pwd)
platforms=${XPKG_PLATFORMS:-linux/amd64 linux/arm64}
version=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
go=${GO:-go}

crossplane=$("$root/hack/crossplane.sh" --path)
(cd "$root/tools/image" && "$go" build -o "$out/bin/image" .)

for platform in $platforms; do
  os=${platform%%/*}
  arch=${platform#*/}
  arch=${arch%%/*}
  bin="$out/bin/${os}_${arch}/function"
  (cd "$root" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false -ldflags='-s -w' -o "$bin" .)
  "$out/bin/image" function -binary "$bin" -platform "$platform" \
    -tag "function-packet-capture:$version" -version "$version" \
    -o "$out/image-$arch.tar"
  # package/ has no examples directory, so the package has no examples layer.
  "$crossplane" xpkg build \
    --package-root="$root/package" \
    --examples-root="$root/package/examples" \
    --embed-runtime-image-tarball="$out/image-$arch.tar" \
    -o "$out/function-packet-capture-$arch.xpkg"
done
