package fn

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
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

// MaxResponseBytes is the largest response Crossplane accepts from a
// function. Its gRPC client (and crossplane render's) sets no receive limit of
// its own, so gRPC's default of 4 MiB applies; a larger response fails the
// call with ResourceExhausted. See docs/scale.md.
const MaxResponseBytes = 4 << 20

// checkResponseSize refuses a response of more than limit bytes, with the
// arithmetic: how large it is and about how many Pods would fit. Measuring a
// response walks all of it, so it is measured only when its Jobs, at the
// first Job's size, come near the limit.
func checkResponseSize(rsp *fnv1.RunFunctionResponse, jobs, limit int) error {
	if jobs == 0 {
		return nil
	}
	var one int
	for name, r := range rsp.GetDesired().GetResources() {
		if strings.HasPrefix(name, jobResourcePrefix) {
			one = proto.Size(&fnv1.State{Resources: map[string]*fnv1.Resource{name: r}})
			break
		}
	}
	if one*jobs < limit/4*3 {
		return nil
	}
	size := proto.Size(rsp)
	if size <= limit {
		return nil
	}
	perJob := size / jobs
	return errors.Errorf("the response would be %d bytes (%d capture Jobs, about %d bytes each with the status, labels and names of this capture), "+
		"more than the %d bytes Crossplane accepts from a function (gRPC's default message size limit, 4 MiB). "+
		"About %d Pods fit in one Job each (%d / %d): set the function's input.jobPer to Auto or Node, so that one Job per node captures all its Pods, or capture a Deployment with fewer Pods (input.maxTargetPods %d or less names the limit before planning). "+
		"Nothing was changed: capture Jobs that exist keep running",
		size, jobs, perJob, limit, limit/perJob, limit, perJob, limit/perJob)
}

// jobEncoder encodes a plan's Jobs as toStruct does, but without converting
// each whole Job. The Jobs of one plan are alike but for their name,
// annotations, node and container args: those are the Job's own. So
// the encoder converts, with toStruct, a Job's shape (the Job without its own
// fields) once, and encodes each Job of that shape as that shape's Struct with
// its own fields written in. The Structs of a shape's unchanged parts (its
// labels, the pod template's volumes, ...) are shared by all its Jobs: a
// protobuf message may be referenced many times within one response, which
// is encoded, never changed, once it is written.
//
// Whether a Job is of a known shape is decided exactly, not assumed: its
// shape is compared with each known one, field by field (equalJobs). A Job
// that does not fit is converted whole, as is any Job of a new shape once the
// encoder knows maxJobShapes shapes.
type jobEncoder struct {
	shapes []*jobShape
	// shape is the shape of the Job being encoded, and containers its
	// containers: reused from Job to Job, copied only to keep a new shape.
	shape      batchv1.Job
	containers []corev1.Container
}

// maxJobShapes bounds the shapes an encoder compares a Job with. A plan has
// one shape for the Jobs it makes (a few when it makes Jobs of one node's
// Pods, by memory limit), and one or a few for the Jobs it keeps as they are
// (from an earlier jobId, or made with other settings).
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
	e.shapeOf(j)
	for _, s := range e.shapes {
		if equalJobs()(unsafe.Pointer(s.job), unsafe.Pointer(&e.shape)) {
			return e.fill(s, j), nil
		}
	}
	if len(e.shapes) == maxJobShapes {
		return toStruct(j)
	}
	shape := e.shape
	shape.Spec.Template.Spec.Containers = slices.Clone(e.shape.Spec.Template.Spec.Containers)
	s, err := newJobShape(&shape)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return toStruct(j)
	}
	e.shapes = append(e.shapes, s)
	return e.fill(s, j), nil
}

// shapeOf sets e.shape to j without its own fields, nor the fields toStruct
// leaves out; it shares everything else with j.
func (e *jobEncoder) shapeOf(j *batchv1.Job) {
	e.shape = *j
	s := &e.shape
	s.Name = ""
	s.Annotations = nil
	s.CreationTimestamp = metav1.Time{}
	s.Status = batchv1.JobStatus{}
	s.Spec.Template.CreationTimestamp = metav1.Time{}
	s.Spec.Template.Spec.NodeName = ""
	if len(j.Spec.Template.Spec.Containers) == 0 {
		return
	}
	e.containers = append(e.containers[:0], j.Spec.Template.Spec.Containers...)
	for i := range e.containers {
		e.containers[i].Args = nil
	}
	s.Spec.Template.Spec.Containers = e.containers
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

// jobStructs are the Structs fill makes for each Job, allocated at once.
type jobStructs struct {
	root                          structpb.Struct
	meta, spec, template, podSpec structValue
}

// fill encodes j, a Job of shape s: new Structs along the paths to j's own
// fields, the shape's everywhere else.
func (e *jobEncoder) fill(s *jobShape, j *batchv1.Job) *structpb.Struct {
	n := new(jobStructs)
	meta := n.meta.of(s.meta)
	setString(meta, "name", j.Name)
	setStringMap(meta, "annotations", j.Annotations)

	podSpec := n.podSpec.of(s.podSpec)
	setString(podSpec, "nodeName", j.Spec.Template.Spec.NodeName)
	if len(s.containers) > 0 {
		containers := make([]structValue, len(s.containers))
		values := make([]*structpb.Value, len(s.containers))
		for i, c := range j.Spec.Template.Spec.Containers {
			setStrings(containers[i].of(s.containers[i]), "args", c.Args)
			values[i] = &containers[i].v
		}
		podSpec.Fields["containers"] = newListValue(values)
	}
	n.template.of(s.template).Fields["spec"] = &n.podSpec.v
	n.spec.of(s.spec).Fields["template"] = &n.template.v
	n.root.Fields = maps.Clone(s.root.GetFields())
	n.root.Fields["metadata"] = &n.meta.v
	n.root.Fields["spec"] = &n.spec.v
	return &n.root
}

// structValue is a Value holding a Struct, in one allocation.
type structValue struct {
	v structpb.Value
	k structpb.Value_StructValue
	s structpb.Struct
}

// of makes sv a copy of s (a new Struct with the same fields, shared) and
// returns the copy.
func (sv *structValue) of(s *structpb.Struct) *structpb.Struct {
	return sv.with(maps.Clone(s.GetFields()))
}

func (sv *structValue) with(fields map[string]*structpb.Value) *structpb.Struct {
	sv.s.Fields = fields
	sv.k.StructValue = &sv.s
	sv.v.Kind = &sv.k
	return &sv.s
}

// stringValue is a Value holding a string, in one allocation.
type stringValue struct {
	v structpb.Value
	k structpb.Value_StringValue
}

func newStringValue(s string) *structpb.Value {
	sv := &stringValue{k: structpb.Value_StringValue{StringValue: s}}
	sv.v.Kind = &sv.k
	return &sv.v
}

// listValue is a Value holding a list, in one allocation.
type listValue struct {
	v structpb.Value
	k structpb.Value_ListValue
	l structpb.ListValue
}

func newListValue(values []*structpb.Value) *structpb.Value {
	lv := &listValue{}
	lv.l.Values = values
	lv.k.ListValue = &lv.l
	lv.v.Kind = &lv.k
	return &lv.v
}

// The setters write a field as toStruct does: a field whose JSON tag says
// omitempty is left out when empty.

func setString(s *structpb.Struct, key, v string) {
	if v == "" {
		delete(s.Fields, key)
		return
	}
	s.Fields[key] = newStringValue(v)
}

func setStringMap(s *structpb.Struct, key string, m map[string]string) {
	if len(m) == 0 {
		delete(s.Fields, key)
		return
	}
	fields := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		fields[k] = newStringValue(v)
	}
	sv := new(structValue)
	sv.with(fields)
	s.Fields[key] = &sv.v
}

func setStrings(s *structpb.Struct, key string, l []string) {
	if len(l) == 0 {
		delete(s.Fields, key)
		return
	}
	values := make([]*structpb.Value, len(l))
	strs := make([]stringValue, len(l))
	for i, v := range l {
		strs[i].k.StringValue = v
		strs[i].v.Kind = &strs[i].k
		values[i] = &strs[i].v
	}
	s.Fields[key] = newListValue(values)
}

// equalFunc compares two values of one type, given their addresses.
type equalFunc func(a, b unsafe.Pointer) bool

// equalJobs compares two Jobs as reflect.DeepEqual does, but many times
// faster: DeepEqual walks every field of a Job by reflection, which costs
// more than the encoding the comparison saves. The comparison is put
// together once, by reflection, from a comparison per type: memory compared
// as bytes where the type holds no pointers, strings by content, pointers
// and slices by what they point to. Values are equal when:
//   - their bytes are (same scalars, same pointers, same strings), or
//   - their fields, elements or pointees are, with a nil slice or pointer
//     never equal to a non-nil one: they encode differently;
//   - maps: as reflect.DeepEqual says.
//
// Functions, channels and unsafe pointers, which API types do not have, are
// never equal: the Job is then encoded whole.
var equalJobs = sync.OnceValue(func() equalFunc {
	return (&equalBuilder{funcs: map[reflect.Type]*equalFunc{}}).of(reflect.TypeFor[batchv1.Job]())
})

type equalBuilder struct {
	funcs map[reflect.Type]*equalFunc
}

// of returns the comparison of values of type t.
func (eb *equalBuilder) of(t reflect.Type) equalFunc {
	if f, ok := eb.funcs[t]; ok {
		if *f != nil {
			return *f
		}
		// Being built: a type that contains itself. Call it through the
		// pointer, set by the time a comparison runs.
		return func(a, b unsafe.Pointer) bool { return (*f)(a, b) }
	}
	f := new(equalFunc)
	eb.funcs[t] = f
	*f = eb.build(t)
	return *f
}

func (eb *equalBuilder) build(t reflect.Type) equalFunc {
	size := t.Size()
	if plainBytes(t) {
		return func(a, b unsafe.Pointer) bool { return sameBytes(a, b, size) }
	}
	switch t.Kind() {
	case reflect.String:
		return func(a, b unsafe.Pointer) bool { return *(*string)(a) == *(*string)(b) }
	case reflect.Pointer:
		elem := eb.of(t.Elem())
		return func(a, b unsafe.Pointer) bool {
			pa, pb := *(*unsafe.Pointer)(a), *(*unsafe.Pointer)(b)
			if pa == nil || pb == nil || pa == pb {
				return pa == pb
			}
			return elem(pa, pb)
		}
	case reflect.Slice:
		elem, elemSize := eb.of(t.Elem()), t.Elem().Size()
		return func(a, b unsafe.Pointer) bool {
			sa, sb := (*sliceHeader)(a), (*sliceHeader)(b)
			if sa.len != sb.len || (sa.data == nil) != (sb.data == nil) {
				return false
			}
			if sa.data == sb.data {
				return true
			}
			for i := range uintptr(sa.len) {
				if !elem(unsafe.Add(sa.data, i*elemSize), unsafe.Add(sb.data, i*elemSize)) {
					return false
				}
			}
			return true
		}
	case reflect.Array:
		elem, elemSize, n := eb.of(t.Elem()), t.Elem().Size(), uintptr(t.Len())
		return func(a, b unsafe.Pointer) bool {
			for i := range n {
				if !elem(unsafe.Add(a, i*elemSize), unsafe.Add(b, i*elemSize)) {
					return false
				}
			}
			return true
		}
	case reflect.Struct:
		// Adjacent plain fields are compared as one run of bytes, the others
		// one by one.
		type field struct {
			offset, size uintptr
			equal        equalFunc // nil for a run of plain fields
		}
		var fields []field
		for i := range t.NumField() {
			f := t.Field(i)
			if !plainBytes(f.Type) {
				fields = append(fields, field{f.Offset, 0, eb.of(f.Type)})
				continue
			}
			if n := len(fields); n > 0 && fields[n-1].equal == nil && fields[n-1].offset+fields[n-1].size == f.Offset {
				fields[n-1].size += f.Type.Size()
				continue
			}
			fields = append(fields, field{f.Offset, f.Type.Size(), nil})
		}
		return func(a, b unsafe.Pointer) bool {
			for _, f := range fields {
				fa, fb := unsafe.Add(a, f.offset), unsafe.Add(b, f.offset)
				if f.equal == nil {
					if !sameBytes(fa, fb, f.size) {
						return false
					}
				} else if !f.equal(fa, fb) {
					return false
				}
			}
			return true
		}
	case reflect.Map:
		if t == reflect.TypeFor[map[string]string]() {
			return func(a, b unsafe.Pointer) bool {
				ma, mb := *(*map[string]string)(a), *(*map[string]string)(b)
				return (ma == nil) == (mb == nil) && maps.Equal(ma, mb)
			}
		}
		fallthrough
	case reflect.Interface:
		return func(a, b unsafe.Pointer) bool {
			return reflect.DeepEqual(reflect.NewAt(t, a).Elem().Interface(), reflect.NewAt(t, b).Elem().Interface())
		}
	}
	return func(unsafe.Pointer, unsafe.Pointer) bool { return false }
}

// plainBytes tells whether values of t are compared as bytes: numbers and
// booleans. Equal bytes encode alike; a float's unequal bytes may not be
// unequal numbers (0 and -0), but they encode differently too. Structs are
// not plain: their padding may differ.
func plainBytes(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func sameBytes(a, b unsafe.Pointer, n uintptr) bool {
	return unsafe.String((*byte)(a), n) == unsafe.String((*byte)(b), n)
}
