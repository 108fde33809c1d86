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

// TestRunIsExecuteGenerated checks that Run, which writes item by item, writes
// what kyaml's framework.Execute writes, for the ResourceLists of generated
// clusters, the bench input included.
func TestRunIsExecuteGenerated(t *testing.T) {
	inputs := generatedInputs(t)
	inputs["bench"] = benchInput(40, "")
	inputs["bench/pod"] = benchInput(40, "Pod")
	inputs["comments"] = []byte(`apiVersion: config.kubernetes.io/v1
kind: ResourceList
# head of the items
items:
# head of an item
- # head of its first key
  apiVersion: monitoring.openshift.tpg/v1alpha1 # line
  kind: PacketCapture
  metadata: {name: c, namespace: captures} # line
  spec:
    targetNamespace: shop # line
    targetDeployment: web
    duration: "30"
    # foot of spec
# between items
- &k apiVersion: v1
  kind: List # line
  items: # line
  - # head
    kind: Deployment # line
    apiVersion: apps/v1
    metadata:
      name: web
      namespace: shop
      uid: d
      labels: {app: web}
      annotations:
        a: *k # line
    spec:
      selector: {matchLabels: {app: web}} # line
    # foot of an entry
  - kind: ConfigMap
    apiVersion: v1
    metadata: {name: x} # line
  # foot of the entries
- kind: Flow # line
  items: [a, b] # line
# foot of the items
`)
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
		if !strings.Contains(string(got), "kind: Job") && name != "comments" {
			t.Errorf("%s: no Jobs planned", name)
		}
	}
}

// TestWriteResourceListIsByteWriter checks the writer Run uses against
// kyaml's kio.ByteWriter on the output items of generated clusters, odd
// items (scalars, flow style, Lists of one entry or of odd entries), and
// items with random changes: tricky values, styles and tags, comments,
// anchors and aliases, which make a List be written whole.
func TestWriteResourceListIsByteWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := generatedInputs(t)
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		for round := range 3 {
			rw := &kio.ByteReadWriter{Reader: bytes.NewReader(inputs[name]), KeepReaderAnnotations: true}
			items, err := rw.Read()
			if err != nil {
				t.Fatal(err)
			}
			rl := &framework.ResourceList{Items: items, FunctionConfig: rw.FunctionConfig}
			_ = Processor{}.Process(rl)
			rl.Items = append(rl.Items, oddItems(t)...)
			if round > 0 {
				for _, it := range rl.Items {
					if rng.IntN(3) == 0 {
						changeNode(rng, it.YNode())
					}
				}
			}
			var want bytes.Buffer
			kyamlWriter := kio.ByteWriter{Writer: &want, KeepReaderAnnotations: true, FunctionConfig: rl.FunctionConfig,
				WrappingKind: kio.ResourceListKind, WrappingAPIVersion: kio.ResourceListAPIVersion}
			if err := kyamlWriter.Write(rl.Items); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeResourceList(&got, kio.ResourceListAPIVersion, rl.Items, rl.FunctionConfig, nil); err != nil {
				t.Fatalf("%s round %d: %v", name, round, err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Fatalf("%s round %d: writeResourceList differs from kio.ByteWriter (-kyaml +writeResourceList):\n%s", name, round, diff)
			}
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

// changeNode changes one to three random nodes of n: a scalar's value,
// style or tag, a comment, an anchor and its alias, or a collection's style.
func changeNode(rng *rand.Rand, n *yaml.Node) {
	all := preorder(n)
	keys := make(map[*yaml.Node]bool)
	for _, c := range all {
		for i := 0; c.Kind == yaml.MappingNode && i < len(c.Content); i += 2 {
			keys[c.Content[i]] = true
		}
	}
	for range 1 + rng.IntN(3) {
		c := all[rng.IntN(len(all))]
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			if c.Kind == yaml.ScalarNode {
				c.Value = trickyValues[rng.IntN(len(trickyValues))]
			}
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
			// A head comment, or a line comment on a scalar value, where
			// kyaml's reader puts them; never on the item itself. yaml.v3
			// writes other comments at the end of an item (a foot comment,
			// the line comment of a collection) into the next item, which an
			// item written alone cannot: TestRunIsExecuteGenerated runs
			// commented inputs as kyaml reads them.
			switch {
			case c == n:
			case rng.IntN(2) == 0:
				c.HeadComment = "# head"
			case c.Kind == yaml.ScalarNode && !keys[c]:
				c.LineComment = "# line"
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

// oddItems are items writeResourceList may split that no export holds: items of scalars, of sequences, of flow mappings, items first, a
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
