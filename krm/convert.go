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
)

// maxAliasNodes bounds how many nodes aliases may expand to in one object. A
// kubectl export has no aliases at all; a "billion laughs" document expands
// exponentially and would take the function down.
const maxAliasNodes = 1 << 20

// toValue turns a YAML node into the JSON-shaped value Kubernetes decoders
// take: maps, slices, strings, int64, float64, bool and nil. It follows
// aliases and merge keys, refusing an alias that contains itself and aliases
// that expand to more than maxAliasNodes nodes. A timestamp stays the string
// it was written as, as in JSON. It is the walk kyaml's RNode.Map would do,
// without its detour through text, which matters for exports of thousands of
// Pods.
func toValue(n *yaml.Node) (any, error) {
	c := &converter{expanding: make(map[*yaml.Node]bool)}
	return c.value(n)
}

// converter carries the alias bookkeeping of one toValue call.
type converter struct {
	// expanding holds the anchors whose aliases are being expanded.
	expanding map[*yaml.Node]bool
	// aliased counts the nodes reached through aliases.
	aliased int
}

func (c *converter) value(n *yaml.Node) (any, error) {
	if len(c.expanding) > 0 {
		if c.aliased++; c.aliased > maxAliasNodes {
			return nil, fmt.Errorf("line %d: aliases expand to more than %d nodes", n.Line, maxAliasNodes)
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		if n.Alias == nil || c.expanding[n.Alias] {
			return nil, fmt.Errorf("line %d: alias *%s contains itself", n.Line, n.Value)
		}
		c.expanding[n.Alias] = true
		defer delete(c.expanding, n.Alias)
		return c.value(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		if err := c.mergeInto(m, n); err != nil {
			return nil, err
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// mergeInto adds a mapping's pairs to m. Keys written in the mapping win
// over keys merged in with "<<", whatever their order, as YAML specifies.
func (c *converter) mergeInto(m map[string]any, n *yaml.Node) error {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == tagMerge {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: mapping keys must be strings", k.Line)
		}
		val, err := c.value(v)
		if err != nil {
			return err
		}
		m[k.Value] = val
	}
	for _, v := range merges {
		// A merge value is a mapping, an alias of one, or a sequence of
		// them: decoding it checks the aliases like any other value.
		merged, err := c.value(v)
		if err != nil {
			return err
		}
		sources, ok := merged.([]any)
		if !ok {
			sources = []any{merged}
		}
		for _, src := range sources {
			extra, ok := src.(map[string]any)
			if !ok {
				return fmt.Errorf("line %d: a merge key needs a mapping", v.Line)
			}
			for k, val := range extra {
				if _, ok := m[k]; !ok {
					m[k] = val
				}
			}
		}
	}
	return nil
}

// tagMerge is the tag of YAML's merge key, "<<".
const tagMerge = "!!merge"

func scalarValue(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case yaml.NodeTagString:
		return n.Value, nil
	case yaml.NodeTagNull:
		return nil, nil
	case yaml.NodeTagBool:
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b, nil
		}
	case yaml.NodeTagInt:
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return i, nil
		}
	case yaml.NodeTagFloat:
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	default:
		// Timestamps, binary and custom tags keep their text.
		return n.Value, nil
	}
	// The rarer spellings (0x1f, 1_000, .inf): let the YAML decoder read them.
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	}
	return v, nil
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

// objectNode encodes a typed object for the output, without the empty
// creationTimestamps and status Go's encoding adds: the same form the
// Crossplane adapter sends.
func objectNode(o runtime.Object, annotations map[string]string) (*yaml.RNode, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
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
