package hardening_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/fn"
	"github.com/function-packet-capture/function-packet-capture/krm"
)

// obj is a Kubernetes object as both adapters receive it.
type obj = map[string]any

// scenario is one situation, fed to either adapter: the PacketCapture, the
// function's Input, and the objects of the target namespace.
type scenario struct {
	xr    obj
	input obj // nil: no Input / functionConfig
	// deployment is the target Deployment; nil when it does not exist.
	deployment  obj
	replicaSets []obj
	pods        []obj
	// jobs are capture Jobs that exist (observed; exported in KRM mode).
	jobs []obj
}

// baseScenario is a valid capture of Deployment shop/web: one ReplicaSet,
// three running Pods on two nodes. Cases change one thing each.
func baseScenario() scenario {
	return scenario{
		xr: obj{
			"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
			"metadata": obj{"name": "capture-web", "namespace": "captures", "uid": "0b9f3c1e-0000-4000-8000-000000000001",
				"labels": obj{"app.kubernetes.io/instance": "capture-web"}},
			"spec": obj{"jobId": "qwer", "targetNamespace": "shop", "targetDeployment": "web", "duration": "30"},
		},
		deployment: obj{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": obj{"name": "web", "namespace": "shop", "uid": "uid-web"},
			"spec": obj{"replicas": 3, "selector": obj{"matchLabels": obj{"app": "web"}},
				"template": obj{"metadata": obj{"labels": obj{"app": "web"}}, "spec": obj{"containers": []any{obj{"name": "web", "image": "nginx"}}}}}},
		replicaSets: []obj{replicaSet("web-5d4f8", "web", "uid-web")},
		pods: []obj{
			pod("web-5d4f8-aaaaa", "node-a", "web-5d4f8"),
			pod("web-5d4f8-bbbbb", "node-b", "web-5d4f8"),
			pod("web-5d4f8-ccccc", "node-a", "web-5d4f8"),
		},
	}
}

func replicaSet(name, deployment, deploymentUID string) obj {
	return obj{"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": obj{"name": name, "namespace": "shop", "uid": "uid-" + name,
			"labels":          obj{"app": "web", "pod-template-hash": "5d4f8"},
			"ownerReferences": []any{obj{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment, "uid": deploymentUID, "controller": true}}}}
}

func pod(name, node, rs string) obj {
	return obj{"apiVersion": "v1", "kind": "Pod",
		"metadata": obj{"name": name, "namespace": "shop", "uid": "uid-" + name,
			"labels":          obj{"app": "web", "pod-template-hash": "5d4f8"},
			"ownerReferences": []any{obj{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "uid-" + rs, "controller": true}}},
		"spec":   obj{"nodeName": node, "containers": []any{obj{"name": "web", "image": "nginx"}}},
		"status": obj{"phase": "Running", "podIP": "10.1.2.3"}}
}

func deepCopy(o obj) obj {
	if o == nil {
		return nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	var out obj
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// at returns the map at a path of keys in o, creating it when missing.
func at(o obj, path ...string) obj {
	for _, k := range path {
		next, ok := o[k].(obj)
		if !ok {
			next = obj{}
			o[k] = next
		}
		o = next
	}
	return o
}

// outcome is what either adapter answered, in common terms.
type outcome struct {
	// errors are Fatal results (Crossplane) or error results (KRM).
	errors, warnings, infos []string
	// composed names what was composed or generated.
	composed []string
	jobs     int
	// size of the response (Crossplane) or the output (KRM), in bytes.
	size int
}

func (o outcome) String() string {
	return fmt.Sprintf("errors %q\nwarnings %q\ninfos %q\ncomposed %d objects (%d Jobs), %d bytes", o.errors, o.warnings, o.infos, len(o.composed), o.jobs, o.size)
}

// crossplaneRequest is the last request of a reconcile: Crossplane has sent
// everything the function asked for.
func crossplaneRequest(t testing.TB, s scenario) *fnv1.RunFunctionRequest {
	t.Helper()
	req := &fnv1.RunFunctionRequest{
		Meta:     &fnv1.RequestMeta{Tag: "hardening"},
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: mustStruct(t, s.xr)}},
		RequiredResources: map[string]*fnv1.Resources{
			fn.RequirementDeployment:  {},
			fn.RequirementReplicaSets: {},
			fn.RequirementPods:        {},
			fn.RequirementCapturePods: {},
		},
	}
	if s.input != nil {
		req.Input = mustStruct(t, s.input)
	}
	for i, j := range s.jobs {
		if req.Observed.Resources == nil {
			req.Observed.Resources = map[string]*fnv1.Resource{}
		}
		req.Observed.Resources[fmt.Sprintf("job-%d", i)] = &fnv1.Resource{Resource: mustStruct(t, j)}
	}
	if s.deployment != nil {
		req.RequiredResources[fn.RequirementDeployment].Items = []*fnv1.Resource{{Resource: mustStruct(t, s.deployment)}}
	}
	for _, o := range s.replicaSets {
		req.RequiredResources[fn.RequirementReplicaSets].Items = append(req.RequiredResources[fn.RequirementReplicaSets].Items, &fnv1.Resource{Resource: mustStruct(t, o)})
	}
	for _, o := range s.pods {
		req.RequiredResources[fn.RequirementPods].Items = append(req.RequiredResources[fn.RequirementPods].Items, &fnv1.Resource{Resource: mustStruct(t, o)})
	}
	return req
}

// runCrossplane calls RunFunction as Crossplane's gRPC server would, turning
// a panic into a test failure that names it.
func runCrossplane(t testing.TB, f *fn.Function, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, outcome) {
	t.Helper()
	before := proto.Clone(req).(*fnv1.RunFunctionRequest)
	var rsp *fnv1.RunFunctionResponse
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("RunFunction panicked: %v\n%s", r, debug.Stack())
			}
		}()
		rsp, err = f.RunFunction(context.Background(), req)
	}()
	if err != nil {
		t.Fatalf("RunFunction() error = %v; bad input must be a result, not a failed call", err)
	}
	var o outcome
	for _, r := range rsp.GetResults() {
		switch r.GetSeverity() {
		case fnv1.Severity_SEVERITY_FATAL:
			o.errors = append(o.errors, r.GetMessage())
		case fnv1.Severity_SEVERITY_WARNING:
			o.warnings = append(o.warnings, r.GetMessage())
		default:
			o.infos = append(o.infos, r.GetMessage())
		}
	}
	for name := range rsp.GetDesired().GetResources() {
		if _, ok := before.GetDesired().GetResources()[name]; ok {
			continue
		}
		o.composed = append(o.composed, name)
		if strings.HasPrefix(name, "job-") {
			o.jobs++
		}
	}
	slices.Sort(o.composed)
	o.size = proto.Size(rsp)
	return rsp, o
}

// krmInput is the ResourceList kpt would pipe in: the PacketCapture, the
// target namespace's objects as a kubectl export (a List), and the Input as
// functionConfig.
func krmInput(t testing.TB, s scenario) []byte {
	t.Helper()
	var listed []any
	if s.deployment != nil {
		listed = append(listed, s.deployment)
	}
	for _, o := range s.replicaSets {
		listed = append(listed, o)
	}
	for _, o := range s.pods {
		listed = append(listed, o)
	}
	for _, o := range s.jobs {
		listed = append(listed, o)
	}
	rl := obj{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
		"items": []any{s.xr, obj{"apiVersion": "v1", "kind": "List", "metadata": obj{"resourceVersion": ""}, "items": listed}}}
	if s.input != nil {
		rl["functionConfig"] = s.input
	}
	b, err := json.Marshal(rl) // JSON is YAML.
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runKRM runs the KRM function on in, as kpt would, turning a panic into a
// test failure that names it.
func runKRM(t testing.TB, in []byte) outcome {
	t.Helper()
	var out bytes.Buffer
	var runErr error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("krm.Run panicked: %v\n%s", r, debug.Stack())
			}
		}()
		runErr = krm.Run(bytes.NewReader(in), &out)
	}()
	o := outcome{size: out.Len()}
	if out.Len() == 0 {
		if runErr == nil {
			t.Fatal("krm.Run wrote nothing and reported no error")
		}
		o.errors = []string{runErr.Error()}
		return o
	}
	var rl struct {
		Items   []obj `json:"items"`
		Results []struct {
			Message  string `json:"message"`
			Severity string `json:"severity"`
		} `json:"results"`
	}
	if err := yaml.Unmarshal(out.Bytes(), &rl); err != nil {
		// The input items are written back as they came, aliases and all
		// (an alias bomb stays a bomb for whoever expands it). Read the
		// results without expanding the items.
		doc, perr := kyaml.Parse(out.String())
		if perr != nil {
			t.Fatalf("the KRM output is not a ResourceList: %v (%v)", err, perr)
		}
		results, ferr := doc.Pipe(kyaml.Lookup("results"))
		if ferr != nil || results == nil {
			t.Fatalf("the KRM output is not a ResourceList with results: %v", err)
		}
		s, serr := results.String()
		if serr != nil || yaml.Unmarshal([]byte("results:\n"+indent(s)), &rl) != nil {
			t.Fatalf("cannot read the KRM results: %v", serr)
		}
		rl.Items = nil
	}
	for _, r := range rl.Results {
		switch r.Severity {
		case "error":
			o.errors = append(o.errors, r.Message)
		case "warning":
			o.warnings = append(o.warnings, r.Message)
		default:
			o.infos = append(o.infos, r.Message)
		}
	}
	if (runErr != nil) != (len(o.errors) > 0) {
		t.Errorf("krm.Run error = %v, but error results: %q", runErr, o.errors)
	}
	for _, it := range rl.Items {
		meta, _ := it["metadata"].(obj)
		annotations, _ := meta["annotations"].(obj)
		if annotations[krm.AnnotationGeneratedBy] != krm.GeneratedBy {
			continue
		}
		o.composed = append(o.composed, fmt.Sprintf("%s/%s/%s", it["kind"], meta["namespace"], meta["name"]))
		if it["kind"] == "Job" {
			o.jobs++
		}
	}
	slices.Sort(o.composed)
	return o
}

func mustStruct(t testing.TB, o obj) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func nopFunction() *fn.Function { return fn.NewFunction(logging.NewNopLogger()) }

// root is the repository root.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// binary builds the function server, as `go build .` does, once per run.
func binary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fpc-hardening-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "function-packet-capture")
		cmd := exec.Command("go", "build", "-o", binaryPath, ".")
		cmd.Dir = root()
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryPath != "" {
		_ = os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}

// long tells whether the long variants run (FPC_HARDENING_LONG=1).
func long() bool { return os.Getenv("FPC_HARDENING_LONG") == "1" }

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
