package capture

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The results of a capture come from its capture Pods' termination messages
// (see summary.go): one summary per capture Pod, one line in it per target
// Pod, in the order of the capture container's arguments.

// maxWhy bounds the reason the ledger keeps for each Pod: a node's Job may
// report thousands, and the XR is one etcd object.
const maxWhy = 200

// result is what a capture's summary says of one target Pod.
type result struct {
	// status is one of the Capture* statuses.
	status                               string
	packets, bytes, dropped, files, secs int64
	// why the status is not ok, cut to maxWhy bytes.
	why string
}

// String is the result as the ledger keeps it (see Ledger.Nodes).
func (r result) String() string {
	s := fmt.Sprintf("%s %d %d %d %d %d", r.status, r.packets, r.bytes, r.dropped, r.files, r.secs)
	if r.why != "" {
		s += " " + r.why
	}
	return s
}

// parseResult reads a result the ledger kept; ok is false for "" (not read
// yet) and anything else that is not a result.
func parseResult(s string) (result, bool) {
	f := strings.SplitN(s, " ", 7)
	if len(f) < 6 || f[0] == "" {
		return result{}, false
	}
	r := result{status: f[0]}
	for i, dst := range []*int64{&r.packets, &r.bytes, &r.dropped, &r.files, &r.secs} {
		n, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil || n < 0 {
			return result{}, false
		}
		*dst = n
	}
	if len(f) == 7 {
		r.why = printable(f[6], maxWhy)
	}
	return r, true
}

// LedgerResult reads one Pod's result as the ledger keeps it (Ledger.Nodes)
// into the summary line it came from, with Index 1. ok is false for "" (not
// read yet) and anything else that is not a result. The kubectl plugin
// checks the files of a capture whose capture Pods are gone against it.
func LedgerResult(line string) (t TargetSummary, ok bool) {
	r, ok := parseResult(line)
	if !ok {
		return TargetSummary{}, false
	}
	return TargetSummary{Index: 1, Status: r.status, Packets: r.packets, Bytes: r.bytes, Dropped: r.dropped, Files: r.files, Seconds: r.secs, Why: r.why}, true
}

// targetSummary is one target Pod's result as a capture Pod reported it.
type targetSummary struct {
	result result
	// ended: the capture Pod succeeded, so no retry can follow and the
	// result stands even before its Job shows an outcome.
	ended bool
}

// captureSummaries reads the summaries of this capture's Pods (those of a Job
// this capture, jobID, names), by target Pod. Of two attempts of one Job the
// one that succeeded counts, else the newer. It also returns the capture
// Pods whose termination message is not a summary, sorted.
func captureSummaries(pods []corev1.Pod, jobID string) (map[string]targetSummary, []string) {
	order := make([]*corev1.Pod, len(pods))
	for i := range pods {
		order[i] = &pods[i]
	}
	slices.SortFunc(order, func(a, b *corev1.Pod) int {
		return cmp.Or(
			-cmp.Compare(boolInt(a.Status.Phase == corev1.PodSucceeded), boolInt(b.Status.Phase == corev1.PodSucceeded)),
			-a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Name, b.Name))
	})
	out := make(map[string]targetSummary)
	var unreadable []string
	for _, pod := range order {
		ref := metav1.GetControllerOf(pod)
		if ref == nil || ref.Kind != "Job" {
			continue
		}
		// The capture Pod's arguments are its Job's: they name the target
		// Pods, and the summary's lines follow their order.
		targets, ok := targetsOfJob(&batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: pod.Spec}}})
		if !ok || jobPerOfName(ref.Name, targets, jobID) == "" {
			continue
		}
		msg := terminationMessage(pod)
		if msg == "" {
			continue
		}
		sum, err := ParseSummary(msg)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("%.80q", pod.Name))
			continue
		}
		for i, t := range targets {
			ts, ok := sum.Target(i + 1)
			if !ok && len(targets) == 1 && len(sum.Targets) == 0 {
				// A summary from before the per-target lines: its totals
				// are its one Pod's.
				ts, ok = TargetSummary{Index: 1, Status: sum.Status, Packets: sum.Packets, Bytes: sum.Bytes, Dropped: sum.Dropped, Files: sum.Files}, true
			}
			if _, seen := out[t.Name]; !ok || seen {
				continue
			}
			out[t.Name] = targetSummary{result: resultOf(ts), ended: pod.Status.Phase == corev1.PodSucceeded}
		}
	}
	slices.Sort(unreadable)
	return out, unreadable
}

// stoppingCapturePods names the Jobs with a capture Pod that has not ended:
// its capture container has not terminated and the Pod has no final phase.
func stoppingCapturePods(pods []corev1.Pod) map[string]bool {
	jobs := make(map[string]bool)
	for i := range pods {
		pod := &pods[i]
		ref := metav1.GetControllerOf(pod)
		if ref == nil || ref.Kind != "Job" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if terminationMessage(pod) == "" {
			jobs[ref.Name] = true
		}
	}
	return jobs
}

// terminationMessage is what the capture container wrote when it ended, or
// "" while it runs.
func terminationMessage(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != ContainerName {
			continue
		}
		if t := cs.State.Terminated; t != nil && t.Message != "" {
			return t.Message
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			return t.Message
		}
	}
	return ""
}

func resultOf(t TargetSummary) result {
	// The status is one word in the ledger's line.
	return result{status: printable(strings.ReplaceAll(t.Status, " ", "_"), 40), packets: t.Packets, bytes: t.Bytes,
		dropped: t.Dropped, files: t.Files, secs: t.Seconds, why: printable(t.Why, maxWhy)}
}

// printable keeps the script's words fit for a terminal and the ledger:
// control characters become '?', and the text is cut to n bytes.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// outcome is the phase of a capture with this result, the words for it, and
// whether the capture holds less than the whole duration (seconds).
func (r result) outcome(duration int32) (Phase, string, bool) {
	because := func(msg string) string {
		if r.why == "" {
			return msg
		}
		return msg + ": " + r.why
	}
	held := fmt.Sprintf("%d s into the %d s capture; its files hold those %d s", r.secs, duration, r.secs)
	switch r.status {
	case CaptureOK:
		// A capture that ended well may still carry a warning: another
		// network namespace in the Pod, tcpdump still reading at the stop.
		return PodSucceeded, r.why, false
	case CaptureGone:
		return PodGone, because("partial: the Pod went away " + held), true
	case CaptureInterrupted:
		return PodFailed, because("partial: the capture was interrupted " + held), true
	case CapturePodNotFound:
		return PodFailed, because("nothing captured: no process of the Pod was found on its node"), false
	case CaptureHostNetwork:
		return PodFailed, because("nothing captured: the Pod uses its node's network namespace, and capturing it would record every Pod on the node"), false
	case CaptureTcpdumpFailed:
		return PodFailed, because("tcpdump failed (check spec.filter and spec.interface)"), false
	case CaptureBadSettings:
		return PodFailed, because("nothing captured: the capture script refused its settings"), false
	}
	return PodFailed, because(fmt.Sprintf("the capture reported status %q", r.status)), false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
