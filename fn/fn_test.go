package fn

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/response"
)

const xrJSON = `{
	"apiVersion": "monitoring.openshift.tpg/v1alpha1",
	"kind": "PacketCapture",
	"metadata": {
		"name": "capture-web", "namespace": "packet-capture", "uid": "0b9f3c1e-0000-4000-8000-000000000001",
		"labels": {"app.kubernetes.io/instance": "packet-capture-shop-web"}
	},
	"spec": {"jobId": "qwer", "targetNamespace": "shop", "targetDeployment": "web", "duration": "30"}
}`

const deploymentJSON = `{
	"apiVersion": "apps/v1", "kind": "Deployment",
	"metadata": {"name": "web", "namespace": "shop", "uid": "uid-web"},
	"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}}}
}`

const replicaSetJSON = `{
	"apiVersion": "apps/v1", "kind": "ReplicaSet",
	"metadata": {"name": "web-5d4f8", "namespace": "shop", "uid": "uid-rs",
		"labels": {"app": "web", "pod-template-hash": "5d4f8"},
		"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web", "controller": true}]}
}`

func podJSON(name, node string) string {
	return `{
	"apiVersion": "v1", "kind": "Pod",
	"metadata": {"name": "` + name + `", "namespace": "shop", "uid": "uid-` + name + `",
		"labels": {"app": "web", "pod-template-hash": "5d4f8"},
		"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f8", "uid": "uid-rs", "controller": true}]},
	"spec": {"nodeName": "` + node + `", "containers": [{"name": "web", "image": "nginx"}]},
	"status": {"phase": "Running", "podIP": "10.1.2.3"}
}`
}

func resources(jsons ...string) *fnv1.Resources {
	out := &fnv1.Resources{}
	for _, j := range jsons {
		out.Items = append(out.Items, &fnv1.Resource{Resource: resource.MustStructJSON(j)})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// requirementsFor are the requirements once the Deployment is known.
func requirementsFor(ns string, labels map[string]string) *fnv1.Requirements {
	sel := func(apiVersion, kind string) *fnv1.ResourceSelector {
		s := &fnv1.ResourceSelector{ApiVersion: apiVersion, Kind: kind, Namespace: ptr(ns)}
		if labels != nil {
			s.Match = &fnv1.ResourceSelector_MatchLabels{MatchLabels: &fnv1.MatchLabels{Labels: labels}}
		}
		return s
	}
	return &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{
		RequirementDeployment:  deploymentRequirement(ns, "web"),
		RequirementReplicaSets: sel("apps/v1", "ReplicaSet"),
		RequirementPods:        sel("v1", "Pod"),
		RequirementCapturePods: capturePodsRequirement,
	}}
}

// capturePodsRequirement asks for the capture Pods of xrJSON's capture.
var capturePodsRequirement = &fnv1.ResourceSelector{ApiVersion: "v1", Kind: "Pod", Namespace: ptr("packet-capture"),
	Match: &fnv1.ResourceSelector_MatchLabels{MatchLabels: &fnv1.MatchLabels{Labels: map[string]string{"packetcapture.fn.crossplane.io/capture": "capture-web"}}}}

func deploymentRequirement(ns, name string) *fnv1.ResourceSelector {
	return &fnv1.ResourceSelector{ApiVersion: "apps/v1", Kind: "Deployment", Namespace: ptr(ns),
		Match: &fnv1.ResourceSelector_MatchName{MatchName: name}}
}

func newRequest(xr string, input string, required map[string]*fnv1.Resources) *fnv1.RunFunctionRequest {
	req := &fnv1.RunFunctionRequest{
		Meta:              &fnv1.RequestMeta{Tag: "hello"},
		Observed:          &fnv1.State{Composite: &fnv1.Resource{Resource: resource.MustStructJSON(xr)}},
		RequiredResources: required,
	}
	if input != "" {
		req.Input = resource.MustStructJSON(input)
	}
	return req
}

var rspMeta = &fnv1.ResponseMeta{Tag: "hello", Ttl: durationpb.New(response.DefaultTTL)}

func TestRunFunctionProtocol(t *testing.T) {
	cases := map[string]struct {
		reason string
		req    *fnv1.RunFunctionRequest
		want   *fnv1.RunFunctionResponse
	}{
		"AsksForTheDeployment": {
			reason: "The first call asks only for the target Deployment and the capture's own Pods, and composes nothing yet.",
			req:    newRequest(xrJSON, "", nil),
			want: &fnv1.RunFunctionResponse{
				Meta: rspMeta,
				Requirements: &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{
					RequirementDeployment:  deploymentRequirement("shop", "web"),
					RequirementCapturePods: capturePodsRequirement,
				}},
			},
		},
		"AsksForPodsBySelector": {
			reason: "Once the Deployment is known, its ReplicaSets and Pods are asked for by its selector's labels.",
			req:    newRequest(xrJSON, "", map[string]*fnv1.Resources{RequirementDeployment: resources(deploymentJSON)}),
			want:   &fnv1.RunFunctionResponse{Meta: rspMeta, Requirements: requirementsFor("shop", map[string]string{"app": "web"})},
		},
		"AsksWholeNamespaceForExpressions": {
			reason: "A selector of matchExpressions only cannot be asked by labels: ask for the namespace; the planner filters.",
			req: newRequest(xrJSON, "", map[string]*fnv1.Resources{RequirementDeployment: resources(
				strings.Replace(deploymentJSON, `{"matchLabels": {"app": "web"}}`, `{"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}`, 1))}),
			want: &fnv1.RunFunctionResponse{Meta: rspMeta, Requirements: requirementsFor("shop", nil)},
		},
		"BadJobID": {
			reason: "A bad jobId is fatal at once, names the field, and neither asks for nor composes anything.",
			req:    newRequest(strings.Replace(xrJSON, `"jobId": "qwer"`, `"jobId": "QWERTY"`, 1), "", nil),
			want: &fnv1.RunFunctionResponse{
				Meta: rspMeta,
				Results: []*fnv1.Result{{
					Severity: fnv1.Severity_SEVERITY_FATAL,
					Message:  `invalid PacketCapture: spec.jobId: Invalid value: "QWERTY": must be exactly 4 lowercase letters or digits (for example "qwer"), or omitted to derive one`,
					Target:   fnv1.Target_TARGET_COMPOSITE.Enum(),
				}},
			},
		},
		"DurationOfWrongType": {
			reason: "A duration written as a number (render does not validate) names the field and the fix.",
			req:    newRequest(strings.Replace(xrJSON, `"duration": "30"`, `"duration": 30`, 1), "", nil),
			want: &fnv1.RunFunctionResponse{
				Meta: rspMeta,
				Results: []*fnv1.Result{{
					Severity: fnv1.Severity_SEVERITY_FATAL,
					Message:  `invalid PacketCapture: spec.duration: Invalid value: "number": must be of type string (quote it, e.g. "30")`,
					Target:   fnv1.Target_TARGET_COMPOSITE.Enum(),
				}},
			},
		},
		"UnknownInputField": {
			reason: "A typo in the Input is fatal rather than silently ignored.",
			req:    newRequest(xrJSON, `{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "imag": "busybox"}`, nil),
			want: &fnv1.RunFunctionResponse{
				Meta: rspMeta,
				Results: []*fnv1.Result{{
					Severity: fnv1.Severity_SEVERITY_FATAL,
					Message:  `invalid Input: input.imag: Forbidden: unknown field: packetcapture.fn.crossplane.io/v1beta1 Input has no such field (its fields: image, imagePullPolicy, securityMode, output, ttlSecondsAfterFinished, graceSeconds, interface, snaplen, maxFileSizeMB, maxFiles, maxDurationSeconds, maxTargetPods, jobPer, maxPodJobs, statusPodLimit, priorityClassName, resources, allowHostNetworkPods)`,
					Target:   fnv1.Target_TARGET_COMPOSITE.Enum(),
				}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("RunFunction() error = %v, want results only", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("%s\nRunFunction(): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// complete is a request in which Crossplane has sent everything asked for.
func complete(xr string, pods ...string) *fnv1.RunFunctionRequest {
	return newRequest(xr, "", map[string]*fnv1.Resources{
		RequirementDeployment:  resources(deploymentJSON),
		RequirementReplicaSets: resources(replicaSetJSON),
		RequirementPods:        resources(pods...),
		RequirementCapturePods: resources(),
	})
}

func TestRunFunctionComposes(t *testing.T) {
	req := complete(xrJSON, podJSON("web-5d4f8-aaaaa", "node-a"), podJSON("web-5d4f8-bbbbb", "node-b"),
		// Crossplane render matches by labels only: a Pod of another namespace must be ignored.
		strings.Replace(podJSON("web-5d4f8-ccccc", "node-c"), `"namespace": "shop"`, `"namespace": "elsewhere"`, 1))
	got, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(requirementsFor("shop", map[string]string{"app": "web"}), got.GetRequirements(), protocmp.Transform()); diff != "" {
		t.Errorf("requirements must stay the same so Crossplane's loop settles: -want, +got:\n%s", diff)
	}

	var names []string
	for name, r := range got.GetDesired().GetResources() {
		names = append(names, name+"="+r.GetReady().String())
		if r.GetResource().GetFields()["metadata"].GetStructValue().GetFields()["namespace"].GetStringValue() != "packet-capture" {
			t.Errorf("%s is not in the XR's namespace", name)
		}
	}
	wantNames := []string{
		ConfigMapResource + "=READY_TRUE",
		"job-web-5d4f8-aaaaa-qwer=READY_FALSE",
		"job-web-5d4f8-bbbbb-qwer=READY_FALSE",
	}
	if diff := cmp.Diff(wantNames, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("desired resources: -want, +got:\n%s", diff)
	}

	xr := got.GetDesired().GetComposite()
	if xr.GetReady() != fnv1.Ready_READY_FALSE {
		t.Errorf("XR ready = %v, want READY_FALSE while capturing", xr.GetReady())
	}
	status := xr.GetResource().GetFields()["status"].GetStructValue().AsMap()
	if status["phase"] != "Capturing" || status["counts"].(map[string]any)["targets"] != float64(2) {
		t.Errorf("XR status = %v, want Capturing 2 targets", status)
	}
	if xr.GetResource().GetFields()["spec"] != nil {
		t.Errorf("the desired XR must carry only status, got spec %v", xr.GetResource().GetFields()["spec"])
	}

	wantResults := []*fnv1.Result{{
		Severity: fnv1.Severity_SEVERITY_NORMAL, Reason: ptr("Capturing"), Target: fnv1.Target_TARGET_COMPOSITE_AND_CLAIM.Enum(),
		Message: "capturing 2 Pods on 2 nodes for 30s: 2 active, 0 succeeded, 0 failed",
	}}
	if diff := cmp.Diff(wantResults, got.GetResults(), protocmp.Transform()); diff != "" {
		t.Errorf("results: -want, +got:\n%s", diff)
	}
	wantConditions := []*fnv1.Condition{{
		Type: ConditionCaptured, Status: fnv1.Status_STATUS_CONDITION_FALSE, Reason: "Capturing",
		Message: ptr("capturing 2 Pods on 2 nodes for 30s"), Target: fnv1.Target_TARGET_COMPOSITE_AND_CLAIM.Enum(),
	}}
	if diff := cmp.Diff(wantConditions, got.GetConditions(), protocmp.Transform()); diff != "" {
		t.Errorf("conditions: -want, +got:\n%s", diff)
	}
}

// TestRunFunctionReconcileLoop feeds each response back as Crossplane would:
// desired Jobs become observed ones, the desired status becomes the observed
// status. The Jobs must not change, and a finished Job that expires must not
// come back.
func TestRunFunctionReconcileLoop(t *testing.T) {
	f := NewFunction(logging.NewNopLogger())
	pods := []string{podJSON("web-5d4f8-aaaaa", "node-a"), podJSON("web-5d4f8-bbbbb", "node-b")}
	xr := resource.MustStructJSON(xrJSON)
	observed := map[string]*fnv1.Resource{}
	var firstJobs map[string]*structpb.Struct

	run := func() *fnv1.RunFunctionResponse {
		t.Helper()
		req := complete(xrJSON, pods...)
		req.Observed = &fnv1.State{Composite: &fnv1.Resource{Resource: xr}, Resources: observed}
		rsp, err := f.RunFunction(context.Background(), req)
		if err != nil || len(rsp.GetResults()) == 0 || rsp.GetResults()[0].GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			t.Fatalf("RunFunction() = %v, %v", rsp.GetResults(), err)
		}
		// Crossplane applies the desired status to the XR.
		xr = resource.MustStructJSON(xrJSON)
		xr.Fields["status"] = rsp.GetDesired().GetComposite().GetResource().GetFields()["status"]
		return rsp
	}
	jobsOf := func(rsp *fnv1.RunFunctionResponse) map[string]*structpb.Struct {
		out := map[string]*structpb.Struct{}
		for name, r := range rsp.GetDesired().GetResources() {
			if strings.HasPrefix(name, jobResourcePrefix) {
				out[name] = r.GetResource()
			}
		}
		return out
	}

	// 1. First reconcile: two Jobs. Crossplane creates them.
	firstJobs = jobsOf(run())
	if len(firstJobs) != 2 {
		t.Fatalf("got %d Jobs, want 2", len(firstJobs))
	}
	for name, j := range firstJobs {
		observed[name] = &fnv1.Resource{Resource: j}
	}
	// 2. Second reconcile, a new Pod appeared: same two Jobs, byte for byte.
	pods = append(pods, podJSON("web-5d4f8-nnnnn", "node-c"))
	if diff := cmp.Diff(firstJobs, jobsOf(run()), protocmp.Transform()); diff != "" {
		t.Fatalf("the second reconcile changed the Jobs: -first, +second:\n%s", diff)
	}
	// 3. One Job completes, then expires (ttlSecondsAfterFinished).
	done := firstJobs["job-web-5d4f8-aaaaa-qwer"].AsMap()
	done["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}
	observed["job-web-5d4f8-aaaaa-qwer"] = &fnv1.Resource{Resource: mustStruct(t, done)}
	rsp := run()
	if _, ok := rsp.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"]; ok {
		t.Errorf("a completed Job stays desired: an apply racing its TTL would create it anew")
	}
	// Crossplane removes it; it must not come back.
	delete(observed, "job-web-5d4f8-aaaaa-qwer")
	rsp = run()
	if _, ok := rsp.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"]; ok {
		t.Fatalf("an expired finished Job was asked for again: a capture would run twice")
	}
	st := rsp.GetDesired().GetComposite().GetResource().GetFields()["status"].GetStructValue().AsMap()
	if c := st["counts"].(map[string]any); c["succeeded"] != float64(1) || c["active"] != float64(1) || c["notCaptured"] != float64(1) {
		t.Errorf("counts = %v, want 1 succeeded, 1 active, 1 not captured", c)
	}
}

func TestRunFunctionLegacyClaim(t *testing.T) {
	legacy := `{
		"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "XPacketCapture",
		"metadata": {"name": "capture-web-x7k2p", "labels": {"crossplane.io/claim-namespace": "team-a"}},
		"spec": {"jobId": "qwer", "targetNamespace": "shop", "targetDeployment": "web", "duration": "30",
			"claimRef": {"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture", "name": "capture-web", "namespace": "team-a"}}
	}`
	req := complete(legacy, podJSON("web-5d4f8-aaaaa", "node-a"))
	// Crossplane does not copy a claim's app.kubernetes.io labels to its XR:
	// the function asks for the claim and takes them from there.
	req.RequiredResources[RequirementClaim] = resources(`{
		"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
		"metadata": {"name": "capture-web", "namespace": "team-a", "labels": {"app.kubernetes.io/instance": "capture-web-instance", "team": "a"}}
	}`)
	got, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := deploymentRequirement("team-a", "capture-web"); got.GetRequirements().GetResources()[RequirementClaim].GetMatchName() != want.GetMatchName() {
		t.Errorf("requirements %v do not ask for the claim", got.GetRequirements())
	}
	if len(got.GetDesired().GetResources()) != 2 {
		t.Fatalf("got %v, want a ConfigMap and a Job", got.GetResults())
	}
	for name, r := range got.GetDesired().GetResources() {
		meta := r.GetResource().GetFields()["metadata"].GetStructValue().GetFields()
		if ns := meta["namespace"].GetStringValue(); ns != "team-a" {
			t.Errorf("%s in namespace %q, want the claim's namespace team-a", name, ns)
		}
		labels := meta["labels"].GetStructValue().AsMap()
		if labels["app.kubernetes.io/instance"] != "capture-web-instance" || labels["team"] != nil {
			t.Errorf("%s labels %v, want the claim's app.kubernetes.io labels only", name, labels)
		}
	}
}

func TestRunFunctionDeploymentNotFound(t *testing.T) {
	req := newRequest(xrJSON, "", map[string]*fnv1.Resources{RequirementDeployment: {}, RequirementCapturePods: {}})
	// A Job from an earlier reconcile exists.
	prev, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), complete(xrJSON, podJSON("web-5d4f8-aaaaa", "node-a")))
	if err != nil {
		t.Fatal(err)
	}
	req.Observed.Resources = map[string]*fnv1.Resource{"job-web-5d4f8-aaaaa-qwer": prev.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"]}
	got, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"]; !ok {
		t.Errorf("the existing Job was dropped when the Deployment went: its capture would be killed")
	}
	var warned bool
	for _, r := range got.GetResults() {
		warned = warned || r.GetSeverity() == fnv1.Severity_SEVERITY_WARNING && strings.Contains(r.GetMessage(), "Deployment shop/web not found")
	}
	if !warned {
		t.Errorf("results %v, want a warning that the Deployment is not found", got.GetResults())
	}
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRunFunctionBadRequiredObject: a required Pod or ReplicaSet with a field
// of the wrong type is refused with a Fatal result naming the object and the
// field.
func TestRunFunctionBadRequiredObject(t *testing.T) {
	pod := podJSON("web-5d4f8-aaaaa", "node-a")
	cases := map[string]struct {
		pods       []string
		replicaSet string
		want       []string // empty: no Fatal result, a ConfigMap and a Job
	}{
		"Fine": {pods: []string{pod}, replicaSet: replicaSetJSON},
		// Crossplane render matches by labels only: an object of another
		// namespace is not read at all.
		"OtherNamespaceNotRead": {pods: []string{pod, strings.NewReplacer(`"namespace": "shop"`, `"namespace": "elsewhere"`, `"name": "web-5d4f8-aaaaa"`, `"name": "web-5d4f8-bbbbb"`, `"nodeName": "node-a"`, `"nodeName": 5`).Replace(pod)}, replicaSet: replicaSetJSON},
		"NodeNameNotString":     {pods: []string{strings.Replace(pod, `"nodeName": "node-a"`, `"nodeName": 5`, 1)}, replicaSet: replicaSetJSON, want: []string{"cannot read Pod shop/web-5d4f8-aaaaa", "spec.nodeName", "must be of type string"}},
		"LabelNotString":        {pods: []string{strings.Replace(pod, `"app": "web"`, `"app": true`, 1)}, replicaSet: replicaSetJSON, want: []string{"cannot read Pod shop/web-5d4f8-aaaaa", "metadata.labels"}},
		"PhaseNotString":        {pods: []string{strings.Replace(pod, `"phase": "Running"`, `"phase": {}`, 1)}, replicaSet: replicaSetJSON, want: []string{"cannot read Pod shop/web-5d4f8-aaaaa", "status.phase"}},
		"BadDeletionTime":       {pods: []string{strings.Replace(pod, `"uid": "uid-web-5d4f8-aaaaa",`, `"uid": "uid-web-5d4f8-aaaaa", "deletionTimestamp": "yesterday",`, 1)}, replicaSet: replicaSetJSON, want: []string{"cannot read Pod shop/web-5d4f8-aaaaa"}},
		"ControllerNotBool":     {pods: []string{pod}, replicaSet: strings.Replace(replicaSetJSON, `"controller": true`, `"controller": "yes"`, 1), want: []string{"cannot read ReplicaSet shop/web-5d4f8", "controller"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := newRequest(xrJSON, "", map[string]*fnv1.Resources{
				RequirementDeployment:  resources(deploymentJSON),
				RequirementReplicaSets: resources(tc.replicaSet),
				RequirementPods:        resources(tc.pods...),
				RequirementCapturePods: resources(),
			})
			rsp, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var fatal string
			for _, r := range rsp.GetResults() {
				if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
					fatal = r.GetMessage()
				}
			}
			if len(tc.want) == 0 {
				if fatal != "" || len(rsp.GetDesired().GetResources()) != 2 {
					t.Fatalf("Fatal result %q and %d desired resources, want none and 2", fatal, len(rsp.GetDesired().GetResources()))
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(fatal, w) {
					t.Errorf("Fatal result %q does not say %q", fatal, w)
				}
			}
		})
	}
}
