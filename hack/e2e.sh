#!/usr/bin/env bash
# Runs the end-to-end test (test/e2e, build tag e2e): a real control plane
# built from Go modules and run as local processes on 127.0.0.1 (etcd from
# Debian's etcd-server, kube-apiserver, kube-controller-manager and
# kube-scheduler from tools/kubernetes, Crossplane core from
# tools/crossplane-core), a local OCI registry serving the function's
# package, the function itself, and two real nodes (kubelet from
# tools/kubernetes; containerd, runc and the CNI plugins from Debian) on a
# bridge of their own. Needs root. No Docker. See docs/e2e.md.
#   FPC_E2E_XPKG=path       use this package instead of building one
#   FPC_E2E_CROSSPLANE_ADMIN=1  run Crossplane as cluster-admin instead of
#                           with example/rbac.yaml
#   FPC_E2E_KEEP_LOGS=dir   on failure, copy every process's log there
#   FPC_E2E_PLAYED=0        skip the played-kubelet scenarios
#   FPC_E2E_REAL=fetch      of the real-node scenarios, run only the plugin's
#   E2E_TIMEOUT=75m         go test's timeout (a cold build of the Kubernetes
#                           binaries alone takes ~25 min on 2 busy cores)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
go=${GO:-go}
command -v etcd >/dev/null || { echo "etcd is missing: apt-get install etcd-server" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl is missing" >&2; exit 1; }
for tool in containerd ctr runc; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install containerd runc containernetworking-plugins" >&2; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || { echo "the CNI plugins are missing: apt-get install containernetworking-plugins" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make e2e runs real nodes (kubelet, containerd): run it as root" >&2; exit 1; }
if [ -z "${FPC_E2E_XPKG:-}" ]; then
  arch=$("$go" env GOARCH)
  # Only this machine's platform: the package is pulled, never run.
  XPKG_PLATFORMS="linux/$arch" "$root/hack/xpkg.sh" "$root/_output"
  export FPC_E2E_XPKG="$root/_output/function-packet-capture-$arch.xpkg"
fi
cd "$root/test/e2e"
exec "$go" test -tags e2e -count=1 -v -timeout "${E2E_TIMEOUT:-75m}" -run '^(TestEndToEnd|TestPlugin)$' .
