package capture

import (
	"bytes"
	"cmp"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// withNewestCopies keeps, of the objects that appear more than once in the
// request (two exports of one namespace in one kpt package, an older and a
// newer), only the newest copy of each, so that the plan does not depend on
// the order they came in, and only the capture Pods of the capture's
// namespace. Done here once, for every adapter.
func withNewestCopies(req Request) Request {
	req.ReplicaSets = newestCopies(req.ReplicaSets)
	req.Pods = newestCopies(req.Pods)
	req.Jobs = newestCopies(req.Jobs)
	req.CapturePods = newestCopies(slices.DeleteFunc(slices.Clone(req.CapturePods), func(p corev1.Pod) bool {
		return !InNamespace(p.Namespace, req.Capture.Namespace)
	}))
	return req
}

// newestCopies returns objs with each object (by namespace and name) once:
// its copy with the highest resourceVersion. Objects keep the order of their
// first copy; a slice without repeats is returned as it is.
func newestCopies[T any, P interface {
	*T
	metav1.Object
}](objs []T) []T {
	at := make(map[string]int, len(objs))
	var out []T
	for i := range objs {
		o := P(&objs[i])
		key := o.GetNamespace() + "/" + o.GetName()
		j, seen := at[key]
		switch {
		case !seen:
			at[key] = len(at)
			if out != nil {
				out = append(out, objs[i])
			}
		case out == nil:
			// The first repeat: every object before it is its first copy.
			out = append(make([]T, 0, len(objs)), objs[:i]...)
			fallthrough
		default:
			if newer(o, P(&out[j])) {
				out[j] = objs[i]
			}
		}
	}
	if out == nil {
		return objs
	}
	return out
}

// newer reports whether a is a newer copy of an object than b: a higher
// resourceVersion (a number in every API server, compared as one), and for
// copies that cannot be told apart so, a fixed order of their contents.
func newer[P metav1.Object](a, b P) bool {
	if c := CompareResourceVersions(a.GetResourceVersion(), b.GetResourceVersion()); c != 0 {
		return c > 0
	}
	if c := cmp.Compare(a.GetUID(), b.GetUID()); c != 0 {
		return c > 0
	}
	if reflect.DeepEqual(a, b) {
		return false
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Compare(ja, jb) > 0
}

// CompareResourceVersions compares two copies' resourceVersions: as numbers
// where both are, a missing one as the oldest, and otherwise as text.
func CompareResourceVersions(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(na, nb)
	case a == "" || b == "":
		return cmp.Compare(len(a), len(b))
	}
	return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
}
