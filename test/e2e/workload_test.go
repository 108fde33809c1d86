//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The target of the example PacketCapture (example/xr.yaml).
const (
	targetNamespace  = "openshift-gitops"
	targetDeployment = "openshift-gitops-server"
	canaryDeployment = "openshift-gitops-server-canary"
)

// readManifests decodes a YAML stream into objects.
func readManifests(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(b, []byte("\n---")) {
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// toYAML renders objects as a YAML stream for kubectl.
func toYAML(objs ...*unstructured.Unstructured) (string, error) {
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return "", err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.String(), nil
}

// asNew strips what the API server sets, so an exported object can be
// created again.
func asNew(o *unstructured.Unstructured) *unstructured.Unstructured {
	o = o.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "managedFields"} {
		unstructured.RemoveNestedField(o.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(o.Object, "metadata", "annotations", "deployment.kubernetes.io/revision")
	unstructured.RemoveNestedField(o.Object, "status")
	return o
}

// playedScheduler is the schedulerName of the played Pods: no real
// scheduler answers to it.
const playedScheduler = "e2e-played-scheduler"

// workload is the target Deployment, a canary Deployment whose Pods carry
// the same app label, and what the harness, playing scheduler and kubelet,
// did to their Pods.
type workload struct {
	k *kube
	// nextIP numbers the Pod IPs the harness hands out.
	nextIP int
}

// node names and the host IP of each.
var playedNodes = map[string]string{
	"worker-0.ocp.example.internal": "10.0.0.11",
	"worker-1.ocp.example.internal": "10.0.1.11",
	"worker-2.ocp.example.internal": "10.0.2.11",
}

// createDeployments creates the example's two Deployments (from
// example/required-resources.yaml) as new objects, the target one with
// replicas, and the namespace and ServiceAccount their Pods need.
func (w *workload) createDeployments(root string, replicas int) error {
	objs, err := readManifests(filepath.Join(root, "example", "required-resources.yaml"))
	if err != nil {
		return err
	}
	var deps []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		d := asNew(o)
		// The harness plays the scheduler for these Pods: the real
		// kube-scheduler, there for the real nodes, must leave them be.
		if err := unstructured.SetNestedField(d.Object, playedScheduler, "spec", "template", "spec", "schedulerName"); err != nil {
			return err
		}
		if d.GetName() == targetDeployment {
			if err := unstructured.SetNestedField(d.Object, int64(replicas), "spec", "replicas"); err != nil {
				return err
			}
		}
		deps = append(deps, d)
	}
	if len(deps) != 2 {
		return fmt.Errorf("example/required-resources.yaml holds %d Deployments, want the target and the canary", len(deps))
	}
	sa, _, _ := unstructured.NestedString(deps[0].Object, "spec", "template", "spec", "serviceAccountName")
	pre := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n  namespace: %s\n", targetNamespace, sa, targetNamespace)
	if err := w.k.apply(pre); err != nil {
		return err
	}
	y, err := toYAML(deps...)
	if err != nil {
		return err
	}
	return w.k.apply(y)
}

// pods lists the Pods of a namespace matching selector, by name.
func (w *workload) pods(ns, selector string) ([]corev1.Pod, error) {
	var l corev1.PodList
	if err := w.k.listInto(&l, "pods", ns, selector); err != nil {
		return nil, err
	}
	slices.SortFunc(l.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return l.Items, nil
}

// deploymentPods lists the Pods whose ReplicaSet the Deployment controls.
func (w *workload) deploymentPods(deployment string) ([]corev1.Pod, error) {
	var rsl struct {
		Items []unstructured.Unstructured `json:"items"`
	}
	if err := w.k.listInto(&rsl, "replicasets", targetNamespace, ""); err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	for i := range rsl.Items {
		if ref := controllerOf(&rsl.Items[i]); ref != nil && ref.Kind == "Deployment" && ref.Name == deployment {
			owned[rsl.Items[i].GetName()] = true
		}
	}
	all, err := w.pods(targetNamespace, "")
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range all {
		for _, r := range p.OwnerReferences {
			if r.Controller != nil && *r.Controller && r.Kind == "ReplicaSet" && owned[r.Name] {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// waitPods waits until the Deployment's controllers have made n live Pods.
func (w *workload) waitPods(deployment string, n int) ([]corev1.Pod, error) {
	var live []corev1.Pod
	err := poll(90*time.Second, time.Second, func() (bool, string, error) {
		pods, err := w.deploymentPods(deployment)
		if err != nil {
			return false, "", err
		}
		live = live[:0]
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		return len(live) == n, fmt.Sprintf("%d live Pods of %s", len(live), deployment), nil
	})
	return live, err
}

// schedule binds a Pod to a node, as the scheduler does (pods/binding).
func (w *workload) schedule(ns, pod, node string) error {
	return w.k.create(fmt.Sprintf("apiVersion: v1\nkind: Binding\nmetadata:\n  name: %s\n  namespace: %s\ntarget:\n  apiVersion: v1\n  kind: Node\n  name: %s\n", pod, ns, node))
}

// run reports a scheduled Pod Running and Ready with an IP, as its kubelet
// does.
func (w *workload) run(ns, pod, node string, ready bool) error {
	w.nextIP++
	ip := fmt.Sprintf("10.128.%d.%d", w.nextIP/200, 10+w.nextIP%200)
	now := time.Now().UTC().Format(time.RFC3339)
	readyStatus := "False"
	if ready {
		readyStatus = "True"
	}
	return w.k.patchStatus("pod", ns, pod, map[string]any{"status": map[string]any{
		"phase":     "Running",
		"hostIP":    playedNodes[node],
		"hostIPs":   []map[string]string{{"ip": playedNodes[node]}},
		"podIP":     ip,
		"podIPs":    []map[string]string{{"ip": ip}},
		"startTime": now,
		"conditions": []map[string]string{
			{"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
			{"type": "Initialized", "status": "True", "lastTransitionTime": now},
			{"type": "ContainersReady", "status": readyStatus, "lastTransitionTime": now},
			{"type": "Ready", "status": readyStatus, "lastTransitionTime": now},
		},
	}})
}

// setReady flips a running Pod's readiness, as its kubelet does when a
// readiness probe starts to pass.
func (w *workload) setReady(ns, pod string) error {
	now := time.Now().UTC().Format(time.RFC3339)
	var p corev1.Pod
	if _, err := w.k.getInto(&p, "pod", ns, pod); err != nil {
		return err
	}
	conds := []map[string]string{}
	for _, c := range p.Status.Conditions {
		s := string(c.Status)
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			s = "True"
		}
		conds = append(conds, map[string]string{"type": string(c.Type), "status": s, "lastTransitionTime": now})
	}
	return w.k.patchStatus("pod", ns, pod, map[string]any{"status": map[string]any{"conditions": conds}})
}

// succeed reports a Pod's containers exited 0, as its kubelet does.
func (w *workload) succeed(ns, pod string) error {
	now := time.Now().UTC().Format(time.RFC3339)
	return w.k.patchStatus("pod", ns, pod, map[string]any{"status": map[string]any{
		"phase": "Succeeded",
		"conditions": []map[string]string{
			{"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
			{"type": "Initialized", "status": "True", "lastTransitionTime": now},
			{"type": "ContainersReady", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now},
			{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now},
		},
	}})
}

// jobPod waits for the Pod the job controller makes for a Job: proof that
// the Job's pod template passes the API server's Pod admission too.
func (w *workload) jobPod(ns, job string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := poll(90*time.Second, time.Second, func() (bool, string, error) {
		pods, err := w.pods(ns, "batch.kubernetes.io/job-name="+job)
		if err != nil {
			return false, "", err
		}
		for i := range pods {
			if pods[i].DeletionTimestamp == nil {
				pod = &pods[i]
				return true, "", nil
			}
		}
		ev, _ := w.k.run("", "get", "events", "-n", ns, "--field-selector", "involvedObject.name="+job, "-o", "custom-columns=REASON:.reason,MESSAGE:.message", "--no-headers")
		return false, fmt.Sprintf("no Pod for Job %s yet; its events: %s", job, strings.TrimSpace(ev)), nil
	})
	return pod, err
}
