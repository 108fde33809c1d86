// Package render_test runs the real `crossplane render` (pinned in
// tools/crossplane) against this function served over gRPC on loopback,
// with the examples and with generated clusters the code was not tuned to.
package render_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/fn"
	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
	"github.com/function-packet-capture/function-packet-capture/internal/liststream"
)

// root is the repository root.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	crossplaneOnce sync.Once
	crossplanePath string
	crossplaneErr  error
)

// crossplane returns the pinned crossplane CLI, building it once (minutes
// cold, cached outside the repository).
func crossplane(t *testing.T) string {
	t.Helper()
	crossplaneOnce.Do(func() {
		out, err := exec.Command(filepath.Join(root(t), "hack", "crossplane.sh"), "--path").CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		crossplanePath, crossplaneErr = lines[len(lines)-1], err
		if err != nil {
			crossplaneErr = fmt.Errorf("%w: %s", err, out)
		}
	})
	if crossplaneErr != nil {
		t.Fatalf("cannot build the crossplane CLI: %v", crossplaneErr)
	}
	return crossplanePath
}

// serve runs the function on a loopback port, as `go run . --insecure` would.
func serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	fnv1.RegisterFunctionRunnerServiceServer(srv, fn.NewFunction(logging.NewNopLogger()))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// render runs crossplane render and returns the objects it prints.
func render(t *testing.T, addr, xr, composition, required string) []*unstructured.Unstructured {
	t.Helper()
	functions := filepath.Join(root(t), "example", "functions.yaml")
	cmd := exec.Command(crossplane(t), "render", xr, composition, functions,
		"--required-resources="+required, "--include-function-results",
		"-a", "render.crossplane.io/runtime=Development",
		"-a", "render.crossplane.io/runtime-development-target="+addr)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("crossplane render: %v\n%s", err, stderr.String())
	}
	return decodeStream(t, &stdout)
}

func decodeStream(t *testing.T, r io.Reader) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("cannot read render output: %v", err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// targetPods are the Pods a rendered capture Job captures, from its args
// (<pod>/<uid> each).
func targetPods(t *testing.T, job *unstructured.Unstructured) []string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	var pods []string
	for _, c := range containers {
		args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
		for _, a := range args {
			name, _, _ := strings.Cut(a, "/")
			pods = append(pods, name)
		}
	}
	if len(pods) == 0 {
		t.Fatalf("Job %s names no target Pod", job.GetName())
	}
	return pods
}

// targetPod is the one Pod a capture Job of jobPer Pod captures.
func targetPod(t *testing.T, job *unstructured.Unstructured) string {
	t.Helper()
	pods := targetPods(t, job)
	if len(pods) != 1 {
		t.Fatalf("Job %s captures %d Pods, want one", job.GetName(), len(pods))
	}
	return pods[0]
}

func TestRenderExample(t *testing.T) {
	addr := serve(t)
	ex := filepath.Join(root(t), "example")
	objs := render(t, addr, filepath.Join(ex, "xr.yaml"), filepath.Join(ex, "composition.yaml"), filepath.Join(ex, "required-resources.yaml"))

	var pods, nodes []string
	for _, j := range ofKind(objs, "Job") {
		pods = append(pods, targetPod(t, j))
		node, _, _ := unstructured.NestedString(j.Object, "spec", "template", "spec", "nodeName")
		nodes = append(nodes, node)
		if j.GetNamespace() != "packet-capture" {
			t.Errorf("Job %s in namespace %q, want packet-capture", j.GetName(), j.GetNamespace())
		}
		if want := targetPod(t, j) + "-qwer"; j.GetName() != want {
			t.Errorf("Job named %q, want {{podName}}-{{jobId}} = %q", j.GetName(), want)
		}
		for _, labels := range []map[string]string{j.GetLabels()} {
			if labels["app.kubernetes.io/instance"] != "packet-capture-openshift-gitops-openshift-gitops-server" {
				t.Errorf("Job %s: labels %v lack the XR's app.kubernetes.io/instance", j.GetName(), labels)
			}
		}
	}
	wantPods := []string{"openshift-gitops-server-6d8f9c7b5d-4xk2p", "openshift-gitops-server-6d8f9c7b5d-8bq7m", "openshift-gitops-server-6d8f9c7b5d-tz9wd"}
	if diff := cmp.Diff(wantPods, pods); diff != "" {
		t.Errorf("captured Pods (not the Pending, terminating or canary ones): -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff([]string{"worker-0.ocp.example.internal", "worker-1.ocp.example.internal", "worker-0.ocp.example.internal"}, nodes); diff != "" {
		t.Errorf("Jobs pinned to nodes: -want, +got:\n%s", diff)
	}

	cms := ofKind(objs, "ConfigMap")
	if len(cms) != 1 || cms[0].GetName() != "packet-capture-openshift-gitops-openshift-gitops-server-qwer" {
		t.Fatalf("want one ConfigMap packet-capture-openshift-gitops-openshift-gitops-server-qwer (the capture's name and jobId), got %v", cms)
	}
	if script, _, _ := unstructured.NestedString(cms[0].Object, "data", "capture.sh"); !strings.HasPrefix(script, "#!") {
		t.Errorf("ConfigMap lacks the capture script")
	}

	xr := ofKind(objs, "PacketCapture")[0]
	counts, _, _ := unstructured.NestedMap(xr.Object, "status", "counts")
	if diff := cmp.Diff(map[string]any{"targets": 3.0, "nodes": 2.0, "active": 3.0, "succeeded": 0.0, "failed": 0.0, "gone": 0.0, "skipped": 2.0, "notCaptured": 0.0,
		"partial": 0.0, "packets": 0.0, "bytes": 0.0, "dropped": 0.0, "files": 0.0}, counts); diff != "" {
		t.Errorf("XR status.counts: -want, +got:\n%s", diff)
	}
	var messages []string
	for _, r := range ofKind(objs, "Result") {
		messages = append(messages, fmt.Sprint(r.Object["message"]))
	}
	all := strings.Join(messages, "\n")
	for _, want := range []string{"capturing 3 Pods on 2 nodes for 30s", `"openshift-gitops-server-6d8f9c7b5d-n5vrc" (not scheduled to a node yet)`, `"openshift-gitops-server-7c9d8b6f4-hh2lx" (terminating)`} {
		if !strings.Contains(all, want) {
			t.Errorf("results %q do not say %q", all, want)
		}
	}
}

func TestRenderLegacyClaim(t *testing.T) {
	addr := serve(t)
	ex := filepath.Join(root(t), "example")
	// The claim is among the required resources, as Crossplane would fetch it.
	var required []byte
	for _, f := range []string{filepath.Join(ex, "required-resources.yaml"), filepath.Join(ex, "legacy", "claim.yaml")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		required = append(append(required, b...), "\n---\n"...)
	}
	requiredPath := filepath.Join(t.TempDir(), "required.yaml")
	writeFile(t, requiredPath, required)
	objs := render(t, addr, filepath.Join(ex, "legacy", "xr.yaml"), filepath.Join(ex, "legacy", "composition.yaml"), requiredPath)
	jobs := ofKind(objs, "Job")
	if len(jobs) != 3 {
		t.Fatalf("got %d Jobs, want 3", len(jobs))
	}
	for _, o := range append(jobs, ofKind(objs, "ConfigMap")...) {
		if o.GetNamespace() != "packet-capture" {
			t.Errorf("%s %s in namespace %q, want the claim's namespace packet-capture", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		// The XR lacks the claim's app.kubernetes.io labels; they come from the claim.
		if got := o.GetLabels()["app.kubernetes.io/instance"]; got != "packet-capture-openshift-gitops-openshift-gitops-server" {
			t.Errorf("%s %s: app.kubernetes.io/instance=%q, want the claim's", o.GetKind(), o.GetName(), got)
		}
	}
}

// TestRenderGeneratedClusters renders clusters the code was not tuned to:
// random names and lengths, three selector shapes, overlapping canaries,
// rollouts and Pods in every state, exported as kubectl prints them (a v1
// List), and checks the captured Pods against the generator's own record.
func TestRenderGeneratedClusters(t *testing.T) {
	addr := serve(t)
	dir := t.TempDir()
	composition := filepath.Join(root(t), "example", "composition.yaml")
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c := clustergen.Generate(seed, clustergen.Options{Pods: 1 + int(seed*7%40), Others: int(seed % 4)})
			list, err := c.List()
			if err != nil {
				t.Fatal(err)
			}
			export := mustYAML(t, list)
			var stream bytes.Buffer
			if err := liststream.Expand(bytes.NewReader(export), &stream); err != nil {
				t.Fatal(err)
			}
			required := filepath.Join(dir, fmt.Sprintf("required-%d.yaml", seed))
			xr := filepath.Join(dir, fmt.Sprintf("xr-%d.yaml", seed))
			writeFile(t, required, stream.Bytes())
			writeFile(t, xr, mustYAML(t, map[string]any{
				"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
				"metadata": map[string]any{"name": "capture", "namespace": "pcap", "labels": map[string]any{"app.kubernetes.io/instance": "capture-" + c.Namespace}},
				"spec":     map[string]any{"targetNamespace": c.Namespace, "targetDeployment": c.Target.Name, "duration": "2m"},
			}))
			objs := render(t, addr, xr, composition, required)

			seen := map[string]bool{}
			var got []string
			for _, j := range ofKind(objs, "Job") {
				got = append(got, targetPods(t, j)...)
				if msgs := validation.IsDNS1123Label(j.GetName()); len(msgs) > 0 && len(j.GetName()) > 63 {
					t.Errorf("Job name %q is invalid: %v", j.GetName(), msgs)
				}
				if seen[j.GetName()] {
					t.Errorf("two Jobs named %q", j.GetName())
				}
				seen[j.GetName()] = true
				for k, v := range j.GetLabels() {
					if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
						t.Errorf("Job %s label %s=%q invalid: %v", j.GetName(), k, v, msgs)
					}
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(c.Want, got); diff != "" {
				t.Errorf("captured Pods of %s/%s (selector %v): -want, +got:\n%s", c.Namespace, c.Target.Name, c.Target.Spec.Selector, diff)
			}
		})
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRender5000Pods renders a Deployment of 5,000 Pods through the real
// crossplane render, whose gRPC client accepts at most 4 MiB from the
// function. With the default input.jobPer (Auto) the capture runs one Job
// per node: every capturable Pod is in exactly one Job, on its own node, and
// no message is too large on the way.
func TestRender5000Pods(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 5,000 Pods")
	}
	addr := serve(t)
	dir := t.TempDir()
	c := clustergen.Generate(5000, clustergen.Options{Pods: 5000, Others: 3})
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	if err := liststream.Expand(bytes.NewReader(mustYAML(t, list)), &stream); err != nil {
		t.Fatal(err)
	}
	required := filepath.Join(dir, "required.yaml")
	xr := filepath.Join(dir, "xr.yaml")
	writeFile(t, required, stream.Bytes())
	writeFile(t, xr, mustYAML(t, map[string]any{
		"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture",
		"metadata": map[string]any{"name": "capture", "namespace": "pcap", "labels": map[string]any{"app.kubernetes.io/instance": "capture-" + c.Namespace}},
		"spec":     map[string]any{"jobId": "big1", "targetNamespace": c.Namespace, "targetDeployment": c.Target.Name, "duration": "30"},
	}))
	start := time.Now()
	objs := render(t, addr, xr, filepath.Join(root(t), "example", "composition.yaml"), required)
	t.Logf("rendered %d Pods (%.1f MB of required resources) in %v", len(c.Pods), float64(stream.Len())/1e6, time.Since(start).Round(time.Millisecond))

	jobOfPod := map[string]string{}
	nodeOfPod := map[string]string{}
	for _, p := range c.Pods {
		nodeOfPod[p.Name] = p.Spec.NodeName
	}
	jobs := ofKind(objs, "Job")
	for _, j := range jobs {
		node, _, _ := unstructured.NestedString(j.Object, "spec", "template", "spec", "nodeName")
		for _, pod := range targetPods(t, j) {
			if other, dup := jobOfPod[pod]; dup {
				t.Errorf("Pod %s is in Jobs %s and %s", pod, other, j.GetName())
			}
			jobOfPod[pod] = j.GetName()
			if nodeOfPod[pod] != node {
				t.Errorf("Job %s on node %s captures Pod %s of node %s", j.GetName(), node, pod, nodeOfPod[pod])
			}
		}
	}
	got := make([]string, 0, len(jobOfPod))
	for pod := range jobOfPod {
		got = append(got, pod)
	}
	sort.Strings(got)
	if diff := cmp.Diff(slices.Compact(slices.Clone(c.Want)), got); diff != "" {
		t.Errorf("captured Pods: -want, +got:\n%s", diff)
	}
	t.Logf("%d Pods captured by %d Jobs, one per node", len(got), len(jobs))
}
