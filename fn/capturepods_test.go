package fn

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/response"
)

// TestRunFunctionCapturePodResults: the function asks for the capture's own
// Pods and puts what their summaries say on the XR.
func TestRunFunctionCapturePodResults(t *testing.T) {
	f := NewFunction(logging.NewNopLogger())
	first, err := f.RunFunction(context.Background(), complete(xrJSON, podJSON("web-5d4f8-aaaaa", "node-a")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(capturePodsRequirement, first.GetRequirements().GetResources()[RequirementCapturePods], protocmp.Transform()); diff != "" {
		t.Errorf("the capture Pods are not asked for: -want, +got:\n%s", diff)
	}
	job := first.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"].GetResource().AsMap()
	job["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}
	tmpl := job["spec"].(map[string]any)["template"].(map[string]any)
	capturePod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web-5d4f8-aaaaa-qwer-x2x9k", "namespace": "packet-capture",
			"labels":          tmpl["metadata"].(map[string]any)["labels"],
			"ownerReferences": []any{map[string]any{"apiVersion": "batch/v1", "kind": "Job", "name": "web-5d4f8-aaaaa-qwer", "uid": "uid-job", "controller": true}}},
		"spec": tmpl["spec"],
		"status": map[string]any{"phase": "Succeeded", "containerStatuses": []any{map[string]any{
			"name": "capture", "ready": false, "restartCount": 0, "image": "netshoot", "imageID": "",
			"state": map[string]any{"terminated": map[string]any{"exitCode": 0, "reason": "Completed",
				"message": "status=ok targets=1 files=2 bytes=61728 packets=500 dropped=3 start=20261124T101500Z\n#pod status packets bytes dropped files seconds\n1 ok 500 61728 3 2 30\n"}},
		}}},
	}
	req := complete(xrJSON, podJSON("web-5d4f8-aaaaa", "node-a"))
	req.RequiredResources[RequirementCapturePods] = &fnv1.Resources{Items: []*fnv1.Resource{{Resource: mustStruct(t, capturePod)}}}
	req.Observed.Composite.Resource.Fields["status"] = first.GetDesired().GetComposite().GetResource().GetFields()["status"]
	req.Observed.Resources = map[string]*fnv1.Resource{"job-web-5d4f8-aaaaa-qwer": {Resource: mustStruct(t, job)}}
	got, err := f.RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"]; ok || got.GetMeta().GetTtl().AsDuration() != response.DefaultTTL {
		t.Errorf("summary read: Job desired %v, TTL %v; want it released, TTL %v", ok, got.GetMeta().GetTtl().AsDuration(), response.DefaultTTL)
	}
	st := got.GetDesired().GetComposite().GetResource().GetFields()["status"].GetStructValue().AsMap()
	counts := st["counts"].(map[string]any)
	if counts["packets"] != float64(500) || counts["bytes"] != float64(61728) || counts["dropped"] != float64(3) || counts["files"] != float64(2) {
		t.Errorf("counts = %v, want the summary's 500 packets, 61728 bytes, 3 dropped, 2 files", counts)
	}
	pod := st["pods"].([]any)[0].(map[string]any)
	if pod["packets"] != float64(500) || pod["phase"] != "Succeeded" || pod["node"] != "node-a" {
		t.Errorf("status.pods[0] = %v, want Succeeded on node-a with 500 packets", pod)
	}
	// The Job is released: where its files are stays on the XR, for the
	// plugin.
	wantOutput := map[string]any{"type": "Pod", "image": "docker.io/nicolaka/netshoot:v0.13"}
	if diff := cmp.Diff(wantOutput, st["ledger"].(map[string]any)["output"]); diff != "" {
		t.Errorf("status.ledger.output (-want, +got):\n%s", diff)
	}
	if st["phase"] != "Completed" || !strings.Contains(st["message"].(string), "500 packets") {
		t.Errorf("phase %v, message %q; want Completed, saying 500 packets", st["phase"], st["message"])
	}

	// The Job Complete, its capture Pod still seen running (Crossplane's
	// Pod view lags its Job view): the Job stays as it was, and Crossplane
	// is asked to call again soon.
	capturePod["status"] = map[string]any{"phase": "Running", "containerStatuses": []any{map[string]any{
		"name": "capture", "ready": true, "restartCount": 0, "image": "netshoot", "imageID": "",
		"state": map[string]any{"running": map[string]any{}}}}}
	req.RequiredResources[RequirementCapturePods] = &fnv1.Resources{Items: []*fnv1.Resource{{Resource: mustStruct(t, capturePod)}}}
	lagging, err := f.RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	held, ok := lagging.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"]
	if !ok || lagging.GetMeta().GetTtl().AsDuration() != SummaryRecheck {
		t.Fatalf("capture Pod seen running: Job desired %v, TTL %v; want it held, TTL %v", ok, lagging.GetMeta().GetTtl().AsDuration(), SummaryRecheck)
	}
	if diff := cmp.Diff(first.GetDesired().GetResources()["job-web-5d4f8-aaaaa-qwer"].GetResource(), held.GetResource(), protocmp.Transform()); diff != "" {
		t.Errorf("the held Job differs from the one first applied (-first, +held):\n%s", diff)
	}
}
