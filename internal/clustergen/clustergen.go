// Package clustergen makes realistic clusters for tests and benchmarks: the
// Deployments, ReplicaSets and Pods `kubectl get deploy,rs,pod -o yaml`
// would show, with random names, lengths, labels, selectors and Pod states.
// It records, independently of the planner, which Pods a capture of the
// target Deployment must cover, so tests can check the planner against it.
package clustergen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Cluster is one namespace's Deployments, ReplicaSets and Pods.
type Cluster struct {
	Namespace string
	// Target is the Deployment to capture.
	Target      *appsv1.Deployment
	Deployments []appsv1.Deployment
	ReplicaSets []appsv1.ReplicaSet
	Pods        []corev1.Pod
	// Want is the sorted names of the Pods a capture of Target must cover:
	// the target's running, scheduled, not terminating Pods. The generator
	// knows them because it made them, not by reading selectors.
	Want []string
}

// Options shape a cluster.
type Options struct {
	// Pods of the target Deployment; other Deployments get a few each.
	Pods int
	// Others is the number of other Deployments, some with labels that
	// overlap the target's selector.
	Others int
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

type gen struct {
	rng  *rand.Rand
	uids int
	// names already given to Pods: the API server never hands out a name
	// twice in a namespace, so neither does the generator.
	names map[string]bool
}

func (g *gen) uid() types.UID {
	g.uids++
	return types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), g.uids&0xffff, g.rng.IntN(0xfff), g.rng.IntN(0xfff), g.rng.Uint64()&0xffffffffffff))
}

// dnsLabel is a random DNS label of n characters (n ≥ 1).
func (g *gen) dnsLabel(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
		if i > 0 && i < n-1 && g.rng.IntN(6) == 0 {
			b[i] = '-'
		}
	}
	if b[0] >= '0' && b[0] <= '9' && g.rng.IntN(2) == 0 {
		b[0] = 'a' + b[0] - '0'
	}
	return string(b)
}

func (g *gen) suffix(n int) string {
	const podAlphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = podAlphabet[g.rng.IntN(len(podAlphabet))]
	}
	return string(b)
}

// Generate makes a cluster from seed.
func Generate(seed uint64, o Options) *Cluster {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), names: map[string]bool{}}
	c := &Cluster{Namespace: g.dnsLabel(1 + g.rng.IntN(63))}

	// Deployment names are DNS subdomains up to 253, but their Pods' names
	// must stay valid: real names are short, long ones happen.
	nameLen := []int{3, 12, 30, 47, 52}[g.rng.IntN(5)]
	targetName := g.dnsLabel(nameLen)
	app := g.dnsLabel(1 + g.rng.IntN(20))
	selector := g.selector(app)
	target := g.deployment(c.Namespace, targetName, selector, o.Pods)
	c.Target = &target
	c.add(g, target, o.Pods, true)

	for i := 0; i < o.Others; i++ {
		// Half of the others overlap: their Pods carry the target's labels
		// and more, the classic canary.
		var sel *metav1.LabelSelector
		if i%2 == 0 {
			sel = selector.DeepCopy()
			if sel.MatchLabels == nil {
				sel.MatchLabels = map[string]string{}
			}
			sel.MatchLabels["track"] = "canary-" + g.dnsLabel(4)
		} else {
			sel = g.selector(g.dnsLabel(6))
		}
		d := g.deployment(c.Namespace, targetName+"-"+g.dnsLabel(5), sel, 1+g.rng.IntN(3))
		c.add(g, d, int(*d.Spec.Replicas), false)
	}
	sort.Strings(c.Want)
	return c
}

// selector is one of the shapes Deployments use: matchLabels only, both, or
// matchExpressions only.
func (g *gen) selector(app string) *metav1.LabelSelector {
	switch g.rng.IntN(3) {
	case 0:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": app}}
	case 1:
		return &metav1.LabelSelector{
			MatchLabels: map[string]string{"app": app, "component": "server"},
			MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"frontend", "web"}},
			},
		}
	default:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{app}},
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
		}}
	}
}

// podLabels satisfy the selector.
func podLabels(sel *metav1.LabelSelector) map[string]string {
	l := map[string]string{}
	for k, v := range sel.MatchLabels {
		l[k] = v
	}
	for _, e := range sel.MatchExpressions {
		if e.Operator == metav1.LabelSelectorOpIn {
			l[e.Key] = e.Values[0]
		}
	}
	return l
}

func (g *gen) deployment(ns, name string, sel *metav1.LabelSelector, replicas int) appsv1.Deployment {
	r := int32(replicas)
	return appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: g.uid(), Generation: 3, ResourceVersion: fmt.Sprint(g.rng.IntN(1e7)),
			CreationTimestamp: metav1.Unix(1760000000, 0),
			Annotations:       map[string]string{"deployment.kubernetes.io/revision": "3"},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &r,
			Selector: sel,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(sel)},
				Spec:       podSpec(""),
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: r, ReadyReplicas: r, AvailableReplicas: r, UpdatedReplicas: r, ObservedGeneration: 3},
	}
}

func podSpec(node string) corev1.PodSpec {
	return corev1.PodSpec{
		NodeName:      node,
		RestartPolicy: corev1.RestartPolicyAlways,
		DNSPolicy:     corev1.DNSClusterFirst,
		Containers: []corev1.Container{{
			Name: "server", Image: "registry.example.com/team/server:1.4.2",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}},
	}
}

// add makes d's current and previous ReplicaSets and n Pods in mixed states.
func (c *Cluster) add(g *gen, d appsv1.Deployment, n int, isTarget bool) {
	c.Deployments = append(c.Deployments, d)
	hash := g.suffix(10)
	current := g.replicaSet(d, hash, n)
	previous := g.replicaSet(d, g.suffix(9), 0)
	c.ReplicaSets = append(c.ReplicaSets, current, previous)
	nodes := 1 + g.rng.IntN(8)
	for i := 0; i < n; i++ {
		node := fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", g.rng.IntN(4), 10+g.rng.IntN(nodes))
		p := g.pod(current, hash, node)
		capturable := true
		switch r := g.rng.IntN(20); {
		case r == 0: // unschedulable
			p.Spec.NodeName = ""
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable}
			capturable = false
		case r == 1: // scheduled, still pulling its image
			p.Status.Phase = corev1.PodPending
			p.Status.PodIP, p.Status.PodIPs = "", nil
			capturable = false
		case r == 2: // being deleted
			t := metav1.Unix(1760000900, 0)
			p.DeletionTimestamp = &t
			p.DeletionGracePeriodSeconds = ptr(int64(30))
			capturable = false
		case r == 3: // a Pod of the previous ReplicaSet, still running during a rollout
			p = g.pod(previous, previous.Labels["pod-template-hash"], node)
		}
		c.Pods = append(c.Pods, p)
		if isTarget && capturable {
			c.Want = append(c.Want, p.Name)
		}
	}
}

func (g *gen) replicaSet(d appsv1.Deployment, hash string, replicas int) appsv1.ReplicaSet {
	labels := map[string]string{"pod-template-hash": hash}
	for k, v := range d.Spec.Template.Labels {
		labels[k] = v
	}
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels["pod-template-hash"] = hash
	r := int32(replicas)
	return appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, UID: g.uid(), Labels: labels,
			CreationTimestamp: metav1.Unix(1760000000, 0),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &r, Selector: sel, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(""),
		}},
		Status: appsv1.ReplicaSetStatus{Replicas: r, ReadyReplicas: r, AvailableReplicas: r},
	}
}

func (g *gen) pod(rs appsv1.ReplicaSet, hash, node string) corev1.Pod {
	labels := map[string]string{}
	for k, v := range rs.Labels {
		labels[k] = v
	}
	labels["pod-template-hash"] = hash
	ip := fmt.Sprintf("10.%d.%d.%d", 128+g.rng.IntN(4), g.rng.IntN(256), 1+g.rng.IntN(254))
	name := generatedName(rs.Name+"-") + g.suffix(5)
	for g.names[name] {
		name = generatedName(rs.Name+"-") + g.suffix(5)
	}
	g.names[name] = true
	return corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, GenerateName: rs.Name + "-", Namespace: rs.Namespace, UID: g.uid(), Labels: labels,
			CreationTimestamp: metav1.Unix(1760000100, 0),
			Annotations:       map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-01T10:00:00Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
		},
		Spec: podSpec(node),
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.0.0.10", QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Unix(1760000110, 0)}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "server", Ready: true, Started: ptr(true), Image: "registry.example.com/team/server:1.4.2",
				ImageID:     "registry.example.com/team/server@sha256:" + strings.Repeat("ab", 32),
				ContainerID: "containerd://" + strings.Repeat("cd", 32),
				State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Unix(1760000105, 0)}},
			}},
		},
	}
}

// Objects returns every object of the cluster in the order kubectl lists
// them (Deployments, ReplicaSets, Pods), as unstructured maps.
func (c *Cluster) Objects() ([]map[string]any, error) {
	var out []map[string]any
	add := func(o any) error {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	}
	for i := range c.Deployments {
		if err := add(&c.Deployments[i]); err != nil {
			return nil, err
		}
	}
	for i := range c.ReplicaSets {
		if err := add(&c.ReplicaSets[i]); err != nil {
			return nil, err
		}
	}
	for i := range c.Pods {
		if err := add(&c.Pods[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// List wraps the objects in the v1 List `kubectl get -o yaml` prints.
func (c *Cluster) List() (map[string]any, error) {
	objs, err := c.Objects()
	if err != nil {
		return nil, err
	}
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = o
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}, nil
}

// generatedName cuts a generateName base the way the API server does, so
// that the random suffix keeps the name within 63 characters.
func generatedName(base string) string {
	const maxBase = 63 - 5
	if len(base) > maxBase {
		return base[:maxBase]
	}
	return base
}

func ptr[T any](v T) *T { return &v }
