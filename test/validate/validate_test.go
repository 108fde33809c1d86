package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fieldpath "k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// The extensions each kind of resource is validated against.
const (
	v2     = "example/xrd.yaml,package/input"
	legacy = "example/legacy/xrd.yaml,package/input"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// validate runs hack/validate.sh with args from the repository root and
// returns its combined output and whether it succeeded.
func validate(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(t), "hack", "validate.sh"), args...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("hack/validate.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), err == nil
}

var totals = regexp.MustCompile(`Total (\d+) resources: (\d+) missing schemas, (\d+) success cases, (\d+) failure cases`)

// TestExamples validates every example: each XR, claim, XRD, Composition (and
// its function Input), Function and the kpt package's PacketCapture and
// Input has a schema and passes.
func TestExamples(t *testing.T) {
	out, ok := validate(t)
	if !ok {
		t.Fatalf("hack/validate.sh failed:\n%s", out)
	}
	runs := totals.FindAllStringSubmatch(out, -1)
	if len(runs) != 3 {
		t.Fatalf("want 3 validate runs (v2, legacy, kpt), got %d:\n%s", len(runs), out)
	}
	for _, r := range runs {
		if r[2] != "0" || r[4] != "0" || r[1] != r[3] {
			t.Errorf("%s: want every resource validated", r[0])
		}
	}
	// Every example resource is named in a success line.
	for _, want := range []string{
		"Kind=CompositeResourceDefinition, packetcaptures.monitoring.openshift.tpg validated",
		"Kind=CompositeResourceDefinition, xpacketcaptures.monitoring.openshift.tpg validated",
		"Kind=PacketCapture, packet-capture-openshift-gitops-openshift-gitops-server validated",
		"Kind=XPacketCapture, packet-capture-openshift-gitops-openshift-gitops-server-x7k2p validated",
		"Kind=Composition, packetcaptures.monitoring.openshift.tpg validated",
		"Kind=Composition, xpacketcaptures.monitoring.openshift.tpg validated",
		"packetcapture.fn.crossplane.io/v1beta1, Kind=Input,",
		"Kind=Function, function-packet-capture validated",
		"Kind=Input, packet-capture-settings validated", // example/kpt/fn-config.yaml
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output:\n%s", want, out)
		}
	}
}

// A rejected resource: the extensions it is checked against, what validate
// must say, and whether the function's own validation rejects it too.
type rejected struct {
	extensions string
	want       []string
	// function: the planner rejects it too (capture.Validate). It does not
	// for what only a schema can see: unknown fields, another apiVersion.
	function bool
}

func TestRejects(t *testing.T) {
	cases := map[string]rejected{
		"xr-jobid-pattern.yaml":          {v2, []string{`spec.jobId: Invalid value: "QWER!": spec.jobId in body should match '^[a-z0-9]{4}$'`}, true},
		"xr-missing-duration.yaml":       {v2, []string{"spec.duration: Required value"}, true},
		"xr-duration-words.yaml":         {v2, []string{`spec.duration: Invalid value: "30 seconds"`}, true},
		"xr-unknown-field.yaml":          {v2, []string{`unknown field: "jobID"`}, false},
		"xr-filter-option.yaml":          {v2, []string{`spec.filter: Invalid value: "-w /host/etc/shadow"`}, true},
		"xr-duration-repeated-unit.yaml": {v2, []string{`spec.duration: Invalid value: "30s30s"`}, true},
		"xr-filter-nbsp.yaml":            {v2, []string{`spec.filter: Invalid value: "tcp\u00a0port 80"`}, true},
		"xr-hostpath-output.yaml":        {v2, []string{`spec.output.type: Unsupported value: "HostPath"`}, true},
		"xr-wrong-version.yaml":          {v2, []string{"could not find CRD/XRD for: monitoring.openshift.tpg/v1beta1, Kind=PacketCapture", "schema(s) missing"}, false},
		"claim-missing-target.yaml":      {legacy, []string{"spec.targetDeployment: Required value"}, true},
		"composition-bad-input.yaml": {v2, []string{
			`securityMode: Unsupported value: "Root"`,
			"graceSeconds: Invalid value: 1: graceSeconds in body should be greater than or equal to 5",
		}, true},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "reject", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Errorf("testdata/reject has %d files, the table %d cases", len(files), len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("test", "validate", "testdata", "reject", name)
			out, ok := validate(t, tc.extensions, path)
			if ok {
				t.Fatalf("validate accepted %s:\n%s", name, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("validate did not say %q:\n%s", w, out)
				}
			}
			err := functionValidate(t, filepath.Join("testdata", "reject", name))
			if tc.function && err == nil {
				t.Errorf("the function accepts %s, which the schema rejects", name)
			}
			if !tc.function && err != nil {
				t.Errorf("the function rejects %s: %v (update the table)", name, err)
			}
		})
	}
}

// TestAccepts validates resources that set every field a user may set:
// the schema must accept them, and so must the function.
func TestAccepts(t *testing.T) {
	cases := map[string]string{
		"xr-every-field.yaml":                v2,
		"claim-every-field.yaml":             legacy,
		"composition-every-input-field.yaml": v2,
	}
	for name, ext := range cases {
		t.Run(name, func(t *testing.T) {
			out, ok := validate(t, ext, filepath.Join("test", "validate", "testdata", "accept", name))
			if !ok || !totals.MatchString(out) || strings.Contains(out, "[x]") {
				t.Errorf("validate rejected %s:\n%s", name, out)
			}
			if err := functionValidate(t, filepath.Join("testdata", "accept", name)); err != nil {
				t.Errorf("the function rejects %s, which the schema accepts: %v", name, err)
			}
		})
	}
}

// functionValidate runs the planner's validation on every object of a file:
// PacketCaptures with the default Input, and each Composition's Input with a
// valid PacketCapture. It returns the first error.
func functionValidate(t *testing.T, path string) error {
	t.Helper()
	valid := map[string]any{
		"metadata": map[string]any{"name": "valid", "namespace": "packet-capture"},
		"spec":     map[string]any{"targetNamespace": "shop", "targetDeployment": "web", "duration": "30"},
	}
	for _, obj := range readYAML(t, path) {
		var err error
		switch obj["kind"] {
		case "PacketCapture", "XPacketCapture":
			err = validateCapture(obj, nil)
		case "Composition":
			steps, _ := field(obj, "spec", "pipeline").([]any)
			for _, s := range steps {
				in, _ := field(s, "input").(map[string]any)
				input, derr := capture.DecodeInput(in, fieldpath.NewPath("input"))
				if derr != nil {
					return derr
				}
				if err = validateCapture(valid, input); err != nil {
					break
				}
			}
		default:
			t.Fatalf("%s: no function validation for kind %v", path, obj["kind"])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func validateCapture(obj map[string]any, in *v1beta1.Input) error {
	pc, err := capture.DecodePacketCapture(obj)
	if err != nil {
		return err
	}
	return capture.Validate(pc, in)
}

// rendered holds the output of hack/render.sh for each example, rendered once.
var rendered = map[string]*renderOnce{
	"v2":     {xr: "example/xr.yaml", composition: "example/composition.yaml", xrd: "example/xrd.yaml"},
	"legacy": {xr: "example/legacy/xr.yaml", composition: "example/legacy/composition.yaml", xrd: "example/legacy/xrd.yaml"},
}

type renderOnce struct {
	xr, composition, xrd string

	once sync.Once
	docs []map[string]any
	err  error
}

// render returns the objects `crossplane render --include-full-xr` gives for
// an example: the XR first, then the composed resources.
func render(t *testing.T, name string) (*renderOnce, []map[string]any) {
	t.Helper()
	if testing.Short() {
		t.Skip("renders the examples with the crossplane CLI; skipped with -short")
	}
	r := rendered[name]
	r.once.Do(func() {
		root := repoRoot(t)
		cmd := exec.Command(filepath.Join(root, "hack", "render.sh"), r.xr, r.composition,
			"example/functions.yaml", "example/required-resources.yaml", "--include-full-xr")
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			r.err = fmt.Errorf("hack/render.sh %s: %w\n%s", r.xr, err, stderr.String())
			return
		}
		r.docs, r.err = splitYAMLErr(out)
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.docs) == 0 || r.docs[0]["status"] == nil {
		t.Fatalf("rendering %s returned no XR with a status", r.xr)
	}
	return r, r.docs
}

// TestRenderedStatus renders the examples with the function and validates
// the XR it returns against the XRD: the status the function writes must fit
// the schema (or the API server would prune what does not).
func TestRenderedStatus(t *testing.T) {
	for name := range rendered {
		t.Run(name, func(t *testing.T) {
			r, docs := render(t, name)
			b, err := yaml.Marshal(docs[0])
			if err != nil {
				t.Fatal(err)
			}
			xr := filepath.Join(t.TempDir(), "xr.yaml")
			if err := os.WriteFile(xr, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, ok := validate(t, r.xrd, xr); !ok {
				t.Errorf("the rendered XR does not fit %s:\n%s\n%s", r.xrd, out, b)
			}
		})
	}
}

// TestRBAC checks example/rbac.yaml: a ClusterRole that Crossplane's role
// aggregates, granting Crossplane what it needs to apply, watch and delete
// every kind the function composes (as rendered) and to read every kind it
// requires (those of example/required-resources.yaml).
func TestRBAC(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "example", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("example/rbac.yaml is not one ClusterRole: %v", err)
	}
	if role.APIVersion != "rbac.authorization.k8s.io/v1" || role.Kind != "ClusterRole" {
		t.Errorf("example/rbac.yaml: got %s %s, want a rbac.authorization.k8s.io/v1 ClusterRole", role.APIVersion, role.Kind)
	}
	if role.Labels["rbac.crossplane.io/aggregate-to-crossplane"] != "true" {
		t.Errorf("example/rbac.yaml: no label rbac.crossplane.io/aggregate-to-crossplane: \"true\", so Crossplane's role does not aggregate it")
	}

	need := map[schema.GroupResource][]string{}
	read := []string{"get", "list", "watch"}
	manage := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	for _, obj := range readYAML(t, filepath.Join(root, "example", "required-resources.yaml")) {
		need[groupResource(t, obj)] = read
	}
	for name := range rendered {
		_, docs := render(t, name)
		for _, obj := range docs[1:] {
			need[groupResource(t, obj)] = manage
		}
	}
	for gr, verbs := range need {
		for _, v := range verbs {
			if !allows(role.Rules, gr, v) {
				t.Errorf("example/rbac.yaml does not allow %s on %s", v, gr)
			}
		}
	}
}

// groupResource is the group and resource of an object of a built-in kind.
func groupResource(t *testing.T, obj map[string]any) schema.GroupResource {
	t.Helper()
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" {
		t.Fatalf("object without apiVersion and kind: %v", obj)
	}
	return schema.GroupResource{Group: gv.Group, Resource: strings.ToLower(kind) + "s"}
}

func allows(rules []rbacv1.PolicyRule, gr schema.GroupResource, verb string) bool {
	for _, r := range rules {
		if (slices.Contains(r.APIGroups, gr.Group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, gr.Resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
			return true
		}
	}
	return false
}

// TestXRDSchemasEqual keeps the v2 and legacy XRDs' versions (schema,
// printer columns) identical: the claim is the same API.
func TestXRDSchemasEqual(t *testing.T) {
	root := repoRoot(t)
	a := readYAML(t, filepath.Join(root, "example", "xrd.yaml"))
	b := readYAML(t, filepath.Join(root, "example", "legacy", "xrd.yaml"))
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("want one XRD per file, got %d and %d", len(a), len(b))
	}
	if diff := cmp.Diff(field(a[0], "spec", "versions"), field(b[0], "spec", "versions")); diff != "" {
		t.Errorf("spec.versions of example/xrd.yaml (-) and example/legacy/xrd.yaml (+) differ:\n%s", diff)
	}
	if field(a[0], "spec", "versions") == nil {
		t.Error("example/xrd.yaml has no spec.versions")
	}
}

func readYAML(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return splitYAML(t, b)
}

func splitYAML(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	docs, err := splitYAMLErr(stream)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func splitYAMLErr(stream []byte) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var docs []map[string]any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// TestDocs validates the YAML that docs/package.md tells users to apply: each
// Crossplane object and PacketCapture in its yaml blocks must pass validate.
func TestDocs(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docs", "package.md"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	for _, block := range yamlBlocks.FindAllSubmatch(b, -1) {
		for _, obj := range splitYAML(t, block[1]) {
			apiVersion, _ := obj["apiVersion"].(string)
			if strings.Contains(apiVersion, "crossplane.io/") || strings.HasPrefix(apiVersion, "monitoring.openshift.tpg/") {
				objs = append(objs, obj)
			}
		}
	}
	if len(objs) < 4 {
		t.Fatalf("docs/package.md: found %d Crossplane objects in yaml blocks, want the Functions, the DeploymentRuntimeConfig and a PacketCapture", len(objs))
	}
	var stream bytes.Buffer
	for _, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		stream.WriteString("---\n")
		stream.Write(y)
	}
	path := filepath.Join(t.TempDir(), "docs.yaml")
	if err := os.WriteFile(path, stream.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, ok := validate(t, v2, path); !ok {
		t.Errorf("the YAML of docs/package.md does not validate:\n%s", out)
	}
}

var yamlBlocks = regexp.MustCompile("(?s)```yaml\n(.*?)```")
