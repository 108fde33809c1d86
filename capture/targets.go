package capture

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// target is a Pod to capture: everything a capture Job needs to find it.
// A target is known either from the Pod itself or, once the Pod is gone, from
// the capture Job that was made for it.
type target struct {
	Name string
	UID  string
	Node string
}

// selection is what the planner learns from the target Deployment.
type selection struct {
	// eligible Pods could be captured now, sorted by name.
	eligible []target
	// skipped Pods belong to the Deployment but cannot be captured now.
	skipped []PodStatus
	// events are problems with the Deployment or the Pods.
	events []Event
}

// selectTargets finds the Pods of the Deployment. A Pod belongs to it only
// if it matches the Deployment's whole selector and its controlling
// ReplicaSet is controlled by the Deployment: another Deployment's Pods with
// overlapping labels are never captured.
func selectTargets(spec Spec, s settings, d *appsv1.Deployment, rss []appsv1.ReplicaSet, pods []corev1.Pod) selection {
	var sel selection
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels)+len(d.Spec.Selector.MatchExpressions) == 0 {
		sel.events = append(sel.events, Event{Severity: SeverityWarning, Reason: "DeploymentWithoutSelector",
			Message: fmt.Sprintf("Deployment %s/%s has no spec.selector, so its Pods cannot be told apart from others; nothing is captured", spec.TargetNamespace, spec.TargetDeployment)})
		return sel
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		sel.events = append(sel.events, Event{Severity: SeverityWarning, Reason: "InvalidDeploymentSelector",
			Message: fmt.Sprintf("Deployment %s/%s has an invalid spec.selector (%v); nothing is captured", spec.TargetNamespace, spec.TargetDeployment, err)})
		return sel
	}

	// ReplicaSet names are unique in a namespace; the uid, where both sides
	// have one, also rules out a ReplicaSet deleted and made again.
	owned := make(map[string]types.UID)
	for i := range rss {
		rs := &rss[i]
		if InNamespace(rs.Namespace, spec.TargetNamespace) && controlledBy(rs, "Deployment", d.Name, d.UID) {
			owned[rs.Name] = rs.UID
		}
	}

	candidates := make([]*corev1.Pod, 0, len(pods))
	matched := 0
	for i := range pods {
		p := &pods[i]
		if !InNamespace(p.Namespace, spec.TargetNamespace) || !selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		matched++
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.Kind != "ReplicaSet" {
			continue
		}
		if rsUID, ok := owned[ref.Name]; !ok || !sameUID(rsUID, ref.UID) {
			continue
		}
		candidates = append(candidates, p)
	}
	if len(candidates) == 0 && matched > 0 {
		// Hand-written Pods (crossplane render) often lack ownerReferences:
		// say why none of them counts.
		verb := "match"
		if matched == 1 {
			verb = "matches"
		}
		sel.events = append(sel.events, Event{Severity: SeverityWarning, Reason: "PodsNotOwned",
			Message: fmt.Sprintf("%s %s the selector of Deployment %s/%s but none is controlled by one of its ReplicaSets (metadata.ownerReferences); nothing is captured",
				plural(matched, "Pod"), verb, spec.TargetNamespace, spec.TargetDeployment)})
	}
	slices.SortFunc(candidates, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UID, b.UID))
	})

	var duplicates []string
	for i, p := range candidates {
		if i > 0 && candidates[i-1].Name == p.Name {
			duplicates = append(duplicates, p.Name)
			continue
		}
		if reason := notCapturable(p, s.allowHostNetwork); reason != "" {
			sel.skipped = append(sel.skipped, PodStatus{Pod: p.Name, Node: p.Spec.NodeName, Phase: PodSkipped, Message: reason})
			continue
		}
		sel.eligible = append(sel.eligible, target{
			Name: p.Name, UID: string(p.UID), Node: p.Spec.NodeName,
		})
	}
	if len(duplicates) > 0 {
		sel.events = append(sel.events, Event{Severity: SeverityWarning, Reason: "DuplicatePods",
			Message: fmt.Sprintf("%s %s listed more than once; the first by uid is used", nameList("Pod", quoted(duplicates)), isAre(len(duplicates)))})
	}
	return sel
}

// podUIDPattern is a uid the capture script accepts (as it checks its
// arguments): a Kubernetes uid is a UUID, a static Pod's 32 hex digits. A Pod
// whose uid is not would fail the script, and with it the capture of every
// other Pod of its node's Job.
var podUIDPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]{7,63}$`)

// notCapturable says why a Pod of the Deployment cannot be captured now, or
// "" when it can: a capture needs a running Linux Pod on a known node whose
// cgroup (named after its uid) can be found, in a network namespace of its
// own unless the platform allows otherwise.
func notCapturable(p *corev1.Pod, allowHostNetwork bool) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Spec.NodeName == "":
		return "not scheduled to a node yet"
	case p.Status.Phase != corev1.PodRunning:
		return fmt.Sprintf("not running (phase %q)", p.Status.Phase)
	case p.UID == "":
		return "has no uid, so its network namespace cannot be found"
	case !podUIDPattern.MatchString(string(p.UID)):
		return fmt.Sprintf("its uid %.80q is not a Pod uid (letters, digits and '-', 8 to 64), so the capture script would refuse it", p.UID)
	case len(validation.IsDNS1123Subdomain(p.Name)) > 0:
		return "its name is not a valid Kubernetes object name"
	case len(validation.IsDNS1123Subdomain(p.Spec.NodeName)) > 0:
		return "its nodeName is not a valid node name"
	case windowsPod(p):
		return "a Windows Pod: the capture runs tcpdump in a Linux network namespace"
	case p.Spec.HostNetwork && !allowHostNetwork:
		return fmt.Sprintf("uses the node's network (hostNetwork: true): its capture would record every Pod on node %s; the platform may allow it with input.allowHostNetworkPods", p.Spec.NodeName)
	}
	return ""
}

// windowsPod tells a Pod that runs on Windows: by its spec.os, or by the
// node selector Windows workloads carry.
func windowsPod(p *corev1.Pod) bool {
	return p.Spec.OS != nil && p.Spec.OS.Name == corev1.Windows ||
		p.Spec.NodeSelector[corev1.LabelOSStable] == string(corev1.Windows)
}

// controlledBy reports whether o's controller is the object of the kind with
// the name and uid. Objects written by hand may lack uids; then the name
// decides.
func controlledBy(o metav1.Object, kind, name string, uid types.UID) bool {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != kind {
		return false
	}
	return ref.Name == name && sameUID(ref.UID, uid)
}

// sameUID compares uids where both are known.
func sameUID(a, b types.UID) bool { return a == "" || b == "" || a == b }

// InNamespace accepts objects of the namespace, and objects written by hand
// without one. The planner filters the Request with it; an adapter that must
// pick one object (the Deployment) uses it too.
func InNamespace(ns, want string) bool { return ns == "" || ns == want }
