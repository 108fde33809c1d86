package capture

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// TestInputCRDDefaultsAreTheCodes: every default the Input's CRD states
// (package/input, generated from the kubebuilder markers) is what the
// planner does when the field is left out. Setting a field to its stated
// default must give the same plan as leaving it unset.
func TestInputCRDDefaultsAreTheCodes(t *testing.T) {
	b, err := os.ReadFile("../package/input/packetcapture.fn.crossplane.io_inputs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("the CRD has %d versions, want 1", len(crd.Spec.Versions))
	}
	// defaults are the stated defaults by field path, as one-field Inputs.
	defaults := map[string]map[string]any{}
	var walk func(schema map[string]any, path []string)
	walk = func(schema map[string]any, path []string) {
		if d, ok := schema["default"]; ok && len(path) > 0 {
			in := map[string]any{}
			m := in
			for _, p := range path[:len(path)-1] {
				m[p] = map[string]any{}
				m = m[p].(map[string]any)
			}
			m[path[len(path)-1]] = d
			defaults[strings.Join(path, ".")] = in
		}
		props, _ := schema["properties"].(map[string]any)
		for name, p := range props {
			if len(path) == 0 && (name == "apiVersion" || name == "kind" || name == "metadata") {
				continue
			}
			walk(p.(map[string]any), append(append([]string(nil), path...), name))
		}
	}
	walk(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, nil)
	if len(defaults) < 10 {
		t.Fatalf("found %d defaults in the CRD: the walk is wrong", len(defaults))
	}

	want, err := Plan(testRequest())
	if err != nil {
		t.Fatal(err)
	}
	for path, obj := range defaults {
		in, err := DecodeInput(obj, field.NewPath("input"))
		if err != nil {
			t.Errorf("input.%s: the CRD's default %v is refused: %v", path, obj, err)
			continue
		}
		req := testRequest()
		req.Input = in
		got, err := Plan(req)
		if err != nil {
			t.Errorf("input.%s: the CRD's default %v is refused: %v", path, obj, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("input.%s: the CRD's default %v is not what an unset field does: -unset, +default:\n%s", path, obj, diff)
		}
	}
}
