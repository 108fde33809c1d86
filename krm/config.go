package krm

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// The functionConfig kinds this function takes.
const (
	inputAPIVersion = "packetcapture.fn.crossplane.io/v1beta1"
	inputKind       = "Input"
)

var configPath = field.NewPath("functionConfig")

// readFunctionConfig reads the optional functionConfig: the Input the
// Crossplane mode takes from its Composition, or the ConfigMap kpt makes of
// `kpt fn eval ... -- key=value` arguments, each key an Input field
// (`output.type=HostPath`). No functionConfig means all defaults (nil).
// Unknown fields are errors, each named.
func readFunctionConfig(fc *yaml.RNode) (*v1beta1.Input, field.ErrorList) {
	if fc == nil || yaml.IsMissingOrNull(fc) || (fc.YNode().Kind == yaml.MappingNode && len(fc.YNode().Content) == 0) {
		return nil, nil
	}
	n := fc.YNode()
	if n.Kind != yaml.MappingNode {
		return nil, field.ErrorList{field.Invalid(configPath, str(n), "must be an object")}
	}
	apiVersion, kind := str(n, "apiVersion"), str(n, "kind")
	switch {
	case apiVersion == inputAPIVersion && kind == inputKind:
		v, err := objectMap(n)
		if err != nil {
			return nil, field.ErrorList{field.Invalid(configPath, "", err.Error())}
		}
		return decodeInput(v, configPath)
	case apiVersion == "v1" && kind == "ConfigMap":
		m, errs := configMapInput(stringMap(n, "data"))
		if len(errs) > 0 {
			return nil, errs
		}
		return decodeInput(m, configPath.Child("data"))
	}
	return nil, field.ErrorList{field.NotSupported(configPath, apiVersion+" "+kind, []string{
		inputAPIVersion + " " + inputKind,
		"v1 ConfigMap (from kpt fn eval ... -- key=value)",
	})}
}

// decodeInput is capture.DecodeInput, its errors as a list for results.
func decodeInput(v map[string]any, p *field.Path) (*v1beta1.Input, field.ErrorList) {
	in, err := capture.DecodeInput(v, p)
	var invalid *capture.InvalidError
	switch {
	case errors.As(err, &invalid):
		return nil, invalid.Errors
	case err != nil:
		return nil, field.ErrorList{field.Invalid(p, "", err.Error())}
	}
	return in, nil
}

// configMapInput turns kpt's key=value arguments into the Input's shape,
// reading each value as the type of the field its key names: a string stays a
// string ("30" for an interface name), a number must be a number, and an
// object (resources) is written as YAML or JSON.
func configMapInput(data map[string]string) (map[string]any, field.ErrorList) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]any)
	var errs field.ErrorList
	for _, key := range keys {
		p := configPath.Child("data").Key(key)
		m, t := out, reflect.TypeFor[v1beta1.Input]()
		segments := strings.Split(key, ".")
		for i, seg := range segments {
			f, ok := structField(t, seg)
			if !ok {
				errs = append(errs, field.NotSupported(p, seg, fieldNames(t)))
				break
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if i < len(segments)-1 {
				if ft.Kind() != reflect.Struct {
					errs = append(errs, field.Invalid(p, data[key], fmt.Sprintf("%s is not an object", strings.Join(segments[:i+1], "."))))
					break
				}
				sub, ok := m[seg].(map[string]any)
				if !ok {
					sub = make(map[string]any)
					m[seg] = sub
				}
				m, t = sub, ft
				continue
			}
			v, err := parseAs(ft, data[key])
			if err != nil {
				errs = append(errs, field.Invalid(p, data[key], err.Error()))
				break
			}
			m[seg] = v
		}
	}
	return out, errs
}

// parseAs reads a kpt argument as a value of type t.
func parseAs(t reflect.Type, s string) (any, error) {
	switch t.Kind() {
	case reflect.String:
		return s, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			// Whole, but too large for any integer: the Input's decoding
			// names the field's range.
			return strconv.ParseFloat(s, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		return i, nil
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	}
	n, err := yaml.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("must be YAML or JSON: %v", err)
	}
	var v any
	if err := n.YNode().Decode(&v); err != nil {
		return nil, fmt.Errorf("must be YAML or JSON: %v", err)
	}
	return v, nil
}

// structField finds the field of a struct by its JSON name, leaving out the
// inlined apiVersion, kind and metadata.
func structField(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if n, ok := jsonName(f); ok && n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n, ok := jsonName(t.Field(i)); ok {
			names = append(names, n)
		}
	}
	return names
}

// jsonName is a field's JSON name; inlined and metadata fields have none.
func jsonName(f reflect.StructField) (string, bool) {
	if f.Anonymous || !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" || name == "metadata" {
		return "", false
	}
	return name, true
}
