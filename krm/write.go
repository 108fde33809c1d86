package krm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Run reads a ResourceList from r, processes it and writes the result to w.
// The error is non-nil when a result is an error; the ResourceList, with its
// results, is written all the same.
//
// It is framework.Execute(Processor{}, ...) but for two things: an empty
// input is an error, and, the only place this package spends code on speed,
// a ResourceList is written one item at a time (writeResourceList), not as
// one YAML document. yaml.v3's encoder keeps
// every event of what it encodes until the end (its queue only grows), so
// for one document of thousands of objects most of the time goes to growing
// that queue and to the garbage collector scanning it. Measured in turns with
// a kyaml passthrough (BenchmarkKRMOverPassthrough, docs/kpt.md): at 1,000
// Pods the function costs about 2.1 times the passthrough's CPU with
// framework.Execute, 1.6 times written this way. The bytes are kyaml's
// (TestRunIsExecute, TestWriteResourceListIsByteWriter).
func Run(r io.Reader, w io.Writer) error {
	rw := &kio.ByteReadWriter{Reader: r, KeepReaderAnnotations: true}
	items, err := rw.Read()
	if err != nil {
		return fmt.Errorf("failed to read ResourceList input: %w", err)
	}
	if len(items) == 0 && rw.WrappingKind == "" && rw.FunctionConfig == nil {
		// kyaml would answer nothing: say why instead.
		return fmt.Errorf("no input: expected a %s (or Kubernetes objects) on stdin", kio.ResourceListKind)
	}
	// From here on as framework.Execute.
	rl := &framework.ResourceList{Items: items, FunctionConfig: rw.FunctionConfig}
	annotations, err := kio.PreprocessResourcesForInternalAnnotationMigration(rl.Items)
	if err != nil {
		return err
	}
	processErr := Processor{}.Process(rl)
	if err := kio.ReconcileInternalAnnotations(rl.Items, annotations); err != nil {
		return err
	}
	if len(rl.Results) > 0 {
		b, err := yaml.Marshal(rl.Results)
		if err != nil {
			return err
		}
		if rw.Results, err = yaml.Parse(string(b)); err != nil {
			return err
		}
	}
	if rw.WrappingKind == kio.ResourceListKind && len(rl.Items) > 0 {
		err = writeResourceList(w, rw.WrappingAPIVersion, rl.Items, rw.FunctionConfig, rw.Results)
	} else {
		rw.Writer = w
		err = rw.Write(rl.Items)
	}
	if err != nil {
		return err
	}
	return processErr
}

// writeResourceList writes what kio.ByteWriter writes for a ResourceList,
// encoding each item on its own: an item alone in a sequence encodes as it
// does in the items sequence of the whole list, and so does an entry of a
// List item (splitList).
func writeResourceList(w io.Writer, apiVersion string, items []*yaml.RNode, functionConfig, results *yaml.RNode) error {
	out := bufio.NewWriterSize(w, 64<<10)
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	head := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("apiVersion"), scalar(apiVersion), scalar("kind"), scalar(kio.ResourceListKind),
	}}
	if err := encode(out, head); err != nil {
		return err
	}
	if _, err := out.WriteString("items:\n"); err != nil {
		return err
	}
	for _, it := range items {
		// As kio.ByteWriter does, on the output's own nodes.
		if err := yaml.ClearEmptyAnnotations(it); err != nil {
			return err
		}
		if err := writeItem(out, it.YNode()); err != nil {
			return err
		}
	}
	tail := &yaml.Node{Kind: yaml.MappingNode}
	if functionConfig != nil {
		tail.Content = append(tail.Content, scalar("functionConfig"), functionConfig.YNode())
	}
	if results != nil {
		tail.Content = append(tail.Content, scalar("results"), results.YNode())
	}
	if len(tail.Content) > 0 {
		if err := encode(out, tail); err != nil {
			return err
		}
	}
	return out.Flush()
}

// encode writes n as a YAML document of its own, with kyaml's encoder.
func encode(w io.Writer, n *yaml.Node) error {
	e := yaml.NewEncoder(w)
	if err := e.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}); err != nil {
		return err
	}
	return e.Close()
}

// encodeItem returns n encoded as the only entry of a sequence.
func encodeItem(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	err := encode(&b, &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
	return b.Bytes(), err
}

// writeItem writes an item as the entry of the items sequence it is, and a
// List item (`kubectl get -o yaml` writes one; an export of thousands of Pods
// is a single item) entry by entry.
func writeItem(w io.Writer, n *yaml.Node) error {
	b, err := splitList(n)
	if err != nil {
		return err
	}
	if b == nil {
		return encode(w, &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
	}
	_, err = w.Write(b)
	return err
}

// splitList encodes a List written in block style entry by entry: the List
// without its entries, then each entry as the only entry of an items
// sequence in its place, as deep as in the List, so it encodes as it does
// there. It returns nil for an item that is no such List, or that has
// comments, anchors or aliases anywhere: it is encoded whole.
func splitList(n *yaml.Node) ([]byte, error) {
	k := listItemsKey(n)
	if k < 0 || !plainTree(n) {
		return nil, nil
	}
	key, items := n.Content[k], n.Content[k+1]
	list := func(content ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: n.Kind, Style: n.Style, Tag: n.Tag, Content: content}
	}
	// The List up to its items key, written as "items: []".
	head, err := encodeItem(list(append(slices.Clip(n.Content[:k]), key, &yaml.Node{Kind: items.Kind, Style: items.Style, Tag: items.Tag})...))
	if err != nil {
		return nil, err
	}
	head, ok := bytes.CutSuffix(head, []byte("items: []\n"))
	if !ok {
		return nil, nil
	}
	out := append(head, "items:\n"...)
	entry := &yaml.Node{Kind: items.Kind, Style: items.Style, Tag: items.Tag, Content: make([]*yaml.Node, 1)}
	wrapper := list(key, entry)
	for _, it := range items.Content {
		entry.Content[0] = it
		b, err := encodeItem(wrapper)
		if err != nil {
			return nil, err
		}
		b, ok := bytes.CutPrefix(b, []byte("- items:\n"))
		if !ok {
			return nil, nil
		}
		out = append(out, b...)
	}
	if rest := n.Content[k+2:]; len(rest) > 0 {
		// The keys after items, written as a List of their own: "- " where
		// the List writes the indentation of its keys.
		b, err := encodeItem(list(rest...))
		if err != nil {
			return nil, err
		}
		b, ok := bytes.CutPrefix(b, []byte("- "))
		if !ok {
			return nil, nil
		}
		out = append(append(out, "  "...), b...)
	}
	return out, nil
}

// listItemsKey returns the index of the items key of a List written in
// block style, or -1: a mapping with one plain items key whose value is a
// non-empty block sequence.
func listItemsKey(n *yaml.Node) int {
	if n.Kind != yaml.MappingNode || n.Style != 0 || (n.Tag != yaml.NodeTagMap && n.Tag != "") {
		return -1
	}
	found := -1
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Value != "items" {
			continue
		}
		v := n.Content[i+1]
		if found >= 0 || k.Style != 0 || k.Tag != yaml.NodeTagString || v.Kind != yaml.SequenceNode || v.Style != 0 ||
			(v.Tag != yaml.NodeTagSeq && v.Tag != "") || len(v.Content) == 0 {
			return -1
		}
		found = i
	}
	return found
}

// plainTree tells whether n and all its descendants are mappings, sequences
// and scalars with no comments, anchor or alias: what the YAML encoder
// writes in place, the same wherever it stands.
func plainTree(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode && n.Kind != yaml.ScalarNode ||
		n.Anchor != "" || n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return false
	}
	for _, c := range n.Content {
		if !plainTree(c) {
			return false
		}
	}
	return true
}
