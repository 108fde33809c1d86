#!/usr/bin/env bash
# Runs the end-to-end test (test/e2e, build tag e2e): a real control plane
# built from Go modules and run as local processes on 127.0.0.1 (etcd from
# Debian's etcd-server, kube-apiserver and kube-controller-manager from
# tools/kubernetes, Crossplane core from tools/crossplane-core), a local OCI
# registry serving the function's package, and the function itself. No
# container engine. See docs/e2e.md.
#   FPC_E2E_XPKG=path       use this package instead of building one
#   FPC_E2E_CROSSPLANE_ADMIN=1  run Crossplane as cluster-admin instead of
#                           with example/rbac.yaml
#   FPC_E2E_KEEP_LOGS=dir   on failure, copy every process's log there
#   E2E_TIMEOUT=40m         go test's timeout
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go=${GO:-go}
command -v etcd >/dev/null || { echo "etcd is missing: apt-get install etcd-server" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl is missing" >&2; exit 1; }
if [ -z "${FPC_E2E_XPKG:-}" ]; then
  arch=$("$go" env GOARCH)
  # Only this machine's platform: the package is pulled, never run.
  XPKG_PLATFORMS="linux/$arch" "$root/hack/xpkg.sh" "$root/_output"
  export FPC_E2E_XPKG="$root/_output/function-packet-capture-$arch.xpkg"
fi
cd "$root/test/e2e"
exec "$go" test -tags e2e -count=1 -v -timeout "${E2E_TIMEOUT:-40m}" -run '^(TestEndToEnd|TestPlugin)$' .
