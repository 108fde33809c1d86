package krm

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/fn"
)

// TestSameAsCrossplane runs the Crossplane adapter (fn.RunFunction, with the
// Deployment, ReplicaSets and Pods already in the request as Crossplane
// sends them once asked, and the capture's Jobs as observed composed
// resources) and this KRM adapter on the same input, and requires the same
// ConfigMap and Jobs, the same status and the same messages. Only the KRM
// adapter's own annotations (file path and index, generated-by) may differ.
func TestSameAsCrossplane(t *testing.T) {
	for _, name := range []string{
		"example", "kpt-render", "no-functionconfig", "observed-jobs", "typed-lists",
		"missing-deployment", "no-pods", "legacy-claim", "job-per-node",
	} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", name, "input.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			rw := &kio.ByteReader{Reader: bytes.NewReader(in), OmitReaderAnnotations: true}
			items, err := rw.Read()
			if err != nil {
				t.Fatal(err)
			}
			objs := flatten(t, items)
			var pc map[string]any
			for _, o := range objs {
				if o["apiVersion"] == capture.APIVersion {
					pc = o
				}
			}
			if pc == nil {
				t.Fatal("no PacketCapture in the input")
			}
			var input map[string]any
			if rw.FunctionConfig != nil {
				if input, err = rw.FunctionConfig.Map(); err != nil {
					t.Fatal(err)
				}
			}

			wantObjects, wantStatus, wantMessages := crossplane(t, pc, input, objs)

			out, err := runFnOutput(t, in)
			if err != nil {
				t.Fatal(err)
			}
			gotObjects := map[string]any{}
			var gotStatus any
			for _, o := range flatten(t, out.items) {
				ann, _ := o["metadata"].(map[string]any)["annotations"].(map[string]any)
				uid, _ := o["metadata"].(map[string]any)["uid"].(string)
				if ann[AnnotationGeneratedBy] == GeneratedBy && (uid == "" || wantObjects[key(o)] != nil) {
					// An exported object (it has a uid) passes through KRM
					// as it is; Crossplane releases it once it has finished,
					// which a file-based pipeline cannot do to a cluster.
					stripAdapterAnnotations(o)
					gotObjects[key(o)] = normalize(t, o)
				}
				if o["apiVersion"] == capture.APIVersion {
					gotStatus = normalize(t, o["status"])
				}
			}
			if len(wantObjects) == 0 {
				t.Fatal("the Crossplane adapter composed nothing")
			}
			if diff := cmp.Diff(wantObjects, gotObjects); diff != "" {
				t.Errorf("ConfigMap and Jobs differ (-crossplane +krm):\n%s", diff)
			}
			if diff := cmp.Diff(wantStatus, gotStatus); diff != "" {
				t.Errorf("status differs (-crossplane +krm):\n%s", diff)
			}
			if diff := cmp.Diff(wantMessages, out.messages); diff != "" {
				t.Errorf("messages differ (-crossplane +krm):\n%s", diff)
			}
		})
	}
}

// crossplane runs the Crossplane adapter and returns its composed resources
// by kind/namespace/name, the PacketCapture's status and its results, as
// "severity: message".
func crossplane(t *testing.T, pc, input map[string]any, objs []map[string]any) (map[string]any, any, []string) {
	t.Helper()
	meta := pc["metadata"].(map[string]any)
	ns := meta["namespace"]
	if ns == nil {
		labels, _ := meta["labels"].(map[string]any)
		ns = labels["crossplane.io/claim-namespace"]
	}
	spec := pc["spec"].(map[string]any)
	required := map[string]*fnv1.Resources{
		fn.RequirementDeployment:  {},
		fn.RequirementReplicaSets: {},
		fn.RequirementPods:        {},
		fn.RequirementCapturePods: {},
	}
	observed := map[string]*fnv1.Resource{}
	for _, o := range objs {
		m, _ := o["metadata"].(map[string]any)
		switch o["apiVersion"].(string) + "/" + o["kind"].(string) {
		case "apps/v1/Deployment":
			if m["name"] == spec["targetDeployment"] {
				required[fn.RequirementDeployment].Items = append(required[fn.RequirementDeployment].Items, &fnv1.Resource{Resource: toStruct(t, o)})
			}
		case "apps/v1/ReplicaSet":
			required[fn.RequirementReplicaSets].Items = append(required[fn.RequirementReplicaSets].Items, &fnv1.Resource{Resource: toStruct(t, o)})
		case "v1/Pod":
			required[fn.RequirementPods].Items = append(required[fn.RequirementPods].Items, &fnv1.Resource{Resource: toStruct(t, o)})
			if labels, _ := m["labels"].(map[string]any); m["namespace"] == ns && labels[capture.LabelCapture] == capture.LabelValue(meta["name"].(string)) {
				required[fn.RequirementCapturePods].Items = append(required[fn.RequirementCapturePods].Items, &fnv1.Resource{Resource: toStruct(t, o)})
			}
		case "batch/v1/Job":
			labels, _ := m["labels"].(map[string]any)
			if m["uid"] != nil && m["namespace"] == ns && labels[capture.LabelCapture] == capture.LabelValue(meta["name"].(string)) {
				observed["job-"+m["name"].(string)] = &fnv1.Resource{Resource: toStruct(t, o)}
			}
		}
	}
	req := &fnv1.RunFunctionRequest{
		Meta: &fnv1.RequestMeta{Tag: "cross-check"},
		Observed: &fnv1.State{
			Composite: &fnv1.Resource{Resource: toStruct(t, pc)},
			Resources: observed,
		},
		Desired: &fnv1.State{Composite: &fnv1.Resource{Resource: toStruct(t, map[string]any{
			"apiVersion": pc["apiVersion"], "kind": pc["kind"], "metadata": map[string]any{"name": meta["name"]},
		})}},
		RequiredResources: required,
	}
	if input != nil {
		req.Input = toStruct(t, input)
	}
	rsp, err := fn.NewFunction(logging.NewNopLogger()).RunFunction(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var messages []string
	for _, r := range rsp.GetResults() {
		sev := map[fnv1.Severity]string{
			fnv1.Severity_SEVERITY_NORMAL: "info", fnv1.Severity_SEVERITY_WARNING: "warning", fnv1.Severity_SEVERITY_FATAL: "error",
		}[r.GetSeverity()]
		messages = append(messages, sev+": "+r.GetMessage())
	}
	objects := map[string]any{}
	for _, r := range rsp.GetDesired().GetResources() {
		o := r.GetResource().AsMap()
		// A Job kept as observed keeps its annotations, which may include
		// the KRM adapter's if the KRM mode generated it.
		stripAdapterAnnotations(o)
		objects[key(o)] = normalize(t, o)
	}
	status := rsp.GetDesired().GetComposite().GetResource().AsMap()["status"]
	if st, ok := status.(map[string]any); ok {
		// Conditions are Crossplane's; the KRM adapter has results instead.
		delete(st, "conditions")
	}
	return objects, normalize(t, status), messages
}

type fnOutput struct {
	items    []*yaml.RNode
	messages []string
}

// runFnOutput runs the KRM function and returns its items and its results
// as "severity: message", the message without the PacketCapture's name
// (the Crossplane adapter's results are about the XR already).
func runFnOutput(t *testing.T, in []byte) (fnOutput, error) {
	t.Helper()
	out, err := runFn(in)
	if err != nil {
		return fnOutput{}, err
	}
	rw := &kio.ByteReader{Reader: bytes.NewReader(out), OmitReaderAnnotations: true}
	items, err := rw.Read()
	if err != nil {
		return fnOutput{}, err
	}
	var results []struct {
		Message  string `json:"message"`
		Severity string `json:"severity"`
	}
	if rw.Results != nil {
		b, err := rw.Results.MarshalJSON()
		if err != nil {
			return fnOutput{}, err
		}
		if err := json.Unmarshal(b, &results); err != nil {
			return fnOutput{}, err
		}
	}
	var messages []string
	for _, r := range results {
		_, msg, _ := strings.Cut(r.Message, ": ")
		messages = append(messages, r.Severity+": "+msg)
	}
	return fnOutput{items: items, messages: messages}, nil
}

// flatten decodes the items, expanding Lists, independently of the adapter.
func flatten(t *testing.T, items []*yaml.RNode) []map[string]any {
	t.Helper()
	var out []map[string]any
	var add func(m map[string]any)
	add = func(m map[string]any) {
		if list, ok := m["items"].([]any); ok && strings.HasSuffix(m["kind"].(string), "List") {
			for _, it := range list {
				add(it.(map[string]any))
			}
			return
		}
		out = append(out, m)
	}
	for _, it := range items {
		m, err := it.Map()
		if err != nil {
			t.Fatal(err)
		}
		add(m)
	}
	return out
}

// stripAdapterAnnotations removes what only the KRM adapter writes: the
// file each object goes to and the generated-by mark.
func stripAdapterAnnotations(o map[string]any) {
	meta := o["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	maps.DeleteFunc(ann, func(k string, _ any) bool {
		return k == AnnotationGeneratedBy || strings.HasPrefix(k, "config.kubernetes.io/") || strings.HasPrefix(k, "internal.config.kubernetes.io/")
	})
	if len(ann) == 0 {
		delete(meta, "annotations")
	}
}

func key(o map[string]any) string {
	m := o["metadata"].(map[string]any)
	ns, _ := m["namespace"].(string)
	return o["kind"].(string) + "/" + ns + "/" + m["name"].(string)
}

// normalize makes YAML- and protobuf-decoded values comparable: JSON numbers
// are float64 either way.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func toStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(normalize(t, m).(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
