package capture

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Property tests: for names and label values of every length and shape
// Kubernetes allows (and label values it does not), the names and labels the
// planner makes are valid, unique per Pod and the same on every run. Seeds
// are fixed so a failure reproduces; each failure message names its input.

const propertySeed = 20260401

// propRand draws the random inputs of the property tests.
type propRand struct{ *rand.Rand }

func newPropRand(salt uint64) propRand {
	return propRand{rand.New(rand.NewPCG(propertySeed, salt))}
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	dnsChars   = lowerAlnum + "-"
)

// dnsLabel is a random valid DNS-1123 label of exactly n characters (1..63),
// dashes included, runs of them too.
func (r propRand) dnsLabel(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = dnsChars[r.IntN(len(dnsChars))]
		if r.IntN(4) == 0 {
			b[i] = '-'
		}
	}
	b[0] = lowerAlnum[r.IntN(len(lowerAlnum))]
	b[n-1] = lowerAlnum[r.IntN(len(lowerAlnum))]
	return string(b)
}

// lengthUpTo favours the edges: 1, the limit, and around 63, where names
// start to be shortened.
func (r propRand) lengthUpTo(limit int) int {
	switch r.IntN(6) {
	case 0:
		return 1
	case 1:
		return limit
	case 2:
		return min(limit, 58+r.IntN(10))
	}
	return 1 + r.IntN(limit)
}

// dnsSubdomain is a random valid DNS-1123 subdomain of exactly n characters
// (1..253): labels joined by dots, as Deployment and Pod names may be.
func (r propRand) dnsSubdomain(n int) string {
	var parts []string
	left := n
	for left > 0 {
		l := min(left, 1+r.IntN(63))
		if left-l == 1 {
			l-- // a dot and nothing after it: take one less now
		}
		if l == 0 {
			l = left
		}
		parts = append(parts, r.dnsLabel(l))
		left -= l
		if left > 0 {
			left-- // the dot
		}
	}
	return strings.Join(parts, ".")
}

// jobID is a random valid jobId.
func (r propRand) jobID() string {
	b := make([]byte, 4)
	for i := range b {
		b[i] = lowerAlnum[r.IntN(len(lowerAlnum))]
	}
	return string(b)
}

// anyString is an arbitrary string: printable, control, multi-byte and
// invalid UTF-8, of up to 300 bytes.
func (r propRand) anyString() string {
	n := r.IntN(300)
	if r.IntN(3) == 0 {
		n = r.IntN(70)
	}
	var b strings.Builder
	for b.Len() < n {
		switch r.IntN(8) {
		case 0:
			b.WriteByte(byte(r.IntN(256)))
		case 1:
			b.WriteRune(rune(0x80 + r.IntN(0x10000)))
		case 2:
			b.WriteByte("-_. /:@"[r.IntN(7)])
		default:
			b.WriteByte(lowerAlnum[r.IntN(len(lowerAlnum))])
		}
	}
	return b.String()
}

func TestPropertyGeneratorsAreValid(t *testing.T) {
	r := newPropRand(0)
	for range 2000 {
		if n := r.lengthUpTo(253); len(r.dnsSubdomain(n)) != n {
			t.Fatalf("dnsSubdomain(%d) has the wrong length", n)
		}
		s := r.dnsSubdomain(r.lengthUpTo(253))
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			t.Fatalf("generator made an invalid subdomain %q: %v", s, errs)
		}
		l := r.dnsLabel(r.lengthUpTo(63))
		if errs := validation.IsDNS1123Label(l); len(errs) > 0 {
			t.Fatalf("generator made an invalid label %q: %v", l, errs)
		}
	}
}

// checkName checks a generated object name: a valid DNS-1123 subdomain (what
// Jobs and ConfigMaps need) and at most 63 characters, so that it is also a
// valid label value (the job-name label of the Job's Pods).
func checkName(t *testing.T, what, name string, input ...any) {
	t.Helper()
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		t.Fatalf("%s %q (from %q) is not a DNS-1123 subdomain: %v", what, name, input, errs)
	}
	if len(name) > 63 {
		t.Fatalf("%s %q (from %q) is %d characters, over 63", what, name, input, len(name))
	}
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		t.Fatalf("%s %q (from %q) is not a valid label value: %v", what, name, input, errs)
	}
}

func TestPropertyJobName(t *testing.T) {
	r := newPropRand(1)
	for range 20000 {
		pod, jobID := r.dnsSubdomain(r.lengthUpTo(253)), r.jobID()
		name := JobName(pod, jobID)
		checkName(t, "Job name", name, pod, jobID)
		if !strings.HasSuffix(name, "-"+jobID) {
			t.Fatalf("JobName(%q, %q) = %q does not end with the jobId", pod, jobID, name)
		}
		if len(pod)+5 <= 63 && name != pod+"-"+jobID {
			t.Fatalf("JobName(%q, %q) = %q: a name that fits must stay the old operator's {{podName}}-{{jobId}}", pod, jobID, name)
		}
		if again := JobName(pod, jobID); again != name {
			t.Fatalf("JobName(%q, %q) gave %q, then %q", pod, jobID, name, again)
		}
	}
}

// TestPropertyJobNameUnique: Pods of one Deployment share a long prefix and
// differ only at the end, the worst case for shortening. Their Job names must
// all differ, for every length of prefix.
func TestPropertyJobNameUnique(t *testing.T) {
	r := newPropRand(2)
	for _, prefixLen := range []int{1, 40, 52, 57, 58, 59, 62, 63, 100, 200, 246} {
		prefix := r.dnsSubdomain(prefixLen)
		jobID := r.jobID()
		seen := make(map[string]string)
		for len(seen) < 2000 {
			pod := prefix + "-" + r.dnsLabel(1+r.IntN(6))
			if len(pod) > 253 {
				pod = pod[:253]
			}
			if len(validation.IsDNS1123Subdomain(pod)) > 0 {
				continue
			}
			name := JobName(pod, jobID)
			if other, ok := seen[name]; ok && other != pod {
				t.Fatalf("Pods %q and %q both get Job %q", other, pod, name)
			}
			seen[name] = pod
		}
	}
}

func TestPropertyConfigMapName(t *testing.T) {
	r := newPropRand(3)
	seen := make(map[string][2]string)
	for range 20000 {
		capture, jobID := r.dnsSubdomain(r.lengthUpTo(253)), r.jobID()
		name := configMapName(capture, jobID)
		checkName(t, "ConfigMap name", name, capture, jobID)
		if again := configMapName(capture, jobID); again != name {
			t.Fatalf("configMapName(%q, %q) gave %q, then %q", capture, jobID, name, again)
		}
		// Two captures, or two runs of one, never share a ConfigMap.
		if other, ok := seen[name]; ok && other != [2]string{capture, jobID} {
			t.Fatalf("captures %q and %q both get ConfigMap %q", other, [2]string{capture, jobID}, name)
		}
		seen[name] = [2]string{capture, jobID}
	}
}

func TestPropertyLabelValue(t *testing.T) {
	r := newPropRand(4)
	seen := make(map[string]string)
	for range 50000 {
		v := r.anyString()
		got := LabelValue(v)
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Fatalf("LabelValue(%q) = %q: %v", v, got, errs)
		}
		if len(validation.IsValidLabelValue(v)) == 0 && got != v {
			t.Fatalf("LabelValue(%q) = %q: a valid value must stay as it is", v, got)
		}
		if again := LabelValue(v); again != got {
			t.Fatalf("LabelValue(%q) gave %q, then %q", v, got, again)
		}
		if other, ok := seen[got]; ok && other != v {
			t.Fatalf("LabelValue(%q) = LabelValue(%q) = %q", other, v, got)
		}
		seen[got] = v
	}
}

// propCluster is a Deployment of n Pods whose names, lengths and labels are
// random, with some Pods the planner must skip.
func propCluster(r propRand, n int) (Request, []string) {
	ns := r.dnsLabel(r.lengthUpTo(63))
	deployName := r.dnsSubdomain(r.lengthUpTo(253))
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deployName, Namespace: ns, UID: types.UID("uid-d-" + r.jobID())},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": LabelValue(r.anyString())}}},
	}
	rs := appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: r.dnsSubdomain(r.lengthUpTo(253)), Namespace: ns, UID: "uid-rs",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptrTo(true)}},
	}}
	labels := map[string]string{"team": r.anyString()}
	for _, k := range []string{"app.kubernetes.io/instance", "app.kubernetes.io/name", "app.kubernetes.io/part-of"} {
		if r.IntN(4) > 0 {
			labels[k] = r.anyString()
		}
	}
	pc := PacketCapture{
		Name:      r.dnsSubdomain(r.lengthUpTo(253)),
		Namespace: r.dnsLabel(r.lengthUpTo(63)),
		UID:       "uid-pc-" + r.jobID(),
		Labels:    labels,
		Spec:      Spec{TargetNamespace: ns, TargetDeployment: deployName, Duration: "30", FollowNewPods: r.IntN(2) == 0},
	}
	if r.IntN(3) > 0 {
		pc.Spec.JobID = r.jobID()
	}
	req := Request{Capture: pc, Deployment: d, ReplicaSets: []appsv1.ReplicaSet{rs}}
	var want []string
	seen := make(map[string]bool)
	for len(req.Pods) < n {
		name := r.dnsSubdomain(r.lengthUpTo(253))
		if r.IntN(2) == 0 {
			// Most Pods share their ReplicaSet's name as a prefix.
			name = rs.Name + "-" + r.dnsLabel(5)
			if len(name) > 253 {
				name = rs.Name[:247] + "-" + r.dnsLabel(5)
				name = strings.ReplaceAll(name, ".-", "a-")
			}
		}
		if seen[name] || len(validation.IsDNS1123Subdomain(name)) > 0 {
			continue
		}
		seen[name] = true
		p := corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(fmt.Sprintf("uid-pod-%d", len(req.Pods))),
				Labels:          map[string]string{"app": d.Spec.Selector.MatchLabels["app"], "extra": LabelValue(r.anyString())},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptrTo(true)}}},
			Spec:   corev1.PodSpec{NodeName: r.dnsSubdomain(r.lengthUpTo(253))},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.%d.%d", r.IntN(256), r.IntN(256))},
		}
		if r.IntN(10) == 0 {
			p.Status.Phase = corev1.PodPending
		} else {
			want = append(want, name)
		}
		req.Pods = append(req.Pods, p)
	}
	return req, want
}

// TestPropertyPlanNames plans random Deployments and checks every name and
// label the plan holds: on the ConfigMap, each Job and each Job's pod
// template. Each Pod is in exactly one Job: its own (jobPer Pod), or its
// node's (jobPer Node); planning again, or with the Pods listed in another
// order, gives the same bytes.
func TestPropertyPlanNames(t *testing.T) {
	r := newPropRand(5)
	for i := range 300 {
		req, want := propCluster(r, 1+r.IntN(25))
		jobPer := v1beta1.JobPerPod
		if i%2 == 1 {
			jobPer = v1beta1.JobPerNode
		}
		req.Input = &v1beta1.Input{JobPer: jobPer}
		out, err := Plan(req)
		if err != nil {
			t.Fatalf("case %d: Plan() error = %v", i, err)
		}
		checkName(t, "ConfigMap name", out.ConfigMap.Name, req.Capture.Spec.TargetNamespace, req.Capture.Spec.TargetDeployment)
		checkLabels(t, "ConfigMap", out.ConfigMap.Labels)

		if jobPer == v1beta1.JobPerPod && len(out.Jobs) != len(want) {
			t.Fatalf("case %d: %d Jobs for %d capturable Pods", i, len(out.Jobs), len(want))
		}
		jobOfPod := make(map[string]string)
		jobOfNode := make(map[string]string)
		for _, j := range out.Jobs {
			checkName(t, "Job name", j.Job.Name)
			checkLabels(t, "Job "+j.Job.Name, j.Job.Labels)
			checkLabels(t, "pod template of Job "+j.Job.Name, j.Job.Spec.Template.Labels)
			tgs, ok := targetsOfJob(j.Job)
			if !ok {
				t.Fatalf("case %d: Job %s names no target Pod", i, j.Job.Name)
			}
			for _, tg := range tgs {
				if other, dup := jobOfPod[tg.Name]; dup {
					t.Fatalf("case %d: Pod %s has Jobs %s and %s", i, tg.Name, other, j.Job.Name)
				}
				jobOfPod[tg.Name] = j.Job.Name
			}
			wantName := JobName(tgs[0].Name, out.Status.JobID)
			if jobPer == v1beta1.JobPerNode {
				wantName = NodeJobName(tgs[0].Node, podNames(tgs), out.Status.JobID)
				if other, dup := jobOfNode[tgs[0].Node]; dup {
					t.Fatalf("case %d: node %s has Jobs %s and %s", i, tgs[0].Node, other, j.Job.Name)
				}
				jobOfNode[tgs[0].Node] = j.Job.Name
			} else if len(tgs) != 1 {
				t.Fatalf("case %d: jobPer Pod, but Job %s captures %d Pods", i, j.Job.Name, len(tgs))
			}
			if j.Job.Name != wantName {
				t.Fatalf("case %d: Job %s, want %s", i, j.Job.Name, wantName)
			}
		}
		for _, p := range want {
			if _, ok := jobOfPod[p]; !ok {
				t.Fatalf("case %d: Pod %s has no Job", i, p)
			}
		}

		first := mustJSON(t, out)
		again, err := Plan(req)
		if err != nil || mustJSON(t, again) != first {
			t.Fatalf("case %d: a second Plan() differs (error %v)", i, err)
		}
		shuffled := req
		shuffled.Pods = append([]corev1.Pod(nil), req.Pods...)
		r.Shuffle(len(shuffled.Pods), func(a, b int) { shuffled.Pods[a], shuffled.Pods[b] = shuffled.Pods[b], shuffled.Pods[a] })
		if reordered, err := Plan(shuffled); err != nil || mustJSON(t, reordered) != first {
			t.Fatalf("case %d: listing the Pods in another order changed the plan (error %v)", i, err)
		}
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	for k, v := range labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			t.Fatalf("%s: label key %q: %v", what, k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Fatalf("%s: label %s=%q: %v", what, k, v, errs)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
