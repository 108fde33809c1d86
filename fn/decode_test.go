package fn

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// clusterItems are a generated cluster's objects of one kind as Crossplane
// sends them.
func clusterItems(t *testing.T, c *clustergen.Cluster, kind string) []*fnv1.Resource {
	t.Helper()
	objs, err := c.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var out []*fnv1.Resource
	for _, o := range objs {
		if o["kind"] == kind {
			out = append(out, &fnv1.Resource{Resource: mustStruct(t, o)})
		}
	}
	return out
}

// fullDecode is what the adapter did before decodePods and
// decodeReplicaSets: convert every object whole.
func fullDecode[T any](t *testing.T, items []*fnv1.Resource) []T {
	t.Helper()
	var out []T
	for _, it := range items {
		o, err := capture.DecodeObject[T](it.GetResource().AsMap())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *o)
	}
	return out
}

// TestLeanDecodingPlansAlike guards the list of fields on capture.Request:
// planning from whole Pods and ReplicaSets and planning from what the lean
// decoders read give the same plan, over clusters as kubectl shows them
// (Pods pending, unscheduled, terminating, of an older ReplicaSet, of other
// Deployments with overlapping labels, every selector shape). A planner
// that starts reading another field makes this fail: add the field to
// decodePods or decodeReplicaSets and to the list.
func TestLeanDecodingPlansAlike(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		c := clustergen.Generate(seed, clustergen.Options{Pods: 1 + int(seed%7)*5, Others: int(seed % 4)})
		podItems, rsItems := clusterItems(t, c, "Pod"), clusterItems(t, c, "ReplicaSet")
		ns := c.Namespace
		leanPods, err := decodePods(podItems, ns)
		if err != nil {
			t.Fatal(err)
		}
		leanRSs, err := decodeReplicaSets(rsItems, ns)
		if err != nil {
			t.Fatal(err)
		}
		pc := capture.PacketCapture{Name: "capture", Namespace: "packet-capture", UID: "uid-capture",
			Labels: map[string]string{"app.kubernetes.io/instance": "x"},
			Spec:   capture.Spec{JobID: "qwer", TargetNamespace: ns, TargetDeployment: c.Target.Name, Duration: "30"}}
		// A capture that started earlier too: some Pods are in the ledger,
		// the others are new.
		started := pc
		started.Status.Ledger = capture.Ledger{JobID: "qwer", Succeeded: c.Want[:len(c.Want)/2]}

		for _, pc := range []capture.PacketCapture{pc, started} {
			full, err := capture.Plan(capture.Request{Capture: pc, Deployment: c.Target,
				ReplicaSets: fullDecode[appsv1.ReplicaSet](t, rsItems), Pods: fullDecode[corev1.Pod](t, podItems)})
			if err != nil {
				t.Fatal(err)
			}
			lean, err := capture.Plan(capture.Request{Capture: pc, Deployment: c.Target, ReplicaSets: leanRSs, Pods: leanPods})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(full, lean); diff != "" {
				t.Fatalf("seed %d: the plan from lean-decoded Pods differs from the plan from whole Pods: -whole, +lean:\n%s", seed, diff)
			}
			if len(full.Jobs) == 0 && len(c.Want) > 0 && len(pc.Status.Ledger.Succeeded) == 0 {
				t.Fatalf("seed %d: no Jobs planned for %d capturable Pods: the comparison proves nothing", seed, len(c.Want))
			}
		}
	}
}

// TestLeanDecodingReadsTheFields checks each field the lean decoders read
// against the whole conversion.
func TestLeanDecodingReadsTheFields(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		c := clustergen.Generate(seed, clustergen.Options{Pods: 20, Others: 2})
		podItems, rsItems := clusterItems(t, c, "Pod"), clusterItems(t, c, "ReplicaSet")
		leanPods, err := decodePods(podItems, c.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		var want []corev1.Pod
		for _, p := range fullDecode[corev1.Pod](t, podItems) {
			want = append(want, corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
					Labels: p.Labels, OwnerReferences: p.OwnerReferences, DeletionTimestamp: p.DeletionTimestamp},
				Spec:   corev1.PodSpec{NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork, OS: p.Spec.OS, NodeSelector: osSelector(p.Spec.NodeSelector)},
				Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP},
			})
		}
		if diff := cmp.Diff(want, leanPods); diff != "" {
			t.Errorf("seed %d: Pods: -whole, +lean:\n%s", seed, diff)
		}
		leanRSs, err := decodeReplicaSets(rsItems, c.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		var wantRSs []appsv1.ReplicaSet
		for _, rs := range fullDecode[appsv1.ReplicaSet](t, rsItems) {
			wantRSs = append(wantRSs, appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
				Name: rs.Name, Namespace: rs.Namespace, UID: rs.UID, ResourceVersion: rs.ResourceVersion, OwnerReferences: rs.OwnerReferences}})
		}
		if diff := cmp.Diff(wantRSs, leanRSs); diff != "" {
			t.Errorf("seed %d: ReplicaSets: -whole, +lean:\n%s", seed, diff)
		}
	}
}

// osSelector is the part of a node selector the planner reads.
func osSelector(sel map[string]string) map[string]string {
	if os := sel[corev1.LabelOSStable]; os != "" {
		return map[string]string{corev1.LabelOSStable: os}
	}
	return nil
}

// TestLeanDecodingReadsTargetSafety: the fields that make a Pod unsafe or
// impossible to capture (it shares the node's network, it runs Windows) and
// the resourceVersion that picks the newest of two copies survive the lean
// decoder, so the planner skips such Pods in the Crossplane mode too.
func TestLeanDecodingReadsTargetSafety(t *testing.T) {
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web-1", "namespace": "shop", "uid": "0b9f3c1e-0000-4000-8000-000000000002", "resourceVersion": "1234"},
		"spec": map[string]any{"nodeName": "node-a", "hostNetwork": true, "os": map[string]any{"name": "windows"},
			"nodeSelector": map[string]any{"kubernetes.io/os": "windows", "disk": "ssd"}},
		"status": map[string]any{"phase": "Running"},
	}
	got, err := decodePods([]*fnv1.Resource{{Resource: mustStruct(t, pod)}}, "shop")
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "0b9f3c1e-0000-4000-8000-000000000002", ResourceVersion: "1234"},
		Spec: corev1.PodSpec{NodeName: "node-a", HostNetwork: true, OS: &corev1.PodOS{Name: corev1.Windows},
			NodeSelector: map[string]string{"kubernetes.io/os": "windows"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decodePods: -want, +got:\n%s", diff)
	}
}

func TestLeanDecodingErrors(t *testing.T) {
	pod := func(edit func(m map[string]any)) *fnv1.Resource {
		m := map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "web-1", "namespace": "shop", "uid": "u1",
				"labels": map[string]any{"app": "web"},
				"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f8",
					"uid": "uid-rs", "controller": true}}},
			"spec":   map[string]any{"nodeName": "node-a", "containers": []any{map[string]any{"name": "web"}}},
			"status": map[string]any{"phase": "Running", "podIP": "10.1.2.3"},
		}
		edit(m)
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return &fnv1.Resource{Resource: s}
	}
	meta := func(m map[string]any) map[string]any { return m["metadata"].(map[string]any) }
	cases := map[string]struct {
		edit    func(m map[string]any)
		wantErr string // "" means no error
		wantN   int
	}{
		"Complete":               {edit: func(map[string]any) {}, wantN: 1},
		"OtherNamespaceSkipped":  {edit: func(m map[string]any) { meta(m)["namespace"] = "other" }, wantN: 0},
		"NoNamespaceKept":        {edit: func(m map[string]any) { delete(meta(m), "namespace") }, wantN: 1},
		"NullsAreMissing":        {edit: func(m map[string]any) { meta(m)["labels"], m["status"] = nil, nil }, wantN: 1},
		"UnreadFieldNotChecked":  {edit: func(m map[string]any) { m["spec"].(map[string]any)["containers"] = "web" }, wantN: 1},
		"Terminating":            {edit: func(m map[string]any) { meta(m)["deletionTimestamp"] = "2026-11-01T10:00:00Z" }, wantN: 1},
		"NameNotString":          {edit: func(m map[string]any) { meta(m)["name"] = 5.0 }, wantErr: "metadata.name: must be of type string, not number"},
		"LabelNotString":         {edit: func(m map[string]any) { meta(m)["labels"] = map[string]any{"app": true} }, wantErr: "metadata.labels.app: must be of type string, not boolean"},
		"LabelsNotObject":        {edit: func(m map[string]any) { meta(m)["labels"] = "app=web" }, wantErr: "metadata.labels: must be of type object, not string"},
		"ControllerNotBool":      {edit: func(m map[string]any) { meta(m)["ownerReferences"].([]any)[0].(map[string]any)["controller"] = "yes" }, wantErr: "metadata.ownerReferences[0].controller: must be of type boolean, not string"},
		"OwnerRefNotObject":      {edit: func(m map[string]any) { meta(m)["ownerReferences"] = []any{"rs"} }, wantErr: "metadata.ownerReferences[0]: must be of type object, not string"},
		"BadDeletionTimestamp":   {edit: func(m map[string]any) { meta(m)["deletionTimestamp"] = "yesterday" }, wantErr: "metadata.deletionTimestamp"},
		"EmptyDeletionTimestamp": {edit: func(m map[string]any) { meta(m)["deletionTimestamp"] = "" }, wantErr: "metadata.deletionTimestamp"},
		"SpecNotObject":          {edit: func(m map[string]any) { m["spec"] = []any{} }, wantErr: "spec: must be of type object, not array"},
		"NodeNameNotString":      {edit: func(m map[string]any) { m["spec"].(map[string]any)["nodeName"] = 1.0 }, wantErr: "spec.nodeName: must be of type string, not number"},
		"PhaseNotString":         {edit: func(m map[string]any) { m["status"].(map[string]any)["phase"] = map[string]any{} }, wantErr: "status.phase: must be of type string, not object"},
		"PodIPNotString":         {edit: func(m map[string]any) { m["status"].(map[string]any)["podIP"] = []any{"10.1.2.3"} }, wantErr: "status.podIP: must be of type string, not array"},
		"MetadataNotObject":      {edit: func(m map[string]any) { m["metadata"] = "web-1" }, wantErr: "metadata: must be of type object, not string"},
		"NamespaceNotString":     {edit: func(m map[string]any) { meta(m)["namespace"] = false }, wantErr: "metadata.namespace: must be of type string, not boolean"},
		"OwnerReferencesNotList": {edit: func(m map[string]any) { meta(m)["ownerReferences"] = map[string]any{} }, wantErr: "metadata.ownerReferences: must be of type array, not object"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			item := pod(tc.edit)
			got, err := decodePods([]*fnv1.Resource{item}, "shop")
			if tc.wantErr == "" {
				if err != nil || len(got) != tc.wantN {
					t.Fatalf("decodePods() = %d Pods, %v; want %d Pods", len(got), err, tc.wantN)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "cannot read Pod shop/") {
				t.Fatalf("decodePods() error = %v, want one naming the Pod and %q", err, tc.wantErr)
			}
			// The whole conversion refuses it too: the lean decoder is no
			// more lenient about the fields it reads.
			if _, err := capture.DecodeObject[corev1.Pod](item.GetResource().AsMap()); err == nil {
				t.Errorf("the whole conversion accepts what decodePods refuses")
			}
		})
	}
}

// TestReleaseDecoded: a request the gRPC server decoded for the call gives up
// its required and observed resources once they are decoded; one passed in
// directly is left as it is. The response is the same either way.
func TestReleaseDecoded(t *testing.T) {
	f := NewFunction(logging.NewNopLogger())
	req := benchRequest(t, 20)
	req.Observed.Resources = map[string]*fnv1.Resource{"earlier": {Resource: mustStruct(t, map[string]any{"apiVersion": "v1", "kind": "Secret"})}}
	direct, server := proto.Clone(req).(*fnv1.RunFunctionRequest), proto.Clone(req).(*fnv1.RunFunctionRequest)

	want, err := f.RunFunction(context.Background(), direct)
	if err != nil {
		t.Fatal(err)
	}
	if len(direct.GetRequiredResources()) != 4 || !proto.Equal(direct.GetObserved(), req.GetObserved()) {
		t.Errorf("a request passed in directly lost its required or observed resources")
	}
	got, err := f.RunFunction(serverContext, server)
	if err != nil {
		t.Fatal(err)
	}
	if server.GetRequiredResources() != nil || server.GetObserved().GetResources() != nil {
		t.Errorf("a request of the gRPC server kept its required or observed resources after decoding")
	}
	if !proto.Equal(want, got) {
		t.Errorf("releasing the decoded resources changed the response")
	}
}
