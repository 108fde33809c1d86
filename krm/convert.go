package krm

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// objectMap decodes an object of the input into the JSON-shaped map the
// Kubernetes decoders take, as RNode.Map does. yaml.v3's decoder follows
// aliases and merge keys, and refuses an anchor that contains itself and a
// document that aliases excessively (a "billion laughs"), so a hostile input
// is an error result, not a hang.
func objectMap(n *yaml.Node) (map[string]any, error) {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// toNode turns a JSON-shaped value into a YAML node, with map keys sorted as
// kubectl prints them, so the same value always gives the same bytes.
func toNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: make([]*yaml.Node, 0, 2*len(keys))}
		for _, k := range keys {
			n.Content = append(n.Content, stringNode(k), toNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: make([]*yaml.Node, len(x))}
		for i, e := range x {
			n.Content[i] = toNode(e)
		}
		return n
	case string:
		return stringNode(x)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: strconv.FormatBool(x)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.FormatInt(x, 10)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.Itoa(x)}
	case int32:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.FormatInt(int64(x), 10)}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.FormatInt(int64(x), 10)}
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagFloat, Value: strconv.FormatFloat(x, 'g', -1, 64)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: "null"}
	}
	// Unreachable for values from runtime.DefaultUnstructuredConverter.
	return stringNode(fmt.Sprint(v))
}

func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}
	if yaml11Bools[s] {
		// YAML 1.2 reads on, off, yes, no, y and n as strings, but kubectl
		// (YAML 1.1) reads them as booleans: a ConfigMap value
		// (network-snapshot: on) would no longer be a string.
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// yaml11Bools are the strings YAML 1.1 reads as booleans and YAML 1.2 does
// not (true and false are booleans in both, and quoted by the encoder).
var yaml11Bools = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range []string{"y", "yes", "n", "no", "on", "off"} {
		for _, v := range []string{w, strings.ToUpper(w[:1]) + w[1:], strings.ToUpper(w)} {
			m[v] = true
		}
	}
	return m
}()

// objectNode encodes a planned object for the output in the form the
// Crossplane adapter sends (capture.EncodeObject), with annotations added.
func objectNode(o runtime.Object, annotations map[string]string) (*yaml.RNode, error) {
	m, err := capture.EncodeObject(o)
	if err != nil {
		return nil, err
	}
	if len(annotations) > 0 {
		existing, _, _ := unstructured.NestedStringMap(m, "metadata", "annotations")
		if existing == nil {
			existing = make(map[string]string, len(annotations))
		}
		for k, v := range annotations {
			existing[k] = v
		}
		if err := unstructured.SetNestedStringMap(m, existing, "metadata", "annotations"); err != nil {
			return nil, err
		}
	}
	return yaml.NewRNode(toNode(m)), nil
}

// child returns the value of key in a mapping node, following an alias, or
// nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// rawChild returns the value of key in a mapping node as written: an alias
// stays an alias.
func rawChild(n *yaml.Node, key string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// str returns the string at a path of mapping keys, or "".
func str(n *yaml.Node, path ...string) string {
	for _, k := range path {
		n = child(n, k)
	}
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == yaml.NodeTagNull {
		return ""
	}
	return n.Value
}

// stringMap returns the string-valued entries of the mapping at a path.
func stringMap(n *yaml.Node, path ...string) map[string]string {
	for _, k := range path {
		n = child(n, k)
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	m := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if v.Kind == yaml.ScalarNode {
			m[n.Content[i].Value] = v.Value
		}
	}
	return m
}
