package capture

import (
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// podStatusOf returns the status entry of pod, failing the test without one.
func podStatusOf(t *testing.T, o *Desired, pod string) PodStatus {
	t.Helper()
	for _, p := range o.Status.Pods {
		if p.Pod == pod {
			return p
		}
	}
	t.Fatalf("no status for Pod %s in %+v", pod, o.Status.Pods)
	return PodStatus{}
}

// TestPlanSkipsUnsafeTargets: Pods whose capture would record more than the
// Pod (the host's network) or cannot run (Windows, a uid the capture script
// refuses) get no Job, and the status says why.
func TestPlanSkipsUnsafeTargets(t *testing.T) {
	hostNetwork := func(p corev1.Pod) corev1.Pod { p.Spec.HostNetwork = true; return p }
	windowsOS := func(p corev1.Pod) corev1.Pod { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}; return p }
	windowsSelector := func(p corev1.Pod) corev1.Pod {
		p.Spec.NodeSelector = map[string]string{corev1.LabelOSStable: "windows"}
		return p
	}
	withUID := func(uid string) func(corev1.Pod) corev1.Pod {
		return func(p corev1.Pod) corev1.Pod { p.UID = types.UID(uid); return p }
	}
	cases := map[string]struct {
		change func(corev1.Pod) corev1.Pod
		input  *v1beta1.Input
		// reason is part of the skipped Pod's message; "" means captured.
		reason string
	}{
		"hostNetwork":              {change: hostNetwork, reason: "hostNetwork: true"},
		"hostNetwork allowed":      {change: hostNetwork, input: &v1beta1.Input{AllowHostNetworkPods: true}},
		"Windows by spec.os":       {change: windowsOS, reason: "Windows"},
		"Windows by node selector": {change: windowsSelector, reason: "Windows"},
		"uid with a slash":         {change: withUID("0b9f3c1e/../x"), reason: "uid"},
		"uid with a space":         {change: withUID("0b9f3c1e 0000"), reason: "uid"},
		"uid too short":            {change: withUID("abc"), reason: "uid"},
		"uid with a leading dash":  {change: withUID("-0b9f3c1e-0000"), reason: "uid"},
		"real uid":                 {change: withUID("0b9f3c1e-0000-4000-8000-000000000002")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := testRequest()
			req.Input = tc.input
			req.Pods[0] = tc.change(req.Pods[0])
			o := planned(t, req)
			st := podStatusOf(t, o, req.Pods[0].Name)
			if tc.reason == "" {
				if st.Phase == PodSkipped {
					t.Fatalf("Pod skipped (%s), want it captured", st.Message)
				}
				return
			}
			if st.Phase != PodSkipped || !strings.Contains(st.Message, tc.reason) {
				t.Errorf("Pod is %s (%q), want Skipped saying %q", st.Phase, st.Message, tc.reason)
			}
			for _, j := range o.Jobs {
				for _, a := range j.Job.Spec.Template.Spec.Containers[0].Args {
					if strings.HasPrefix(a, req.Pods[0].Name+"/") {
						t.Errorf("Job %s captures the skipped Pod", j.Job.Name)
					}
				}
			}
		})
	}
}

// TestPlanCapturePodSpec: every capture Pod declares Linux (a Windows
// kubelet refuses it at once), learns its node from the downward API, and
// asks for requests a full node still admits.
func TestPlanCapturePodSpec(t *testing.T) {
	for _, per := range []v1beta1.JobPer{v1beta1.JobPerPod, v1beta1.JobPerNode} {
		t.Run(string(per), func(t *testing.T) {
			o := planned(t, withInput(testRequest(), &v1beta1.Input{JobPer: per}))
			for _, j := range o.Jobs {
				spec := j.Job.Spec.Template.Spec
				if spec.OS == nil || spec.OS.Name != corev1.Linux {
					t.Errorf("Job %s: spec.os is %v, want linux", j.Job.Name, spec.OS)
				}
				c := spec.Containers[0]
				want := []corev1.EnvVar{{Name: "TARGET_NODE_NAME", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}
				if diff := cmp.Diff(want, c.Env); diff != "" {
					t.Errorf("Job %s env (-want +got):\n%s", j.Job.Name, diff)
				}
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if q := c.Resources.Requests[r]; !q.IsZero() {
						t.Errorf("Job %s requests %s %s: a full node refuses it", j.Job.Name, q.String(), r)
					}
				}
				if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
					t.Errorf("Job %s has no memory limit", j.Job.Name)
				}
			}
		})
	}
}

// TestPlanBoundsDisk: the Pod output's emptyDir is bounded by what the
// capture's files may take, per target Pod, and an ephemeral-storage limit
// from the Input grows with a node's Job as the memory limit does.
func TestPlanBoundsDisk(t *testing.T) {
	const perPod = int64(100<<20)*10 + diskHeadroom // the Input's defaults
	in := &v1beta1.Input{JobPer: v1beta1.JobPerNode, Resources: &corev1.ResourceRequirements{
		Limits: corev1.ResourceList{
			corev1.ResourceMemory:           resource.MustParse("40Mi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("1500Mi"),
		},
	}}
	o := planned(t, withInput(testRequest(), in))
	for _, j := range o.Jobs {
		spec := j.Job.Spec.Template.Spec
		n := int64(len(spec.Containers[0].Args))
		var dir *corev1.EmptyDirVolumeSource
		for _, v := range spec.Volumes {
			if v.Name == outputVolume {
				dir = v.EmptyDir
			}
		}
		if dir == nil || dir.SizeLimit == nil || dir.SizeLimit.Value() != n*perPod {
			t.Errorf("Job %s of %d Pods: output emptyDir %+v, want sizeLimit %d", j.Job.Name, n, dir, n*perPod)
		}
		limits := spec.Containers[0].Resources.Limits
		wantDisk := max(int64(1500<<20), n*perPod)
		if got := limits[corev1.ResourceEphemeralStorage]; got.Value() != wantDisk {
			t.Errorf("Job %s of %d Pods: ephemeral-storage limit %s, want %d", j.Job.Name, n, got.String(), wantDisk)
		}
		wantMemory := max(int64(40<<20), n*memoryPerTarget)
		if got := limits[corev1.ResourceMemory]; got.Value() != wantMemory {
			t.Errorf("Job %s of %d Pods: memory limit %s, want %d", j.Job.Name, n, got.String(), wantMemory)
		}
	}
}

// TestPlanConfigMapPerCapture: two captures of one Deployment from one
// namespace, and two captures of Deployments whose names joined by '-'
// read alike, each get their own ConfigMap, and every Job mounts its own
// capture's.
func TestPlanConfigMapPerCapture(t *testing.T) {
	plan := func(name, jobID, ns, deploy string) *Desired {
		req := testRequest()
		req.Capture.Name, req.Capture.UID = name, "uid-"+name
		req.Capture.Spec.JobID, req.Capture.Spec.TargetNamespace, req.Capture.Spec.TargetDeployment = jobID, ns, deploy
		req.Deployment.Namespace, req.Deployment.Name = ns, deploy
		for i := range req.Pods {
			req.Pods[i].Namespace = ns
		}
		for i := range req.ReplicaSets {
			req.ReplicaSets[i].Namespace = ns
		}
		return planned(t, req)
	}
	pairs := map[string][2]*Desired{
		"same Deployment, two captures": {plan("capture-a", "aaaa", "shop", "web"), plan("capture-b", "bbbb", "shop", "web")},
		"same Deployment, same jobId":   {plan("capture-a", "qwer", "shop", "web"), plan("capture-b", "qwer", "shop", "web")},
		"shop-eu/web and shop/eu-web":   {plan("capture-a", "qwer", "shop-eu", "web"), plan("capture-b", "qwer", "shop", "eu-web")},
	}
	for name, p := range pairs {
		t.Run(name, func(t *testing.T) {
			if p[0].ConfigMap.Name == p[1].ConfigMap.Name {
				t.Errorf("both captures write ConfigMap %s", p[0].ConfigMap.Name)
			}
			for _, o := range p {
				for _, j := range o.Jobs {
					for _, v := range j.Job.Spec.Template.Spec.Volumes {
						if v.ConfigMap != nil && v.ConfigMap.Name != o.ConfigMap.Name {
							t.Errorf("Job %s mounts ConfigMap %s, not its capture's %s", j.Job.Name, v.ConfigMap.Name, o.ConfigMap.Name)
						}
					}
				}
			}
		})
	}
}

// TestPlanRefusesBadValues: values that would be ignored or misread are
// refused, naming the field and what is wrong.
func TestPlanRefusesBadValues(t *testing.T) {
	cases := map[string]struct {
		change func(*Request)
		want   string
	}{
		"claimName without the PersistentVolumeClaim output": {
			change: func(r *Request) { r.Capture.Spec.Output = &v1beta1.Output{ClaimName: "pcaps"} },
			want:   "spec.output.claimName: Invalid value: \"pcaps\": is used only by type PersistentVolumeClaim",
		},
		"claimName with type Pod in the Input": {
			change: func(r *Request) {
				r.Input = &v1beta1.Input{Output: &v1beta1.Output{Type: v1beta1.OutputPod, ClaimName: "pcaps"}}
			},
			want: "input.output.claimName: Invalid value: \"pcaps\": is used only by type PersistentVolumeClaim",
		},
		"filter with a non-breaking space": {
			change: func(r *Request) { r.Capture.Spec.Filter = "tcp\u00a0port 80" },
			want:   `must be printable ASCII (found '\u00a0' at byte 3)`,
		},
		"filter with a zero-width space": {
			change: func(r *Request) { r.Capture.Spec.Filter = "tcp port\u200b80" },
			want:   `must be printable ASCII (found '\u200b' at byte 8)`,
		},
		"filter with a bidi override": {
			change: func(r *Request) { r.Capture.Spec.Filter = "host \u202e1.0.0.01" },
			want:   `must be printable ASCII (found '\u202e' at byte 5)`,
		},
		"filter with a tab": {
			change: func(r *Request) { r.Capture.Spec.Filter = "tcp\tport 80" },
			want:   `must be printable ASCII (found '\t' at byte 3)`,
		},
		"duration with a repeated unit": {
			change: func(r *Request) { r.Capture.Spec.Duration = "30s30s" },
			want:   `spec.duration: Invalid value: "30s30s"`,
		},
		"duration with units out of order": {
			change: func(r *Request) { r.Capture.Spec.Duration = "30s1m" },
			want:   `spec.duration: Invalid value: "30s1m"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := testRequest()
			tc.change(&req)
			_, err := Plan(req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Plan() error %v, want one containing %q", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"30", "90s", "5m", "1h30m", "1h0m5s", "2h"} {
		req := testRequest()
		req.Capture.Spec.Duration = ok
		if _, err := Plan(req); err != nil {
			t.Errorf("duration %q: %v", ok, err)
		}
	}
}

// TestDecodeNamesIntegerRanges: a number that does not fit the field is told
// the field's range, not that it is not an integer.
func TestDecodeNamesIntegerRanges(t *testing.T) {
	spec := map[string]any{"targetNamespace": "shop", "targetDeployment": "web", "duration": "30"}
	for field, v := range map[string]any{"snaplen": 1e10, "maxFiles": -3e9, "maxFileSizeMB": 2.5} {
		s := map[string]any{}
		for k, v := range spec {
			s[k] = v
		}
		s[field] = v
		_, err := DecodePacketCapture(map[string]any{"metadata": map[string]any{"name": "c", "namespace": "n"}, "spec": s})
		if err == nil || !strings.Contains(err.Error(), "spec."+field+": ") || !strings.Contains(err.Error(), "must be an integer from ") {
			t.Errorf("spec.%s = %v: error %v, want its range", field, v, err)
		}
	}
	_, err := DecodePacketCapture(map[string]any{"metadata": map[string]any{"name": "c", "namespace": "n"},
		"spec": map[string]any{"targetNamespace": "shop", "targetDeployment": "web", "duration": "30", "output": map[string]any{"retentionSeconds": 1e12}}})
	if err == nil || !strings.Contains(err.Error(), "spec.output.retentionSeconds: ") || !strings.Contains(err.Error(), "must be an integer from 0 to 86400") {
		t.Errorf("spec.output.retentionSeconds = 1e12: error %v, want its range", err)
	}
	_, err = DecodeInput(map[string]any{"maxFiles": 3e9}, field.NewPath("input"))
	if err == nil || !strings.Contains(err.Error(), "input.maxFiles: ") || !strings.Contains(err.Error(), "must be an integer from 1 to 1000") {
		t.Errorf("input.maxFiles = 3e9: error %v, want its range", err)
	}
}

// TestPlanNewestCopyCounts: an object that appears twice (two exports in one
// package) counts once, as its newest copy, whatever the order.
func TestPlanNewestCopyCounts(t *testing.T) {
	older := withPodPhase(runningPod("web-5d4f8-aaaaa", testRS, "node-a"), corev1.PodPending)
	older.ResourceVersion = "900"
	newer := runningPod("web-5d4f8-aaaaa", testRS, "node-a")
	newer.ResourceVersion = "1000" // numerically newer, though "1000" < "900" as text

	base := testRequest()
	runningJob := asObserved(planned(t, base).Jobs[0].Job)
	runningJob.ResourceVersion = "99"
	doneJob := asObserved(planned(t, base).Jobs[0].Job, batchv1.JobComplete)
	doneJob.ResourceVersion = "100"

	oldRS := testReplicaSet(testRS, testDeployment())
	oldRS.ResourceVersion = "5"
	oldRS.OwnerReferences = nil
	newRS := testReplicaSet(testRS, testDeployment())
	newRS.ResourceVersion = "6"

	plan := func(pods []corev1.Pod, rss []appsv1.ReplicaSet, jobs []batchv1.Job) *Desired {
		req := testRequest()
		req.Pods = append(pods, req.Pods[1:]...)
		req.ReplicaSets = rss
		req.Jobs = jobs
		return planned(t, req)
	}
	a := plan([]corev1.Pod{older, newer}, []appsv1.ReplicaSet{oldRS, newRS}, []batchv1.Job{runningJob, doneJob})
	b := plan([]corev1.Pod{newer, older}, []appsv1.ReplicaSet{newRS, oldRS}, []batchv1.Job{doneJob, runningJob})
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the order of copies changed the plan (-first +second):\n%s", diff)
	}
	if st := podStatusOf(t, a, "web-5d4f8-aaaaa"); st.Phase != PodSucceeded {
		t.Errorf("Pod web-5d4f8-aaaaa is %s, want Succeeded (its newest Job copy is Complete)", st.Phase)
	}
	// The capture has started (a Job exists), so a Pod without one is
	// NotCaptured: it is listed at all only because its ReplicaSet's newest
	// copy is the Deployment's.
	if st := podStatusOf(t, a, "web-5d4f8-bbbbb"); st.Phase != PodNotCaptured {
		t.Errorf("Pod web-5d4f8-bbbbb is %s, want NotCaptured", st.Phase)
	}
}

// TestPlanQuotesNames: names from the input reach events quoted, so a
// control character in one never reaches a terminal.
func TestPlanQuotesNames(t *testing.T) {
	req := testRequest()
	req.Pods[0].Name = "web-5d4f8-\x1b[31mred"
	o := planned(t, req)
	for _, e := range o.Events {
		if i := strings.IndexFunc(e.Message, unicode.IsControl); i >= 0 {
			t.Errorf("event %s carries a control character at %d: %q", e.Reason, i, e.Message)
		}
	}
}

// TestPlanCaptureStops: spec.packetCount and spec.networkSnapshot reach the
// capture script as ConfigMap keys, and out-of-range counts are refused.
func TestPlanCaptureStops(t *testing.T) {
	cases := map[string]struct {
		spec func(*Spec)
		// keys are the ConfigMap keys to check; "" means the key is absent.
		keys map[string]string
		err  string
	}{
		"defaults":        {spec: func(*Spec) {}, keys: map[string]string{"packet-count": "", "network-snapshot": "on"}},
		"packetCount":     {spec: func(s *Spec) { s.PacketCount = ptrTo(int32(1000)) }, keys: map[string]string{"packet-count": "1000"}},
		"snapshot off":    {spec: func(s *Spec) { s.NetworkSnapshot = ptrTo(false) }, keys: map[string]string{"network-snapshot": "off"}},
		"snapshot on":     {spec: func(s *Spec) { s.NetworkSnapshot = ptrTo(true) }, keys: map[string]string{"network-snapshot": "on"}},
		"packetCount 0":   {spec: func(s *Spec) { s.PacketCount = ptrTo(int32(0)) }, err: "spec.packetCount: Invalid value: 0: must be between 1 and 100000000"},
		"packetCount -1":  {spec: func(s *Spec) { s.PacketCount = ptrTo(int32(-1)) }, err: "spec.packetCount: Invalid value: -1: must be between 1 and 100000000"},
		"packetCount max": {spec: func(s *Spec) { s.PacketCount = ptrTo(int32(100_000_001)) }, err: "spec.packetCount: Invalid value: 100000001"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := testRequest()
			tc.spec(&req.Capture.Spec)
			o, err := Plan(req)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Plan() error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.keys {
				got, ok := o.ConfigMap.Data[k]
				if want == "" && ok {
					t.Errorf("ConfigMap key %s = %q, want none", k, got)
				} else if want != "" && got != want {
					t.Errorf("ConfigMap key %s = %q, want %q", k, got, want)
				}
			}
		})
	}
	_, err := DecodePacketCapture(map[string]any{"metadata": map[string]any{"name": "c", "namespace": "n"},
		"spec": map[string]any{"targetNamespace": "shop", "targetDeployment": "web", "duration": "30", "packetCount": 1e10}})
	if err == nil || !strings.Contains(err.Error(), "spec.packetCount: Invalid value: \"10000000000\": must be an integer from 1 to 100000000") {
		t.Errorf("packetCount 1e10: error %v, want its range", err)
	}
}

// TestPlanNewestCapturePodCounts: a capture Pod exported twice gives its
// newest copy's results whatever the order.
func TestPlanNewestCapturePodCounts(t *testing.T) {
	r := testRequest()
	job := planned(t, r).Jobs[1].Job // web-5d4f8-bbbbb's
	r.Jobs = []batchv1.Job{asObserved(job, batchv1.JobComplete)}
	// Copies of one Pod cannot disagree on a final summary in a cluster;
	// in exported files (edited, merged) they can, and the newest counts.
	older := capturePod(job, "x1", corev1.PodSucceeded, 0, "status=ok files=1 bytes=100 packets=10 dropped=0")
	older.ResourceVersion = "99"
	newer := capturePod(job, "x1", corev1.PodSucceeded, 0, "status=ok files=3 bytes=500000 packets=4000 dropped=0")
	newer.ResourceVersion = "100"
	r.CapturePods = []corev1.Pod{older, newer}
	a := planned(t, r)
	r.CapturePods = []corev1.Pod{newer, older}
	b := planned(t, r)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the order of copies changed the plan (-first +second):\n%s", diff)
	}
	if got := a.Status.Counts.Packets; got != 4000 {
		t.Errorf("counts.packets = %d, want 4000 from the newest copy", got)
	}
}
