package krm

import (
	"cmp"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// Kinds of the legacy PacketCapture: the claim is PacketCapture, its
// cluster-scoped composite XPacketCapture.
const legacyKind = "XPacketCapture"

// object is one Kubernetes object of the input: a ResourceList item, or an
// item of a List item (what `kubectl get deploy,rs,pod -o yaml` writes).
type object struct {
	node *yaml.Node
	// top is the index, in the ResourceList's items, of the object or of the
	// List it is in; topNode is that item.
	top     int
	topNode *yaml.Node
	// listed objects are inside a List: a cluster export, never generated.
	listed                            bool
	apiVersion, kind, namespace, name string
}

func (o *object) uid() string                  { return str(o.node, "metadata", "uid") }
func (o *object) resourceVersion() string      { return str(o.node, "metadata", "resourceVersion") }
func (o *object) labels() map[string]string    { return stringMap(o.node, "metadata", "labels") }
func (o *object) annotation(key string) string { return str(o.node, "metadata", "annotations", key) }

// inventory indexes the input's objects by what the planner asks for.
type inventory struct {
	captures []*object
	// deployments by name; replicaSets and pods by namespace.
	deployments map[string][]*object
	replicaSets map[string][]*object
	pods        map[string][]*object
	// jobs and configMaps may be capture Jobs and ConfigMaps: observed ones
	// (exported from a cluster) and ones this function generated earlier.
	jobs       []*object
	configMaps []*object
	// owned are the top-level objects a user wrote, by identity: a generated
	// object must not collide with one.
	owned map[string]*object
}

func newInventory(items []*yaml.RNode) *inventory {
	inv := &inventory{
		deployments: make(map[string][]*object),
		replicaSets: make(map[string][]*object),
		pods:        make(map[string][]*object),
		owned:       make(map[string]*object),
	}
	for i, it := range items {
		inv.add(it.YNode(), i, nil)
	}
	return inv
}

// add indexes an object, expanding Lists (v1 List, and typed lists such as
// PodList) into their items.
// list is the List item n is in, nil for an item.
func (inv *inventory) add(n *yaml.Node, top int, list *yaml.Node) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	listed := list != nil
	o := &object{node: n, top: top, topNode: cmp.Or(list, n), listed: listed, apiVersion: str(n, "apiVersion"), kind: str(n, "kind"),
		namespace: str(n, "metadata", "namespace"), name: str(n, "metadata", "name")}
	if isList(o) {
		for _, c := range child(n, "items").Content {
			inv.add(c, top, o.topNode)
		}
		return
	}
	switch {
	case o.apiVersion == capture.APIVersion && (o.kind == capture.Kind || o.kind == legacyKind):
		inv.captures = append(inv.captures, o)
	case o.apiVersion == "apps/v1" && o.kind == "Deployment":
		inv.deployments[o.name] = append(inv.deployments[o.name], o)
	case o.apiVersion == "apps/v1" && o.kind == "ReplicaSet":
		inv.replicaSets[o.namespace] = append(inv.replicaSets[o.namespace], o)
	case o.apiVersion == "v1" && o.kind == "Pod":
		inv.pods[o.namespace] = append(inv.pods[o.namespace], o)
	case o.apiVersion == "batch/v1" && o.kind == "Job":
		inv.jobs = append(inv.jobs, o)
	case o.apiVersion == "v1" && o.kind == "ConfigMap":
		inv.configMaps = append(inv.configMaps, o)
	}
	if !listed && !o.generated() && o.uid() == "" {
		inv.owned[identity(o.apiVersion, o.kind, o.namespace, o.name)] = o
	}
}

// isList tells a list of objects from an object: kind List or FooList, with
// an items sequence.
func isList(o *object) bool {
	items := child(o.node, "items")
	return items != nil && items.Kind == yaml.SequenceNode && len(o.kind) >= 4 && o.kind[len(o.kind)-4:] == "List"
}

// generated tells whether this function wrote the object in an earlier run:
// a top-level ConfigMap or Job with the generator annotation that was not read
// back from a cluster (it has no uid). Such objects are replaced each run.
func (o *object) generated() bool {
	return !o.listed && o.annotation(AnnotationGeneratedBy) == GeneratedBy && o.uid() == "" &&
		(o.apiVersion == "v1" && o.kind == "ConfigMap" || o.apiVersion == "batch/v1" && o.kind == "Job")
}

// belongsTo tells whether a ConfigMap or Job was made for the capture.
func (o *object) belongsTo(pc capture.PacketCapture) bool {
	return o.namespace == pc.Namespace && o.labels()[capture.LabelCapture] == capture.LabelValue(pc.Name)
}

// deployment returns the target Deployment; one written without a namespace
// counts as being in any.
func (inv *inventory) deployment(namespace, name string) *object {
	// Of a Deployment exported twice, the newest copy counts.
	var found, loose *object
	newest := func(cur, o *object) *object {
		if cur == nil || capture.CompareResourceVersions(o.resourceVersion(), cur.resourceVersion()) > 0 {
			return o
		}
		return cur
	}
	for _, o := range inv.deployments[name] {
		switch o.namespace {
		case namespace:
			found = newest(found, o)
		case "":
			loose = newest(loose, o)
		}
	}
	return cmp.Or(found, loose)
}

// inNamespace returns the objects of the namespace and those written
// without one.
func inNamespace(m map[string][]*object, namespace string) []*object {
	if namespace == "" {
		return m[""]
	}
	return slices.Concat(m[namespace], m[""])
}

func identity(apiVersion, kind, namespace, name string) string {
	return apiVersion + "/" + kind + "/" + namespace + "/" + name
}
