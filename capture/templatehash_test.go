package capture

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// TestJobHasher checks the template hash jobMaker puts together from pieces
// against templateHash of the whole Job, for targets whose values need JSON
// escaping, are empty or long, and for every kind of Input.
func TestJobHasher(t *testing.T) {
	targets := []target{
		{Name: "web-5d4f8-aaaaa", UID: "uid-1", IP: "10.0.0.1", Node: "node-a"},
		{Name: "web", UID: "", IP: "10.0.0.1", Node: "node-a"},
		{Name: "web", UID: "uid", IP: "", Node: ""},
		{Name: "a-pod-name-that-is-far-too-long-to-fit-in-a-job-name-with-its-job-id", UID: "u", IP: "fd00::1", Node: "n"},
		{Name: `quote"back\slash`, UID: "<uid>&", IP: "\u2028\u2029", Node: "é\x01\x7f"},
		{Name: "pod-1a9fe3c2", UID: "uid-7d02b5e1", IP: "ip-1a9fe3c2", Node: "node-7d02b5e1"},
	}
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
		for _, tg := range targets {
			got := newJob(tg)
			bare := got.DeepCopy()
			bare.Annotations = nil
			if want := templateHash(bare); got.Annotations[AnnotationTemplateHash] != want {
				t.Errorf("target %+v: hash %q, want %q", tg, got.Annotations[AnnotationTemplateHash], want)
			}
		}
	}
	// A maker whose target values turn up elsewhere falls back to hashing
	// each Job whole.
	h := newJobHasher(func(t target) *batchv1.Job {
		j := &batchv1.Job{}
		j.Name, j.Namespace = t.Name, t.Name
		return j
	})
	if len(h.pieces) != 0 {
		t.Errorf("jobHasher cut a JSON in which a target value occurs twice")
	}
	// So does one that uses a target value changed: the second placeholder
	// shows it.
	h = newJobHasher(func(t target) *batchv1.Job {
		j := &batchv1.Job{}
		j.Name, j.GenerateName, j.Namespace = "job-"+t.Name, t.Name, t.UID
		j.Labels = map[string]string{"ip": t.IP, "uid": strings.ToUpper(t.UID)}
		j.Spec.Template.Spec.NodeName = t.Node
		return j
	})
	if len(h.pieces) != 0 {
		t.Errorf("jobHasher cut a JSON in which a target value occurs changed")
	}
}
