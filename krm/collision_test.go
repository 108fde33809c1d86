package krm

import (
	"strings"
	"testing"
)

// TestCollisionCause: two PacketCaptures whose targets read alike when
// joined by '-' (shop-eu/web, shop/eu-web) are both planned, each with its
// own ConfigMap; two that would make the same Job are refused, naming the
// jobId as the cause.
func TestCollisionCause(t *testing.T) {
	capture := func(name, jobID, ns, deploy string) string {
		return "- apiVersion: monitoring.openshift.tpg/v1alpha1\n  kind: PacketCapture\n  metadata: {name: " + name + ", namespace: captures}\n" +
			"  spec: {jobId: " + jobID + ", targetNamespace: " + ns + ", targetDeployment: " + deploy + ", duration: '30'}\n"
	}
	const header = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
	const target = `- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop, uid: d-1}
  spec: {selector: {matchLabels: {app: web}}}
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata: {name: web-1, namespace: shop, uid: rs-00001, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-1, controller: true}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1-a, namespace: shop, uid: pod-0000a, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: rs-00001, controller: true}]}
  spec: {nodeName: node-a}
  status: {phase: Running}
`
	t.Run("names that read alike", func(t *testing.T) {
		out, err := runFn([]byte(header + capture("a", "qwer", "shop-eu", "web") + capture("b", "qwer", "shop", "eu-web")))
		if err != nil || strings.Contains(string(out), "also generated for") {
			t.Fatalf("error %v; want both planned:\n%s", err, out)
		}
		for _, cm := range []string{"name: a-qwer", "name: b-qwer"} {
			if !strings.Contains(string(out), cm) {
				t.Errorf("no ConfigMap %s in the output", cm)
			}
		}
	})
	t.Run("two captures of one Deployment", func(t *testing.T) {
		out, err := runFn([]byte(header + capture("a", "aaaa", "shop", "web") + capture("b", "bbbb", "shop", "web") + target))
		if err != nil {
			t.Fatalf("error %v; want both planned:\n%s", err, out)
		}
		for _, job := range []string{"name: web-1-a-aaaa", "name: web-1-a-bbbb"} {
			if !strings.Contains(string(out), job) {
				t.Errorf("no Job %s in the output", job)
			}
		}
	})
	t.Run("the same jobId twice", func(t *testing.T) {
		out, err := runFn([]byte(header + capture("a", "qwer", "shop", "web") + capture("b", "qwer", "shop", "web") + target))
		want := `PacketCapture "captures/b": Job "captures/web-1-a-qwer" is also generated for PacketCapture "captures/a": both capture the same Pod under the same jobId: give one of them another spec.jobId`
		if err == nil || !strings.Contains(string(out), want) {
			t.Fatalf("error %v; want the message %q in:\n%s", err, want, out)
		}
	})
}
