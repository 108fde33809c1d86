package fn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	sdkresource "github.com/crossplane/function-sdk-go/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// planCase is one plan whose Jobs the encoder must encode as toStruct does.
type planCase struct {
	name string
	req  capture.Request
}

// encoderPlans are plans of generated clusters with every kind of Input, and
// the planner's tricky cases: Jobs observed as the API server shows them,
// Jobs kept as they are because the Input changed after they were made,
// Jobs of an earlier jobId, a kept Job someone gave an env var from a
// Secret, a kept Job with an env var as earlier versions made them, and
// Jobs of one node's Pods.
func encoderPlans(t *testing.T) []planCase {
	t.Helper()
	inputs := map[string]*v1beta1.Input{
		"defaults":   nil,
		"privileged": {SecurityMode: v1beta1.SecurityPrivileged, ImagePullPolicy: corev1.PullAlways, PriorityClassName: "system-node-critical"},
		"hostPath":   {Output: &v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/pcap"}, TTLSecondsAfterFinished: ptr(int32(0))},
		"pvc": {Output: &v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcaps"}, Image: "busybox",
			Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0.5")}}},
		"node": {JobPer: v1beta1.JobPerNode},
		"node-small-limit": {JobPer: v1beta1.JobPerNode,
			Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("40Mi")}}},
	}
	labelSets := []map[string]string{
		nil,
		{"app.kubernetes.io/instance": "packet-capture-shop-web", "app.kubernetes.io/name": "packet-capture",
			"app.kubernetes.io/part-of": "packet-capture-operator", "app.kubernetes.io/managed-by": "kustomize",
			"app.kubernetes.io/created-by": "packet-capture-operator", "team": "not-propagated"},
		{"app.kubernetes.io/instance": "a value that is not a valid label value and is far longer than sixty-three characters"},
	}
	var out []planCase
	seed := uint64(0)
	for inName, in := range inputs {
		for li, labels := range labelSets {
			seed++
			c := clustergen.Generate(seed, clustergen.Options{Pods: 5 + int(seed%4)*10, Others: int(seed % 3)})
			pc := capture.PacketCapture{Name: "capture-" + strings.ToLower(inName), Namespace: "packet-capture", UID: "uid-capture", Labels: labels,
				Spec: capture.Spec{JobID: "qwer", TargetNamespace: c.Namespace, TargetDeployment: c.Target.Name, Duration: "30"}}
			req := capture.Request{Capture: pc, Settings: in, Deployment: c.Target, ReplicaSets: c.ReplicaSets, Pods: c.Pods}
			out = append(out, planCase{fmt.Sprintf("%s/labels-%d", inName, li), req})

			// The next reconcile: the Jobs exist, the first has finished.
			first := mustPlan(t, req)
			next := req
			next.Capture.Status = first.Status
			for i, j := range first.Jobs {
				next.Jobs = append(next.Jobs, observedJob(j.Job, i == 0))
			}
			out = append(out, planCase{fmt.Sprintf("%s/labels-%d/observed", inName, li), next})

			// The Input changed (a new image): every observed Job is kept as
			// it is; the spec's new jobId makes new Jobs beside them.
			changed := next
			changed.Settings = &v1beta1.Input{Image: "registry.example.com/tcpdump:2"}
			out = append(out, planCase{fmt.Sprintf("%s/labels-%d/changed", inName, li), changed})
			newID := changed
			newID.Capture.Spec.JobID = "asdf"
			out = append(out, planCase{fmt.Sprintf("%s/labels-%d/new-job-id", inName, li), newID})

			// Jobs someone edited: an env var from a Secret, an env var as
			// earlier versions set, no annotations at all.
			edited := next
			edited.Jobs = append([]batchv1.Job(nil), next.Jobs...)
			for i := range edited.Jobs {
				j := edited.Jobs[i].DeepCopy()
				c := &j.Spec.Template.Spec.Containers[0]
				switch i % 4 {
				case 1:
					c.Env = append(c.Env, corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
						SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}})
				case 2:
					c.Env = []corev1.EnvVar{{Name: "TARGET_POD_IP", Value: "10.0.0.1"}}
				case 3:
					j.Annotations = map[string]string{}
				}
				edited.Jobs[i] = *j
			}
			out = append(out, planCase{fmt.Sprintf("%s/labels-%d/edited", inName, li), edited})
		}
	}
	return out
}

func mustPlan(t *testing.T, req capture.Request) *capture.Output {
	t.Helper()
	o, err := capture.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// observedJob is a planned Job as the API server returns it: with the
// fields it fills in and a status.
func observedJob(j *batchv1.Job, complete bool) batchv1.Job {
	o := j.DeepCopy()
	o.UID = types.UID("uid-job-" + j.Name)
	o.ResourceVersion, o.Generation = "42", 1
	o.CreationTimestamp = metav1.Unix(1760000000, 0)
	o.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": string(o.UID)}}
	o.Spec.Completions, o.Spec.Parallelism = ptr(int32(1)), ptr(int32(1))
	o.Spec.CompletionMode = ptr(batchv1.NonIndexedCompletion)
	o.Spec.Suspend = ptr(false)
	o.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
	if o.Spec.Template.Labels == nil {
		o.Spec.Template.Labels = map[string]string{}
	}
	for _, l := range []string{"batch.kubernetes.io/controller-uid", "controller-uid"} {
		o.Spec.Template.Labels[l] = string(o.UID)
	}
	for _, l := range []string{"batch.kubernetes.io/job-name", "job-name"} {
		o.Spec.Template.Labels[l] = o.Name
	}
	ps := &o.Spec.Template.Spec
	ps.DNSPolicy, ps.SchedulerName = corev1.DNSClusterFirst, "default-scheduler"
	ps.SecurityContext = &corev1.PodSecurityContext{}
	ps.TerminationGracePeriodSeconds = ptr(int64(30))
	for i := range ps.Containers {
		ps.Containers[i].TerminationMessagePath = "/dev/termination-log"
		ps.Containers[i].TerminationMessagePolicy = corev1.TerminationMessageReadFile
		if ps.Containers[i].ImagePullPolicy == "" {
			ps.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	o.Status.StartTime = ptr(metav1.Unix(1760000001, 0))
	o.Status.Active, o.Status.Ready = 1, ptr(int32(0))
	if complete {
		o.Status.Active = 0
		o.Status.Succeeded = 1
		o.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	}
	return *o
}

// TestJobEncoderIsToStruct proves the fast encoding equal to the slow one
// for every Job of every plan, each plan's Jobs through one encoder in
// order, as writeDesired encodes them.
func TestJobEncoderIsToStruct(t *testing.T) {
	var jobs, kept int
	for _, pc := range encoderPlans(t) {
		plan := mustPlan(t, pc.req)
		var e jobEncoder
		for _, j := range plan.Jobs {
			checkEncoding(t, pc.name, &e, j.Job)
			jobs++
			if j.Job.Spec.Template.Spec.DNSPolicy != "" {
				kept++
			}
		}
	}
	t.Logf("%d Jobs, %d kept as observed", jobs, kept)
	if jobs < 1000 || kept < 400 {
		t.Errorf("encoded %d Jobs, %d of them kept as observed: too few to prove anything", jobs, kept)
	}
}

// TestJobEncoderShapes encodes Jobs that differ from a planned Job in one
// field each, in turns, through one encoder: each must be encoded as
// itself, not as a Job of another shape.
func TestJobEncoderShapes(t *testing.T) {
	plan := mustPlan(t, testPlanRequest())
	base := plan.Jobs[0].Job
	var e jobEncoder
	for round := range 2 {
		for name, edit := range jobEdits() {
			for _, pj := range plan.Jobs {
				j := pj.Job.DeepCopy()
				if pj.Job == base || round == 1 {
					edit(j)
				}
				checkEncoding(t, name, &e, j)
			}
		}
	}
	if len(e.shapes) != maxJobShapes {
		t.Errorf("the encoder knows %d shapes, want it to stop at %d", len(e.shapes), maxJobShapes)
	}
}

// TestEqualJobs checks equalJobs against reflect.DeepEqual on Jobs that
// differ in one field each, and on the Jobs of the encoder's plans.
func TestEqualJobs(t *testing.T) {
	var jobs []*batchv1.Job
	for _, edit := range jobEdits() {
		j := mustPlan(t, testPlanRequest()).Jobs[0].Job
		edit(j)
		jobs = append(jobs, j)
	}
	for _, pc := range encoderPlans(t)[:10] {
		jobs = append(jobs, mustPlan(t, pc.req).Jobs[0].Job)
	}
	equal := equalJobs()
	for _, a := range jobs {
		for _, b := range jobs {
			if got, want := equal(unsafe.Pointer(a), unsafe.Pointer(b)), reflect.DeepEqual(a, b); got != want {
				t.Fatalf("equalJobs = %v, reflect.DeepEqual = %v for\n%v\n%v", got, want, a, b)
			}
		}
	}
}

func testPlanRequest() capture.Request {
	c := clustergen.Generate(3, clustergen.Options{Pods: 4})
	return capture.Request{
		Capture: capture.PacketCapture{Name: "c", Namespace: "packet-capture", Labels: map[string]string{"app.kubernetes.io/name": "x"},
			Spec: capture.Spec{JobID: "qwer", TargetNamespace: c.Namespace, TargetDeployment: c.Target.Name, Duration: "30"}},
		Deployment: c.Target, ReplicaSets: c.ReplicaSets, Pods: c.Pods,
	}
}

// jobEdits change a planned Job in one field each.
func jobEdits() map[string]func(j *batchv1.Job) {
	return map[string]func(j *batchv1.Job){
		"same":                func(*batchv1.Job) {},
		"nil rules":           func(j *batchv1.Job) { j.Spec.PodFailurePolicy.Rules = nil },
		"empty rules":         func(j *batchv1.Job) { j.Spec.PodFailurePolicy.Rules = []batchv1.PodFailurePolicyRule{} },
		"no labels":           func(j *batchv1.Job) { j.Labels = nil },
		"empty labels":        func(j *batchv1.Job) { j.Labels = map[string]string{} },
		"other label":         func(j *batchv1.Job) { j.Labels = map[string]string{"app.kubernetes.io/name": "y"} },
		"template annotation": func(j *batchv1.Job) { j.Spec.Template.Annotations = map[string]string{"a": "b"} },
		"no name":             func(j *batchv1.Job) { j.Name = "" },
		"no node":             func(j *batchv1.Job) { j.Spec.Template.Spec.NodeName = "" },
		"no args":             func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Args = nil },
		"empty args":          func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Args = []string{} },
		"empty arg":           func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Args[0] = "" },
		"more args": func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers[0].Args = append(j.Spec.Template.Spec.Containers[0].Args, "b/uid-b", "c/uid-c")
		},
		"env": func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
		},
		"empty env":         func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{} },
		"empty annotations": func(j *batchv1.Job) { j.Annotations = map[string]string{} },
		"more annotations":  func(j *batchv1.Job) { j.Annotations = map[string]string{"a": "b", "c": ""} },
		"quantity 0.5": func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"cpu": resource.MustParse("0.5")}
		},
		"quantity 500m": func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"cpu": resource.MustParse("500m")}
		},
		"two containers": func(j *batchv1.Job) {
			c := j.Spec.Template.Spec.Containers
			j.Spec.Template.Spec.Containers = append(c, c[0])
		},
		"no containers": func(j *batchv1.Job) { j.Spec.Template.Spec.Containers = nil },
		"init container env": func(j *batchv1.Job) {
			j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "i", Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}}
		},
		"init container env too": func(j *batchv1.Job) {
			j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "i", Env: []corev1.EnvVar{{Name: "A", Value: "2"}}}}
		},
		"status":  func(j *batchv1.Job) { j.Status.Active = 3 },
		"created": func(j *batchv1.Job) { j.CreationTimestamp = metav1.Unix(1, 0) },
		"value from": func(j *batchv1.Job) {
			j.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}}
		},
		"uid":           func(j *batchv1.Job) { j.UID = "u" },
		"suspend false": func(j *batchv1.Job) { j.Spec.Suspend = ptr(false) },
		"suspend true":  func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) },
		"backoff 2":     func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr(int32(2)) },
		"toleration":    func(j *batchv1.Job) { j.Spec.Template.Spec.Tolerations[0].Key = "k" },
		"volume":        func(j *batchv1.Job) { j.Spec.Template.Spec.Volumes[0].ConfigMap.Name = "other" },
		"exit codes":    func(j *batchv1.Job) { j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values[2] = 5 },
		"probe":         func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].ReadinessProbe = nil },
		"privileged":    func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].SecurityContext.Privileged = ptr(true) },
		"host network":  func(j *batchv1.Job) { j.Spec.Template.Spec.HostNetwork = true },
	}
}

func checkEncoding(t *testing.T, what string, e *jobEncoder, j *batchv1.Job) {
	t.Helper()
	want, err := toStruct(j)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.encode(j)
	if err != nil {
		t.Fatal(err)
	}
	if proto.Equal(want, got) {
		return
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Fatalf("%s: Job %s: jobEncoder differs from toStruct: -toStruct, +jobEncoder:\n%s", what, j.Name, diff)
	}
}

// TestTemplateHashIsTheJobsHash checks the planner's template hash, which it
// puts together from pieces instead of marshalling each Job, against its
// definition: the SHA-256 of the Job's JSON without annotations.
func TestTemplateHashIsTheJobsHash(t *testing.T) {
	var checked int
	for _, pc := range encoderPlans(t) {
		for _, j := range mustPlan(t, pc.req).Jobs {
			if j.Job.Spec.Template.Spec.DNSPolicy != "" {
				continue // kept as observed: its hash is the one it was made with
			}
			got := j.Job.Annotations[capture.AnnotationTemplateHash]
			bare := j.Job.DeepCopy()
			bare.Annotations = nil
			b, err := json.Marshal(bare)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if want := hex.EncodeToString(sum[:])[:16]; got != want {
				t.Fatalf("%s: Job %s: template hash %q, want %q", pc.name, j.Job.Name, got, want)
			}
			checked++
		}
	}
	t.Logf("%d Jobs", checked)
	if checked < 600 {
		t.Errorf("checked %d Jobs: too few", checked)
	}
}

// TestRunFunctionResponseTooLarge: a response Crossplane could not receive
// (over gRPC's 4 MiB) is not sent; a Fatal result says how large it would be
// and how many Pods fit.
func TestRunFunctionResponseTooLarge(t *testing.T) {
	f := NewFunction(logging.NewNopLogger())
	fatal := func(rsp *fnv1.RunFunctionResponse) string {
		for _, r := range rsp.GetResults() {
			if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
				return r.GetMessage()
			}
		}
		return ""
	}
	// 1,000 Pods with names of 63 characters fit, one Job per Pod.
	rsp, err := f.RunFunction(context.Background(), benchRequest(t, 1000))
	if err != nil || fatal(rsp) != "" {
		t.Fatalf("1,000 Pods: %v %s", err, fatal(rsp))
	}
	if size := proto.Size(rsp); size > MaxResponseBytes {
		t.Fatalf("1,000 Pods: a response of %d bytes was sent", size)
	}
	// 2,000 do in one Job per node (jobPer Auto chooses it).
	rsp, err = f.RunFunction(context.Background(), benchRequest(t, 2000))
	if err != nil || fatal(rsp) != "" {
		t.Fatalf("2,000 Pods: %v %s", err, fatal(rsp))
	}
	if size := proto.Size(rsp); size > MaxResponseBytes/4 {
		t.Errorf("2,000 Pods, one Job per node: a response of %d bytes", size)
	}
	// 3,000 do not fit in one Job per Pod. Crossplane sends the desired
	// state empty but present on the first function of a pipeline; the
	// refusal must not carry the Jobs the plan wrote into it.
	big := benchRequest(t, 3000)
	big.Input = sdkresource.MustStructJSON(`{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "jobPer": "Pod"}`)
	for name, desired := range map[string]*fnv1.State{"no desired state": nil, "empty desired state": {}} {
		req := proto.Clone(big).(*fnv1.RunFunctionRequest)
		req.Desired = desired
		rsp, err = f.RunFunction(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		msg := fatal(rsp)
		for _, want := range []string{"capture Jobs", "more than the 4194304 bytes Crossplane accepts from a function (gRPC's default message size limit, 4 MiB)", "Pods fit", "input.jobPer", "input.maxTargetPods"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: fatal result %q does not say %q", name, msg, want)
			}
		}
		if n := len(rsp.GetDesired().GetResources()); n != 0 {
			t.Errorf("%s: the refusal carries %d desired resources", name, n)
		}
		if size := proto.Size(rsp); size > 64<<10 {
			t.Errorf("%s: the refusal is %d bytes", name, size)
		}
		if rsp.GetRequirements().GetResources()[RequirementPods] == nil {
			t.Errorf("%s: the refusal dropped the requirements: Crossplane would stop sending the Pods", name)
		}
	}
}
