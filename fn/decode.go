package fn

import (
	"context"

	"google.golang.org/grpc"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// releaseDecoded drops, from a request the gRPC server decoded for this call
// alone, the required and observed resources once they are decoded. The
// Pods are most of a request (a Deployment of 1,000 Pods is some 14 MB of
// protobuf Structs): without them the garbage collector has far less to mark
// while the plan is made and encoded, and can free them, which halves the
// memory a call holds. A request passed in directly (tests, the KRM
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
