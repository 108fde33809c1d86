package fn

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	sdkresource "github.com/crossplane/function-sdk-go/resource"
)

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
