package fn

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/function-packet-capture/function-packet-capture/internal/fuzzseed"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// The fuzz targets of the Crossplane adapter. `go test ./fn` runs their seed
// corpora (testdata/fuzz/<target>/); `make fuzz` mutates them for a while.
// FPC_WRITE_FUZZ_SEEDS=1 go test ./fn -run 'Fuzz' rewrites the seeds.

// FuzzRunFunction feeds arbitrary bytes, read as a RunFunctionRequest, to
// RunFunction: whatever Crossplane (or anything on the socket) sends, the
// function must answer with results, never panic, never fail the call, and
// compose nothing when it reports a fatal result.
func FuzzRunFunction(f *testing.F) {
	seeds := fuzzSeedRequests(f)
	fuzzseed.Write(f, "FuzzRunFunction", func(yield func(string, []any)) {
		for _, s := range seeds {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.req)
			if err != nil {
				f.Fatal(err)
			}
			yield(s.name, []any{b})
		}
	})
	fn := NewFunction(logging.NewNopLogger())
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &fnv1.RunFunctionRequest{}
		if err := proto.Unmarshal(data, req); err != nil {
			return // gRPC rejects such a message before the function sees it.
		}
		fuzzCheckRunFunction(t, fn, req)
	})
}

// FuzzRunFunctionXR builds well-formed requests from fuzzed field values: the
// PacketCapture's identity and spec, and the target's names and labels.
// It reaches the planner far more often than random bytes do.
func FuzzRunFunctionXR(f *testing.F) {
	type args = struct {
		xrName, xrNamespace, jobID, targetNamespace, targetDeployment, duration, filter, iface, podName, nodeName, labelValue string
		followNewPods                                                                                                         bool
	}
	seeds := []struct {
		name string
		a    args
	}{
		{"operator-example", args{"capture", "packet-capture", "qwer", "openshift-gitops", "openshift-gitops-server", "30", "", "", "openshift-gitops-server-6d8f9c7b5d-4xk2p", "worker-0", "packet-capture-openshift-gitops-openshift-gitops-server", false}},
		{"derived-jobid-go-duration", args{"c", "ns", "", "shop", "web", "5m", "tcp port 80", "eth0", "web-5d4f8-aaaaa", "node-a", "x", true}},
		{"long-names", args{strings.Repeat("n", 253), strings.Repeat("s", 63), "ab12", strings.Repeat("t", 63), strings.Repeat("d", 200), "86400", "host 10.0.0.1 and not port 22", "any", strings.Repeat("p", 253), strings.Repeat("w", 253), strings.Repeat("v", 63), false}},
		{"shell-in-filter", args{"c", "ns", "zzzz", "shop", "web", "90s", "$(reboot); `id` ' \" \\", "lo", "web-1", "n", "a b", false}},
		{"bad-everything", args{"", "", "QWERTY", "Shop", "web_1", "-5", "-w /etc/passwd", "eth0; rm", "Pod", "", "\x00", false}},
		{"unicode", args{"ça", "ns", "éééé", "shop", "wéb", "1h", "port ٣", "eth0", "wéb-1", "nöde", "🙂", true}},
	}
	fuzzseed.Write(f, "FuzzRunFunctionXR", func(yield func(string, []any)) {
		for _, s := range seeds {
			a := s.a
			yield(s.name, []any{a.xrName, a.xrNamespace, a.jobID, a.targetNamespace, a.targetDeployment, a.duration, a.filter, a.iface, a.podName, a.nodeName, a.labelValue, a.followNewPods})
		}
	})
	fn := NewFunction(logging.NewNopLogger())
	f.Fuzz(func(t *testing.T, xrName, xrNamespace, jobID, targetNamespace, targetDeployment, duration, filter, iface, podName, nodeName, labelValue string, followNewPods bool) {
		for _, s := range []string{xrName, xrNamespace, jobID, targetNamespace, targetDeployment, duration, filter, iface, podName, nodeName, labelValue} {
			if !utf8.ValidString(s) {
				return // a protobuf Struct cannot carry it: Crossplane never sends it.
			}
		}
		spec := map[string]any{"targetNamespace": targetNamespace, "targetDeployment": targetDeployment, "duration": duration}
		for k, v := range map[string]string{"jobId": jobID, "filter": filter, "interface": iface} {
			if v != "" {
				spec[k] = v
			}
		}
		if followNewPods {
			spec["followNewPods"] = true
		}
		xr := map[string]any{
			"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
			"metadata": map[string]any{"name": xrName, "namespace": xrNamespace, "uid": "uid-" + xrName,
				"labels": map[string]any{"app.kubernetes.io/instance": labelValue, "app.kubernetes.io/name": labelValue + "-x"}},
			"spec": spec,
		}
		sel := map[string]any{"app": labelValue}
		deploy := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": targetDeployment, "namespace": targetNamespace, "uid": "uid-d"},
			"spec":     map[string]any{"selector": map[string]any{"matchLabels": sel}}}
		owner := func(kind, name, uid string) []any {
			return []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true}}
		}
		rs := map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet",
			"metadata": map[string]any{"name": targetDeployment + "-5d4f8", "namespace": targetNamespace, "uid": "uid-rs",
				"labels": sel, "ownerReferences": owner("Deployment", targetDeployment, "uid-d")}}
		pod := func(name string) map[string]any {
			return map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": name, "namespace": targetNamespace, "uid": "uid-" + name,
					"labels": sel, "ownerReferences": owner("ReplicaSet", targetDeployment+"-5d4f8", "uid-rs")},
				"spec":   map[string]any{"nodeName": nodeName},
				"status": map[string]any{"phase": "Running", "podIP": "10.1.2.3"}}
		}
		req := &fnv1.RunFunctionRequest{
			Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: mustFuzzStruct(t, xr)}},
			RequiredResources: map[string]*fnv1.Resources{
				RequirementDeployment:  {Items: []*fnv1.Resource{{Resource: mustFuzzStruct(t, deploy)}}},
				RequirementReplicaSets: {Items: []*fnv1.Resource{{Resource: mustFuzzStruct(t, rs)}}},
				RequirementPods: {Items: []*fnv1.Resource{
					{Resource: mustFuzzStruct(t, pod(podName))},
					{Resource: mustFuzzStruct(t, pod(podName+"-b"))},
				}},
			},
		}
		rsp := fuzzCheckRunFunction(t, fn, req)
		if fuzzIsFatal(rsp) {
			return
		}
		// A filter reaches the ConfigMap as data, byte for byte: never
		// rewritten, never spliced into the script.
		if cm := rsp.GetDesired().GetResources()[ConfigMapResource]; cm != nil {
			data := cm.GetResource().GetFields()["data"].GetStructValue().GetFields()
			if got := data["filter"].GetStringValue(); got != filter {
				t.Errorf("ConfigMap filter = %q, want %q", got, filter)
			}
		}
	})
}

// fuzzCheckRunFunction runs the function twice and checks what must hold for
// every request.
func fuzzCheckRunFunction(t *testing.T, fn *Function, req *fnv1.RunFunctionRequest) *fnv1.RunFunctionResponse {
	t.Helper()
	// The SDK's response shares the request's desired state and the adapter
	// writes to it, as every function does: each run gets its own copy.
	rsp, err := fn.RunFunction(context.Background(), proto.Clone(req).(*fnv1.RunFunctionRequest))
	if err != nil {
		t.Fatalf("RunFunction() error = %v: a bad request must be answered with a result, not a failed call", err)
	}
	if _, err := proto.Marshal(rsp); err != nil {
		t.Fatalf("the response cannot be sent over gRPC: %v", err)
	}
	again, err := fn.RunFunction(context.Background(), proto.Clone(req).(*fnv1.RunFunctionRequest))
	if err != nil || !proto.Equal(rsp, again) {
		t.Fatalf("two runs on the same request differ (error %v)", err)
	}

	composed := fuzzComposed(req, rsp)
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			if len(composed) > 0 {
				t.Fatalf("fatal result %q, yet composed %v", r.GetMessage(), composed)
			}
			if strings.TrimSpace(r.GetMessage()) == "" {
				t.Fatal("a fatal result without a message")
			}
		}
	}
	for _, name := range composed {
		meta := rsp.GetDesired().GetResources()[name].GetResource().GetFields()["metadata"].GetStructValue()
		objName := meta.GetFields()["name"].GetStringValue()
		// Object names are DNS subdomains; ours also fit in 63 characters,
		// so that a Job's name is a valid label value of its Pods.
		if errs := append(validation.IsDNS1123Subdomain(objName), validation.IsValidLabelValue(objName)...); len(errs) > 0 {
			t.Errorf("%s: name %q: %v", name, objName, errs)
		}
		if ns := meta.GetFields()["namespace"].GetStringValue(); len(validation.IsDNS1123Label(ns)) > 0 {
			t.Errorf("%s: namespace %q is not a DNS label", name, ns)
		}
		for k, v := range meta.GetFields()["labels"].GetStructValue().GetFields() {
			if errs := validation.IsValidLabelValue(v.GetStringValue()); len(errs) > 0 {
				t.Errorf("%s: label %s=%q: %v", name, k, v.GetStringValue(), errs)
			}
		}
	}
	return rsp
}

// fuzzComposed lists the desired resources the function added to the request's.
func fuzzComposed(req *fnv1.RunFunctionRequest, rsp *fnv1.RunFunctionResponse) []string {
	var out []string
	for name := range rsp.GetDesired().GetResources() {
		if _, ok := req.GetDesired().GetResources()[name]; !ok {
			out = append(out, name)
		}
	}
	return out
}

func fuzzIsFatal(rsp *fnv1.RunFunctionResponse) bool {
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			return true
		}
	}
	return false
}

func mustFuzzStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fuzzSeed struct {
	name string
	req  *fnv1.RunFunctionRequest
}

// fuzzSeedRequests are the requests of a whole reconcile, as Crossplane sends
// them, of a small generated cluster, and some bad ones.
func fuzzSeedRequests(tb testing.TB) []fuzzSeed {
	xr := func(spec string) *structpb.Struct {
		return fuzzStructJSON(tb, `{"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
			"metadata": {"name": "capture", "namespace": "packet-capture", "uid": "0b9f3c1e-0000-4000-8000-000000000001",
				"labels": {"app.kubernetes.io/instance": "packet-capture-shop-web"}},
			"spec": `+spec+`}`)
	}
	c := clustergen.Generate(7, clustergen.Options{Pods: 3, Others: 1})
	objs, err := c.Objects()
	if err != nil {
		tb.Fatal(err)
	}
	required := map[string]*fnv1.Resources{RequirementDeployment: {}, RequirementReplicaSets: {}, RequirementPods: {}, RequirementCapturePods: {}}
	for _, o := range objs {
		s, err := structpb.NewStruct(o)
		if err != nil {
			tb.Fatal(err)
		}
		switch o["kind"] {
		case "Deployment":
			if o["metadata"].(map[string]any)["name"] == c.Target.Name {
				required[RequirementDeployment].Items = append(required[RequirementDeployment].Items, &fnv1.Resource{Resource: s})
			}
		case "ReplicaSet":
			required[RequirementReplicaSets].Items = append(required[RequirementReplicaSets].Items, &fnv1.Resource{Resource: s})
		case "Pod":
			required[RequirementPods].Items = append(required[RequirementPods].Items, &fnv1.Resource{Resource: s})
		}
	}
	spec := fmt.Sprintf(`{"jobId": "qwer", "targetNamespace": %q, "targetDeployment": %q, "duration": "30"}`, c.Namespace, c.Target.Name)
	input := fuzzStructJSON(tb, `{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "image": "busybox", "statusPodLimit": 2}`)

	first := &fnv1.RunFunctionRequest{Meta: &fnv1.RequestMeta{Tag: "t"}, Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: xr(spec)}}}
	deployOnly := proto.Clone(first).(*fnv1.RunFunctionRequest)
	deployOnly.RequiredResources = map[string]*fnv1.Resources{RequirementDeployment: required[RequirementDeployment]}
	full := proto.Clone(first).(*fnv1.RunFunctionRequest)
	full.RequiredResources = required
	full.Input = input

	// The next reconcile: the Jobs exist, one finished; the status is back.
	rsp, err := NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), full)
	if err != nil {
		tb.Fatal(err)
	}
	observed := proto.Clone(full).(*fnv1.RunFunctionRequest)
	observed.Observed.Resources = map[string]*fnv1.Resource{}
	names := slices.Sorted(maps.Keys(rsp.GetDesired().GetResources()))
	for _, name := range names {
		observed.Observed.Resources[name] = rsp.GetDesired().GetResources()[name]
	}
	// The first Job (by name) has finished.
	if i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, jobResourcePrefix) }); i >= 0 {
		done := proto.Clone(observed.Observed.Resources[names[i]]).(*fnv1.Resource)
		done.Resource.Fields["status"] = structpb.NewStructValue(fuzzStructJSON(tb, `{"conditions": [{"type": "Complete", "status": "True"}]}`))
		observed.Observed.Resources[names[i]] = done
	}
	observed.Observed.Composite.Resource.Fields["status"] = rsp.GetDesired().GetComposite().GetResource().GetFields()["status"]
	observed.Desired = &fnv1.State{Resources: map[string]*fnv1.Resource{"earlier-step": {Resource: fuzzStructJSON(tb, `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}`)}}}

	bad := proto.Clone(first).(*fnv1.RunFunctionRequest)
	bad.Observed.Composite.Resource = xr(`{"jobId": "QWERTY", "targetNamespace": "Shop", "targetDeployment": "", "duration": 30}`)
	badInput := proto.Clone(full).(*fnv1.RunFunctionRequest)
	badInput.Input = fuzzStructJSON(tb, `{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "imag": "busybox", "maxFiles": "ten"}`)

	return []fuzzSeed{
		{"empty", &fnv1.RunFunctionRequest{}},
		{"first-call", first},
		{"deployment-only", deployOnly},
		{"complete", full},
		{"next-reconcile", observed},
		{"bad-spec", bad},
		{"bad-input", badInput},
	}
}

func fuzzStructJSON(tb testing.TB, s string) *structpb.Struct {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		tb.Fatal(err)
	}
	st, err := structpb.NewStruct(m)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
