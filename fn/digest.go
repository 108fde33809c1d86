package fn

import (
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// inputDigest says, in one line, what a call's plan was made from: the
// observed XR's version and ledger, the Jobs and the capture Pods. It is a
// fmt.Stringer so a debug log computes it only when debug logging is on.
// Crossplane calls the function with what its caches hold; when the status
// moves in a way the Jobs do not explain, this line shows which input
// changed between two calls.
//
// It holds the Jobs and capture Pods it prints, and of the target Pods only
// their number: the log call comes after the response is built, and holding
// the Pods until then would add them to the call's peak heap (fn/limits.go).
type inputDigest struct {
	xrVersion   string
	capture     capture.PacketCapture
	targets     int
	jobs        []batchv1.Job
	capturePods []corev1.Pod
}

func newInputDigest(xrVersion string, req capture.Request) inputDigest {
	return inputDigest{xrVersion: xrVersion, capture: req.Capture, targets: len(req.Pods), jobs: req.Jobs, capturePods: req.CapturePods}
}

func (d inputDigest) String() string {
	var b strings.Builder
	pc := d.capture
	l := pc.Status.Ledger
	fmt.Fprintf(&b, "xr rv=%s phase=%s ledger{req=%d started=%d retrievable=%d succeeded=%d failed=%d gone=%d}",
		d.xrVersion, pc.Status.Phase, len(l.Requested), len(l.Started), len(l.Retrievable), len(l.Succeeded), len(l.Failed), len(l.Gone))
	fmt.Fprintf(&b, " targets=%d jobs[", d.targets)
	jobs := make([]string, 0, len(d.jobs))
	for _, j := range d.jobs {
		ready := int32(-1)
		if j.Status.Ready != nil {
			ready = *j.Status.Ready
		}
		jobs = append(jobs, fmt.Sprintf("%s rv=%s a=%d r=%d s=%d f=%d c=%d", j.Name, j.ResourceVersion, j.Status.Active, ready, j.Status.Succeeded, j.Status.Failed, len(j.Status.Conditions)))
	}
	slices.Sort(jobs)
	b.WriteString(strings.Join(jobs, "; "))
	b.WriteString("] capturePods[")
	pods := make([]string, 0, len(d.capturePods))
	for _, p := range d.capturePods {
		terminated := 0
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Terminated != nil {
				terminated++
			}
		}
		pods = append(pods, fmt.Sprintf("%s rv=%s %s terminated=%d", p.Name, p.ResourceVersion, p.Status.Phase, terminated))
	}
	slices.Sort(pods)
	b.WriteString(strings.Join(pods, "; "))
	b.WriteString("]")
	return b.String()
}
