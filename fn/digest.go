package fn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// inputDigest says, in one line, what a call's plan was made from: the
// observed XR's version and ledger, the Jobs and the capture Pods. It is a
// fmt.Stringer so a debug log computes it only when debug logging is on.
// Crossplane calls the function with what its caches hold; when the status
// moves in a way the Jobs do not explain, this line shows which input
// changed between two calls.
type inputDigest struct {
	xrVersion string
	req       *capture.Request
}

func (d inputDigest) String() string {
	var b strings.Builder
	pc := d.req.Capture
	l := pc.Status.Ledger
	fmt.Fprintf(&b, "xr rv=%s phase=%s ledger{req=%d started=%d retrievable=%d succeeded=%d failed=%d gone=%d}",
		d.xrVersion, pc.Status.Phase, len(l.Requested), len(l.Started), len(l.Retrievable), len(l.Succeeded), len(l.Failed), len(l.Gone))
	fmt.Fprintf(&b, " targets=%d jobs[", len(d.req.Pods))
	jobs := make([]string, 0, len(d.req.Jobs))
	for _, j := range d.req.Jobs {
		ready := int32(-1)
		if j.Status.Ready != nil {
			ready = *j.Status.Ready
		}
		jobs = append(jobs, fmt.Sprintf("%s rv=%s a=%d r=%d s=%d f=%d c=%d", j.Name, j.ResourceVersion, j.Status.Active, ready, j.Status.Succeeded, j.Status.Failed, len(j.Status.Conditions)))
	}
	slices.Sort(jobs)
	b.WriteString(strings.Join(jobs, "; "))
	b.WriteString("] capturePods[")
	pods := make([]string, 0, len(d.req.CapturePods))
	for _, p := range d.req.CapturePods {
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
