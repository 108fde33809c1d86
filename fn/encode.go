package fn

import (
	"maps"
	"reflect"

	"google.golang.org/protobuf/types/known/structpb"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// toStruct encodes a typed object as the protobuf Struct Crossplane expects,
// without the empty metadata.creationTimestamp Go's encoding adds, and
// without status, which a desired resource does not set.
func toStruct(o runtime.Object) (*structpb.Struct, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
	return structpb.NewStruct(m)
}

// jobEncoder encodes a plan's Jobs as toStruct does, but without converting
// each whole Job. The Jobs of one plan are alike but for their name,
// annotations, node and container environment: those are the Job's own. So
// the encoder converts, with toStruct, a Job's shape (the Job without its own
// fields) once, and encodes each Job of that shape as that shape's Struct with
// its own fields written in. The Structs of a shape's unchanged parts (its
// labels, the pod template's volumes, ...) are shared by all its Jobs: a
// protobuf message may be referenced many times within one response, which
// is encoded, never changed, once it is written.
//
// A Job that does not fit (a container env var with valueFrom, which
// a kept Job might carry) is converted whole, as is any Job once the
// encoder knows maxJobShapes shapes.
type jobEncoder struct {
	shapes []*jobShape
}

// maxJobShapes bounds the shapes an encoder compares a Job with. A plan has
// one shape for the Jobs it makes, and one or a few for the Jobs it keeps
// as they are (from an earlier jobId, or made with other settings).
const maxJobShapes = 8

// jobShape is a Job without its own fields, and its encoding.
type jobShape struct {
	job *batchv1.Job
	// The shape's Struct and the Structs on the paths to the Job's own
	// fields.
	root, meta, spec, template, podSpec *structpb.Struct
	containers                          []*structpb.Struct
}

// encode encodes j exactly as toStruct(j) does.
func (e *jobEncoder) encode(j *batchv1.Job) (*structpb.Struct, error) {
	shape, ok := jobShapeOf(j)
	if !ok {
		return toStruct(j)
	}
	for _, s := range e.shapes {
		if equalValues(reflect.ValueOf(s.job).Elem(), reflect.ValueOf(shape).Elem(), 0) {
			return s.fill(j), nil
		}
	}
	if len(e.shapes) == maxJobShapes {
		return toStruct(j)
	}
	s, err := newJobShape(shape)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return toStruct(j)
	}
	e.shapes = append(e.shapes, s)
	return s.fill(j), nil
}

// jobShapeOf is j without its own fields, nor the fields toStruct leaves
// out. It shares everything else with j. It reports false for a Job whose
// own fields the encoder cannot write.
func jobShapeOf(j *batchv1.Job) (*batchv1.Job, bool) {
	s := *j
	s.Name = ""
	s.Annotations = nil
	s.CreationTimestamp = metav1.Time{}
	s.Status = batchv1.JobStatus{}
	s.Spec.Template.CreationTimestamp = metav1.Time{}
	s.Spec.Template.Spec.NodeName = ""
	if len(j.Spec.Template.Spec.Containers) == 0 {
		return &s, true
	}
	cs := make([]corev1.Container, len(j.Spec.Template.Spec.Containers))
	for i, c := range j.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				return nil, false
			}
		}
		cs[i] = c
		cs[i].Env = nil
	}
	s.Spec.Template.Spec.Containers = cs
	return &s, true
}

// newJobShape encodes a shape, or returns nil if its encoding lacks a path
// to one of a Job's own fields (a Job without a pod template, say).
func newJobShape(job *batchv1.Job) (*jobShape, error) {
	root, err := toStruct(job)
	if err != nil {
		return nil, err
	}
	s := &jobShape{job: job, root: root}
	s.meta = root.GetFields()["metadata"].GetStructValue()
	s.spec = root.GetFields()["spec"].GetStructValue()
	s.template = s.spec.GetFields()["template"].GetStructValue()
	s.podSpec = s.template.GetFields()["spec"].GetStructValue()
	containers := s.podSpec.GetFields()["containers"].GetListValue().GetValues()
	if s.meta == nil || s.podSpec == nil || len(containers) != len(job.Spec.Template.Spec.Containers) {
		return nil, nil
	}
	for _, c := range containers {
		cs := c.GetStructValue()
		if cs == nil {
			return nil, nil
		}
		s.containers = append(s.containers, cs)
	}
	return s, nil
}

// fill encodes j, a Job of this shape: new Structs along the paths to j's
// own fields, the shape's everywhere else.
func (s *jobShape) fill(j *batchv1.Job) *structpb.Struct {
	meta := copyStruct(s.meta)
	setString(meta, "name", j.Name)
	setStringMap(meta, "annotations", j.Annotations)

	podSpec := copyStruct(s.podSpec)
	setString(podSpec, "nodeName", j.Spec.Template.Spec.NodeName)
	if len(s.containers) > 0 {
		containers := make([]*structpb.Value, len(s.containers))
		for i, c := range j.Spec.Template.Spec.Containers {
			cs := copyStruct(s.containers[i])
			setEnv(cs, c.Env)
			containers[i] = structpb.NewStructValue(cs)
		}
		podSpec.Fields["containers"] = structpb.NewListValue(&structpb.ListValue{Values: containers})
	}

	template := copyStruct(s.template)
	template.Fields["spec"] = structpb.NewStructValue(podSpec)
	spec := copyStruct(s.spec)
	spec.Fields["template"] = structpb.NewStructValue(template)
	root := copyStruct(s.root)
	root.Fields["metadata"] = structpb.NewStructValue(meta)
	root.Fields["spec"] = structpb.NewStructValue(spec)
	return root
}

// copyStruct is a new Struct with the same fields, shared.
func copyStruct(s *structpb.Struct) *structpb.Struct {
	return &structpb.Struct{Fields: maps.Clone(s.GetFields())}
}

// The setters write a field as toStruct does: a field whose JSON tag says
// omitempty is left out when empty.

func setString(s *structpb.Struct, key, v string) {
	if v == "" {
		delete(s.Fields, key)
		return
	}
	s.Fields[key] = structpb.NewStringValue(v)
}

func setStringMap(s *structpb.Struct, key string, m map[string]string) {
	if len(m) == 0 {
		delete(s.Fields, key)
		return
	}
	fields := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		fields[k] = structpb.NewStringValue(v)
	}
	s.Fields[key] = structpb.NewStructValue(&structpb.Struct{Fields: fields})
}

// setEnv writes env vars without valueFrom: {name, value}.
func setEnv(s *structpb.Struct, env []corev1.EnvVar) {
	if len(env) == 0 {
		delete(s.Fields, "env")
		return
	}
	vars := make([]*structpb.Value, len(env))
	for i, e := range env {
		v := &structpb.Struct{Fields: map[string]*structpb.Value{"name": structpb.NewStringValue(e.Name)}}
		setString(v, "value", e.Value)
		vars[i] = structpb.NewStructValue(v)
	}
	s.Fields["env"] = structpb.NewListValue(&structpb.ListValue{Values: vars})
}

// equalValues is reflect.DeepEqual for the acyclic values of Kubernetes API
// types, without the bookkeeping that makes DeepEqual cost more than encoding
// a Job: values are equal when their types are, nil and empty slices and maps
// differ (they encode differently), pointers and interfaces are equal when
// they hold equal values. Beyond maxEqualDepth, and for kinds API types do not
// use, it answers false: the Job is then encoded whole.
func equalValues(a, b reflect.Value, depth int) bool {
	if depth > maxEqualDepth || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return a.UnsafePointer() == b.UnsafePointer() || equalValues(a.Elem(), b.Elem(), depth+1)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem(), depth+1)
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		fallthrough
	case reflect.Array:
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		if a.CanInterface() {
			if am, ok := a.Interface().(map[string]string); ok {
				return maps.Equal(am, b.Interface().(map[string]string))
			}
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !equalValues(it.Value(), bv, depth+1) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	}
	return false
}

// maxEqualDepth is far deeper than a Job goes.
const maxEqualDepth = 64
