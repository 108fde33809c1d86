#!/usr/bin/env bash
# Renders a PacketCapture with `crossplane render`, serving this function
# from a local process (no Docker): builds the function, starts it with
# --insecure on a free loopback port, renders, and stops it. The required
# resources may be a YAML stream or what `kubectl get deploy,rs,pod -o yaml`
# prints (a v1 List): Lists are expanded first, since render does not.
#   hack/render.sh XR COMPOSITION FUNCTIONS REQUIRED_RESOURCES[,MORE...] [render flags...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 4 ] || { echo "usage: $0 XR COMPOSITION FUNCTIONS REQUIRED_RESOURCES [render flags...]" >&2; exit 2; }
xr=$1 composition=$2 functions=$3 required=$4; shift 4

crossplane=$("$root/hack/crossplane.sh" --path)
work=$(mktemp -d)
pid=
cleanup() {
  rc=$?
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
(cd "$root" && CGO_ENABLED=0 go build -o "$work/function" . && go build -o "$work/liststream" ./hack/liststream)
IFS=, read -r -a files <<<"$required"
for f in "${files[@]}"; do cat "$f"; printf '\n---\n'; done | "$work/liststream" >"$work/required.yaml"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 9443)
"$work/function" --insecure --address "127.0.0.1:$port" --metrics-address "" >"$work/function.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/function.log" >&2; exit 1; }
  sleep 0.1
done
"$crossplane" render "$xr" "$composition" "$functions" \
  --required-resources="$work/required.yaml" \
  -a render.crossplane.io/runtime=Development \
  -a "render.crossplane.io/runtime-development-target=127.0.0.1:$port" "$@"
