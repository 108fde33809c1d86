package capture

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// reconcile plans r with the status of the previous plan, as Crossplane
// does: the XR's status, ledger included, is read back at the next call.
func reconcile(t *testing.T, r Request, prev *Desired) *Desired {
	t.Helper()
	if prev != nil {
		r.Capture.Status = prev.Status
	}
	return planned(t, r)
}

// withJobStatus sets what the Job controller shows of a capture Job.
func withJobStatus(j batchv1.Job, active, ready int32, conds ...batchv1.JobConditionType) batchv1.Job {
	j.Status.Active, j.Status.Ready = active, ptrTo(ready)
	j.Status.Conditions = nil
	for _, c := range conds {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return j
}

// podPhases is each Pod's phase in a plan's status.
func podPhases(o *Desired) map[string]Phase {
	m := map[string]Phase{}
	for _, p := range o.Status.Pods {
		m[p.Pod] = p.Phase
	}
	return m
}

// TestPlanNoFlapping follows one Pod-output capture's Jobs as a real Job
// controller shows them when the retention window ends: ready, then
// active=1 ready=0 while the container stops, then SuccessCriteriaMet, then
// Complete. Once Completed and Ready, the capture stays so at every step.
func TestPlanNoFlapping(t *testing.T) {
	r := testRequest()
	first := reconcile(t, r, nil)
	var jobs []batchv1.Job
	for _, j := range first.Jobs {
		jobs = append(jobs, asObserved(j.Job))
	}
	steps := []struct {
		name string
		job0 batchv1.Job
	}{
		{"files ready", withJobStatus(jobs[0], 1, 1)},
		{"container stopping", withJobStatus(jobs[0], 1, 0)},
		{"SuccessCriteriaMet", withJobStatus(jobs[0], 1, 0, batchv1.JobSuccessCriteriaMet)},
		{"Complete", withJobStatus(jobs[0], 0, 0, batchv1.JobSuccessCriteriaMet, batchv1.JobComplete)},
	}
	prev := first
	for _, s := range steps {
		// The other two captures have their files ready throughout.
		r.Jobs = []batchv1.Job{s.job0, withJobStatus(jobs[1], 1, 1), withJobStatus(jobs[2], 1, 1)}
		o := reconcile(t, r, prev)
		if o.Status.Phase != PhaseCompleted || !o.Ready {
			t.Errorf("%s: phase %s, ready %v; want Completed and ready (message %q)", s.name, o.Status.Phase, o.Ready, o.Status.Message)
		}
		if ph := podPhases(o)["web-5d4f8-aaaaa"]; ph != PodRetrievable && ph != PodSucceeded {
			t.Errorf("%s: Pod web-5d4f8-aaaaa is %s, want Retrievable or Succeeded", s.name, ph)
		}
		for _, j := range o.Jobs {
			if !j.Ready {
				t.Errorf("%s: Job %s planned not ready", s.name, j.Job.Name)
			}
		}
		prev = o
	}

	// FailureTarget is the failure, before Failed is set.
	r = testRequest()
	r.Jobs = []batchv1.Job{withJobStatus(jobs[0], 1, 0, batchv1.JobFailureTarget), jobs[1], jobs[2]}
	if ph := podPhases(reconcile(t, r, first))["web-5d4f8-aaaaa"]; ph != PodFailed {
		t.Errorf("a Job with FailureTarget: Pod is %s, want Failed", ph)
	}
}

// TestPlanPhaseNeverMovesBack: a phase recorded in the ledger is a floor.
func TestPlanPhaseNeverMovesBack(t *testing.T) {
	const pod = "web-5d4f8-aaaaa"
	for _, recorded := range []Phase{PodRetrievable, PodSucceeded, PodFailed, PodGone} {
		t.Run(string(recorded), func(t *testing.T) {
			r := testRequest()
			jobs := observedJobs(t, r, nil)
			r.Jobs = jobs
			l := Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Started: []string{"web-5d4f8-bbbbb", "web-5d4f8-ccccc"}}
			switch recorded {
			case PodRetrievable:
				l.Retrievable = []string{pod}
			case PodSucceeded:
				l.Succeeded = []string{pod}
			case PodFailed:
				l.Failed = []string{pod}
			case PodGone:
				l.Gone = []string{pod}
			}
			r.Capture.Status.Ledger = l
			o := planned(t, r)
			if got := podPhases(o)[pod]; got != recorded {
				t.Errorf("Job seen running again: Pod is %s, want %s as recorded", got, recorded)
			}
			// The Job that exists is kept: stopping it would lose files.
			if len(o.Jobs) != 3 {
				t.Errorf("%d Jobs planned, want the 3 that exist", len(o.Jobs))
			}
		})
	}

	// A capture recorded Retrievable whose Job went away had finished.
	r := testRequest()
	r.Jobs = observedJobs(t, r, nil)[1:]
	r.Capture.Status.Ledger = Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Started: []string{"web-5d4f8-bbbbb", "web-5d4f8-ccccc"}, Retrievable: []string{pod}}
	if got := podPhases(planned(t, r))[pod]; got != PodSucceeded {
		t.Errorf("Retrievable capture whose Job went away: %s, want Succeeded", got)
	}
}

// TestPlanReleasedCaptureKeepsNode: once the finished Jobs are released,
// the status still says where each capture ran.
func TestPlanReleasedCaptureKeepsNode(t *testing.T) {
	for _, jobPer := range []v1beta1.JobPer{v1beta1.JobPerPod, v1beta1.JobPerNode} {
		t.Run(string(jobPer), func(t *testing.T) {
			r := withInput(testRequest(), &v1beta1.Input{JobPer: jobPer})
			first := reconcile(t, r, nil)
			r.Jobs = nil
			for _, j := range first.Jobs {
				r.Jobs = append(r.Jobs, asObserved(j.Job, batchv1.JobComplete))
			}
			done := reconcile(t, r, first)
			r.Jobs = nil
			released := reconcile(t, r, done)
			// And once more, from the ledger alone, with the Pods gone.
			r.Pods, r.Deployment = nil, nil
			later := reconcile(t, r, released)
			for i, o := range []*Desired{done, released, later} {
				if o.Status.Counts.Nodes != 2 || !strings.Contains(o.Status.Message, "on 2 nodes") {
					t.Errorf("reconcile %d: counts.nodes %d, message %q; want 2 nodes", i+2, o.Status.Counts.Nodes, o.Status.Message)
				}
				want := map[string]string{"web-5d4f8-aaaaa": "node-a", "web-5d4f8-bbbbb": "node-b", "web-5d4f8-ccccc": "node-a"}
				got := map[string]string{}
				for _, p := range o.Status.Pods {
					got[p.Pod] = p.Node
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("reconcile %d: pods[].node -want, +got:\n%s", i+2, diff)
				}
			}
		})
	}
}

// capturePod is the Pod the Job controller made for a capture Job, ended
// (phase) with the termination message summary.
func capturePod(j *batchv1.Job, attempt string, phase corev1.PodPhase, exit int32, summary string) corev1.Pod {
	created := metav1.Unix(1700000000, 0)
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: j.Name + "-" + attempt, Namespace: j.Namespace, UID: types.UID("uid-capture-" + j.Name + attempt),
			CreationTimestamp: created,
			Labels:            j.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: j.Name,
				UID: types.UID("uid-job-" + j.Name), Controller: ptrTo(true)}},
		},
		Spec: *j.Spec.Template.Spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
			Name:  ContainerName,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Message: summary}},
		}}},
	}
}

// TestPlanResults reads each Pod's outcome from its capture Pod's summary,
// keeps it once the capture Pod is gone, and fails only the Pods of a
// node's Job that failed.
func TestPlanResults(t *testing.T) {
	const a, b, c = "web-5d4f8-aaaaa", "web-5d4f8-bbbbb", "web-5d4f8-ccccc"
	r := withInput(testRequest(), &v1beta1.Input{JobPer: v1beta1.JobPerNode})
	first := reconcile(t, r, nil)
	nodeA, nodeB := first.Jobs[0].Job, first.Jobs[1].Job
	if got := jobTargets(first)[nodeA.Name]; len(got) != 2 || !strings.HasPrefix(got[0], a+"/") {
		t.Fatalf("node-a's Job captures %v, want %s then %s", got, a, c)
	}
	failed := asObserved(nodeA, batchv1.JobFailed)
	failed.Status.Conditions[0].Reason = "PodFailurePolicy"
	failed.Status.Conditions[0].Message = "Container capture for pod packet-capture/x failed with exit code 3 matching FailJob rule at index 0"
	r.Jobs = []batchv1.Job{failed, asObserved(nodeB, batchv1.JobComplete)}
	r.CapturePods = []corev1.Pod{
		capturePod(nodeA, "x1", corev1.PodFailed, 3, "status=gone targets=2 failed=1 files=2 bytes=9000 packets=70 dropped=1 start=20261124T101500Z\n"+
			"#pod status packets bytes dropped files seconds\n"+
			"1 ok 50 6000 1 1 30\n"+
			"2 gone 20 3000 0 1 12\n"+
			"why 2 its process 4711 ended 12 s into the capture: the Pod was deleted or restarted\n"),
		// A summary from before the per-target lines: the totals are its
		// one Pod's.
		capturePod(nodeB, "y1", corev1.PodSucceeded, 0, "status=ok files=3 bytes=500000 packets=4000 dropped=0"),
	}
	done := reconcile(t, r, first)

	num := func(n int64) *int64 { return &n }
	want := []PodStatus{
		{Pod: c, Node: "node-a", Job: nodeA.Name, Phase: PodGone, Partial: true, Packets: num(20), Bytes: num(3000), Dropped: num(0), Files: num(1)},
		{Pod: a, Node: "node-a", Job: nodeA.Name, Phase: PodSucceeded, Packets: num(50), Bytes: num(6000), Dropped: num(1), Files: num(1)},
		{Pod: b, Node: "node-b", Job: nodeB.Name, Phase: PodSucceeded, Packets: num(4000), Bytes: num(500000), Dropped: num(0), Files: num(3)},
	}
	wantCounts := Counts{Targets: 3, Nodes: 2, Succeeded: 2, Gone: 1, Partial: 1, Packets: 4070, Bytes: 509000, Dropped: 1, Files: 5}
	check := func(name string, o *Desired) {
		t.Helper()
		if name != "summaries read" {
			// A node's Job, once released, is not named again (its name
			// hashes the Pods it was made for, which the ledger does not
			// keep); everything else stays.
			for i := range want {
				want[i].Job = ""
			}
		}
		got := o.Status.Pods
		msgs := map[string]string{}
		for i := range got {
			msgs[got[i].Pod] = got[i].Message
		}
		if diff := cmp.Diff(want, o.Status.Pods, cmpIgnoreMessage); diff != "" {
			t.Errorf("%s: status.pods -want, +got:\n%s", name, diff)
		}
		if m := msgs[c]; !strings.Contains(m, "12 s into the 30 s capture") || !strings.Contains(m, "process 4711 ended") {
			t.Errorf("%s: the gone Pod's message %q does not say when it went away and why", name, m)
		}
		if diff := cmp.Diff(wantCounts, o.Status.Counts); diff != "" {
			t.Errorf("%s: counts -want, +got:\n%s", name, diff)
		}
		if o.Status.Phase != PhaseFailed || !strings.Contains(o.Status.Message, "1 partial") {
			t.Errorf("%s: phase %s, message %q; want Failed, saying 1 partial", name, o.Status.Phase, o.Status.Message)
		}
	}
	check("summaries read", done)
	// The Jobs are released and their Pods go with them: the results stay.
	r.Jobs, r.CapturePods = nil, nil
	released := reconcile(t, r, done)
	check("capture Pods gone", released)
	check("once more", reconcile(t, r, released))
}

var cmpIgnoreMessage = cmp.Transformer("noMessage", func(p PodStatus) PodStatus { p.Message = ""; return p })

// TestPlanResultStatuses: every target status of the summary reaches the
// Pod's status, with the script's reason.
func TestPlanResultStatuses(t *testing.T) {
	cases := map[string]struct {
		line, why string
		exit      int32
		phase     Phase
		partial   bool
		message   string
	}{
		"ok":             {line: "1 ok 10 100 0 1 30", phase: PodSucceeded},
		"ok-warning":     {line: "1 ok 10 100 0 1 30", why: "tcpdump was still reading when it was stopped", phase: PodSucceeded, message: "tcpdump was still reading"},
		"gone":           {line: "1 gone 10 100 0 1 7", why: "its process ended", exit: 0, phase: PodGone, partial: true, message: "7 s into the 30 s capture"},
		"pod-not-found":  {line: "1 pod-not-found 0 0 0 0 0", why: "no process of the Pod on node-a", exit: 3, phase: PodFailed, message: "no process of the Pod on node-a"},
		"host-network":   {line: "1 host-network 0 0 0 0 0", why: "the Pod uses the node's network namespace", exit: 3, phase: PodFailed, message: "node's network namespace"},
		"tcpdump-failed": {line: "1 tcpdump-failed 0 0 0 0 0", why: "tcpdump: syntax error", exit: 4, phase: PodFailed, message: "tcpdump: syntax error"},
		"interrupted":    {line: "1 interrupted 5 50 0 1 9", why: "SIGTERM", exit: 143, phase: PodFailed, partial: true, message: "9 s into the 30 s capture"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := testRequest()
			first := planned(t, r)
			job := first.Jobs[0].Job
			cond := batchv1.JobComplete
			podPhase := corev1.PodSucceeded
			if tc.exit != 0 {
				cond, podPhase = batchv1.JobFailed, corev1.PodFailed
			}
			r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {cond}})
			text := "status=" + strings.Fields(tc.line)[1] + " targets=1 files=1 bytes=100 packets=10 dropped=0\n" + tc.line + "\n"
			if tc.why != "" {
				text += "why 1 " + tc.why + "\n"
			}
			r.CapturePods = []corev1.Pod{capturePod(job, "x", podPhase, tc.exit, text)}
			o := reconcile(t, r, first)
			var got PodStatus
			for _, p := range o.Status.Pods {
				if p.Job == job.Name {
					got = p
				}
			}
			if got.Phase != tc.phase || got.Partial != tc.partial || !strings.Contains(got.Message, tc.message) {
				t.Errorf("got %s partial=%v %q; want %s partial=%v, message with %q", got.Phase, got.Partial, got.Message, tc.phase, tc.partial, tc.message)
			}
			if tc.why != "" && !strings.Contains(got.Message, tc.why) {
				t.Errorf("message %q does not carry the script's reason %q", got.Message, tc.why)
			}
		})
	}
}

// TestPlanResultSources: where a summary is read from, and which capture
// Pods are not this capture's.
func TestPlanResultSources(t *testing.T) {
	r := testRequest()
	first := planned(t, r)
	job := first.Jobs[0].Job
	r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobComplete}})
	const summary = "status=ok targets=1 files=1 bytes=100 packets=10 dropped=0\n1 ok 10 100 0 1 30\n"

	packetsOf := func(o *Desired) *int64 {
		for _, p := range o.Status.Pods {
			if p.Job == job.Name {
				return p.Packets
			}
		}
		return nil
	}
	lastState := capturePod(job, "x", corev1.PodSucceeded, 0, "")
	lastState.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Message: summary}
	if got := packetsOf(reconcile(t, withCapturePods(r, lastState), first)); got == nil || *got != 10 {
		t.Errorf("summary in lastState: packets %v, want 10", got)
	}

	otherJobID := capturePod(job, "x", corev1.PodSucceeded, 0, summary)
	otherJobID.OwnerReferences[0].Name = JobName("web-5d4f8-aaaaa", "zzzz")
	if got := packetsOf(reconcile(t, withCapturePods(r, otherJobID), first)); got != nil {
		t.Errorf("a capture Pod of another jobId gave packets %d", *got)
	}

	// A capture Pod that ended while its Job has not (a retry may follow)
	// does not decide yet; one that succeeded does.
	running := testRequest()
	running.Jobs = observedJobs(t, running, nil)
	if got := packetsOf(reconcile(t, withCapturePods(running, capturePod(job, "x", corev1.PodFailed, 1, summary)), first)); got != nil {
		t.Errorf("a failed attempt of a running Job gave packets %d", *got)
	}
	if got := packetsOf(reconcile(t, withCapturePods(running, capturePod(job, "x", corev1.PodSucceeded, 0, summary)), first)); got == nil {
		t.Errorf("a succeeded capture Pod of a Job not yet Complete gave no packets")
	}

	garbled := capturePod(job, "x", corev1.PodSucceeded, 0, "exec format error")
	o := reconcile(t, withCapturePods(r, garbled), first)
	if got := packetsOf(o); got != nil {
		t.Errorf("an unreadable summary gave packets %d", *got)
	}
	if !hasReason(o, "CaptureSummaryUnreadable") {
		t.Errorf("an unreadable summary is not reported: events %+v", o.Events)
	}
}

func withCapturePods(r Request, pods ...corev1.Pod) Request {
	r.CapturePods = pods
	return r
}

func hasReason(o *Desired, reason string) bool {
	for _, e := range o.Events {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// TestPlanScaledToZero: a Deployment scaled to 0 is named as the reason
// nothing is captured.
func TestPlanScaledToZero(t *testing.T) {
	r := testRequest()
	r.Deployment.Spec.Replicas = ptrTo(int32(0))
	r.Pods = nil
	o := planned(t, r)
	if o.Status.Phase != PhaseWaitingForPods || !strings.Contains(o.Status.Message, "replicas: 0") {
		t.Errorf("phase %s, message %q; want WaitingForPods saying replicas: 0", o.Status.Phase, o.Status.Message)
	}
	var e Event
	for _, ev := range o.Events {
		if ev.Reason == string(PhaseWaitingForPods) {
			e = ev
		}
	}
	if !strings.Contains(e.Message, "replicas: 0") {
		t.Errorf("event %+v does not say replicas: 0", e)
	}
}

// TestPlanLedgerSize measures the ledger of a finished 5,000-Pod capture,
// every Pod with a result, on 100 nodes: it must stay well inside etcd's
// 1.5 MiB per object together with the rest of the XR.
func TestPlanLedgerSize(t *testing.T) {
	d := testDeployment()
	const pods, nodes = 5000, 100
	r := Request{Capture: testCapture(), Deployment: d, ReplicaSets: []appsv1.ReplicaSet{testReplicaSet("openshift-gitops-server-6d8f9c7b5d", d)}}
	for i := range pods {
		name := fmt.Sprintf("openshift-gitops-server-6d8f9c7b5d-%05d", i)
		r.Pods = append(r.Pods, runningPod(name, "openshift-gitops-server-6d8f9c7b5d", fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i%nodes, i%nodes)))
	}
	first := planned(t, r)
	for _, j := range first.Jobs {
		r.Jobs = append(r.Jobs, asObserved(j.Job, batchv1.JobComplete))
		targets, _ := targetsOfJob(j.Job)
		var text strings.Builder
		fmt.Fprintf(&text, "status=ok targets=%d files=%d bytes=1 packets=1 dropped=0\n", len(targets), len(targets))
		for i := range targets {
			fmt.Fprintf(&text, "%d ok 123456 98765432 12 3 300\n", i+1)
		}
		r.CapturePods = append(r.CapturePods, capturePod(j.Job, "x", corev1.PodSucceeded, 0, text.String()))
	}
	o := reconcile(t, r, first)
	if o.Status.Counts.Packets != pods*123456 || len(o.Status.Ledger.Nodes) != nodes {
		t.Fatalf("counts %+v, %d nodes; want every Pod's", o.Status.Counts, len(o.Status.Ledger.Nodes))
	}
	b, err := json.Marshal(o.Status)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status of a finished %d-Pod capture on %d nodes: %d bytes (%d per Pod)", pods, nodes, len(b), len(b)/pods)
	if len(b) > 130*pods {
		t.Errorf("status is %d bytes, %d per Pod: want at most 130 per Pod", len(b), len(b)/pods)
	}
}

// TestRetrieveHint: the plugin comes first; the fallback loop copies only
// from Running, Ready capture Pods and fails when a copy fails. The loop
// runs for real, with a fake kubectl on PATH.
func TestRetrieveHint(t *testing.T) {
	o := planned(t, testRequest())
	hint := o.Status.Retrieve
	plugin := "kubectl packetcapture fetch capture-web -n packet-capture"
	if !strings.HasPrefix(hint, plugin) {
		t.Fatalf("retrieve %q does not lead with %q", hint, plugin)
	}
	_, loop, ok := strings.Cut(hint, "without the plugin: ")
	if !ok {
		t.Fatalf("retrieve %q has no fallback loop", hint)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cases := map[string]struct {
		pods     string // what `kubectl get` prints: name=ready pairs
		failCopy string
		wantExit bool
		copied   []string
	}{
		"copies only Ready": {pods: "cap-a=True cap-b=False cap-c=True ", copied: []string{"cap-a", "cap-c"}},
		"a copy fails":      {pods: "cap-a=True cap-c=True ", failCopy: "cap-a", wantExit: true, copied: []string{"cap-a"}},
		"none ready":        {pods: "cap-b=False ", wantExit: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			// The fake answers `get` only as the loop must ask (Running
			// Pods of this capture, with their Ready condition) and logs
			// every copy.
			// The fake answers `get` only as the loop must ask (Running
			// Pods of this capture, with their Ready condition) and logs
			// every call; a copy of FAKE_FAIL fails.
			fake := `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
if [ "$*" = "$FAKE_GET" ]; then printf '%s' "$FAKE_PODS"; exit 0; fi
case "$1 $2 $3" in
"-n packet-capture cp") [ "$4" != "$FAKE_FAIL:/pcap" ] || { echo "copy failed" >&2; exit 1; } ;;
*) echo "unexpected: $*" >&2; exit 2 ;;
esac
`
			if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(dir, "log")
			cmd := exec.Command(sh, "-c", loop)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+log, "FAKE_PODS="+tc.pods, "FAKE_FAIL="+tc.failCopy,
				"FAKE_GET=-n packet-capture get pod -l "+LabelCapture+"=capture-web --field-selector=status.phase=Running -o jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}")
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantExit {
				t.Errorf("loop exit error %v, want failure %v; output:\n%s", err, tc.wantExit, out)
			}
			calls, _ := os.ReadFile(log)
			var copied []string
			for _, l := range strings.Split(string(calls), "\n") {
				if strings.Contains(l, " get ") && !strings.Contains(l, "status.phase=Running") {
					t.Errorf("kubectl called as %q", l)
				}
				if f := strings.Fields(l); len(f) > 3 && f[2] == "cp" {
					if want := "packet-capture"; f[1] != want {
						t.Errorf("copy %q not in namespace %s", l, want)
					}
					pod, _, _ := strings.Cut(f[3], ":")
					copied = append(copied, pod)
				}
			}
			if diff := cmp.Diff(tc.copied, copied); diff != "" {
				t.Errorf("copied -want, +got:\n%s\nkubectl calls:\n%s", diff, calls)
			}
		})
	}
}

// TestPlanStatusNeverMovesBack walks captures through random sequences of
// what a Job controller may show of their Jobs (stale and out-of-order
// observations included, and Jobs that vanish and come back) and requires
// that no Pod's capture ever moves to an earlier phase, that an outcome never
// changes, and that no node is ever forgotten.
func TestPlanStatusNeverMovesBack(t *testing.T) {
	type observation func(j batchv1.Job) (batchv1.Job, bool)
	observations := map[string]observation{
		"absent":  func(j batchv1.Job) (batchv1.Job, bool) { return j, false },
		"pending": func(j batchv1.Job) (batchv1.Job, bool) { return withJobStatus(j, 0, 0), true },
		"running": func(j batchv1.Job) (batchv1.Job, bool) { return withJobStatus(j, 1, 0), true },
		"ready":   func(j batchv1.Job) (batchv1.Job, bool) { return withJobStatus(j, 1, 1), true },
		"SuccessCriteriaMet": func(j batchv1.Job) (batchv1.Job, bool) {
			return withJobStatus(j, 1, 0, batchv1.JobSuccessCriteriaMet), true
		},
		"Complete":      func(j batchv1.Job) (batchv1.Job, bool) { return withJobStatus(j, 0, 0, batchv1.JobComplete), true },
		"FailureTarget": func(j batchv1.Job) (batchv1.Job, bool) { return withJobStatus(j, 1, 0, batchv1.JobFailureTarget), true },
		"Failed":        func(j batchv1.Job) (batchv1.Job, bool) { return withJobStatus(j, 0, 0, batchv1.JobFailed), true },
		"deleting": func(j batchv1.Job) (batchv1.Job, bool) {
			j = withJobStatus(j, 1, 0)
			j.DeletionTimestamp = &metav1.Time{}
			return j, true
		},
	}
	names := slices.Sorted(maps.Keys(observations))
	rng := rand.New(rand.NewPCG(13, 1))
	for seed := range 200 {
		r := testRequest()
		first := planned(t, r)
		var jobs []batchv1.Job
		for _, j := range first.Jobs {
			jobs = append(jobs, asObserved(j.Job))
		}
		prev := first
		var walk []string
		for step := range 12 {
			r.Jobs = nil
			for _, j := range jobs {
				name := names[rng.IntN(len(names))]
				walk = append(walk, fmt.Sprintf("%d:%s=%s", step, j.Name, name))
				if o, ok := observations[name](j); ok {
					r.Jobs = append(r.Jobs, o)
				}
			}
			o := reconcile(t, r, prev)
			before, after := podPhases(prev), podPhases(o)
			for pod, was := range before {
				now, ok := after[pod]
				switch {
				case !ok && was != PodNotCaptured && was != PodSkipped:
					t.Fatalf("seed %d: Pod %s (%s) left the status; walk %v", seed, pod, was, walk)
				case now.progress() < was.progress():
					t.Fatalf("seed %d: Pod %s moved back from %s to %s; walk %v", seed, pod, was, now, walk)
				case was.final() && now != was:
					t.Fatalf("seed %d: Pod %s's outcome changed from %s to %s; walk %v", seed, pod, was, now, walk)
				}
			}
			if o.Status.Counts.Nodes < prev.Status.Counts.Nodes {
				t.Fatalf("seed %d: nodes went from %d to %d; walk %v", seed, prev.Status.Counts.Nodes, o.Status.Counts.Nodes, walk)
			}
			prev = o
		}
	}
}

// TestPlanOutputRecord: status.ledger.output says where the files are and
// which image the Jobs run, from the moment the capture starts, and stays
// what the Jobs were made with: the plugin reads the files by it once the
// Jobs are gone.
func TestPlanOutputRecord(t *testing.T) {
	hostPath := &v1beta1.Input{Output: &v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/pcap"}, Image: "registry.example/capture:v2"}
	claim := &v1beta1.Input{Output: &v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcap"}}
	hostRecord := &OutputRecord{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/pcap", Image: "registry.example/capture:v2"}
	cases := map[string]struct {
		reason string
		// first is the Input the capture starts with; then, the Input of
		// the second reconcile, whose request carries the first one's Jobs
		// (finished: none, as they were released and deleted) and status,
		// changed by edit.
		first, then *v1beta1.Input
		finished    bool
		edit        func(*Request)
		want        *OutputRecord
	}{
		"HostPath": {
			reason: "the Input's directory and image",
			first:  hostPath, then: hostPath, want: hostRecord,
		},
		"PersistentVolumeClaim": {
			reason: "the claim, and the default image",
			first:  claim, then: claim,
			want: &OutputRecord{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcap", Image: v1beta1.DefaultImage},
		},
		"InputChangedAfterTheStart": {
			reason: "the Jobs keep the output they were made with, and so does the record",
			first:  hostPath, then: claim, want: hostRecord,
		},
		"InputChangedAfterTheJobsWereReleased": {
			reason: "no Job is left to say where the files are: the record does",
			first:  hostPath, then: claim, finished: true, want: hostRecord,
		},
		"LedgerFromBeforeTheRecord": {
			reason: "a ledger without the record learns it from the Jobs, not from the changed Input",
			first:  hostPath, then: claim, edit: func(r *Request) { r.Capture.Status.Ledger.Output = nil }, want: hostRecord,
		},
		"NewJobID": {
			reason: "a new jobId is a new capture, with the Input of now",
			first:  hostPath, then: claim, edit: func(r *Request) { r.Capture.Spec.JobID = "new1" },
			want: &OutputRecord{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcap", Image: v1beta1.DefaultImage},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := testRequest()
			r.Input = tc.first
			first := planned(t, r)
			var conds []batchv1.JobConditionType
			if tc.finished {
				conds = []batchv1.JobConditionType{batchv1.JobComplete}
			}
			for _, j := range first.Jobs {
				r.Jobs = append(r.Jobs, asObserved(j.Job, conds...))
			}
			r.Capture.Status = first.Status
			if tc.finished {
				// Released by this reconcile, then deleted by Crossplane.
				r.Capture.Status = planned(t, r).Status
				r.Jobs = nil
			}
			if tc.edit != nil {
				tc.edit(&r)
			}
			r.Input = tc.then
			got := planned(t, r).Status.Ledger.Output
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: status.ledger.output (-want, +got):\n%s", tc.reason, diff)
			}
		})
	}
	t.Run("NotStarted", func(t *testing.T) {
		r := testRequest()
		r.Pods = nil
		if got := planned(t, r).Status.Ledger.Output; got != nil {
			t.Errorf("a capture that has not started records output %+v, want none", got)
		}
	})
}

// TestPlanHeadlineChangesWithPhaseOnly follows a capture whose three Jobs
// finish one by one: status.message tells the progress at every step, the
// headline (the fn adapter's Captured condition) changes only when the phase
// does. Every change of an XR condition costs Crossplane two XR writes.
func TestPlanHeadlineChangesWithPhaseOnly(t *testing.T) {
	r := testRequest()
	first := reconcile(t, r, nil)
	var jobs []batchv1.Job
	for _, j := range first.Jobs {
		jobs = append(jobs, asObserved(j.Job))
	}
	steps := [][]batchv1.Job{
		{withJobStatus(jobs[0], 1, 0), withJobStatus(jobs[1], 1, 0), withJobStatus(jobs[2], 1, 0)},
		{withJobStatus(jobs[0], 1, 1), withJobStatus(jobs[1], 1, 0), withJobStatus(jobs[2], 1, 0)},
		{withJobStatus(jobs[0], 1, 1), withJobStatus(jobs[1], 1, 1), withJobStatus(jobs[2], 1, 0)},
		{withJobStatus(jobs[0], 1, 1), withJobStatus(jobs[1], 1, 1), withJobStatus(jobs[2], 1, 1)},
	}
	prev := first
	headlines := map[Phase][]string{}
	var messages []string
	for _, jobs := range steps {
		r.Jobs = jobs
		o := reconcile(t, r, prev)
		if !strings.HasPrefix(o.Status.Message, o.Headline) {
			t.Errorf("status.message %q does not start with the headline %q", o.Status.Message, o.Headline)
		}
		if !slices.Contains(headlines[o.Status.Phase], o.Headline) {
			headlines[o.Status.Phase] = append(headlines[o.Status.Phase], o.Headline)
		}
		if len(messages) == 0 || messages[len(messages)-1] != o.Status.Message {
			messages = append(messages, o.Status.Message)
		}
		prev = o
	}
	want := map[Phase][]string{
		PhaseCapturing: {"capturing 3 Pods on 2 nodes for 30s"},
		PhaseCompleted: {"captured 3 Pods on 2 nodes for 30s"},
	}
	if diff := cmp.Diff(want, headlines); diff != "" {
		t.Errorf("headlines by phase: -want, +got:\n%s", diff)
	}
	if len(messages) != len(steps) {
		t.Errorf("status.message must tell every step's progress, got %d distinct messages: %q", len(messages), messages)
	}
}

// TestPlanHoldsFinishedJobForSummary: a Job seen finished before its capture
// Pod is seen ended (two watches, two views) stays planned, unchanged, until
// the summary is read; then it is released with its result in the ledger. A
// capture Pod that ended without a summary, or is gone, or a TTL too short
// to hold safely, releases it at once.
func TestPlanHoldsFinishedJobForSummary(t *testing.T) {
	const summary = "status=ok targets=1 files=1 bytes=100 packets=10 dropped=0\n1 ok 10 100 0 1 30\n"
	running := func(j *batchv1.Job) corev1.Pod {
		p := capturePod(j, "x", corev1.PodRunning, 0, "")
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		return p
	}
	type view struct {
		jobs []batchv1.Job
		pods []corev1.Pod
	}
	// held reports whether the first Job is in the plan, and that Pod's
	// packets in the status.
	held := func(t *testing.T, r Request, prev *Desired, v view) (*Desired, bool, *int64) {
		t.Helper()
		r.Jobs, r.CapturePods = v.jobs, v.pods
		o := reconcile(t, r, prev)
		name := prev.Jobs[0].Job.Name
		var in bool
		for _, j := range o.Jobs {
			if j.Job.Name == name {
				in = true
				if diff := cmp.Diff(prev.Jobs[0].Job, j.Job); diff != "" {
					t.Errorf("the held Job is not planned as it was (-before, +now):\n%s", diff)
				}
			}
		}
		for _, p := range o.Status.Pods {
			if p.Job == name {
				if !p.Phase.final() {
					t.Errorf("%s: phase %s, want its finished Job's outcome", p.Pod, p.Phase)
				}
				return o, in, p.Packets
			}
		}
		t.Fatalf("no status.pods entry for Job %s", name)
		return nil, false, nil
	}

	t.Run("HeldUntilRead", func(t *testing.T) {
		r := testRequest()
		first := planned(t, r)
		job := first.Jobs[0].Job
		complete := observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobComplete}})
		o, in, packets := held(t, r, first, view{complete, []corev1.Pod{running(job)}})
		if !in || !o.AwaitingSummaries || packets != nil {
			t.Fatalf("Complete Job, capture Pod seen running: planned %v, AwaitingSummaries %v, packets %v; want held, awaiting, none yet", in, o.AwaitingSummaries, packets)
		}
		o.Jobs = first.Jobs // held compares with the first plan's Job
		o2, in, packets := held(t, r, o, view{complete, []corev1.Pod{capturePod(job, "x", corev1.PodSucceeded, 0, summary)}})
		if in || o2.AwaitingSummaries || packets == nil || *packets != 10 {
			t.Fatalf("summary in view: planned %v, AwaitingSummaries %v, packets %v; want released with 10 packets", in, o2.AwaitingSummaries, packets)
		}
		// The Job and its Pod go; the result stays.
		o2.Jobs = first.Jobs
		_, in, packets = held(t, r, o2, view{complete[1:], nil})
		if in || packets == nil || *packets != 10 {
			t.Errorf("after the Job is gone: planned %v, packets %v; want 10 packets from the ledger", in, packets)
		}
	})

	released := map[string]struct {
		input *v1beta1.Input
		pods  func(j *batchv1.Job) []corev1.Pod
	}{
		"PodEndedWithoutSummary": {pods: func(j *batchv1.Job) []corev1.Pod {
			return []corev1.Pod{capturePod(j, "x", corev1.PodSucceeded, 0, "")}
		}},
		"PodGone": {pods: func(*batchv1.Job) []corev1.Pod { return nil }},
		"OtherJobsPod": {pods: func(j *batchv1.Job) []corev1.Pod {
			p := running(j)
			p.OwnerReferences[0].Name = "another-job"
			return []corev1.Pod{p}
		}},
		"TTLTooShortToHold": {input: &v1beta1.Input{TTLSecondsAfterFinished: ptrTo(int32(minHoldTTLSeconds - 1))},
			pods: func(j *batchv1.Job) []corev1.Pod { return []corev1.Pod{running(j)} }},
	}
	for name, tc := range released {
		t.Run(name, func(t *testing.T) {
			r := withInput(testRequest(), tc.input)
			first := planned(t, r)
			complete := observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobComplete}})
			o, in, _ := held(t, r, first, view{complete, tc.pods(first.Jobs[0].Job)})
			if in || o.AwaitingSummaries {
				t.Errorf("planned %v, AwaitingSummaries %v; want the Job released", in, o.AwaitingSummaries)
			}
		})
	}

	t.Run("FailedNodeJobPodStillStopping", func(t *testing.T) {
		// FailureTarget comes while the Job's Pod still stops: its
		// summary follows.
		r := withInput(testRequest(), &v1beta1.Input{JobPer: v1beta1.JobPerNode})
		first := planned(t, r)
		failed := observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobFailureTarget}})
		o, in, _ := held(t, r, first, view{failed, []corev1.Pod{running(first.Jobs[0].Job)}})
		if !in || !o.AwaitingSummaries {
			t.Errorf("planned %v, AwaitingSummaries %v; want held while its Pod stops", in, o.AwaitingSummaries)
		}
	})
}
