package capture

import (
	"cmp"
	"fmt"
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
func selectTargets(spec Spec, d *appsv1.Deployment, rss []appsv1.ReplicaSet, pods []corev1.Pod) selection {
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
		if inNamespace(rs.Namespace, spec.TargetNamespace) && controlledBy(rs, "Deployment", d.Name, d.UID) {
			owned[rs.Name] = rs.UID
		}
	}

	candidates := make([]*corev1.Pod, 0, len(pods))
	matched := 0
	for i := range pods {
		p := &pods[i]
		if !inNamespace(p.Namespace, spec.TargetNamespace) || !selector.Matches(labels.Set(p.Labels)) {
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
		if reason := notCapturable(p); reason != "" {
			sel.skipped = append(sel.skipped, PodStatus{Pod: p.Name, Node: p.Spec.NodeName, Phase: PodSkipped, Message: reason})
			continue
		}
		sel.eligible = append(sel.eligible, target{
			Name: p.Name, UID: string(p.UID), Node: p.Spec.NodeName,
		})
	}
	if len(duplicates) > 0 {
		sel.events = append(sel.events, Event{Severity: SeverityWarning, Reason: "DuplicatePods",
			Message: fmt.Sprintf("%s %s listed more than once; the first by uid is used", nameList("Pod", duplicates), isAre(len(duplicates)))})
	}
	return sel
}

// notCapturable says why a Pod of the Deployment cannot be captured now, or
// "" when it can: a capture needs a running Pod on a known node whose cgroup
// (named after its uid) can be found.
func notCapturable(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Spec.NodeName == "":
		return "not scheduled to a node yet"
	case p.Status.Phase != corev1.PodRunning:
		return fmt.Sprintf("not running (phase %q)", p.Status.Phase)
	case p.UID == "":
		return "has no uid, so its network namespace cannot be found"
	case len(validation.IsDNS1123Subdomain(p.Name)) > 0:
		return "its name is not a valid Kubernetes object name"
	case len(validation.IsDNS1123Subdomain(p.Spec.NodeName)) > 0:
		return "its nodeName is not a valid node name"
	}
	return ""
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

// inNamespace accepts objects of the namespace, and objects written by hand
// without one.
func inNamespace(ns, want string) bool { return ns == "" || ns == want }
