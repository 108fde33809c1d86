package netns

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// The target as the planner sees it.
const (
	targetNamespace  = "shop"
	targetDeployment = "web"
	targetPod        = "web-5d8f7c9b4-x2x7q"
	targetNode       = "node-a"
	captureNamespace = "ops"
	testJobID        = "t3st"
)

// spec is what a test asks of a capture.
type spec struct {
	duration      string
	filter        string
	maxFileSizeMB *int32
	maxFiles      *int32
	retention     int32
	security      v1beta1.SecurityMode
	// uid of the target Pod; the node's by default.
	uid string
	// pods, when set, are the target Pods instead (all on targetNode),
	// captured by one Job per node: the Job gets one argument per Pod.
	pods []targetPodSpec
}

// targetPodSpec is one target Pod of a node-mode capture.
type targetPodSpec struct {
	name, uid string
}

// rendered is one capture Job as the planner rendered it, with the
// ConfigMap it mounts.
type rendered struct {
	configMap *corev1.ConfigMap
	job       *batchv1.Job
}

// pod returns the rendered Job's pod spec.
func (r rendered) pod() *corev1.PodSpec { return &r.job.Spec.Template.Spec }

// container returns the capture container of the rendered Job.
func (r rendered) container(t *testing.T) *corev1.Container {
	t.Helper()
	for i := range r.pod().Containers {
		if c := &r.pod().Containers[i]; c.Name == capture.ContainerName {
			return c
		}
	}
	t.Fatalf("rendered Job %s has no container %q", r.job.Name, capture.ContainerName)
	return nil
}

// render plans a PacketCapture of a one-Pod Deployment whose Pod has the
// node's uid (or the spec's), and returns its ConfigMap and its only Job.
// With s.pods it plans a Deployment of those Pods, all on one node, with
// one Job per node (input.jobPer Node), and returns that Job.
func render(t *testing.T, n *node, s spec) rendered {
	t.Helper()
	pods := s.pods
	jobPer := v1beta1.JobPerPod
	if len(pods) > 0 {
		jobPer = v1beta1.JobPerNode
	} else {
		uid := s.uid
		if uid == "" {
			uid = n.uid
		}
		pods = []targetPodSpec{{name: targetPod, uid: uid}}
	}
	ptr := func(v int32) *int32 { return &v }
	deployUID, rsUID := types.UID(newUID()), types.UID(newUID())
	labels := map[string]string{"app": targetDeployment}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: targetDeployment, Namespace: targetNamespace, UID: deployUID},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	rs := appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: "web-5d8f7c9b4", Namespace: targetNamespace, UID: rsUID, Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: targetDeployment, UID: deployUID, Controller: ptrBool(true)}},
	}}
	var objs []corev1.Pod
	for _, p := range pods {
		objs = append(objs, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: p.name, Namespace: targetNamespace, UID: types.UID(p.uid), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rsUID, Controller: ptrBool(true)}},
			},
			Spec:   corev1.PodSpec{NodeName: targetNode},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP},
		})
	}
	security := s.security
	if security == "" {
		security = v1beta1.SecurityPrivileged
	}
	out, err := capture.Plan(capture.Request{
		Capture: capture.PacketCapture{
			Name:      "netns-test",
			Namespace: captureNamespace,
			Spec: capture.Spec{
				JobID:            testJobID,
				TargetNamespace:  targetNamespace,
				TargetDeployment: targetDeployment,
				Duration:         s.duration,
				Filter:           s.filter,
				MaxFileSizeMB:    s.maxFileSizeMB,
				MaxFiles:         s.maxFiles,
			},
		},
		Input: &v1beta1.Input{
			SecurityMode: security,
			JobPer:       jobPer,
			Output:       &v1beta1.Output{Type: v1beta1.OutputPod, RetentionSeconds: ptr(s.retention)},
		},
		Deployment:  deploy,
		ReplicaSets: []appsv1.ReplicaSet{rs},
		Pods:        objs,
	})
	if err != nil {
		t.Fatalf("capture.Plan: %v", err)
	}
	if out.ConfigMap == nil || len(out.Jobs) != 1 {
		t.Fatalf("capture.Plan gave ConfigMap %v and %d Jobs, want a ConfigMap and 1 Job", out.ConfigMap != nil, len(out.Jobs))
	}
	r := rendered{configMap: out.ConfigMap, job: out.Jobs[0].Job}
	if !r.pod().HostPID {
		t.Fatalf("rendered Job %s lacks hostPID: the script could not see the target's processes", r.job.Name)
	}
	if got := r.pod().NodeName; got != targetNode {
		t.Fatalf("rendered Job runs on node %q, want the target's %q", got, targetNode)
	}
	// One argument <pod>/<uid> per target Pod, sorted by Pod name.
	sorted := slices.Clone(pods)
	slices.SortFunc(sorted, func(a, b targetPodSpec) int { return strings.Compare(a.name, b.name) })
	want := make([]string, len(sorted))
	for i, p := range sorted {
		want[i] = p.name + "/" + p.uid
	}
	if got := r.container(t).Args; !slices.Equal(got, want) {
		t.Fatalf("rendered args %q, want %q", got, want)
	}
	return r
}

func ptrBool(v bool) *bool { return &v }
