package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// labelClaimNamespace is where Crossplane records, on a legacy
// cluster-scoped XR, its claim's namespace.
const labelClaimNamespace = "crossplane.io/claim-namespace"

// DecodePacketCapture reads a PacketCapture (XR, claim or KRM item) from its
// unstructured form, as both adapters receive it. Fields the planner does not
// know are ignored: a live XR also carries Crossplane's own spec fields. A
// field of the wrong type is an error naming the field. A PacketCapture
// without a namespace (a legacy cluster-scoped XR) is planned in its claim's
// namespace.
func DecodePacketCapture(obj map[string]any) (PacketCapture, error) {
	var pc PacketCapture
	meta, _ := obj["metadata"].(map[string]any)
	pc.Name, _ = meta["name"].(string)
	pc.Namespace, _ = meta["namespace"].(string)
	pc.UID, _ = meta["uid"].(string)
	if labels, ok := meta["labels"].(map[string]any); ok {
		pc.Labels = make(map[string]string, len(labels))
		for k, v := range labels {
			s, ok := v.(string)
			if !ok {
				return pc, newInvalidError(field.ErrorList{field.Invalid(field.NewPath("metadata", "labels").Key(k), v, "label values must be strings")})
			}
			pc.Labels[k] = s
		}
	}
	if pc.Namespace == "" {
		// A legacy cluster-scoped XR: its Jobs go to its claim's namespace.
		pc.Namespace = pc.Labels[labelClaimNamespace]
	}

	spec, ok := obj["spec"]
	if !ok || spec == nil {
		return pc, newInvalidError(field.ErrorList{field.Required(field.NewPath("spec"),
			"a PacketCapture needs spec.targetNamespace, spec.targetDeployment and spec.duration")})
	}
	if err := decodeField(spec, &pc.Spec, field.NewPath("spec")); err != nil {
		return pc, err
	}
	if st, ok := obj["status"].(map[string]any); ok {
		if err := decodeField(st["ledger"], &pc.Status.Ledger, field.NewPath("status", "ledger")); err != nil {
			return pc, err
		}
	}
	return pc, nil
}

// decodeField decodes one JSON-shaped value into a typed one, turning a type
// mismatch into a field error such as
// `spec.duration: Invalid value: "number": must be a string`.
func decodeField(v any, into any, p *field.Path) error {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return newInvalidError(field.ErrorList{field.Invalid(p, fmt.Sprintf("%T", v), "cannot be read as JSON")})
	}
	err = json.Unmarshal(b, into)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return newInvalidError(field.ErrorList{typeError(p, typeErr)})
	default:
		return newInvalidError(field.ErrorList{field.Invalid(p, string(b), err.Error())})
	}
}

// typeError turns encoding/json's type error for a field under p into a
// field error. A number that an integer field cannot hold (too large, or a
// fraction) is told the field's range, which is what is wrong with it.
func typeError(p *field.Path, typeErr *json.UnmarshalTypeError) *field.Error {
	if typeErr.Field != "" {
		p = p.Child(typeErr.Field)
	}
	if k := typeErr.Type.Kind(); k == reflect.Int32 && strings.HasPrefix(typeErr.Value, "number") {
		r, ok := intRanges[leafName(p)]
		if !ok {
			r = [2]int32{math.MinInt32, math.MaxInt32}
		}
		return field.Invalid(p, strings.TrimPrefix(typeErr.Value, "number "), fmt.Sprintf("must be an integer from %d to %d", r[0], r[1]))
	}
	return field.Invalid(p, typeErr.Value, "must be of type "+jsonType(typeErr.Type.Kind().String()))
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "string (quote it, e.g. \"30\")"
	case "int32", "int64", "int":
		return "integer"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	}
	return goKind
}

// DecodeInput reads the function's Input, found at p (input in a
// Composition's pipeline step, functionConfig in KRM mode). Unlike the
// PacketCapture, the Input is strict: an unknown field is a typo the platform
// team must hear of, not a setting to ignore. Every bad field is named, in an
// *InvalidError. A nil or empty object means all defaults.
func DecodeInput(obj map[string]any, p *field.Path) (*v1beta1.Input, error) {
	in := &v1beta1.Input{}
	if len(obj) == 0 {
		return in, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, newInputError(field.ErrorList{field.Invalid(p, "", err.Error())})
	}
	// encoding/json names the field of a type error; sigs.k8s.io/json the
	// unknown fields, all of them.
	if err := json.Unmarshal(b, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, newInputError(field.ErrorList{typeError(p, typeErr)})
		}
		return nil, newInputError(field.ErrorList{field.Invalid(p, "", err.Error())})
	}
	in = &v1beta1.Input{}
	strict, err := sigsjson.UnmarshalStrict(b, in, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, newInputError(field.ErrorList{field.Invalid(p, "", err.Error())})
	}
	var errs field.ErrorList
	for _, e := range strict {
		var fe sigsjson.FieldError
		if !errors.As(e, &fe) {
			errs = append(errs, field.Invalid(p, "", e.Error()))
			continue
		}
		fp := p
		for _, s := range strings.Split(fe.FieldPath(), ".") {
			fp = fp.Child(s)
		}
		msg := "unknown field: " + v1beta1.Group + "/" + v1beta1.Version + " Input has no such field"
		if !strings.Contains(fe.FieldPath(), ".") {
			msg += " (its fields: " + strings.Join(inputFieldNames(), ", ") + ")"
		}
		errs = append(errs, field.Forbidden(fp, msg))
	}
	if len(errs) > 0 {
		return nil, newInputError(errs)
	}
	return in, nil
}

// inputFieldNames are the Input's own fields by JSON name, in their order,
// without the inlined apiVersion and kind and without metadata.
func inputFieldNames() []string {
	t := reflect.TypeFor[v1beta1.Input]()
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || !f.IsExported() || name == "" || name == "-" || name == "metadata" {
			continue
		}
		names = append(names, name)
	}
	return names
}

// DecodeObject converts an unstructured Kubernetes object into its typed
// form (a Deployment, ReplicaSet, Pod or Job).
func DecodeObject[T any](obj map[string]any) (*T, error) {
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, out); err != nil {
		return nil, nameBadField[T](obj, err)
	}
	return out, nil
}

// nameBadField turns the converter's error ("unrecognized type: int32",
// "cannot restore slice from string"), which names no field, into one that
// does: spec.replicas: Invalid value: "string": must be of type integer.
// encoding/json finds the field; the converter's error stays when it cannot.
func nameBadField[T any](obj map[string]any, err error) error {
	b, jerr := json.Marshal(obj)
	if jerr != nil {
		return err
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(json.Unmarshal(b, new(T)), &typeErr) && typeErr.Field != "" {
		return field.Invalid(field.NewPath(typeErr.Field), typeErr.Value, "must be of type "+jsonType(typeErr.Type.Kind().String()))
	}
	return err
}

// EncodeObject is the unstructured form of a planned object (the ConfigMap
// or a Job) as both adapters write it: without the empty
// metadata.creationTimestamp Go's encoding adds, and without status, which
// the API server sets and a desired object does not.
func EncodeObject(o runtime.Object) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
	return m, nil
}
