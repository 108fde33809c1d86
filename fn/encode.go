package fn

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
)

// desiredComposed is a typed object as a desired composed resource: its
// unstructured form without the empty metadata.creationTimestamp Go's
// encoding adds, and without status, which a desired resource does not set.
func desiredComposed(o runtime.Object, ready bool) (*resource.DesiredComposed, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
	dc := &resource.DesiredComposed{Resource: &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: m}}, Ready: resource.ReadyFalse}
	if ready {
		dc.Ready = resource.ReadyTrue
	}
	return dc, nil
}

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
