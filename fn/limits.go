package fn

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// What a user would notice of a large Deployment, and all the function does
// about it (docs/scale.md has the figures):
//   - the response: Crossplane takes at most 4 MiB (checkResponseSize);
//   - the memory a call holds: a request of 5,000 Pods is ~10 MB on the wire
//     and ~60 MiB decoded. The function reads the Pods one at a time
//     (decodeRequired) and lets go of the decoded request once they are read
//     (releaseDecoded); writeDesired converts the status before the Jobs and
//     each Job on its own, and lets go of each planned Job once it is in the
//     response. A call then holds about what a function that reads the
//     request and builds the same response with the SDK holds (the SDK floor
//     of fn/bench_test.go).
//
// Everything else is converted the plain way, as the SDK does.

// MaxResponseBytes is the largest response Crossplane accepts from a
// function. Its gRPC client (and crossplane render's) sets no receive limit of
// its own, so gRPC's default of 4 MiB applies; a larger response fails the
// call with ResourceExhausted. See docs/scale.md.
const MaxResponseBytes = 4 << 20

// checkResponseSize refuses a response of more than limit bytes, with the
// arithmetic: how large it is and about how many Pods would fit. Measuring a
// response walks all of it, so it is measured only when its Jobs, at the
// first Job's size, come near the limit.
func checkResponseSize(rsp *fnv1.RunFunctionResponse, jobs, limit int) error {
	if jobs == 0 {
		return nil
	}
	var one int
	for name, r := range rsp.GetDesired().GetResources() {
		if strings.HasPrefix(name, jobResourcePrefix) {
			one = proto.Size(&fnv1.State{Resources: map[string]*fnv1.Resource{name: r}})
			break
		}
	}
	if one*jobs < limit/4*3 {
		return nil
	}
	size := proto.Size(rsp)
	if size <= limit {
		return nil
	}
	perJob := size / jobs
	return errors.Errorf("the response would be %d bytes (%d capture Jobs, about %d bytes each with the status, labels and names of this capture), "+
		"more than the %d bytes Crossplane accepts from a function (gRPC's default message size limit, 4 MiB). "+
		"About %d Pods fit in one Job each (%d / %d): set the function's input.jobPer to Auto or Node, so that one Job per node captures all its Pods, or capture a Deployment with fewer Pods (input.maxTargetPods %d or less names the limit before planning). "+
		"Nothing was changed: capture Jobs that exist keep running",
		size, jobs, perJob, limit, limit/perJob, limit, perJob, limit/perJob)
}

// decodeRequired converts the required objects (of kind) of namespace ns,
// and those without a namespace, to their type. request.GetRequiredResource
// would convert every object to a map first and hold all the maps at once:
// at 5,000 Pods that is ~30 MiB more at the peak (117 MiB instead of 85).
// One at a time, each map is garbage as soon as its object is converted.
func decodeRequired[T any](items []*fnv1.Resource, kind, ns string) ([]T, error) {
	out := make([]T, 0, len(items))
	for _, it := range items {
		u := &unstructured.Unstructured{Object: it.GetResource().AsMap()}
		if !capture.InNamespace(u.GetNamespace(), ns) {
			continue
		}
		o, err := capture.DecodeObject[T](u.Object)
		if err != nil {
			return nil, errors.Wrapf(err, "cannot read %s %s/%s", kind, ns, u.GetName())
		}
		out = append(out, *o)
	}
	return out, nil
}

// releaseDecoded drops, from a request the gRPC server decoded for this call
// alone, the required and observed resources once they are decoded. The
// Pods are most of a request (a Deployment of 1,000 Pods is some 14 MB of
// protobuf Structs): without them the garbage collector has far less to mark
// while the plan is made and encoded, and can free them (measured at 1,000
// Pods: a peak of 3.0x the floor's without, 2.3x with). A request passed in directly (tests, the KRM
// cross-check) belongs to its caller, who may use it again, and is left as
// it is.
func releaseDecoded(ctx context.Context, req *fnv1.RunFunctionRequest) {
	if _, ok := grpc.Method(ctx); !ok {
		return
	}
	req.RequiredResources = nil
	if req.GetObserved() != nil {
		req.Observed.Resources = nil
	}
}
