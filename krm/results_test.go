package krm

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// TestCapturePodResults: capture Pods exported with the Jobs give the
// PacketCapture's status its packets, bytes, drops and files.
func TestCapturePodResults(t *testing.T) {
	job := capture.JobName("web-5d4f-aaaaa", "ab12")
	in := `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {name: web-capture, namespace: captures}
  spec: {targetNamespace: shop, targetDeployment: web, duration: '60', jobId: ab12}
  status:
    ledger: {jobId: ab12, jobPer: Pod, started: [web-5d4f-aaaaa]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop, uid: d-0001}
  spec: {replicas: 1, selector: {matchLabels: {app: web}}}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata:
    name: web-5d4f
    namespace: shop
    uid: rs-0001
    ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-0001, controller: true}]
- apiVersion: v1
  kind: Pod
  metadata:
    name: web-5d4f-aaaaa
    namespace: shop
    uid: pod-0001
    labels: {app: web}
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4f, uid: rs-0001, controller: true}]
  spec: {nodeName: node-a, containers: [{name: web, image: nginx}]}
  status: {phase: Running, podIP: 10.0.0.1}
- apiVersion: batch/v1
  kind: Job
  metadata:
    name: ` + job + `
    namespace: captures
    uid: j-0001
    labels: {` + capture.LabelCapture + `: web-capture}
  spec:
    template:
      spec:
        nodeName: node-a
        containers: [{name: capture, image: netshoot, args: [web-5d4f-aaaaa/pod-0001]}]
  status:
    conditions: [{type: Complete, status: 'True'}]
- apiVersion: v1
  kind: Pod
  metadata:
    name: ` + job + `-x2x9k
    namespace: captures
    uid: cp-0001
    labels: {` + capture.LabelCapture + `: web-capture}
    ownerReferences: [{apiVersion: batch/v1, kind: Job, name: ` + job + `, uid: j-0001, controller: true}]
  spec:
    nodeName: node-a
    containers: [{name: capture, image: netshoot, args: [web-5d4f-aaaaa/pod-0001]}]
  status:
    phase: Succeeded
    containerStatuses:
    - name: capture
      state:
        terminated:
          exitCode: 0
          message: |
            status=ok targets=1 files=2 bytes=61728 packets=500 dropped=3 start=20261124T101500Z
            #pod status packets bytes dropped files seconds
            1 ok 500 61728 3 2 60
`
	out, err := runFn([]byte(in))
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	rl, err := yaml.Parse(string(out))
	if err != nil {
		t.Fatal(err)
	}
	items, err := rl.Pipe(yaml.Lookup("items"))
	if err != nil {
		t.Fatal(err)
	}
	pc := items.Content()[0]
	xr := yaml.NewRNode(pc)
	for _, f := range []struct{ path, want string }{
		{"status.counts.packets", "500"}, {"status.counts.bytes", "61728"}, {"status.counts.dropped", "3"}, {"status.counts.files", "2"},
		{"status.pods.[pod=web-5d4f-aaaaa].packets", "500"}, {"status.pods.[pod=web-5d4f-aaaaa].phase", "Succeeded"},
		{"status.phase", "Completed"},
	} {
		n, err := xr.Pipe(yaml.Lookup(strings.Split(f.path, ".")...))
		if err != nil || n == nil {
			t.Errorf("%s: not found (%v)", f.path, err)
			continue
		}
		if got := yaml.GetValue(n); got != f.want {
			t.Errorf("%s = %s, want %s", f.path, got, f.want)
		}
	}
}
