package hardening_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/fn"
	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// captureRequest is the last request of a reconcile of a generated cluster,
// as Crossplane sends it: the XR, and the target Deployment, the namespace's
// ReplicaSets and Pods (each as kubectl shows it) as required resources.
func captureRequest(t testing.TB, seed uint64, pods, others int) (*fnv1.RunFunctionRequest, *clustergen.Cluster) {
	t.Helper()
	c := clustergen.Generate(seed, clustergen.Options{Pods: pods, Others: others})
	objs, err := c.Objects()
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]*fnv1.Resources{fn.RequirementDeployment: {}, fn.RequirementReplicaSets: {}, fn.RequirementPods: {}, fn.RequirementCapturePods: {}}
	for _, o := range objs {
		if o["kind"] == "Pod" {
			asFromAPIServer(o)
		}
		s, err := structpb.NewStruct(o)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		switch o["kind"] {
		case "Deployment":
			if o["metadata"].(map[string]any)["name"] != c.Target.Name {
				continue
			}
			name = fn.RequirementDeployment
		case "ReplicaSet":
			name = fn.RequirementReplicaSets
		case "Pod":
			name = fn.RequirementPods
		}
		required[name].Items = append(required[name].Items, &fnv1.Resource{Resource: s})
	}
	xr := obj{
		"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
		"metadata": obj{"name": fmt.Sprintf("capture-%d", seed), "namespace": "packet-capture", "uid": fmt.Sprintf("uid-%d", seed),
			"labels": obj{
				"app.kubernetes.io/name":       "packet-capture",
				"app.kubernetes.io/instance":   "packet-capture-" + c.Target.Name,
				"app.kubernetes.io/part-of":    "packet-capture-operator",
				"app.kubernetes.io/managed-by": "kustomize"}},
		"spec": obj{"jobId": "qwer", "targetNamespace": c.Namespace, "targetDeployment": c.Target.Name, "duration": "30"},
	}
	return &fnv1.RunFunctionRequest{
		Meta:              &fnv1.RequestMeta{Tag: fmt.Sprintf("seed-%d", seed)},
		Observed:          &fnv1.State{Composite: &fnv1.Resource{Resource: mustStruct(t, xr)}},
		RequiredResources: required,
	}, c
}

// asFromAPIServer adds to a generated Pod what the API server returns
// besides: the controller's managedFields. Crossplane sends Pods
// whole, so they count towards the request's size (~2.7 KiB per Pod, as the
// issue measured on a real cluster).
func asFromAPIServer(pod obj) {
	meta := pod["metadata"].(obj)
	var uid any
	if refs, ok := meta["ownerReferences"].([]any); ok && len(refs) > 0 {
		uid = refs[0].(obj)["uid"]
	}
	meta["managedFields"] = []any{
		obj{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-01T10:00:00Z",
			"fieldsV1": obj{
				"f:metadata": obj{"f:annotations": obj{".": obj{}, "f:kubectl.kubernetes.io/restartedAt": obj{}}, "f:generateName": obj{},
					"f:labels":          obj{".": obj{}, "f:app": obj{}, "f:pod-template-hash": obj{}},
					"f:ownerReferences": obj{".": obj{}, fmt.Sprintf(`k:{"uid":"%v"}`, uid): obj{}}},
				"f:spec": obj{"f:containers": obj{`k:{"name":"server"}`: obj{".": obj{}, "f:image": obj{}, "f:imagePullPolicy": obj{}, "f:name": obj{},
					"f:ports":                  obj{".": obj{}, `k:{"containerPort":8080,"protocol":"TCP"}`: obj{".": obj{}, "f:containerPort": obj{}, "f:protocol": obj{}}},
					"f:resources":              obj{".": obj{}, "f:requests": obj{".": obj{}, "f:cpu": obj{}, "f:memory": obj{}}},
					"f:terminationMessagePath": obj{}, "f:terminationMessagePolicy": obj{}}},
					"f:dnsPolicy": obj{}, "f:enableServiceLinks": obj{}, "f:restartPolicy": obj{}, "f:schedulerName": obj{}, "f:securityContext": obj{}, "f:terminationGracePeriodSeconds": obj{}}}},
	}
}

// capturable is the number of distinct Pods a capture of c must cover. The
// generator's random 5-letter Pod suffixes repeat now and then in a big
// Deployment (two Pods of one name, which the planner reports and captures
// once).
func capturable(c *clustergen.Cluster) int {
	return len(slices.Compact(slices.Clone(c.Want)))
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddress is a loopback address no one listens on now.
func freeAddress(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is the built function binary, serving on a loopback address.
type server struct {
	addr string
	logs *syncBuffer
	cmd  *exec.Cmd
}

// startServer runs the built binary with args (and --address), as a
// Crossplane package runtime would, and waits until it accepts connections.
// The extra environment variables are added to the test's.
func startServer(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	s := &server{addr: freeAddress(t), logs: &syncBuffer{}}
	s.cmd = exec.Command(binary(t), append([]string{"--address=" + s.addr}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the function exited before serving (%v):\n%s", err, s.logs)
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function does not listen on %s after 30s:\n%s", s.addr, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends one RunFunction request to addr over a new connection.
func call(ctx context.Context, addr string, req *fnv1.RunFunctionRequest, opts ...grpc.DialOption) (*fnv1.RunFunctionResponse, error) {
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return fnv1.NewFunctionRunnerServiceClient(conn).RunFunction(ctx, req)
}

// fatalResults are the messages of a response's Fatal results.
func fatalResults(rsp *fnv1.RunFunctionResponse) []string {
	var out []string
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			out = append(out, r.GetMessage())
		}
	}
	return out
}

// jobsOf counts the desired capture Jobs of a response.
// targetsOf counts the target Pods of the desired Jobs: one per Job with
// jobPer Pod, every Pod of a node with jobPer Node.
func targetsOf(rsp *fnv1.RunFunctionResponse) int {
	n := 0
	for name, r := range rsp.GetDesired().GetResources() {
		if !strings.HasPrefix(name, "job-") {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(r.GetResource().AsMap(), "spec", "template", "spec", "containers")
		for _, c := range containers {
			args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
			n += len(args)
		}
	}
	return n
}

func jobsOf(rsp *fnv1.RunFunctionResponse) int {
	n := 0
	for name := range rsp.GetDesired().GetResources() {
		if strings.HasPrefix(name, "job-") {
			n++
		}
	}
	return n
}
