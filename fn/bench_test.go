package fn

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composite"
	"github.com/crossplane/function-sdk-go/response"

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
		RequirementCapturePods: {},
	})
	// maxPodJobs 1,000 (the default until the real-node figures lowered it
	// to 10) keeps the figures comparable over time: up to 1,000 Pods a Job
	// per Pod, the heavier case; 5,000 Pods one Job per node.
	req.Input = resource.MustStructJSON(`{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "maxPodJobs": 1000}`)
	return req
}

var benchSizes = []int{10, 100, 1000, 5000}

// benchFunction is the function without its refusal of responses larger than
// Crossplane accepts (MaxResponseBytes): at 5,000 Pods the response is
// larger, and RunFunction would answer with a Fatal result (docs/scale.md).
// The benchmarks measure what the whole call would cost and weigh.
func benchFunction() *Function {
	f := NewFunction(logging.NewNopLogger())
	f.maxResponseBytes = math.MaxInt
	return f
}

// BenchmarkRunFunction is one gRPC call as the server sees it: decode the
// request, run the function, encode the response. Besides time and
// allocations it reports the request and response sizes, the response bytes
// per Pod (the whole response must stay under gRPC's 4 MiB, see
// docs/scale.md) and the time per Pod, which stays flat when the cost is
// linear in Pods.
func BenchmarkRunFunction(b *testing.B) {
	f := benchFunction()
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
				out = runWire(b, f, wire)
			}
			b.ReportMetric(float64(len(wire)), "req-bytes")
			b.ReportMetric(float64(len(out)), "rsp-bytes")
			b.ReportMetric(float64(len(out))/float64(n), "rsp-bytes/pod")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pod")
		})
	}
}

// serverContext is a context as the gRPC server gives RunFunction: with the
// call's stream, which tells RunFunction that the request is the call's own
// (see releaseDecoded).
var serverContext = grpc.NewContextWithServerTransportStream(context.Background(), serverStream{})

type serverStream struct{}

func (serverStream) Method() string {
	return "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"
}
func (serverStream) SetHeader(metadata.MD) error  { return nil }
func (serverStream) SendHeader(metadata.MD) error { return nil }
func (serverStream) SetTrailer(metadata.MD) error { return nil }

// runWire is one call on the wire: decode, run, encode.
func runWire(tb testing.TB, f *Function, wire []byte) []byte {
	req := &fnv1.RunFunctionRequest{}
	if err := proto.Unmarshal(wire, req); err != nil {
		tb.Fatal(err)
	}
	rsp, err := f.RunFunction(serverContext, req)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := proto.Marshal(rsp)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// echoWire is the same call with no work in between: decode the request and
// encode a response prepared beforehand.
func echoWire(tb testing.TB, wire []byte, rsp *fnv1.RunFunctionResponse) {
	in := &fnv1.RunFunctionRequest{}
	if err := proto.Unmarshal(wire, in); err != nil {
		tb.Fatal(err)
	}
	if _, err := proto.Marshal(rsp); err != nil {
		tb.Fatal(err)
	}
}

// sdkFloor is what the same call costs a function built on the SDK that does
// nothing of its own: it decodes the request, reads the XR and every required
// resource the SDK's way (request.GetObservedCompositeResource,
// request.GetRequiredResource: each object as a map), sets the same desired
// XR and composed resources from maps with the SDK (response.Set*: each map
// to a protobuf Struct) and encodes the response. It is the least a real
// function pays to read the observed objects and emit the desired ones;
// echoWire is less still (no object is read or built).
type sdkFloor struct {
	xr       *resource.Composite
	composed map[resource.Name]*resource.DesiredComposed
	rsp      *fnv1.RunFunctionResponse
}

// newSDKFloor prepares, from the function's response, the desired objects
// as the maps a function would have built (untimed).
func newSDKFloor(tb testing.TB, rsp *fnv1.RunFunctionResponse) *sdkFloor {
	f := &sdkFloor{xr: &resource.Composite{Resource: composite.New()}, composed: map[resource.Name]*resource.DesiredComposed{}, rsp: rsp}
	f.xr.Resource.Object = rsp.GetDesired().GetComposite().GetResource().AsMap()
	f.xr.Ready = resource.ReadyFalse
	if rsp.GetDesired().GetComposite().GetReady() == fnv1.Ready_READY_TRUE {
		f.xr.Ready = resource.ReadyTrue
	}
	for name, r := range rsp.GetDesired().GetResources() {
		dc := resource.NewDesiredComposed()
		dc.Resource.Object = r.GetResource().AsMap()
		dc.Ready = resource.ReadyFalse
		if r.GetReady() == fnv1.Ready_READY_TRUE {
			dc.Ready = resource.ReadyTrue
		}
		f.composed[resource.Name(name)] = dc
	}
	return f
}

// run is one call on the wire: decode, read, set, encode. The response it
// encodes has the size of the function's (checked once by the benchmarks).
func (f *sdkFloor) run(tb testing.TB, wire []byte) []byte {
	req := &fnv1.RunFunctionRequest{}
	if err := proto.Unmarshal(wire, req); err != nil {
		tb.Fatal(err)
	}
	rsp := response.To(req, response.DefaultTTL)
	if _, err := request.GetObservedCompositeResource(req); err != nil {
		tb.Fatal(err)
	}
	for name := range req.GetRequiredResources() {
		if _, _, err := request.GetRequiredResource(req, name); err != nil {
			tb.Fatal(err)
		}
	}
	rsp.Desired = &fnv1.State{}
	if err := response.SetDesiredCompositeResource(rsp, f.xr); err != nil {
		tb.Fatal(err)
	}
	if err := response.SetDesiredComposedResources(rsp, f.composed); err != nil {
		tb.Fatal(err)
	}
	rsp.Requirements, rsp.Results, rsp.Conditions = f.rsp.Requirements, f.rsp.Results, f.rsp.Conditions
	out, err := proto.Marshal(rsp)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// checkSameSize fails the benchmark unless the SDK floor's response is as
// large as the function's: the floor must emit the same objects.
func (f *sdkFloor) checkSameSize(tb testing.TB, wire []byte) {
	if got, want := len(f.run(tb, wire)), proto.Size(f.rsp); got != want {
		tb.Fatalf("the SDK floor's response is %d bytes, the function's %d", got, want)
	}
}

// BenchmarkEcho is the floor any function pays for the same call: decode the
// same request and encode an equal response, with no work in between. The
// ratio BenchmarkRunFunction/BenchmarkEcho is this function's own cost.
func BenchmarkEcho(b *testing.B) {
	f := benchFunction()
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
				echoWire(b, wire, rsp)
			}
		})
	}
}

// cost is what one run of f took: wall time, CPU time of the whole process
// (garbage collection included; unlike wall time it does not grow when other
// programs take the machine's cores) and bytes allocated.
type cost struct {
	wall, cpu time.Duration
	alloc     uint64
}

// add runs f and adds what it took. A collection runs first, untimed: the
// garbage of what ran before (in turns, another baseline) is not collected
// on f's time.
func (c *cost) add(f func()) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	a0, c0, t0 := ms.TotalAlloc, cpuTime(), time.Now()
	f()
	c.wall += time.Since(t0)
	c.cpu += cpuTime() - c0
	runtime.ReadMemStats(&ms)
	c.alloc += ms.TotalAlloc - a0
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// overEchoCases are the requests BenchmarkOverEcho measures: benchRequest's
// (up to 1,000 Pods a Job per Pod, 5,000 a Job per node), and 1,000 Pods
// with the default Input, which gives a Job per node (maxPodJobs 10).
var overEchoCases = []struct {
	pods  int
	input string
}{
	{10, ""}, {100, ""}, {1000, ""},
	{1000, `{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input"}`},
	{5000, ""},
}

// BenchmarkOverEcho runs the call and its two baselines in turns, in the
// same iteration, so a busy machine slows them alike, and reports what the
// budget is stated in (docs/scale.md):
//   - cpu-x-sdk: the call's CPU time over the SDK floor's (sdkFloor: the
//     same request read and the same response built the SDK's way, nothing
//     planned; budget ≤ 2 at 1,000 Pods);
//   - cpu-x-echo: the call's CPU time over the echo's (the request decoded
//     and an equal response encoded, no object read or built: protobuf
//     alone); x-echo is the same for wall time, noisier on a shared machine;
//   - own-B/req-B: the bytes the function allocates beyond the echo's
//     (decoding the request and encoding the response into protobuf), per
//     byte of request;
//   - own-cpu-ns/pod: the function's CPU time beyond the echo's per Pod,
//     flat when linear.
func BenchmarkOverEcho(b *testing.B) {
	f := benchFunction()
	for _, c := range overEchoCases {
		req := benchRequest(b, c.pods)
		name := fmt.Sprintf("pods=%d", c.pods)
		if c.input != "" {
			req.Input = resource.MustStructJSON(c.input)
			name += ",defaultInput"
		}
		wire, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		rsp, err := f.RunFunction(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		floor := newSDKFloor(b, rsp)
		floor.checkSameSize(b, wire)
		b.Run(name, func(b *testing.B) {
			var run, echo, sdk cost
			for b.Loop() {
				echo.add(func() { echoWire(b, wire, rsp) })
				sdk.add(func() { floor.run(b, wire) })
				run.add(func() { runWire(b, f, wire) })
			}
			b.ReportMetric(float64(run.cpu)/float64(sdk.cpu), "cpu-x-sdk")
			b.ReportMetric(float64(run.wall)/float64(echo.wall), "x-echo")
			b.ReportMetric(float64(run.cpu)/float64(echo.cpu), "cpu-x-echo")
			b.ReportMetric((float64(run.alloc)-float64(echo.alloc))/float64(b.N)/float64(len(wire)), "own-B/req-B")
			b.ReportMetric(float64(run.cpu-echo.cpu)/float64(b.N)/float64(c.pods), "own-cpu-ns/pod")
		})
	}
}

// BenchmarkLinear runs the call at 1,000 and at 5,000 Pods in turns and
// reports the CPU time and the allocated bytes per Pod at 5,000 over those
// at 1,000: 1.0 is linear in Pods, more is worse. Both make one Job per Pod
// (input.jobPer Pod), the same work per Pod: by default 5,000 Pods get one
// Job per node, which costs less per Pod.
func BenchmarkLinear(b *testing.B) {
	f := benchFunction()
	sizes := [2]int{1000, 5000}
	var wires [2][]byte
	for i, n := range sizes {
		req := benchRequest(b, n)
		req.Input = resource.MustStructJSON(`{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "jobPer": "Pod"}`)
		w, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		wires[i] = w
	}
	var costs [2]cost
	for b.Loop() {
		for i := range sizes {
			costs[i].add(func() { runWire(b, f, wires[i]) })
		}
	}
	perPod := func(small, large float64) float64 {
		return (large / float64(sizes[1])) / (small / float64(sizes[0]))
	}
	b.ReportMetric(perPod(float64(costs[0].cpu), float64(costs[1].cpu)), "cpu/pod-5k/1k")
	b.ReportMetric(perPod(float64(costs[0].alloc), float64(costs[1].alloc)), "B/pod-5k/1k")
}

// BenchmarkPeakHeap measures the most heap one call holds at once, with the
// garbage collector made to run often and the heap sampled every 100 µs:
// the decoded request, the Pods, the plan and the response. peak-B/req-B is
// that over the request's size on the wire, for the call and for the echo,
// which holds the decoded request too; x-echo is the first over the second.
// At 1,000 Pods the response is the largest (one Job per Pod); at 5,000 the
// request is (one Job per node).
func BenchmarkPeakHeap(b *testing.B) {
	f := NewFunction(logging.NewNopLogger())
	for _, n := range []int{1000, 5000} {
		req := benchRequest(b, n)
		wire, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		rsp, err := f.RunFunction(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		floor := newSDKFloor(b, rsp)
		floor.checkSameSize(b, wire)
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			var run, echo, sdk uint64
			for b.Loop() {
				echo = max(echo, peakHeap(func() { echoWire(b, wire, rsp) }))
				sdk = max(sdk, peakHeap(func() { floor.run(b, wire) }))
				run = max(run, peakHeap(func() { runWire(b, f, wire) }))
			}
			b.ReportMetric(float64(run)/float64(len(wire)), "peak-B/req-B")
			b.ReportMetric(float64(echo)/float64(len(wire)), "echo-peak-B/req-B")
			b.ReportMetric(float64(run)/float64(echo), "x-echo")
			b.ReportMetric(float64(run)/float64(sdk), "x-sdk")
			b.ReportMetric(float64(run)/(1<<20), "peak-MiB")
		})
	}
}

// peakHeap is the most heap in use while f runs, over the heap before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	heap := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := heap()
	var peak atomic.Uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if h := heap(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return peak.Load() - min(before, peak.Load())
}
