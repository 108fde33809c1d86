package capture

import (
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// TestJobHasher checks the template hash jobMaker puts together from pieces
// against templateHash of the whole Job, for targets whose values need JSON
// escaping, are empty or long, and for every kind of Input.
func TestJobHasher(t *testing.T) {
	jobs := []struct {
		name    string
		targets []target
	}{
		{"web-5d4f8-aaaaa-qwer", []target{{Name: "web-5d4f8-aaaaa", UID: "uid-1", Node: "node-a"}}},
		{"web-qwer", []target{{Name: "web", UID: "", Node: "node-a"}}},
		{"web-qwer", []target{{Name: "web", UID: "uid", Node: ""}}},
		{"n-qwer", []target{{Name: "a-pod-name-that-is-far-too-long-to-fit-in-a-job-name-with-its-job-id", UID: "u", Node: "n"}}},
		{`quote"back\slash`, []target{{Name: `quote"back\slash`, UID: "<uid>&", Node: "é\x01\x7f"}}},
		{"job-1a9fe3c2", []target{{Name: "pod-1a9fe3c2", UID: "uid-7d02b5e1", Node: "node-7d02b5e1"}}},
		{"node-a-12345678-qwer", []target{{Name: "a", UID: "ua", Node: "node-a"}, {Name: "b", UID: "ub", Node: "node-a"}}},
		{"node-a-87654321-qwer", []target{{Name: "a", UID: "ua", Node: "node-a"}, {Name: "b", UID: "ub", Node: "node-a"}, {Name: "c", UID: "uc", Node: "node-a"}}},
		{"", nil},
	}
	// 40 targets: a memory limit of its own (see memoryLimitFor).
	var many []target
	for i := range 40 {
		many = append(many, target{Name: fmt.Sprintf("web-%d", i), UID: fmt.Sprintf("uid-%d", i), Node: "node-b"})
	}
	jobs = append(jobs, struct {
		name    string
		targets []target
	}{"node-b-qwer", many})
	inputs := []*v1beta1.Input{
		nil,
		{SecurityMode: v1beta1.SecurityPrivileged, PriorityClassName: "high"},
		{Output: &v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/pcap"}},
		{Output: &v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcaps"}},
	}
	for _, in := range inputs {
		pc := testCapture()
		s, errs := resolveSettings(pc, in)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		newJob := jobMaker(pc, s, "shop-web")
		for _, j := range jobs {
			got := newJob(j.name, j.targets)
			bare := got.DeepCopy()
			bare.Annotations = nil
			if want := templateHash(bare); got.Annotations[AnnotationTemplateHash] != want {
				t.Errorf("Job %q of %+v: hash %q, want %q", j.name, j.targets, got.Annotations[AnnotationTemplateHash], want)
			}
		}
	}
	// A maker whose own values turn up elsewhere falls back to hashing each
	// Job whole.
	h := newJobHasher(func(name, node string, args []string) *batchv1.Job {
		j := &batchv1.Job{}
		j.Name, j.Namespace = name, name
		return j
	})
	if len(h.pieces) != 0 {
		t.Errorf("jobHasher cut a JSON in which a value occurs twice")
	}
	// So does one that uses a value changed: the second placeholder shows it.
	h = newJobHasher(func(name, node string, args []string) *batchv1.Job {
		j := &batchv1.Job{}
		j.Name, j.Namespace = name, strings.ToUpper(node)
		j.Spec.Template.Spec.NodeName = node
		j.Spec.Template.Spec.Containers = []corev1.Container{{Args: args, Command: args[:1]}}
		return j
	})
	if len(h.pieces) != 0 {
		t.Errorf("jobHasher cut a JSON in which a value occurs changed")
	}
}
