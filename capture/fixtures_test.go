package capture

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A small cluster for the planner's tests: Deployment "web" in namespace
// "shop", selecting app=web, with ReplicaSet "web-5d4f8" and Pods built by
// the helpers below.
const (
	testNS     = "shop"
	testDeploy = "web"
	testRS     = "web-5d4f8"
	testXRNS   = "packet-capture"
	testJobID  = "qwer"
)

var testSelector = map[string]string{"app": "web"}

func testCapture() PacketCapture {
	return PacketCapture{
		Name:      "capture-web",
		Namespace: testXRNS,
		UID:       "0b9f3c1e-0000-4000-8000-000000000001",
		Labels: map[string]string{
			"app.kubernetes.io/instance": "packet-capture-shop-web",
			"app.kubernetes.io/name":     "packet-capture",
			"team":                       "sre",
		},
		Spec: Spec{JobID: testJobID, TargetNamespace: testNS, TargetDeployment: testDeploy, Duration: "30"},
	}
}

func testDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: testDeploy, Namespace: testNS, UID: "uid-deploy-web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: testSelector},
		},
	}
}

func ownerRef(kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: ptrTo(true)}}
}

func testReplicaSet(name string, owner *appsv1.Deployment) appsv1.ReplicaSet {
	return appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: owner.Namespace, UID: types.UID("uid-rs-" + name),
		Labels:          owner.Spec.Selector.MatchLabels,
		OwnerReferences: ownerRef("Deployment", owner.Name, owner.UID),
	}}
}

// runningPod is a Pod of ReplicaSet rs, running on node.
func runningPod(name, rs, node string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, UID: types.UID("uid-pod-" + name),
			Labels:          map[string]string{"app": "web", "pod-template-hash": "5d4f8"},
			OwnerReferences: ownerRef("ReplicaSet", rs, types.UID("uid-rs-"+rs)),
		},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0." + fmt.Sprint(len(name))},
	}
}

func withPodPhase(p corev1.Pod, phase corev1.PodPhase) corev1.Pod {
	p.Status.Phase = phase
	return p
}

func unscheduled(p corev1.Pod) corev1.Pod {
	p.Spec.NodeName = ""
	p.Status.Phase = corev1.PodPending
	return p
}

func terminating(p corev1.Pod) corev1.Pod {
	t := metav1.Unix(1700000000, 0)
	p.DeletionTimestamp = &t
	return p
}

// testRequest is the usual request: the test cluster with three running Pods
// on two nodes.
func testRequest() Request {
	d := testDeployment()
	return Request{
		Capture:     testCapture(),
		Deployment:  d,
		ReplicaSets: []appsv1.ReplicaSet{testReplicaSet(testRS, d)},
		Pods: []corev1.Pod{
			runningPod("web-5d4f8-aaaaa", testRS, "node-a"),
			runningPod("web-5d4f8-bbbbb", testRS, "node-b"),
			runningPod("web-5d4f8-ccccc", testRS, "node-a"),
		},
	}
}

// asObserved is a planned Job as the API server would return it: with the
// fields it fills in and a status.
func asObserved(j *batchv1.Job, conds ...batchv1.JobConditionType) batchv1.Job {
	o := j.DeepCopy()
	o.UID = types.UID("uid-job-" + j.Name)
	o.ResourceVersion = "42"
	o.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": string(o.UID)}}
	o.Spec.ManualSelector = nil
	if o.Spec.Template.Labels == nil {
		o.Spec.Template.Labels = map[string]string{}
	}
	o.Spec.Template.Labels["batch.kubernetes.io/controller-uid"] = string(o.UID)
	o.Spec.Template.Labels["batch.kubernetes.io/job-name"] = o.Name
	o.Spec.Template.Labels["controller-uid"] = string(o.UID)
	o.Spec.Template.Labels["job-name"] = o.Name
	o.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirst
	o.Spec.Completions = ptrTo(int32(1))
	o.Spec.Parallelism = ptrTo(int32(1))
	o.Status.Active = 1
	for _, c := range conds {
		o.Status.Active = 0
		o.Status.Conditions = append(o.Status.Conditions, batchv1.JobCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return *o
}
