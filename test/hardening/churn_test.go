package hardening_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/fn"
	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// TestPodChurn plays Crossplane and a cluster against RunFunction for over a
// thousand reconciles. Between reconciles Pods appear, start, terminate and
// get rescheduled, Deployments roll out, are deleted and made again, capture
// Jobs start, finish or fail and expire, a few are deleted by hand, a few
// fail to be created, and now and then the XR's status fails to be written
// or the user sets a new jobId. Crossplane's part is played faithfully: it
// calls the function until its requirements settle, creates the desired
// Jobs that do not exist, deletes observed ones that are no longer desired,
// and writes the desired status back on the XR.
//
// After every reconcile:
//   - every Job Crossplane observes is still desired (deleting it would kill
//     a running capture and its files);
//   - no Job's desired form ever changes while its jobId is current (byte
//     for byte), and a desired Job never asks to change a field of the live
//     Job (a Job's pod template is immutable);
//   - a Job that existed and was removed (expired after finishing, or
//     deleted by hand) is never desired again: no capture runs twice;
//   - no Fatal result, no panic, and the status counts add up.
func TestPodChurn(t *testing.T) {
	reconciles := 300
	if long() {
		reconciles *= 10
	}
	var total churnStats
	for _, o := range []struct {
		seed   uint64
		follow bool
		jobPer string
	}{{1, false, "Pod"}, {2, true, "Pod"}, {3, false, "Node"}, {4, true, "Node"}, {5, true, "Auto"}} {
		t.Run(fmt.Sprintf("seed=%d/followNewPods=%t/jobPer=%s", o.seed, o.follow, o.jobPer), func(t *testing.T) {
			s := newChurn(t, o.seed, o.follow)
			s.input = mustStruct(t, obj{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "jobPer": o.jobPer, "maxPodJobs": 6.0})
			for range reconciles {
				s.tick()
				s.reconcile()
				if t.Failed() {
					t.Fatalf("after %d reconciles (%+v)", s.stats.reconciles, s.stats)
				}
			}
			t.Logf("%+v", s.stats)
			total.add(s.stats)
		})
	}
	t.Logf("total: %+v", total)
	if total.reconciles < 1000 {
		t.Errorf("%d reconciles, want at least 1,000", total.reconciles)
	}
}

type churnStats struct {
	reconciles, calls, invariantChecks                             int
	jobsCreated, createFailures, jobsSucceeded, jobsFailed         int
	jobsExpired, jobsDeletedByHand, maxLiveJobs                    int
	podsCreated, podsDeleted, podsRescheduled, rollouts            int
	deploymentDeletes, deploymentRecreates, jobIDChanges           int
	statusWriteFailures, keptAfterJobIDChange, neverCreatedRetried int
	removedBeforeRecorded, released                                int
}

func (s *churnStats) add(o churnStats) {
	a, b := []*int{&s.reconciles, &s.calls, &s.invariantChecks, &s.jobsCreated, &s.createFailures, &s.jobsSucceeded, &s.jobsFailed,
		&s.jobsExpired, &s.jobsDeletedByHand, &s.maxLiveJobs, &s.podsCreated, &s.podsDeleted, &s.podsRescheduled, &s.rollouts,
		&s.deploymentDeletes, &s.deploymentRecreates, &s.jobIDChanges, &s.statusWriteFailures, &s.keptAfterJobIDChange, &s.neverCreatedRetried, &s.removedBeforeRecorded},
		[]int{o.reconciles, o.calls, o.invariantChecks, o.jobsCreated, o.createFailures, o.jobsSucceeded, o.jobsFailed,
			o.jobsExpired, o.jobsDeletedByHand, o.maxLiveJobs, o.podsCreated, o.podsDeleted, o.podsRescheduled, o.rollouts,
			o.deploymentDeletes, o.deploymentRecreates, o.jobIDChanges, o.statusWriteFailures, o.keptAfterJobIDChange, o.neverCreatedRetried, o.removedBeforeRecorded}
	for i := range a {
		*a[i] += b[i]
	}
	s.maxLiveJobs = max(s.maxLiveJobs, o.maxLiveJobs)
}

// liveJob is a capture Job as the API server holds it.
type liveJob struct {
	obj   obj
	phase string // Pending, Running, Retrievable, Succeeded, Failed
	ticks int    // in this phase
	// runFor is how many ticks the capture runs.
	runFor int
	// pods the Job captures: one, or all its node's (jobPer Node).
	pods []string
	// recorded: a reconcile observed the Job and wrote its status: the
	// function has had its chance to remember the Job.
	recorded bool
}

type churn struct {
	t     *testing.T
	r     *rand.Rand
	f     *fn.Function
	stats churnStats

	// The cluster.
	ns        string
	deploy    *appsv1.Deployment // nil while deleted
	template  appsv1.Deployment  // to make it again
	rs        *appsv1.ReplicaSet // the current ReplicaSet
	oldRSs    []appsv1.ReplicaSet
	pods      []corev1.Pod
	others    []any // other Deployments' ReplicaSets and Pods, some with overlapping labels
	podTmpl   corev1.Pod
	recreateT int
	uid       int

	// Crossplane's view.
	xr           obj
	status       *structpb.Value
	jobID        string
	usedJobIDs   map[string]bool
	jobs         map[string]*liveJob // by composed resource name
	configMap    bool
	requirements map[string]*fnv1.ResourceSelector
	input        *structpb.Struct
	// first is the first desired form of each Job, while its jobId is current.
	first map[string][]byte
	// removed holds the Jobs that existed and were removed.
	removed map[string]string
	// desiredNeverCreated counts, per Job, reconciles it was desired but not
	// created (creation failures).
	everDesired map[string]bool
}

func newChurn(t *testing.T, seed uint64, follow bool) *churn {
	c := clustergen.Generate(seed, clustergen.Options{Pods: 12, Others: 2})
	s := &churn{
		t: t, r: rand.New(rand.NewPCG(seed, 99)), f: nopFunction(), ns: c.Namespace,
		jobs: map[string]*liveJob{}, first: map[string][]byte{}, removed: map[string]string{}, everDesired: map[string]bool{},
		jobID: "ch" + fmt.Sprint(seed%10) + "a", usedJobIDs: map[string]bool{},
	}
	s.usedJobIDs[s.jobID] = true
	s.deploy = c.Target.DeepCopy()
	s.template = *c.Target.DeepCopy()
	for i := range c.ReplicaSets {
		rs := c.ReplicaSets[i]
		owner := metav1.GetControllerOf(&rs)
		switch {
		case owner != nil && owner.UID == s.deploy.UID && s.rs == nil:
			s.rs = rs.DeepCopy()
		case owner != nil && owner.UID == s.deploy.UID:
			s.oldRSs = append(s.oldRSs, rs)
		default:
			s.others = append(s.others, rs.DeepCopy())
		}
	}
	for i := range c.Pods {
		p := c.Pods[i]
		owner := metav1.GetControllerOf(&p)
		if owner != nil && (owner.Name == s.rs.Name || slices.ContainsFunc(s.oldRSs, func(rs appsv1.ReplicaSet) bool { return rs.Name == owner.Name })) {
			s.pods = append(s.pods, p)
			if owner.Name == s.rs.Name {
				s.podTmpl = *p.DeepCopy()
			}
			continue
		}
		s.others = append(s.others, p.DeepCopy())
	}
	s.xr = obj{
		"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
		"metadata": obj{"name": "churn", "namespace": "captures", "uid": "uid-churn",
			"labels": obj{"app.kubernetes.io/instance": "churn"}},
		"spec": obj{"jobId": s.jobID, "targetNamespace": s.ns, "targetDeployment": s.deploy.Name, "duration": "60", "followNewPods": follow},
	}
	return s
}

func (s *churn) newUID(kind string) types.UID {
	s.uid++
	return types.UID(fmt.Sprintf("%s-%06d", kind, s.uid))
}

const podSuffixChars = "bcdfghjklmnpqrstvwxz2456789"

// newPod makes a Pod of the current ReplicaSet, in a phase of its start.
func (s *churn) newPod() corev1.Pod {
	p := *s.podTmpl.DeepCopy()
	b := make([]byte, 5)
	for i := range b {
		b[i] = podSuffixChars[s.r.IntN(len(podSuffixChars))]
	}
	p.Name = s.rs.Name + "-" + string(b)
	if len(p.Name) > 63 {
		p.Name = s.rs.Name[:57] + "-" + string(b)
	}
	p.UID = s.newUID("pod")
	p.Labels = maps.Clone(s.rs.Spec.Template.Labels)
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: s.rs.Name, UID: s.rs.UID, Controller: ptrTo(true)}}
	p.DeletionTimestamp = nil
	p.Spec.NodeName = ""
	p.Status.Phase = corev1.PodPending
	p.Status.PodIP = ""
	s.stats.podsCreated++
	return p
}

// tick moves the cluster and the Jobs on.
func (s *churn) tick() {
	r := s.r
	// Pods start, terminate and go.
	var pods []corev1.Pod
	for _, p := range s.pods {
		switch {
		case p.DeletionTimestamp != nil:
			s.stats.podsDeleted++
			continue // gone
		case p.Spec.NodeName == "" && r.IntN(2) == 0:
			p.Spec.NodeName = fmt.Sprintf("node-%d", r.IntN(6))
		case p.Spec.NodeName != "" && p.Status.Phase == corev1.PodPending && r.IntN(2) == 0:
			p.Status.Phase = corev1.PodRunning
			p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254))
		case p.Status.Phase == corev1.PodRunning && r.IntN(40) == 0:
			// Evicted or scaled down: terminating now, gone next tick.
			now := metav1.Unix(1760000000, 0)
			p.DeletionTimestamp = &now
		case p.Status.Phase == corev1.PodRunning && r.IntN(40) == 0:
			// Rescheduled: the Pod goes, its replacement starts elsewhere.
			s.stats.podsRescheduled++
			s.stats.podsDeleted++
			if s.deploy != nil {
				pods = append(pods, s.newPod())
			}
			continue
		}
		pods = append(pods, p)
	}
	s.pods = pods
	if s.deploy != nil && r.IntN(6) == 0 {
		s.pods = append(s.pods, s.newPod()) // scaled up, or a replacement
	}
	if s.deploy != nil && r.IntN(60) == 0 {
		// A rollout: a new ReplicaSet whose Pods replace the old ones.
		s.stats.rollouts++
		s.oldRSs = append(s.oldRSs, *s.rs)
		rs := s.rs.DeepCopy()
		hash := fmt.Sprintf("%08x", r.Uint32())
		rs.Name = strings.TrimSuffix(rs.Name, rs.Labels["pod-template-hash"]) + hash
		rs.UID = s.newUID("rs")
		rs.Labels["pod-template-hash"] = hash
		rs.Spec.Template.Labels = maps.Clone(rs.Labels)
		s.rs = rs
		for i := range s.pods {
			if r.IntN(2) == 0 {
				now := metav1.Unix(1760000000, 0)
				s.pods[i].DeletionTimestamp = &now
			}
		}
	}
	// The Deployment is deleted (its ReplicaSets and Pods with it) and,
	// some ticks later, made again: a new uid, the same ReplicaSet name (the
	// same template hash) with a new uid, new Pods.
	switch {
	case s.deploy != nil && r.IntN(120) == 0:
		s.stats.deploymentDeletes++
		s.deploy, s.oldRSs = nil, nil
		s.stats.podsDeleted += len(s.pods)
		s.pods = nil
		s.recreateT = 1 + r.IntN(8)
	case s.deploy == nil:
		s.recreateT--
		if s.recreateT <= 0 {
			s.stats.deploymentRecreates++
			d := s.template.DeepCopy()
			d.UID = s.newUID("deploy")
			s.deploy = d
			rs := s.rs.DeepCopy()
			rs.UID = s.newUID("rs")
			rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptrTo(true)}}
			s.rs = rs
			for range 1 + r.IntN(8) {
				s.pods = append(s.pods, s.newPod())
			}
		}
	}

	// Capture Jobs progress, finish, expire; a few are deleted by hand.
	for name, j := range s.jobs {
		j.ticks++
		podGone := slices.ContainsFunc(j.pods, func(name string) bool {
			return !slices.ContainsFunc(s.pods, func(p corev1.Pod) bool { return p.Name == name && p.DeletionTimestamp == nil })
		})
		switch j.phase {
		case "Pending":
			if j.ticks >= 1+r.IntN(2) {
				if podGone && r.IntN(2) == 0 {
					s.finish(j, "Failed", 3)
				} else {
					s.setPhase(j, "Running")
				}
			}
		case "Running":
			if j.ticks >= j.runFor {
				switch {
				case podGone || r.IntN(8) == 0:
					s.finish(j, "Failed", []int{3, 4}[r.IntN(2)])
				case r.IntN(2) == 0:
					s.setPhase(j, "Retrievable")
				default:
					s.finish(j, "Succeeded", 0)
				}
			}
		case "Retrievable":
			if j.ticks >= 2 {
				s.finish(j, "Succeeded", 0)
			}
		case "Succeeded", "Failed":
			if j.ticks >= 2+r.IntN(6) { // ttlSecondsAfterFinished
				delete(s.jobs, name)
				s.forget(name, j, "expired after it "+strings.ToLower(j.phase))
				s.stats.jobsExpired++
			}
		}
		if _, ok := s.jobs[name]; ok && r.IntN(300) == 0 {
			delete(s.jobs, name)
			s.forget(name, j, "deleted by hand while "+j.phase)
			s.stats.jobsDeletedByHand++
		}
	}

	// Now and then the user starts a new capture of the same Deployment.
	if r.IntN(250) == 0 {
		s.stats.jobIDChanges++
		for s.usedJobIDs[s.jobID] {
			s.jobID = fmt.Sprintf("%04x", r.IntN(0xffff))
		}
		s.usedJobIDs[s.jobID] = true
		at(s.xr, "spec")["jobId"] = s.jobID
		s.first = map[string][]byte{} // the Jobs of the old jobId may now be planned as kept
	}
}

// forget records a Job's removal. The function remembers a Job once a
// reconcile has observed it and written its status; one removed before that
// is indistinguishable from one that failed to be created, and may be asked
// for again.
func (s *churn) forget(name string, j *liveJob, why string) {
	if j.recorded {
		s.removed[name] = why
		return
	}
	s.stats.removedBeforeRecorded++
}

func (s *churn) setPhase(j *liveJob, phase string) {
	j.phase, j.ticks = phase, 0
	st := obj{"startTime": "2026-11-01T10:00:00Z", "uncountedTerminatedPods": obj{}}
	switch phase {
	case "Running":
		st["active"], st["ready"] = 1.0, 0.0
	case "Retrievable":
		st["active"], st["ready"] = 1.0, 1.0
	}
	j.obj["status"] = st
}

func (s *churn) finish(j *liveJob, phase string, exitCode int) {
	j.phase, j.ticks = phase, 0
	st := obj{"startTime": "2026-11-01T10:00:00Z", "completionTime": "2026-11-01T10:01:00Z", "ready": 0.0, "uncountedTerminatedPods": obj{}}
	if phase == "Succeeded" {
		s.stats.jobsSucceeded++
		st["succeeded"] = 1.0
		st["conditions"] = []any{
			obj{"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
			obj{"type": "Complete", "status": "True", "reason": "CompletionsReached"},
		}
	} else {
		s.stats.jobsFailed++
		st["failed"] = 1.0
		msg := fmt.Sprintf("Container capture for pod %s/%s-x7k2p failed with exit code %d matching FailJob rule at index 0", "captures", j.obj["metadata"].(obj)["name"], exitCode)
		st["conditions"] = []any{
			obj{"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy", "message": msg},
			obj{"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "message": msg},
		}
	}
	j.obj["status"] = st
}

// required returns what Crossplane sends for a requirement.
func (s *churn) required(sel *fnv1.ResourceSelector) *fnv1.Resources {
	out := &fnv1.Resources{}
	add := func(o any) {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			s.t.Fatal(err)
		}
		out.Items = append(out.Items, &fnv1.Resource{Resource: mustStruct(s.t, m)})
	}
	var candidates []any
	switch sel.GetKind() {
	case "Deployment":
		if s.deploy != nil {
			candidates = append(candidates, s.deploy)
		}
	case "ReplicaSet":
		if s.deploy != nil {
			candidates = append(candidates, s.rs)
			for i := range s.oldRSs {
				candidates = append(candidates, &s.oldRSs[i])
			}
		}
		for _, o := range s.others {
			if _, ok := o.(*appsv1.ReplicaSet); ok {
				candidates = append(candidates, o)
			}
		}
	case "Pod":
		for i := range s.pods {
			candidates = append(candidates, &s.pods[i])
		}
		for _, o := range s.others {
			if _, ok := o.(*corev1.Pod); ok {
				candidates = append(candidates, o)
			}
		}
	}
	for _, o := range candidates {
		m := o.(metav1.Object)
		if m.GetNamespace() != sel.GetNamespace() {
			continue
		}
		if name := sel.GetMatchName(); name != "" && m.GetName() != name {
			continue
		}
		if ml := sel.GetMatchLabels(); ml != nil && !labels.SelectorFromSet(ml.GetLabels()).Matches(labels.Set(m.GetLabels())) {
			continue
		}
		add(o)
	}
	return out
}

// reconcile is one reconcile of the XR, as Crossplane runs it.
func (s *churn) reconcile() {
	t := s.t
	s.stats.reconciles++
	xr := mustStruct(t, s.xr)
	if s.status != nil {
		xr.Fields["status"] = s.status
	}
	observed := map[string]*fnv1.Resource{}
	for name, j := range s.jobs {
		observed[name] = &fnv1.Resource{Resource: mustStruct(t, j.obj)}
	}
	if s.configMap {
		observed[fn.ConfigMapResource] = &fnv1.Resource{Resource: mustStruct(t, obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": "cm", "namespace": "captures"}})}
	}

	// Call until the requirements settle, as Crossplane does.
	var rsp *fnv1.RunFunctionResponse
	for i := 0; ; i++ {
		req := &fnv1.RunFunctionRequest{
			Meta:              &fnv1.RequestMeta{Tag: "churn"},
			Input:             s.input,
			Observed:          &fnv1.State{Composite: &fnv1.Resource{Resource: xr}, Resources: observed},
			RequiredResources: map[string]*fnv1.Resources{},
		}
		for name, sel := range s.requirements {
			req.RequiredResources[name] = s.required(sel)
		}
		s.stats.calls++
		rsp, _ = runCrossplane(t, s.f, req)
		for _, r := range rsp.GetResults() {
			if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
				t.Fatalf("reconcile %d: fatal result %q", s.stats.reconciles, r.GetMessage())
			}
		}
		got := rsp.GetRequirements().GetResources()
		if maps.EqualFunc(got, s.requirements, func(a, b *fnv1.ResourceSelector) bool { return proto.Equal(a, b) }) {
			break
		}
		s.requirements = got
		if i == 5 {
			t.Fatalf("reconcile %d: the requirements do not settle after %d calls", s.stats.reconciles, i+1)
		}
	}

	desired := rsp.GetDesired().GetResources()
	ledger, _ := rsp.GetDesired().GetComposite().GetResource().AsMap()["status"].(map[string]any)["ledger"].(map[string]any)
	// Every running Job Crossplane observes is still desired, and asks to
	// change nothing of the live Job. A finished one may be released, once
	// its outcome is in the ledger the same response writes (or, of an
	// earlier jobId, which no ledger tracks any more).
	for name, j := range s.jobs {
		s.stats.invariantChecks++
		d, ok := desired[name]
		earlierJobID := !strings.HasSuffix(name, "-"+s.jobID)
		if !ok && (j.phase == "Succeeded" || j.phase == "Failed") &&
			(earlierJobID || len(j.pods) > 0 && !slices.ContainsFunc(j.pods, func(pod string) bool {
				return !slices.Contains(anyStrings(ledger[strings.ToLower(j.phase)]), pod)
			})) {
			s.stats.released++
			continue
		}
		if !ok {
			t.Errorf("reconcile %d: observed Job %s (%s) is no longer desired: Crossplane would delete it and its capture", s.stats.reconciles, name, j.phase)
			continue
		}
		if path, ok := subsetOf(d.GetResource().AsMap(), j.obj, ""); !ok {
			t.Errorf("reconcile %d: desired Job %s would change the live Job at %s", s.stats.reconciles, name, path)
		}
	}
	liveJobs := 0
	for name, d := range desired {
		if !strings.HasPrefix(name, "job-") {
			continue
		}
		liveJobs++
		s.stats.invariantChecks++
		// A Job that existed and was removed never comes back.
		if why, ok := s.removed[name]; ok {
			t.Errorf("reconcile %d: Job %s was %s and is desired again: its capture would run twice", s.stats.reconciles, name, why)
		}
		// A Job's desired form never changes while its jobId is current.
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.GetResource())
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := s.first[name]; ok && string(prev) != string(b) {
			t.Errorf("reconcile %d: the desired Job %s changed", s.stats.reconciles, name)
		} else if !ok {
			s.first[name] = b
			if !strings.HasSuffix(name, "-"+s.jobID) {
				s.stats.keptAfterJobIDChange++
			}
		}
	}
	s.stats.maxLiveJobs = max(s.stats.maxLiveJobs, liveJobs)

	// Crossplane applies the desired state: what is observed but not desired
	// is deleted; what is desired but missing is created (a few creations
	// fail, as they do against a busy API server).
	for name := range s.jobs {
		if _, ok := desired[name]; !ok {
			delete(s.jobs, name)
			s.removed[name] = "released by the function and deleted by Crossplane"
		}
	}
	for name, d := range desired {
		if !strings.HasPrefix(name, "job-") {
			if name == fn.ConfigMapResource {
				s.configMap = true
			}
			continue
		}
		if _, ok := s.jobs[name]; ok {
			continue
		}
		if s.everDesired[name] {
			s.stats.neverCreatedRetried++
		}
		s.everDesired[name] = true
		if s.r.IntN(30) == 0 {
			s.stats.createFailures++
			continue
		}
		s.stats.jobsCreated++
		s.jobs[name] = s.created(d.GetResource().AsMap())
	}

	// The desired status becomes the XR's status, unless writing it fails.
	st := rsp.GetDesired().GetComposite().GetResource().GetFields()["status"]
	if st == nil {
		t.Fatalf("reconcile %d: no status on the desired XR", s.stats.reconciles)
	}
	counts := st.GetStructValue().GetFields()["counts"].GetStructValue().AsMap()
	num := func(k string) int { f, _ := counts[k].(float64); return int(f) }
	if sum := num("active") + num("succeeded") + num("failed") + num("gone"); sum != num("targets") {
		t.Errorf("reconcile %d: counts %v: active+succeeded+failed+gone = %d, targets = %d", s.stats.reconciles, counts, sum, num("targets"))
	}
	if s.r.IntN(100) == 0 {
		s.stats.statusWriteFailures++
		return
	}
	s.status = st
	for name := range observed {
		if j, ok := s.jobs[name]; ok {
			j.recorded = true
		}
	}
}

// created is a desired Job as the API server returns it once created: with
// its uid, selector, controller labels, defaulted fields and an empty status.
func (s *churn) created(d obj) *liveJob {
	live := deepCopy(d)
	meta := at(live, "metadata")
	uid := string(s.newUID("job"))
	meta["uid"], meta["resourceVersion"], meta["generation"], meta["creationTimestamp"] = uid, "1", 1.0, "2026-11-01T10:00:00Z"
	spec := at(live, "spec")
	spec["selector"] = obj{"matchLabels": obj{"batch.kubernetes.io/controller-uid": uid}}
	spec["completions"], spec["parallelism"], spec["completionMode"], spec["suspend"] = 1.0, 1.0, "NonIndexed", false
	spec["podReplacementPolicy"], spec["manualSelector"] = "TerminatingOrFailed", false
	tmplLabels := at(spec, "template", "metadata", "labels")
	for _, k := range []string{"batch.kubernetes.io/controller-uid", "controller-uid"} {
		tmplLabels[k] = uid
	}
	for _, k := range []string{"batch.kubernetes.io/job-name", "job-name"} {
		tmplLabels[k] = meta["name"]
	}
	podSpec := at(spec, "template", "spec")
	podSpec["dnsPolicy"], podSpec["schedulerName"], podSpec["terminationGracePeriodSeconds"] = "ClusterFirst", "default-scheduler", 30.0
	if _, ok := podSpec["securityContext"]; !ok {
		podSpec["securityContext"] = obj{}
	}
	for _, c := range podSpec["containers"].([]any) {
		c.(obj)["terminationMessagePath"], c.(obj)["terminationMessagePolicy"] = "/dev/termination-log", "File"
	}
	live["status"] = obj{}
	var pods []string
	for _, c := range podSpec["containers"].([]any) {
		for _, a := range c.(obj)["args"].([]any) {
			name, _, _ := strings.Cut(a.(string), "/")
			pods = append(pods, name)
		}
	}
	return &liveJob{obj: live, phase: "Pending", runFor: 2 + s.r.IntN(5), pods: pods}
}

// subsetOf tells whether every field of desired has the same value in live:
// whether applying desired changes nothing. It returns the first field that
// differs.
func subsetOf(desired, live any, path string) (string, bool) {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return path, false
		}
		for k, v := range d {
			if p, ok := subsetOf(v, l[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return path, false
		}
		for i := range d {
			if p, ok := subsetOf(d[i], l[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	}
	return path, desired == live
}

func ptrTo[T any](v T) *T { return &v }

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if str, ok := e.(string); ok {
			out = append(out, str)
		}
	}
	return out
}
