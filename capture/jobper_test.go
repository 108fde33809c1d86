package capture

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// jobTargets is what a plan's Jobs capture: Job name → its args.
func jobTargets(o *Desired) map[string][]string {
	m := make(map[string][]string)
	for _, j := range o.Jobs {
		m[j.Job.Name] = j.Job.Spec.Template.Spec.Containers[0].Args
	}
	return m
}

func withInput(r Request, in *v1beta1.Input) Request {
	r.Input = in
	return r
}

// TestPlanJobPerNode follows a capture cut into one Job per node through its
// life: the choice, the Jobs' names and args, a second reconcile, a Pod that
// appears later, and a node's Job that fails for one of its Pods.
func TestPlanJobPerNode(t *testing.T) {
	const a, b, c = "web-5d4f8-aaaaa", "web-5d4f8-bbbbb", "web-5d4f8-ccccc"
	nodeA := NodeJobName("node-a", []string{a, c}, testJobID)
	nodeB := NodeJobName("node-b", []string{b}, testJobID)
	arg := func(pod string) string { return targetArg(pod, "uid-pod-"+pod) }

	// Auto with a low maxPodJobs: three Pods are more than 2.
	auto := &v1beta1.Input{MaxPodJobs: ptrTo(int32(2))}
	first := planned(t, withInput(testRequest(), auto))
	want := map[string][]string{nodeA: {arg(a), arg(c)}, nodeB: {arg(b)}}
	if diff := cmp.Diff(want, jobTargets(first)); diff != "" {
		t.Fatalf("Auto over maxPodJobs: Jobs -want, +got:\n%s", diff)
	}
	if got := first.Status.Ledger.JobPer; got != v1beta1.JobPerNode {
		t.Errorf("ledger jobPer = %q, want Node", got)
	}
	if first.Status.Counts.Targets != 3 || first.Status.Counts.Nodes != 2 {
		t.Errorf("counts %+v, want 3 targets on 2 nodes", first.Status.Counts)
	}
	for _, p := range first.Status.Pods {
		if wantJob := map[string]string{a: nodeA, b: nodeB, c: nodeA}[p.Pod]; p.Job != wantJob {
			t.Errorf("status of Pod %s names Job %q, want %q", p.Pod, p.Job, wantJob)
		}
	}
	if !strings.HasPrefix(nodeA, "node-a-") || !strings.HasSuffix(nodeA, "-"+testJobID) || nodeA == NodeJobName("node-a", []string{a}, testJobID) {
		t.Errorf("NodeJobName = %q: want node-a-<hash of its Pods>-%s, different for other Pods", nodeA, testJobID)
	}

	// The next reconcile sees the Jobs running: the same Jobs, byte for
	// byte, now started. The Input may have changed meanwhile: the capture
	// keeps the way it started.
	second := withInput(testRequest(), &v1beta1.Input{JobPer: v1beta1.JobPerPod})
	second.Capture.Status = first.Status
	for _, j := range first.Jobs {
		second.Jobs = append(second.Jobs, asObserved(j.Job))
	}
	again := planned(t, second)
	if diff := cmp.Diff(mustJSON(t, first.Jobs), mustJSON(t, again.Jobs)); diff != "" {
		t.Errorf("second reconcile changed the Jobs: -first, +second:\n%s", diff)
	}
	if diff := cmp.Diff([]string{a, b, c}, again.Status.Ledger.Started); diff != "" || again.Status.Ledger.JobPer != v1beta1.JobPerNode {
		t.Errorf("ledger %+v: want all Pods started, jobPer Node", again.Status.Ledger)
	}

	// A Pod appears on node-a; with followNewPods it gets a Job of its own
	// on that node (the running one cannot change).
	const d = "web-5d4f8-ddddd"
	third := second
	third.Capture.Status = again.Status
	third.Capture.Spec.FollowNewPods = true
	third.Pods = append(append([]corev1.Pod(nil), second.Pods...), runningPod(d, testRS, "node-a"))
	later := planned(t, third)
	want = map[string][]string{nodeA: {arg(a), arg(c)}, nodeB: {arg(b)}, NodeJobName("node-a", []string{d}, testJobID): {arg(d)}}
	if diff := cmp.Diff(want, jobTargets(later)); diff != "" {
		t.Errorf("new Pod: Jobs -want, +got:\n%s", diff)
	}

	// node-a's Job fails because one of its Pods was not found: the Job is
	// released and both its Pods are failed, with a message that says the
	// other was captured.
	fourth := second
	fourth.Capture.Status = again.Status
	fourth.Jobs = nil
	for _, j := range first.Jobs {
		o := asObserved(j.Job)
		if j.Job.Name == nodeA {
			o = asObserved(j.Job, batchv1.JobFailed)
			o.Status.Conditions[0].Reason = batchv1.JobReasonPodFailurePolicy
			o.Status.Conditions[0].Message = "Container capture for pod x failed with exit code 3 matching FailJob rule at index 0"
		}
		fourth.Jobs = append(fourth.Jobs, o)
	}
	failed := planned(t, fourth)
	if diff := cmp.Diff(map[string][]string{nodeB: {arg(b)}}, jobTargets(failed)); diff != "" {
		t.Errorf("failed node Job: Jobs -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff([]string{a, c}, failed.Status.Ledger.Failed); diff != "" {
		t.Errorf("failed Pods -want, +got:\n%s", diff)
	}
	for _, p := range failed.Status.Pods {
		if p.Phase == PodFailed && !strings.Contains(p.Message, "of this node's 2 target Pods") {
			t.Errorf("Pod %s failed with %q, want a message about its node's Job", p.Pod, p.Message)
		}
	}
}

// TestPlanJobPerChoice checks how a capture that starts chooses its Jobs, and
// that a ledger without a recorded choice (written by an earlier version,
// which only knew Pod) keeps Pod.
func TestPlanJobPerChoice(t *testing.T) {
	cases := map[string]struct {
		in     *v1beta1.Input
		ledger Ledger
		want   v1beta1.JobPer
		jobs   int
	}{
		"Auto, few Pods":              {in: nil, want: v1beta1.JobPerPod, jobs: 3},
		"Auto, at maxPodJobs":         {in: &v1beta1.Input{MaxPodJobs: ptrTo(int32(3))}, want: v1beta1.JobPerPod, jobs: 3},
		"Auto, over maxPodJobs":       {in: &v1beta1.Input{MaxPodJobs: ptrTo(int32(1))}, want: v1beta1.JobPerNode, jobs: 2},
		"Pod, over maxPodJobs":        {in: &v1beta1.Input{JobPer: v1beta1.JobPerPod, MaxPodJobs: ptrTo(int32(1))}, want: v1beta1.JobPerPod, jobs: 3},
		"Node, few Pods":              {in: &v1beta1.Input{JobPer: v1beta1.JobPerNode}, want: v1beta1.JobPerNode, jobs: 2},
		"recorded Pod beats Node":     {in: &v1beta1.Input{JobPer: v1beta1.JobPerNode}, ledger: Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Requested: []string{"web-5d4f8-aaaaa"}}, want: v1beta1.JobPerPod, jobs: 1},
		"unrecorded earlier ledger":   {in: &v1beta1.Input{JobPer: v1beta1.JobPerNode}, ledger: Ledger{JobID: testJobID, Requested: []string{"web-5d4f8-aaaaa"}}, want: v1beta1.JobPerPod, jobs: 1},
		"another jobId's record":      {in: &v1beta1.Input{JobPer: v1beta1.JobPerNode}, ledger: Ledger{JobID: "zz99", JobPer: v1beta1.JobPerPod, Requested: []string{"web-5d4f8-aaaaa"}}, want: v1beta1.JobPerNode, jobs: 2},
		"recorded Node, Pod Input":    {in: &v1beta1.Input{JobPer: v1beta1.JobPerPod}, ledger: Ledger{JobID: testJobID, JobPer: v1beta1.JobPerNode, Requested: []string{"web-5d4f8-aaaaa", "web-5d4f8-ccccc"}}, want: v1beta1.JobPerNode, jobs: 1},
		"invalid jobPer is an error:": {in: &v1beta1.Input{JobPer: "Cluster"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := withInput(testRequest(), tc.in)
			r.Capture.Status.Ledger = tc.ledger
			o, err := Plan(r)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "input.jobPer") {
					t.Fatalf("Plan() error = %v, want one naming input.jobPer", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Status.Ledger.JobPer != tc.want || len(o.Jobs) != tc.jobs {
				t.Errorf("jobPer %q with %d Jobs, want %q with %d", o.Status.Ledger.JobPer, len(o.Jobs), tc.want, tc.jobs)
			}
		})
	}
}

// TestMemoryLimitFor checks a node's Job's memory limit: the Input's while
// it covers 32 MiB per target Pod, then 32 MiB per target Pod.
func TestMemoryLimitFor(t *testing.T) {
	s, errs := resolveSettings(testCapture(), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		targets int
		want    string
	}{{1, ""}, {8, ""}, {9, "288Mi"}, {16, "512Mi"}, {17, "544Mi"}, {40, "1280Mi"}, {110, "3520Mi"}} {
		got := s.memoryLimitFor(tc.targets)
		if tc.want == "" {
			if !got.IsZero() {
				t.Errorf("%d targets: limit %s, want the Input's", tc.targets, got.String())
			}
			continue
		}
		if want := resource.MustParse(tc.want); got.Cmp(want) != 0 {
			t.Errorf("%d targets: limit %s, want %s", tc.targets, got.String(), tc.want)
		}
	}
	// In a Job: the limit is set, the requests are the Input's.
	var targets []target
	for i := range 40 {
		targets = append(targets, target{Name: fmt.Sprintf("web-%02d", i), UID: fmt.Sprintf("uid-%02d", i), Node: "node-a"})
	}
	job := jobMaker(testCapture(), s, "shop-web")("node-a-qwer", targets)
	res := job.Spec.Template.Spec.Containers[0].Resources
	if got := res.Limits[corev1.ResourceMemory]; got.String() != "1280Mi" || !res.Requests.Memory().Equal(resource.MustParse("0")) {
		t.Errorf("resources %v, want a 1280Mi memory limit and the Input's requests", res)
	}
	// No memory limit in the Input: none for a node's Job either.
	noLimit := s
	noLimit.resources = corev1.ResourceRequirements{}
	if got := noLimit.memoryLimitFor(100); !got.IsZero() {
		t.Errorf("without an Input memory limit: %s, want none", got.String())
	}
}

// TestFailureDetailExitCodes checks that every exit code the pod failure
// policy fails a Job on is in that policy and is told in words, for a Job of
// one Pod and for a node's Job.
func TestFailureDetailExitCodes(t *testing.T) {
	cases := map[int]struct{ one, node string }{
		ExitBadSettings:   {one: "rejected its settings"},
		ExitPodNotFound:   {one: "was not found on its node", node: "Pod not found on its node"},
		ExitTCPDumpFailed: {one: "tcpdump failed", node: "tcpdump failed"},
		ExitGone:          {one: "went away during the capture", node: "Pod went away during the capture"},
		ExitHostNetwork:   {one: "node's network namespace", node: "Pod uses the node's network"},
	}
	s, errs := resolveSettings(testCapture(), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	newJob := jobMaker(testCapture(), s, "cm")
	one := newJob("one", []target{{Name: "web-1", UID: "0123456789", Node: "node-a"}})
	node := newJob("node", []target{{Name: "web-1", UID: "0123456789", Node: "node-a"}, {Name: "web-2", UID: "9876543210", Node: "node-a"}})
	for code, want := range cases {
		policy := one.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values
		if !slices.Contains(policy, int32(code)) {
			t.Errorf("exit %d: not in the pod failure policy %v", code, policy)
		}
		c := batchv1.JobCondition{Type: batchv1.JobFailed, Reason: batchv1.JobReasonPodFailurePolicy,
			Message: fmt.Sprintf("Container capture for pod x failed with exit code %d matching FailJob rule at index 0", code)}
		if got := failureDetail(one, c); !strings.Contains(got, want.one) {
			t.Errorf("exit %d, one Pod: %q does not say %q", code, got, want.one)
		}
		if want.node == "" {
			continue
		}
		if got := failureDetail(node, c); !strings.Contains(got, want.node) || !strings.Contains(got, "the others were captured") {
			t.Errorf("exit %d, node Job: %q does not say %q and that the others were captured", code, got, want.node)
		}
	}
}
