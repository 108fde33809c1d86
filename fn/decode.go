package fn

import (
	"context"
	"fmt"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crossplane/function-sdk-go/errors"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// The required ReplicaSets and Pods are most of a request: thousands of
// objects of a few kilobytes each, of which the planner reads a few fields
// (listed on capture.Request). Converting each whole object to a map and then
// to its type costs more than everything else the function does, so they
// are read here straight from their protobuf Structs, field by field. A field
// the planner reads that has the wrong type is an error, as it would be for
// the full conversion; fields it does not read are not looked at.

// decodeReplicaSets reads the ReplicaSets of namespace ns (and those without a
// namespace) as far as the planner reads them: name, namespace, uid and owner
// references.
func decodeReplicaSets(items []*fnv1.Resource, ns string) ([]appsv1.ReplicaSet, error) {
	out := make([]appsv1.ReplicaSet, 0, len(items))
	for _, it := range items {
		var rs appsv1.ReplicaSet
		ok, err := decodeMeta(it.GetResource(), &rs.ObjectMeta, ns, false)
		if err != nil {
			return nil, errors.Wrapf(err, "cannot read ReplicaSet %s/%s", ns, rs.Name)
		}
		if ok {
			out = append(out, rs)
		}
	}
	return out, nil
}

// decodePods reads the Pods of namespace ns (and those without a namespace)
// as far as the planner reads them: name, namespace, uid, resourceVersion,
// labels, owner references, deletion timestamp, node, hostNetwork, OS, phase
// and IP.
func decodePods(items []*fnv1.Resource, ns string) ([]corev1.Pod, error) {
	out := make([]corev1.Pod, len(items))
	n := 0
	for _, it := range items {
		// Decoded in place: a Pod is a kilobyte to copy.
		p := &out[n]
		ok, err := decodePod(it.GetResource(), p, ns)
		if err != nil {
			return nil, errors.Wrapf(err, "cannot read Pod %s/%s", ns, p.Name)
		}
		if ok {
			n++
		} else {
			*p = corev1.Pod{}
		}
	}
	return out[:n], nil
}

func decodePod(s *structpb.Struct, p *corev1.Pod, ns string) (bool, error) {
	ok, err := decodeMeta(s, &p.ObjectMeta, ns, true)
	if !ok || err != nil {
		return false, err
	}
	spec, err := structField(s, "spec", "spec")
	if err != nil {
		return false, err
	}
	if p.Spec.NodeName, err = stringField(spec, "nodeName", "spec.nodeName"); err != nil {
		return false, err
	}
	if err := decodePodTargetFields(spec, &p.Spec); err != nil {
		return false, err
	}
	st, err := structField(s, "status", "status")
	if err != nil {
		return false, err
	}
	phase, err := stringField(st, "phase", "status.phase")
	if err != nil {
		return false, err
	}
	p.Status.Phase = corev1.PodPhase(phase)
	if p.Status.PodIP, err = stringField(st, "podIP", "status.podIP"); err != nil {
		return false, err
	}
	return true, nil
}

// decodeMeta reads the metadata of an object of namespace ns; it reports
// false for an object of another namespace. Labels and the deletion
// timestamp are read for Pods only.
func decodeMeta(s *structpb.Struct, m *metav1.ObjectMeta, ns string, pod bool) (bool, error) {
	meta, err := structField(s, "metadata", "metadata")
	if err != nil {
		return false, err
	}
	if m.Name, err = stringField(meta, "name", "metadata.name"); err != nil {
		return false, err
	}
	if m.Namespace, err = stringField(meta, "namespace", "metadata.namespace"); err != nil {
		return false, err
	}
	if m.Namespace != "" && m.Namespace != ns {
		return false, nil
	}
	uid, err := stringField(meta, "uid", "metadata.uid")
	if err != nil {
		return false, err
	}
	m.UID = types.UID(uid)
	if m.ResourceVersion, err = stringField(meta, "resourceVersion", "metadata.resourceVersion"); err != nil {
		return false, err
	}
	if m.OwnerReferences, err = decodeOwnerReferences(meta); err != nil {
		return false, err
	}
	if !pod {
		return true, nil
	}
	if m.Labels, err = stringMapField(meta, "labels", "metadata.labels"); err != nil {
		return false, err
	}
	if m.DeletionTimestamp, err = timeField(meta, "deletionTimestamp", "metadata.deletionTimestamp"); err != nil {
		return false, err
	}
	return true, nil
}

// decodePodTargetFields reads what tells the planner a Pod must not be
// captured: spec.hostNetwork, spec.os.name and the node selector's
// kubernetes.io/os.
func decodePodTargetFields(spec *structpb.Struct, ps *corev1.PodSpec) error {
	hostNetwork := new(bool)
	v, err := boolPtrField(spec, "hostNetwork", "spec.hostNetwork", hostNetwork)
	if err != nil {
		return err
	}
	ps.HostNetwork = v != nil && *v
	os, err := structField(spec, "os", "spec.os")
	if err != nil {
		return err
	}
	if os != nil {
		name, err := stringField(os, "name", "spec.os.name")
		if err != nil {
			return err
		}
		ps.OS = &corev1.PodOS{Name: corev1.OSName(name)}
	}
	sel, err := structField(spec, "nodeSelector", "spec.nodeSelector")
	if err != nil || sel == nil {
		return err
	}
	osLabel, err := stringField(sel, corev1.LabelOSStable, "spec.nodeSelector."+corev1.LabelOSStable)
	if err != nil || osLabel == "" {
		return err
	}
	ps.NodeSelector = map[string]string{corev1.LabelOSStable: osLabel}
	return nil
}

func decodeOwnerReferences(meta *structpb.Struct) ([]metav1.OwnerReference, error) {
	const path = "metadata.ownerReferences"
	refs, err := listField(meta, "ownerReferences", path)
	if err != nil || refs == nil {
		return nil, err
	}
	out := make([]metav1.OwnerReference, len(refs.GetValues()))
	for i, v := range refs.GetValues() {
		p := path + "[" + strconv.Itoa(i) + "]"
		ref, err := asStruct(v, p)
		if err != nil {
			return nil, err
		}
		o := &out[i]
		if o.APIVersion, err = stringField(ref, "apiVersion", p+".apiVersion"); err != nil {
			return nil, err
		}
		if o.Kind, err = stringField(ref, "kind", p+".kind"); err != nil {
			return nil, err
		}
		if o.Name, err = stringField(ref, "name", p+".name"); err != nil {
			return nil, err
		}
		uid, err := stringField(ref, "uid", p+".uid")
		if err != nil {
			return nil, err
		}
		o.UID = types.UID(uid)
		bools := new([2]bool)
		if o.Controller, err = boolPtrField(ref, "controller", p+".controller", &bools[0]); err != nil {
			return nil, err
		}
		if o.BlockOwnerDeletion, err = boolPtrField(ref, "blockOwnerDeletion", p+".blockOwnerDeletion", &bools[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Each field reader returns the zero value for a field that is missing or
// null, as the full conversion does, and an error naming the field for one
// of another type.

func stringField(s *structpb.Struct, key, path string) (string, error) {
	switch v := s.GetFields()[key].GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return "", nil
	case *structpb.Value_StringValue:
		return v.StringValue, nil
	}
	return "", typeError(path, "string", s.GetFields()[key])
}

// boolPtrField reads a boolean into *into and points to it.
func boolPtrField(s *structpb.Struct, key, path string, into *bool) (*bool, error) {
	switch v := s.GetFields()[key].GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, nil
	case *structpb.Value_BoolValue:
		*into = v.BoolValue
		return into, nil
	}
	return nil, typeError(path, "boolean", s.GetFields()[key])
}

func structField(s *structpb.Struct, key, path string) (*structpb.Struct, error) {
	return asStruct(s.GetFields()[key], path)
}

func asStruct(v *structpb.Value, path string) (*structpb.Struct, error) {
	switch k := v.GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, nil
	case *structpb.Value_StructValue:
		return k.StructValue, nil
	}
	return nil, typeError(path, "object", v)
}

func listField(s *structpb.Struct, key, path string) (*structpb.ListValue, error) {
	switch v := s.GetFields()[key].GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, nil
	case *structpb.Value_ListValue:
		return v.ListValue, nil
	}
	return nil, typeError(path, "array", s.GetFields()[key])
}

func stringMapField(s *structpb.Struct, key, path string) (map[string]string, error) {
	m, err := structField(s, key, path)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m.GetFields()))
	for k := range m.GetFields() {
		if out[k], err = stringField(m, k, path+"."+k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// timeField reads an RFC 3339 time, as metav1.Time does.
func timeField(s *structpb.Struct, key, path string) (*metav1.Time, error) {
	switch s.GetFields()[key].GetKind().(type) {
	case nil, *structpb.Value_NullValue:
		return nil, nil
	}
	v, err := stringField(s, key, path)
	if err != nil {
		return nil, err
	}
	t := &metav1.Time{}
	if err := t.UnmarshalJSON([]byte(strconv.Quote(v))); err != nil {
		return nil, errors.Wrapf(err, "%s", path)
	}
	return t, nil
}

func typeError(path, want string, v *structpb.Value) error {
	got := "?"
	switch v.GetKind().(type) {
	case *structpb.Value_StringValue:
		got = "string"
	case *structpb.Value_NumberValue:
		got = "number"
	case *structpb.Value_BoolValue:
		got = "boolean"
	case *structpb.Value_StructValue:
		got = "object"
	case *structpb.Value_ListValue:
		got = "array"
	}
	return fmt.Errorf("%s: must be of type %s, not %s", path, want, got)
}

// releaseDecoded drops, from a request the gRPC server decoded for this call
// alone, the required and observed resources once they are decoded. The
// Pods are most of a request (a Deployment of 1,000 Pods is some 14 MB of
// protobuf Structs): without them the garbage collector has far less to mark
// while the plan is made and encoded, and can free them, which halves the
// memory a call holds. A request passed in directly (tests, the KRM
// cross-check) belongs to its caller, who may use it again, and is left as
// it is.
func releaseDecoded(ctx context.Context, req *fnv1.RunFunctionRequest) {
	if _, ok := grpc.Method(ctx); !ok {
		return
	}
	req.RequiredResources = nil
	if req.GetObserved() != nil {
		req.Observed.Resources = nil
	}
}
