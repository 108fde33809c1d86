package capture

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestDecodePacketCaptureNamespace: a legacy cluster-scoped XR has no
// namespace; both adapters plan it in its claim's, which Crossplane records
// in a label. An object's own namespace wins.
func TestDecodePacketCaptureNamespace(t *testing.T) {
	spec := map[string]any{"targetNamespace": "shop", "targetDeployment": "web", "duration": "30s"}
	cases := map[string]struct {
		meta map[string]any
		want string
	}{
		"namespaced": {meta: map[string]any{"name": "c", "namespace": "team"}, want: "team"},
		"legacy XR in its claim's namespace": {meta: map[string]any{"name": "c-x1",
			"labels": map[string]any{labelClaimNamespace: "team"}}, want: "team"},
		"own namespace wins over the label": {meta: map[string]any{"name": "c", "namespace": "team",
			"labels": map[string]any{labelClaimNamespace: "other"}}, want: "team"},
		"neither": {meta: map[string]any{"name": "c"}, want: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pc, err := DecodePacketCapture(map[string]any{"metadata": tc.meta, "spec": spec})
			if err != nil {
				t.Fatal(err)
			}
			if pc.Namespace != tc.want {
				t.Errorf("Namespace = %q, want %q", pc.Namespace, tc.want)
			}
		})
	}
}

// TestPlanIgnoresCapturePodsOfOtherNamespaces: the planner reads only the
// capture Pods of the capture's namespace (crossplane render matches by
// labels alone), so an adapter may pass what it was given.
func TestPlanIgnoresCapturePodsOfOtherNamespaces(t *testing.T) {
	r := testRequest()
	first := reconcile(t, r, nil)
	job := first.Jobs[0].Job
	r.Jobs = []batchv1.Job{asObserved(job, batchv1.JobComplete)}
	pod := capturePod(job, "x1", corev1.PodSucceeded, 0, "status=ok files=3 bytes=500000 packets=4000 dropped=0")
	cases := map[string]struct {
		namespace   string
		wantPackets int64
	}{
		"the capture's namespace": {namespace: job.Namespace, wantPackets: 4000},
		"no namespace":            {namespace: "", wantPackets: 4000},
		"another namespace":       {namespace: "elsewhere", wantPackets: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := *pod.DeepCopy()
			p.Namespace = tc.namespace
			got := reconcile(t, withCapturePods(r, p), first)
			if got.Status.Counts.Packets != tc.wantPackets {
				t.Errorf("counts.packets = %d, want %d", got.Status.Counts.Packets, tc.wantPackets)
			}
		})
	}
}
