package fn

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// benchRequest is the request Crossplane sends on the last call of a
// reconcile of a Deployment of n Pods: the XR, and the Deployment, its
// ReplicaSets and Pods as required resources, each Pod as kubectl shows it.
func benchRequest(tb testing.TB, n int) *fnv1.RunFunctionRequest {
	tb.Helper()
	c := clustergen.Generate(42, clustergen.Options{Pods: n})
	toResources := func(objs []map[string]any) *fnv1.Resources {
		out := &fnv1.Resources{}
		for _, o := range objs {
			s, err := structpb.NewStruct(o)
			if err != nil {
				tb.Fatal(err)
			}
			out.Items = append(out.Items, &fnv1.Resource{Resource: s})
		}
		return out
	}
	objs, err := c.Objects()
	if err != nil {
		tb.Fatal(err)
	}
	var deploy, rss, pods []map[string]any
	for _, o := range objs {
		switch o["kind"] {
		case "Deployment":
			if o["metadata"].(map[string]any)["name"] == c.Target.Name {
				deploy = append(deploy, o)
			}
		case "ReplicaSet":
			rss = append(rss, o)
		case "Pod":
			pods = append(pods, o)
		}
	}
	xr := fmt.Sprintf(`{"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
		"metadata": {"name": "capture", "namespace": "packet-capture", "uid": "0b9f3c1e-0000-4000-8000-000000000001",
			"labels": {
				"app.kubernetes.io/name": "packet-capture",
				"app.kubernetes.io/instance": "packet-capture-openshift-gitops-openshift-gitops-server",
				"app.kubernetes.io/part-of": "packet-capture-operator",
				"app.kubernetes.io/managed-by": "kustomize",
				"app.kubernetes.io/created-by": "packet-capture-operator"}},
		"spec": {"jobId": "qwer", "targetNamespace": %q, "targetDeployment": %q, "duration": "30"}}`, c.Namespace, c.Target.Name)
	req := newRequest(xr, "", map[string]*fnv1.Resources{
		RequirementDeployment:  toResources(deploy),
		RequirementReplicaSets: toResources(rss),
		RequirementPods:        toResources(pods),
	})
	return req
}

var benchSizes = []int{10, 100, 1000, 5000}

// BenchmarkRunFunction is one gRPC call as the server sees it: decode the
// request, run the function, encode the response.
func BenchmarkRunFunction(b *testing.B) {
	f := NewFunction(logging.NewNopLogger())
	for _, n := range benchSizes {
		wire, err := proto.Marshal(benchRequest(b, n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			var out []byte
			for b.Loop() {
				req := &fnv1.RunFunctionRequest{}
				if err := proto.Unmarshal(wire, req); err != nil {
					b.Fatal(err)
				}
				rsp, err := f.RunFunction(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				if out, err = proto.Marshal(rsp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(out)), "rsp-bytes")
			b.ReportMetric(float64(len(out))/float64(n), "rsp-bytes/pod")
		})
	}
}

// BenchmarkEcho is the floor any function pays for the same call: decode the
// same request and encode an equal response, with no work in between. The
// ratio BenchmarkRunFunction/BenchmarkEcho is this function's own cost.
func BenchmarkEcho(b *testing.B) {
	f := NewFunction(logging.NewNopLogger())
	for _, n := range benchSizes {
		req := benchRequest(b, n)
		wire, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		rsp, err := f.RunFunction(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				in := &fnv1.RunFunctionRequest{}
				if err := proto.Unmarshal(wire, in); err != nil {
					b.Fatal(err)
				}
				if _, err := proto.Marshal(rsp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
