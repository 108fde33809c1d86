package krm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/internal/clustergen"
)

// generatedInputs are ResourceLists of generated clusters, as kpt would send
// an export of them: the PacketCapture and a v1 List of the namespace's
// Deployments, ReplicaSets and Pods (its items key not last, as
// sigs.k8s.io/yaml sorts keys), with every jobPer and output.
func generatedInputs(t *testing.T) map[string][]byte {
	t.Helper()
	configs := map[string]map[string]any{
		"defaults": nil,
		"pod":      {"jobPer": "Pod"},
		"node":     {"jobPer": "Node"},
		"hostPath": {"jobPer": "Pod", "output": map[string]any{"type": "HostPath", "hostPath": "/var/tmp/pcap"}},
	}
	out := map[string][]byte{}
	seed := uint64(0)
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		fc := configs[name]
		for range 6 {
			seed++
			c := clustergen.Generate(seed, clustergen.Options{Pods: 3 + int(seed%5)*7, Others: int(seed % 3)})
			var objects []any
			for _, o := range c.Deployments {
				objects = append(objects, o)
			}
			for _, o := range c.ReplicaSets {
				objects = append(objects, o)
			}
			for _, o := range c.Pods {
				objects = append(objects, o)
			}
			rl := map[string]any{
				"apiVersion": kio.ResourceListAPIVersion,
				"kind":       kio.ResourceListKind,
				"items": []any{
					map[string]any{
						"apiVersion": capture.APIVersion, "kind": capture.Kind,
						"metadata": map[string]any{"name": "capture", "namespace": "packet-capture",
							"annotations": map[string]any{"config.kubernetes.io/path": "capture.yaml"}},
						"spec": map[string]any{"jobId": "qwer", "targetNamespace": c.Namespace, "targetDeployment": c.Target.Name, "duration": "30"},
					},
					map[string]any{"apiVersion": "v1", "kind": "List", "items": objects,
						"metadata": map[string]any{"annotations": map[string]any{"config.kubernetes.io/path": "cluster.yaml"}}},
				},
			}
			if fc != nil {
				rl["functionConfig"] = map[string]any{"apiVersion": inputAPIVersion, "kind": inputKind, "metadata": map[string]any{"name": "in"}, "maxTargetPods": 1000}
				for k, v := range fc {
					rl["functionConfig"].(map[string]any)[k] = v
				}
			}
			j, err := json.Marshal(rl)
			if err != nil {
				t.Fatal(err)
			}
			y, err := sigsyaml.JSONToYAML(j)
			if err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%s/%d", name, seed)] = y
		}
	}
	return out
}

// TestRunIsExecuteGenerated checks that Run, with its item encoder, writes
// what kyaml's framework.Execute writes, for the ResourceLists of generated
// clusters, the bench input included.
func TestRunIsExecuteGenerated(t *testing.T) {
	inputs := generatedInputs(t)
	inputs["bench"] = benchInput(40, "")
	inputs["bench/pod"] = benchInput(40, "Pod")
	for name, in := range inputs {
		got, gotErr := runFn(in)
		var want bytes.Buffer
		wantErr := framework.Execute(Processor{}, &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: &want, KeepReaderAnnotations: true})
		if diff := cmp.Diff(want.String(), string(got)); diff != "" {
			t.Errorf("%s: Run and framework.Execute differ (-execute +run):\n%s", name, diff)
		}
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: Run error %v, framework.Execute error %v", name, gotErr, wantErr)
		}
		if !strings.Contains(string(got), "kind: Job") {
			t.Errorf("%s: no Jobs planned", name)
		}
	}
}

// trickyValues are scalars the YAML encoder does not write as they are,
// and some it does.
var trickyValues = []string{
	"", "123", "0x1F", "0o17", "1e3", "1_000", "-1", ".5", "true", "True", "FALSE", "null", "Null", "~",
	"yes", "no", "y", "n", "on", "off", "2026-11-20", "2026-11-20T13:02:11Z", "12:30", "1:2:3",
	"-x", "- x", ".x", "...", "---", "x y", " x", "x ", "a: b", "a:b", "a #b", "#x", "'q'", `"dq"`,
	`back\slash`, "tab\tx", "line\nbreak", "trailing\n", "ünïcode", "@x", "`x", "%x", "!x", "&x", "*x",
	"[x]", "{x}", "x,y", "?x", "? x", ":x", "x:", "<<", "=", "|", ">", strings.Repeat("long", 60),
	"a/b.c-d_e", "Z9", "web-6d8f9c7b5d-00001", "10.128.0.1", "{\"a\":[\"b\"]}",
}

// TestItemEncoderIsEncoder proves the item encoder (its templates and its
// List splitting) equal to encoding each item alone: over the output items
// of generated clusters, with scalars of some items changed to tricky values,
// styles and tags, and comments, anchors and aliases added. Each change
// hits one item of a run of items of one shape, so it meets a learned
// template.
func TestItemEncoderIsEncoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var items, changed int
	inputs := generatedInputs(t)
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		in := inputs[name]
		for round := range 12 {
			rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), KeepReaderAnnotations: true}
			nodes, err := rw.Read()
			if err != nil {
				t.Fatal(err)
			}
			rl := &framework.ResourceList{Items: nodes, FunctionConfig: rw.FunctionConfig}
			_ = Processor{}.Process(rl)
			rl.Items = append(rl.Items, oddItems(t)...)
			// Odd rounds change random items at random; even rounds give
			// every item the same node (by position) a quoted or flow
			// style, so templates are learned with it, then change values
			// in some items, keeping their styles.
			restyle, style := rng.IntN(200), []yaml.Style{yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle}[rng.IntN(2)]
			for _, it := range rl.Items {
				items++
				switch {
				case round%2 == 1 && rng.IntN(3) == 0:
					changeNode(rng, it.YNode())
					changed++
				case round > 0 && round%2 == 0:
					nodes := preorder(it.YNode())
					if restyle < len(nodes) {
						if n := nodes[restyle]; n.Kind == yaml.ScalarNode {
							n.Style = style
						} else {
							n.Style = yaml.FlowStyle
						}
					}
					if rng.IntN(3) == 0 {
						n := nodes[rng.IntN(len(nodes))]
						if restyle < len(nodes) && rng.IntN(2) == 0 {
							n = nodes[min(restyle+rng.IntN(4), len(nodes)-1)]
						}
						if n.Kind == yaml.ScalarNode {
							n.Value = trickyValues[rng.IntN(len(trickyValues))]
							changed++
						}
					}
				}
			}
			want := encodeSlowly(t, rl.Items)
			var got bytes.Buffer
			if err := writeResourceList(&got, kio.ResourceListAPIVersion, rl.Items, nil, nil); err != nil {
				t.Fatalf("%s round %d: %v", name, round, err)
			}
			if diff := cmp.Diff(want, got.String()); diff != "" {
				t.Fatalf("%s round %d: the item encoder differs from the YAML encoder (-encoder +item encoder):\n%s", name, round, diff)
			}
		}
	}
	t.Logf("%d items, %d changed", items, changed)
}

// encodeSlowly is writeResourceList without its item encoder: each item
// encoded whole by the YAML encoder.
func encodeSlowly(t *testing.T, items []*yaml.RNode) string {
	t.Helper()
	var out strings.Builder
	out.WriteString("apiVersion: " + kio.ResourceListAPIVersion + "\nkind: " + kio.ResourceListKind + "\nitems:\n")
	for _, it := range items {
		if err := yaml.ClearEmptyAnnotations(it); err != nil {
			t.Fatal(err)
		}
		b, err := encodeNode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{it.YNode()}})
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	return out.String()
}

// changeNode changes one to three random nodes of n: a scalar's value,
// style or tag, a comment, an anchor and its alias, or a collection's style.
func changeNode(rng *rand.Rand, n *yaml.Node) {
	all := preorder(n)
	var scalars []*yaml.Node
	for _, c := range all {
		if c.Kind == yaml.ScalarNode {
			scalars = append(scalars, c)
		}
	}
	for range 1 + rng.IntN(3) {
		c := all[rng.IntN(len(all))]
		switch rng.IntN(12) {
		case 0, 1, 2, 3:
			if c.Kind == yaml.ScalarNode {
				c.Value = trickyValues[rng.IntN(len(trickyValues))]
			}
		case 10, 11:
			// A quoted scalar, as a hole of a template may be.
			if c = scalars[rng.IntN(len(scalars))]; c.Kind != yaml.ScalarNode {
				break // made an alias by an earlier change
			}
			c.Style = []yaml.Style{0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle}[rng.IntN(3)]
			c.Value = trickyValues[rng.IntN(len(trickyValues))]
		case 4:
			if c.Kind == yaml.ScalarNode {
				c.Style = []yaml.Style{0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle, yaml.LiteralStyle, yaml.FoldedStyle, yaml.TaggedStyle}[rng.IntN(6)]
			}
		case 5:
			if c.Kind == yaml.ScalarNode {
				c.Tag = []string{"", yaml.NodeTagString, yaml.NodeTagInt, "!custom"}[rng.IntN(4)]
				if c.Tag == yaml.NodeTagInt {
					c.Value = "42"
				}
			}
		case 6:
			if c.Kind != yaml.ScalarNode {
				c.Style ^= yaml.FlowStyle
			}
		case 7:
			switch rng.IntN(3) {
			case 0:
				c.HeadComment = "# head"
			case 1:
				c.LineComment = "# line"
			case 2:
				c.FootComment = "# foot"
			}
		case 8:
			if c != n {
				c.Anchor = "a"
			}
		case 9:
			// A scalar value made an alias of the item's first key.
			if c.Kind == yaml.ScalarNode && len(n.Content) > 0 && c != n.Content[0] {
				n.Content[0].Anchor = "k"
				*c = yaml.Node{Kind: yaml.AliasNode, Value: "k", Alias: n.Content[0]}
			}
		}
	}
}

// preorder returns n and its descendants, parents first.
func preorder(n *yaml.Node) []*yaml.Node {
	all := []*yaml.Node{n}
	for _, c := range n.Content {
		all = append(all, preorder(c)...)
	}
	return all
}

// TestPastable proves the rule templates rest on: a scalar pastable says is
// written as its value (in its quotes), in any block context, so pasting it
// where a placeholder was written gives the YAML encoder's bytes. It tries
// the tricky values and random strings of all of printable ASCII, in each
// style, as a mapping value and a sequence item, shallow and deep.
func TestPastable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	values := append([]string(nil), trickyValues...)
	for range 3000 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = byte(' ' + rng.IntN(96)) // printable ASCII and DEL
			if rng.IntN(20) == 0 {
				b[i] = "\t\n\x00é"[rng.IntN(4)]
			}
		}
		values = append(values, string(b))
	}
	contexts := map[string]func(*yaml.Node) *yaml.Node{
		"value": func(v *yaml.Node) *yaml.Node {
			return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{stringNode("k"), v, stringNode("z"), stringNode("z")}}
		},
		"item": func(v *yaml.Node) *yaml.Node {
			return &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{stringNode("a"), v, stringNode("z")}}
		},
		"deep": func(v *yaml.Node) *yaml.Node {
			return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{stringNode("a"), {Kind: yaml.MappingNode, Content: []*yaml.Node{
				stringNode("b"), {Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{stringNode("c"), v}}}},
			}}}}
		},
	}
	var pasted int
	for _, v := range values {
		for _, style := range []yaml.Style{0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle} {
			for _, tag := range []string{"", yaml.NodeTagString} {
				n := &yaml.Node{Kind: yaml.ScalarNode, Style: style, Tag: tag, Value: v}
				if !pastable(n) {
					continue
				}
				pasted++
				for name, context := range contexts {
					want, err := encodeNode(context(n))
					if err != nil {
						t.Fatal(err)
					}
					placeholder := *n
					placeholder.Value = placeholderPrefix + "0zz"
					marked, err := encodeNode(context(&placeholder))
					if err != nil {
						t.Fatal(err)
					}
					if got := bytes.Replace(marked, []byte(placeholder.Value), []byte(v), 1); !bytes.Equal(got, want) {
						t.Errorf("%q (style %d, tag %q) as a %s: pasted\n%s\nencoded\n%s", v, style, tag, name, got, want)
					}
				}
			}
		}
	}
	t.Logf("%d of %d scalars pastable", pasted, 6*len(values))
}

// oddItems are items the item encoder may split or template that no export
// holds: items of scalars, of sequences, of flow mappings, items first, a
// List of one entry, and runs of alike ones.
func oddItems(t *testing.T) []*yaml.RNode {
	t.Helper()
	docs := []string{
		"kind: List\nitems:\n- a\n- '1'\n- \"x y\"\n- [b, c]\n- {d: e}\n- - f\n  - g\n- |\n  text\nmetadata: {}\n",
		"items:\n- a: 1\n  b: [x]\nkind: Odd\n",
		"items:\n- a: 2\n  b: [y]\nkind: Odd\n",
		"items:\n- a: 3\n  b: [z]\nkind: Odd\n",
		"apiVersion: v1\nkind: List\nitems:\n- {}\n- []\n- null\n- ~\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n",
		"kind: Flow\nitems: [a, b]\n",
		"kind: Nested\nspec:\n  items:\n  - a\n",
	}
	var out []*yaml.RNode
	for _, d := range docs {
		n, err := yaml.Parse(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}
