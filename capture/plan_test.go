package capture

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

var update = flag.Bool("update", false, "rewrite golden files")

// summary is what most planner cases assert on.
type summary struct {
	Jobs    []string // name, and "(ready)" when done
	Ready   bool
	Phase   Phase
	Counts  Counts
	Ledger  Ledger
	Reasons []string
}

func summarize(o *Desired) summary {
	s := summary{Ready: o.Ready, Phase: o.Status.Phase, Counts: o.Status.Counts, Ledger: o.Status.Ledger}
	// Nodes and results have tests of their own (status_test.go).
	s.Ledger.Nodes = nil
	for _, j := range o.Jobs {
		n := j.Job.Name
		if j.Ready {
			n += " (ready)"
		}
		s.Jobs = append(s.Jobs, n)
	}
	for _, e := range o.Events {
		r := e.Reason
		if e.Field != "" {
			r += " @" + e.Field
		}
		s.Reasons = append(s.Reasons, r)
	}
	return s
}

// planned plans req and fails the test on error.
func planned(t *testing.T, req Request) *Desired {
	t.Helper()
	o, err := Plan(req)
	if err != nil {
		t.Fatalf("Plan(): %v", err)
	}
	return o
}

// observedJobs plans req and returns its Jobs as the API server shows them,
// each with the conditions given for its index.
func observedJobs(t *testing.T, req Request, conds map[int][]batchv1.JobConditionType) []batchv1.Job {
	t.Helper()
	var out []batchv1.Job
	for i, j := range planned(t, req).Jobs {
		out = append(out, asObserved(j.Job, conds[i]...))
	}
	return out
}

func TestPlan(t *testing.T) {
	const (
		jobA = "web-5d4f8-aaaaa-qwer"
		jobB = "web-5d4f8-bbbbb-qwer"
		jobC = "web-5d4f8-ccccc-qwer"
	)
	podA, podB, podC := "web-5d4f8-aaaaa", "web-5d4f8-bbbbb", "web-5d4f8-ccccc"

	cases := map[string]struct {
		reason string
		req    func(t *testing.T) Request
		want   summary
	}{
		"FirstReconcile": {
			reason: "Every running Pod of the Deployment gets a Job; nothing is done yet.",
			req:    func(*testing.T) Request { return testRequest() },
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"SkipsPodsThatCannotBeCaptured": {
			reason: "Pending, unscheduled, terminating and finished Pods are reported, not captured.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Pods = append(r.Pods,
					unscheduled(runningPod("web-5d4f8-ddddd", testRS, "")),
					withPodPhase(runningPod("web-5d4f8-eeeee", testRS, "node-a"), corev1.PodPending),
					terminating(runningPod("web-5d4f8-fffff", testRS, "node-b")),
					withPodPhase(runningPod("web-5d4f8-ggggg", testRS, "node-b"), corev1.PodSucceeded),
				)
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3, Skipped: 4},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podB, podC}},
				Reasons: []string{"Capturing", "PodsSkipped"},
			},
		},
		"IgnoresOtherDeploymentsPods": {
			reason: "A Pod whose labels match but whose ReplicaSet belongs to another Deployment is not a target, nor is a Pod without owner, nor one of another namespace.",
			req: func(*testing.T) Request {
				r := testRequest()
				canary := testDeployment()
				canary.Name, canary.UID = "web-canary", "uid-deploy-canary"
				r.ReplicaSets = append(r.ReplicaSets, testReplicaSet("web-canary-77f", canary))
				r.Pods = append(r.Pods, runningPod("web-canary-77f-zzzzz", "web-canary-77f", "node-c"))
				orphan := runningPod("web-orphan", testRS, "node-c")
				orphan.OwnerReferences = nil
				elsewhere := runningPod("web-5d4f8-xxxxx", testRS, "node-c")
				elsewhere.Namespace = "other"
				r.Pods = append(r.Pods, orphan, elsewhere)
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"StaleReplicaSetUID": {
			reason: "A Pod whose owner reference names the ReplicaSet but with another uid (a deleted namesake) is not a target.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Pods[1].OwnerReferences[0].UID = "uid-of-a-deleted-replicaset"
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 2, Nodes: 1, Active: 2},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"MatchExpressions": {
			reason: "The whole selector applies, matchExpressions included.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Deployment.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"frontend"}},
				}
				r.Pods[0].Labels["tier"] = "frontend"
				r.Pods[1].Labels["tier"] = "backend"
				return r
			},
			want: summary{
				Jobs: []string{jobA}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 1, Nodes: 1, Active: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA}},
				Reasons: []string{"Capturing"},
			},
		},
		"OnlyMatchExpressions": {
			reason: "A selector of matchExpressions only works too.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Deployment.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpExists},
				}}
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"DeploymentWithoutSelector": {
			reason: "A Deployment without selector cannot tell its Pods apart: warn, capture nothing.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Deployment.Spec.Selector = nil
				return r
			},
			want: summary{
				Phase: PhaseWaitingForPods, Ledger: Ledger{JobID: testJobID},
				Reasons: []string{"WaitingForPods", "DeploymentWithoutSelector"},
			},
		},
		"DeploymentNotFound": {
			reason: "A missing Deployment is a warning and composes no Job.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Deployment = nil
				return r
			},
			want: summary{
				Phase: PhaseWaitingForDeployment, Ledger: Ledger{JobID: testJobID},
				Reasons: []string{"WaitingForDeployment", "DeploymentNotFound @spec.targetDeployment"},
			},
		},
		"NoPods": {
			reason: "A Deployment with no running Pod is a warning; the capture waits.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Pods = nil
				return r
			},
			want: summary{Phase: PhaseWaitingForPods, Ledger: Ledger{JobID: testJobID}, Reasons: []string{"WaitingForPods"}},
		},
		"JobsSeen": {
			reason: "Once Crossplane created the Jobs, they are started in the ledger and planned unchanged.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podA, podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"PodAndDeploymentGone": {
			reason: "A running capture's Job stays planned when its Pod and the Deployment are gone.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)
				r.Deployment, r.Pods, r.ReplicaSets = nil, nil, nil
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podA, podB, podC}},
				Reasons: []string{"Capturing", "DeploymentNotFound @spec.targetDeployment"},
			},
		},
		"SomeDone": {
			reason: "A Job whose files wait in its Pod is ready; a finished one is released.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobComplete}, 1: {batchv1.JobFailed}})
				return r
			},
			want: summary{
				Jobs: []string{jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 1, Succeeded: 1, Failed: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podC}, Succeeded: []string{podA}, Failed: []string{podB}},
				Reasons: []string{"Capturing"},
			},
		},
		"AllDone": {
			reason: "The capture is ready when every Job completed.",
			req: func(t *testing.T) Request {
				r := testRequest()
				done := []batchv1.JobConditionType{batchv1.JobComplete}
				r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{0: done, 1: done, 2: done})
				return r
			},
			want: summary{
				Ready: true, Phase: PhaseCompleted,
				Counts:  Counts{Targets: 3, Nodes: 2, Succeeded: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Succeeded: []string{podA, podB, podC}},
				Reasons: []string{"Completed"},
			},
		},
		"FinishedJobsReleased": {
			reason: "A finished capture's outcome is recorded and its Job planned no more (Crossplane removes it), so no apply can race the TTL and create it anew.",
			req: func(t *testing.T) Request {
				r := testRequest()
				done := []batchv1.JobConditionType{batchv1.JobComplete}
				r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{0: done, 1: {batchv1.JobFailed}})
				return r
			},
			want: summary{
				Jobs: []string{jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 1, Succeeded: 1, Failed: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podC}, Succeeded: []string{podA}, Failed: []string{podB}},
				Reasons: []string{"Capturing"},
			},
		},
		"FinishedJobsExpired": {
			reason: "Finished captures whose Jobs were removed (ttlSecondsAfterFinished) are never run again, though their Pods still run.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Capture.Status.Ledger = Ledger{JobID: testJobID, Succeeded: []string{podA, podB}, Failed: []string{podC}}
				return r
			},
			want: summary{
				Phase:   PhaseFailed,
				Counts:  Counts{Targets: 3, Succeeded: 2, Failed: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Succeeded: []string{podA, podB}, Failed: []string{podC}},
				Reasons: []string{"Failed"},
			},
		},
		"RunningJobDeleted": {
			reason: "A Job seen running that disappeared is reported gone, not run again.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)[1:]
				r.Capture.Status.Ledger = Ledger{JobID: testJobID, Started: []string{podA, podB, podC}}
				return r
			},
			want: summary{
				Jobs: []string{jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 2, Gone: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podB, podC}, Gone: []string{podA}},
				Reasons: []string{"Capturing"},
			},
		},
		"FinishedJobBeingDeleted": {
			reason: "A Job being deleted (its TTL uses foreground deletion) is not planned again, or Crossplane would create it anew: its outcome goes to the ledger.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobComplete}})
				now := metav1.Unix(1700000000, 0)
				r.Jobs[0].DeletionTimestamp = &now
				r.Jobs[1].DeletionTimestamp = &now
				return r
			},
			want: summary{
				Jobs: []string{jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 1, Succeeded: 1, Gone: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podC}, Succeeded: []string{podA}, Gone: []string{podB}},
				Reasons: []string{"Capturing"},
			},
		},
		"RequestedButNeverCreated": {
			reason: "A Job asked for but not created (Crossplane failed to apply it) is asked for again while its Pod runs.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)[1:]
				r.Capture.Status.Ledger = Ledger{JobID: testJobID, Requested: []string{podA, podB, podC}}
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA}, Started: []string{podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"RequestedPodGone": {
			reason: "A Job asked for but never created whose Pod is gone is reported gone.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)[1:]
				r.Pods = r.Pods[1:]
				r.Capture.Status.Ledger = Ledger{JobID: testJobID, Requested: []string{podA, podB, podC}}
				return r
			},
			want: summary{
				Jobs: []string{jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 2, Gone: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podB, podC}, Gone: []string{podA}},
				Reasons: []string{"Capturing"},
			},
		},
		"NewPodAfterStart": {
			reason: "A Pod that appears after the capture started is not captured by default.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)
				r.Pods = append(r.Pods, runningPod("web-5d4f8-nnnnn", testRS, "node-c"))
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3, NotCaptured: 1},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podA, podB, podC}},
				Reasons: []string{"Capturing", "NewPodsNotCaptured @spec.followNewPods"},
			},
		},
		"FollowNewPods": {
			reason: "spec.followNewPods captures Pods that appear later.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)
				r.Pods = append(r.Pods, runningPod("web-5d4f8-nnnnn", testRS, "node-c"))
				r.Capture.Spec.FollowNewPods = true
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC, "web-5d4f8-nnnnn-qwer"}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 4, Nodes: 3, Active: 4},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{"web-5d4f8-nnnnn"}, Started: []string{podA, podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
		"NewJobID": {
			reason: "A new jobId starts a new capture of the current Pods; the old Jobs are kept until they expire.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)
				r.Capture.Status.Ledger = Ledger{JobID: testJobID, Started: []string{podA, podB, podC}}
				r.Capture.Spec.JobID = "zz99"
				return r
			},
			want: summary{
				Jobs: []string{jobA, "web-5d4f8-aaaaa-zz99", jobB, "web-5d4f8-bbbbb-zz99", jobC, "web-5d4f8-ccccc-zz99"}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: "zz99", JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podB, podC}},
				Reasons: []string{"Capturing", "EarlierJobsKept"},
			},
		},
		"SpecChangedDuringCapture": {
			reason: "When the spec changes after the Jobs exist, they keep their original pod template.",
			req: func(t *testing.T) Request {
				r := testRequest()
				r.Jobs = observedJobs(t, r, nil)
				r.Capture.Spec.Duration = "60"
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Started: []string{podA, podB, podC}},
				Reasons: []string{"Capturing", "SpecChangedDuringCapture @spec.jobId"},
			},
		},
		"DuplicatePods": {
			reason: "A Pod listed twice is captured once: its newest copy counts.",
			req: func(*testing.T) Request {
				r := testRequest()
				r.Pods = append(r.Pods, r.Pods[0])
				return r
			},
			want: summary{
				Jobs: []string{jobA, jobB, jobC}, Phase: PhaseCapturing,
				Counts:  Counts{Targets: 3, Nodes: 2, Active: 3},
				Ledger:  Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: podOutput, Requested: []string{podA, podB, podC}},
				Reasons: []string{"Capturing"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := summarize(planned(t, tc.req(t)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nPlan(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestPlanGolden pins the whole plan of the usual request: the ConfigMap,
// every field of every Job, the status and the events.
func TestPlanGolden(t *testing.T) {
	o := planned(t, testRequest())
	// The script has tests of its own (test/netns); here it is a placeholder
	// so that editing it does not churn this file.
	o.ConfigMap.Data[scriptKey] = "<capture.sh>"
	got, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "plan.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./capture -run TestPlanGolden -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Plan() differs from %s (-want, +got); if intended, rerun with -update:\n%s", golden, diff)
	}
}

// TestPlanIsDeterministic plans the same cluster from inputs in many orders
// and requires byte-identical output: a Job's pod template is immutable, so
// a second reconcile must not change a single byte.
func TestPlanIsDeterministic(t *testing.T) {
	base := testRequest()
	base.Pods = append(base.Pods, unscheduled(runningPod("web-5d4f8-ddddd", testRS, "")))
	base.Jobs = observedJobs(t, base, nil)[:2]
	want, err := json.Marshal(planned(t, base))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		r := testRequest()
		r.Pods = append(r.Pods, unscheduled(runningPod("web-5d4f8-ddddd", testRS, "")))
		r.Jobs = append([]batchv1.Job(nil), base.Jobs...)
		rng.Shuffle(len(r.Pods), func(a, b int) { r.Pods[a], r.Pods[b] = r.Pods[b], r.Pods[a] })
		rng.Shuffle(len(r.Jobs), func(a, b int) { r.Jobs[a], r.Jobs[b] = r.Jobs[b], r.Jobs[a] })
		got, err := json.Marshal(planned(t, r))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("run %d: plan differs for the same cluster in another order:\n%s", i, cmp.Diff(string(want), string(got)))
		}
	}
}

// TestPlanJobsStayIdentical walks a capture through its life and checks that
// every Job, once planned, is planned again byte for byte.
func TestPlanJobsStayIdentical(t *testing.T) {
	r := testRequest()
	first := planned(t, r)
	r.Jobs = observedJobs(t, r, map[int][]batchv1.JobConditionType{1: {batchv1.JobComplete}})
	r.Capture.Status = first.Status
	second := planned(t, r)
	// The Pods and the Deployment go; the Jobs remain.
	r.Deployment, r.Pods = nil, nil
	r.Capture.Status = second.Status
	third := planned(t, r)
	firstByName := map[string]string{}
	for _, j := range first.Jobs {
		b, _ := json.Marshal(j.Job)
		firstByName[j.Job.Name] = string(b)
	}
	// A finished capture's Job is released; the two still running stay.
	for i, later := range []*Desired{second, third} {
		if want := 2; len(later.Jobs) != want {
			t.Fatalf("plan %d: got %d Jobs, want %d", i+2, len(later.Jobs), want)
		}
		for _, j := range later.Jobs {
			b, _ := json.Marshal(j.Job)
			if string(b) != firstByName[j.Job.Name] {
				t.Errorf("Job %s changed:\n%s", j.Job.Name, cmp.Diff(firstByName[j.Job.Name], string(b)))
			}
		}
	}
}

func TestPlanKeptJobOmitsServerFields(t *testing.T) {
	r := testRequest()
	r.Jobs = observedJobs(t, r, nil)
	r.Capture.Spec.Filter = "tcp port 443"
	o := planned(t, r)
	for _, j := range o.Jobs {
		if j.Job.Spec.Selector != nil || j.Job.UID != "" || j.Job.ResourceVersion != "" {
			t.Errorf("Job %s: kept Job carries fields the API server sets: selector=%v uid=%q rv=%q", j.Job.Name, j.Job.Spec.Selector, j.Job.UID, j.Job.ResourceVersion)
		}
		for _, l := range []string{"controller-uid", "job-name", "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"} {
			if _, ok := j.Job.Spec.Template.Labels[l]; ok {
				t.Errorf("Job %s: kept template carries the server's label %s", j.Job.Name, l)
			}
		}
		if j.Job.Annotations[annotationTemplateHash] == "" {
			t.Errorf("Job %s: kept Job lost its template hash", j.Job.Name)
		}
	}
	// The settings still change the ConfigMap, which only new Jobs read.
	if got := o.ConfigMap.Data["filter"]; got != "tcp port 443" {
		t.Errorf("ConfigMap filter = %q, want the new filter", got)
	}
}

func TestPlanJobShape(t *testing.T) {
	o := planned(t, testRequest())
	cm := o.ConfigMap
	if cm.Name != "capture-web-qwer" || cm.Namespace != testXRNS {
		t.Errorf("ConfigMap %s/%s, want %s/capture-web-qwer", cm.Namespace, cm.Name, testXRNS)
	}
	withCapture := map[string]string{"app.kubernetes.io/instance": "packet-capture-shop-web", "app.kubernetes.io/name": "packet-capture", LabelCapture: "capture-web"}
	if diff := cmp.Diff(withCapture, cm.Labels); diff != "" {
		t.Errorf("ConfigMap labels: -want, +got:\n%s", diff)
	}
	j := o.Jobs[0].Job
	if diff := cmp.Diff(withCapture, j.Labels); diff != "" {
		t.Errorf("Job labels: -want, +got:\n%s", diff)
	}
	podLabels := map[string]string{"app.kubernetes.io/instance": "packet-capture-shop-web", LabelCapture: "capture-web"}
	if diff := cmp.Diff(podLabels, j.Spec.Template.Labels); diff != "" {
		t.Errorf("pod template labels (only the instance and the capture: each costs bytes in every Job): -want, +got:\n%s", diff)
	}
	spec := j.Spec.Template.Spec
	checks := []struct {
		what      string
		got, want any
	}{
		{"nodeName", spec.NodeName, "node-a"},
		{"hostPID", spec.HostPID, true},
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyNever},
		{"activeDeadlineSeconds", *j.Spec.ActiveDeadlineSeconds, int64(30 + 30 + 900)},
		{"backoffLimit", *j.Spec.BackoffLimit, int32(1)},
		{"ttlSecondsAfterFinished", *j.Spec.TTLSecondsAfterFinished, int32(3600)},
		{"tolerations", spec.Tolerations, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{"image", spec.Containers[0].Image, v1beta1.DefaultImage},
		{"config volume", spec.Volumes[0].ConfigMap.Name, "capture-web-qwer"},
		{"output volume", spec.Volumes[1].EmptyDir != nil, true},
		{"capabilities", spec.Containers[0].SecurityContext.Capabilities.Add, []corev1.Capability{"NET_ADMIN", "NET_RAW", "SETGID", "SYS_ADMIN", "SYS_PTRACE"}},
		{"command", spec.Containers[0].Command, []string{"/bin/sh", "/etc/packet-capture/capture.sh"}},
		{"args", spec.Containers[0].Args, []string{"web-5d4f8-aaaaa/uid-pod-web-5d4f8-aaaaa"}},
		{"env", spec.Containers[0].Env, []corev1.EnvVar{{Name: "TARGET_NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}},
		{"os", spec.OS, &corev1.PodOS{Name: corev1.Linux}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("Job %s: -want, +got:\n%s", c.what, diff)
		}
	}
	if cm.Data["target-namespace"] != testNS {
		t.Errorf("ConfigMap target-namespace = %q, want %q", cm.Data["target-namespace"], testNS)
	}
	if cm.Data[scriptKey] != captureScript || !strings.HasPrefix(captureScript, "#!") {
		t.Errorf("ConfigMap does not carry the capture script")
	}
}

func TestPlanSettings(t *testing.T) {
	cases := map[string]struct {
		reason   string
		spec     func(*Spec)
		input    *v1beta1.Input
		check    func(t *testing.T, o *Desired)
		deadline int64
	}{
		"DurationSeconds":  {reason: "Whole seconds.", spec: func(s *Spec) { s.Duration = "45" }, deadline: 45 + 30 + 900},
		"DurationGo":       {reason: "A Go duration.", spec: func(s *Spec) { s.Duration = "5m" }, deadline: 300 + 30 + 900},
		"DurationCompound": {reason: "A compound Go duration.", spec: func(s *Spec) { s.Duration = "1h30m" }, deadline: 5400 + 30 + 900},
		"HostPathOutput": {
			reason: "The platform may write captures to the node; no retention window then.",
			input:  &v1beta1.Input{Output: &v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/pcaps"}},
			check: func(t *testing.T, o *Desired) {
				v := o.Jobs[0].Job.Spec.Template.Spec.Volumes[1]
				if v.HostPath == nil || v.HostPath.Path != "/var/tmp/pcaps" {
					t.Errorf("output volume = %+v, want hostPath /var/tmp/pcaps", v)
				}
				if o.Jobs[0].Job.Spec.Template.Spec.Containers[0].ReadinessProbe != nil {
					t.Errorf("a HostPath capture needs no readiness probe")
				}
				if o.ConfigMap.Data["retention-seconds"] != "0" {
					t.Errorf("retention-seconds = %q, want 0", o.ConfigMap.Data["retention-seconds"])
				}
			},
			deadline: 30 + 30,
		},
		"ClaimOutputFromSpec": {
			reason: "A user may send captures to a PersistentVolumeClaim.",
			spec: func(s *Spec) {
				s.Output = &v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcaps"}
			},
			check: func(t *testing.T, o *Desired) {
				v := o.Jobs[0].Job.Spec.Template.Spec.Volumes[1]
				if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "pcaps" {
					t.Errorf("output volume = %+v, want claim pcaps", v)
				}
				if !strings.Contains(o.Status.Retrieve, "pcaps") {
					t.Errorf("status.retrieve = %q, want it to name the claim", o.Status.Retrieve)
				}
			},
			deadline: 30 + 30,
		},
		"Privileged": {
			reason: "The platform may run captures privileged.",
			input:  &v1beta1.Input{SecurityMode: v1beta1.SecurityPrivileged},
			check: func(t *testing.T, o *Desired) {
				sc := o.Jobs[0].Job.Spec.Template.Spec.Containers[0].SecurityContext
				if sc.Privileged == nil || !*sc.Privileged || sc.Capabilities != nil {
					t.Errorf("securityContext = %+v, want privileged only", sc)
				}
			},
			deadline: 30 + 30 + 900,
		},
		"SpecOverridesInput": {
			reason: "snaplen, rotation, interface and filter from the spec reach the ConfigMap.",
			spec: func(s *Spec) {
				s.Snaplen, s.MaxFileSizeMB, s.MaxFiles = ptrTo(int32(96)), ptrTo(int32(5)), ptrTo(int32(3))
				s.Interface, s.Filter = "eth0", `tcp port 80 and host 10.0.0.1`
			},
			input: &v1beta1.Input{Snaplen: ptrTo(int32(1500)), Interface: "lo"},
			check: func(t *testing.T, o *Desired) {
				want := map[string]string{"snaplen": "96", "max-file-size-mb": "5", "max-files": "3", "interface": "eth0", "filter": "tcp port 80 and host 10.0.0.1"}
				for k, v := range want {
					if o.ConfigMap.Data[k] != v {
						t.Errorf("ConfigMap %s = %q, want %q", k, o.ConfigMap.Data[k], v)
					}
				}
			},
			deadline: 30 + 30 + 900,
		},
		"DerivedJobID": {
			reason: "Without a jobId one is derived from the uid: 4 characters, stable.",
			spec:   func(s *Spec) { s.JobID = "" },
			check: func(t *testing.T, o *Desired) {
				id := o.Status.JobID
				if !jobIDPattern.MatchString(id) || !strings.HasSuffix(o.Jobs[0].Job.Name, "-"+id) {
					t.Errorf("derived jobId %q, Job %q", id, o.Jobs[0].Job.Name)
				}
				if again := derivedJobID(testCapture()); again != id {
					t.Errorf("derived jobId not stable: %q then %q", id, again)
				}
			},
			deadline: 30 + 30 + 900,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := testRequest()
			if tc.spec != nil {
				tc.spec(&r.Capture.Spec)
			}
			r.Input = tc.input
			o := planned(t, r)
			if got := *o.Jobs[0].Job.Spec.ActiveDeadlineSeconds; got != tc.deadline {
				t.Errorf("%s\nactiveDeadlineSeconds = %d, want %d", tc.reason, got, tc.deadline)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func TestPlanInvalid(t *testing.T) {
	cases := map[string]struct {
		spec  func(*PacketCapture)
		input *v1beta1.Input
		want  []string // substrings of the error, each naming a field
	}{
		"JobIDTooLong":        {spec: func(p *PacketCapture) { p.Spec.JobID = "toolong" }, want: []string{`spec.jobId: Invalid value: "toolong"`, "4 lowercase"}},
		"JobIDTooShort":       {spec: func(p *PacketCapture) { p.Spec.JobID = "ab" }, want: []string{`spec.jobId: Invalid value: "ab"`}},
		"JobIDUppercase":      {spec: func(p *PacketCapture) { p.Spec.JobID = "QWER" }, want: []string{`spec.jobId: Invalid value: "QWER"`}},
		"JobIDSymbols":        {spec: func(p *PacketCapture) { p.Spec.JobID = "a;b$" }, want: []string{`spec.jobId`}},
		"NoNamespace":         {spec: func(p *PacketCapture) { p.Spec.TargetNamespace = "" }, want: []string{"spec.targetNamespace: Required value"}},
		"NoDeployment":        {spec: func(p *PacketCapture) { p.Spec.TargetDeployment = "" }, want: []string{"spec.targetDeployment: Required value"}},
		"BadNamespace":        {spec: func(p *PacketCapture) { p.Spec.TargetNamespace = "Shop_1" }, want: []string{`spec.targetNamespace: Invalid value: "Shop_1"`}},
		"BadDeployment":       {spec: func(p *PacketCapture) { p.Spec.TargetDeployment = "web/../x" }, want: []string{`spec.targetDeployment: Invalid value`}},
		"DurationMissing":     {spec: func(p *PacketCapture) { p.Spec.Duration = "" }, want: []string{`spec.duration: Invalid value: ""`, "is required"}},
		"DurationZero":        {spec: func(p *PacketCapture) { p.Spec.Duration = "0" }, want: []string{`spec.duration: Invalid value: "0"`, "between 1 and 86400"}},
		"DurationNegative":    {spec: func(p *PacketCapture) { p.Spec.Duration = "-5" }, want: []string{`spec.duration: Invalid value: "-5"`}},
		"DurationHuge":        {spec: func(p *PacketCapture) { p.Spec.Duration = "99999999999999999999" }, want: []string{`spec.duration`}},
		"DurationTooLong":     {spec: func(p *PacketCapture) { p.Spec.Duration = "25h" }, want: []string{`spec.duration: Invalid value: "25h"`, "24h0m0s"}},
		"DurationGarbage":     {spec: func(p *PacketCapture) { p.Spec.Duration = "thirty" }, want: []string{`spec.duration: Invalid value: "thirty"`}},
		"DurationFraction":    {spec: func(p *PacketCapture) { p.Spec.Duration = "1.5s" }, want: []string{`spec.duration: Invalid value: "1.5s"`, "whole number"}},
		"FilterNewline":       {spec: func(p *PacketCapture) { p.Spec.Filter = "tcp\nport 80" }, want: []string{"spec.filter: Invalid value", "must be printable ASCII"}},
		"FilterTooLong":       {spec: func(p *PacketCapture) { p.Spec.Filter = strings.Repeat("a", 2000) }, want: []string{"spec.filter: Too long"}},
		"FilterOption":        {spec: func(p *PacketCapture) { p.Spec.Filter = "-z /tmp/x" }, want: []string{"spec.filter: Invalid value", "not a tcpdump option"}},
		"BadInterface":        {spec: func(p *PacketCapture) { p.Spec.Interface = "eth0; rm -rf /" }, want: []string{`spec.interface: Invalid value`}},
		"SnaplenTooSmall":     {spec: func(p *PacketCapture) { p.Spec.Snaplen = ptrTo(int32(10)) }, want: []string{"spec.snaplen: Invalid value: 10"}},
		"SpecHostPath":        {spec: func(p *PacketCapture) { p.Spec.Output = &v1beta1.Output{Type: v1beta1.OutputHostPath} }, want: []string{"spec.output: Forbidden", "platform"}},
		"SpecClaimWithout":    {spec: func(p *PacketCapture) { p.Spec.Output = &v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim} }, want: []string{"spec.output.claimName: Required value"}},
		"NoXRNamespace":       {spec: func(p *PacketCapture) { p.Namespace = "" }, want: []string{"metadata.namespace: Required value"}},
		"InputBadSecurity":    {input: &v1beta1.Input{SecurityMode: "Root"}, want: []string{`input.securityMode: Unsupported value: "Root"`}},
		"InputSystemHostPath": {input: &v1beta1.Input{Output: &v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/etc"}}, want: []string{`input.output.hostPath: Invalid value: "/etc"`}},
		"InputRelativeHost":   {input: &v1beta1.Input{Output: &v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "pcaps/../.."}}, want: []string{`input.output.hostPath: Invalid value`}},
		"InputBadOutputType":  {input: &v1beta1.Input{Output: &v1beta1.Output{Type: "S3"}}, want: []string{`input.output.type: Unsupported value: "S3"`}},
		"InputGrace":          {input: &v1beta1.Input{GraceSeconds: ptrTo(int32(0))}, want: []string{"input.graceSeconds: Invalid value: 0"}},
		"SeveralAtOnce": {
			spec: func(p *PacketCapture) { p.Spec.JobID, p.Spec.Duration = "X", "never" },
			want: []string{"spec.jobId", "spec.duration"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := testRequest()
			if tc.spec != nil {
				tc.spec(&r.Capture)
			}
			r.Input = tc.input
			o, err := Plan(r)
			if err == nil {
				t.Fatalf("Plan() = %d Jobs, want an error mentioning %q", len(o.Jobs), tc.want)
			}
			var invalid *InvalidError
			if !asInvalid(err, &invalid) {
				t.Fatalf("Plan() error %T %v, want *InvalidError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Plan() error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPlanTooManyPods(t *testing.T) {
	r := testRequest()
	r.Input = &v1beta1.Input{MaxTargetPods: ptrTo(int32(2))}
	_, err := Plan(r)
	if err == nil || !strings.Contains(err.Error(), "input.maxTargetPods=2") || !strings.Contains(err.Error(), "3 capture Pods") {
		t.Fatalf("Plan() error = %v, want the platform limit named", err)
	}
}

func TestPlanBoundsStatus(t *testing.T) {
	r := testRequest()
	r.Input = &v1beta1.Input{StatusPodLimit: ptrTo(int32(2))}
	r.Pods = append(r.Pods, unscheduled(runningPod("web-5d4f8-zzzzz", testRS, "")))
	o := planned(t, r)
	if len(o.Status.Pods) != 2 || o.Status.PodsOmitted != 2 {
		t.Fatalf("status lists %d Pods and omits %d, want 2 and 2", len(o.Status.Pods), o.Status.PodsOmitted)
	}
	if o.Status.Pods[0].Phase != PodSkipped {
		t.Errorf("status lists %v first, want the problem (Skipped) first", o.Status.Pods[0].Phase)
	}
	if o.Status.Counts.Targets != 3 || o.Status.Counts.Skipped != 1 {
		t.Errorf("counts %+v must cover the omitted Pods", o.Status.Counts)
	}
}

func TestPlanFailureDetail(t *testing.T) {
	r := testRequest()
	jobs := observedJobs(t, r, map[int][]batchv1.JobConditionType{0: {batchv1.JobFailed}, 1: {batchv1.JobFailed}})
	jobs[0].Status.Conditions[0].Reason = "PodFailurePolicy"
	jobs[0].Status.Conditions[0].Message = "Container capture for pod packet-capture/web-5d4f8-aaaaa-qwer-x2x9k failed with exit code 3 matching FailJob rule at index 0"
	jobs[1].Status.Conditions[0].Reason = batchv1.JobReasonDeadlineExceeded
	r.Jobs = jobs
	o := planned(t, r)
	got := map[string]string{}
	for _, p := range o.Status.Pods {
		got[p.Pod] = p.Message
	}
	if !strings.Contains(got["web-5d4f8-aaaaa"], "network namespace was not found") {
		t.Errorf("exit 3 reported as %q", got["web-5d4f8-aaaaa"])
	}
	if !strings.Contains(got["web-5d4f8-bbbbb"], "activeDeadlineSeconds (960 s)") {
		t.Errorf("deadline reported as %q", got["web-5d4f8-bbbbb"])
	}
}

func TestPlanRetrievable(t *testing.T) {
	r := testRequest()
	jobs := observedJobs(t, r, nil)
	jobs[0].Status.Ready = ptrTo(int32(1))
	r.Jobs = jobs
	o := planned(t, r)
	if !o.Jobs[0].Ready || o.Status.Counts.Succeeded != 1 {
		t.Errorf("a capture whose files wait in its Pod is done: ready=%v counts=%+v", o.Jobs[0].Ready, o.Status.Counts)
	}
}

func asInvalid(err error, target **InvalidError) bool {
	e, ok := err.(*InvalidError)
	if ok {
		*target = e
	}
	return ok
}

// podOutput is the output record of a capture with the default Input.
var podOutput = &OutputRecord{Type: v1beta1.OutputPod, Image: v1beta1.DefaultImage}
