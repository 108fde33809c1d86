package fn

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

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
	if len(direct.GetRequiredResources()) != 3 || !proto.Equal(direct.GetObserved(), req.GetObserved()) {
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
