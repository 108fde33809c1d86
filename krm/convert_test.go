package krm

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// laughs is the classic alias bomb: 10 levels of 10 aliases each.
func laughs() string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol]\n")
	for i := 1; i <= 10; i++ {
		b.WriteString("l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// TestHostileYAML runs the function on ResourceLists whose PacketCapture or
// Pods hold alias bombs and self-referential aliases: each is an error
// result, never a crash or a hang.
func TestHostileYAML(t *testing.T) {
	for name, in := range map[string]string{
		"self-referential spec": `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {name: c, namespace: captures}
  spec: &s {targetNamespace: shop, targetDeployment: web, duration: "30", x: *s}
`,
		"bomb in a Pod": `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {name: c, namespace: captures}
  spec: {targetNamespace: shop, targetDeployment: web, duration: "30"}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop, uid: d}
  spec: {selector: {matchLabels: {app: web}}}
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, namespace: shop, uid: p, labels: {app: web}}
  spec:
    nodeName: n
    bomb:
` + indent(laughs(), "      "),
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan struct{})
			var out []byte
			var err error
			go func() {
				defer close(done)
				out, err = runFn([]byte(in))
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the function hangs")
			}
			if err == nil || !strings.Contains(string(out), "severity: error") {
				t.Fatalf("want an error result, got error %v and:\n%s", err, out)
			}
		})
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
