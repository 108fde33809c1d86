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
// It is framework.Execute with one change: a ResourceList is written item by
// item, with an itemEncoder. kyaml's writer encodes the whole ResourceList as
// one YAML document, and the YAML encoder keeps every event of a document
// until its end: for the Jobs of 10,000 Pods that is gigabytes, and most of
// the run time. The item encoder writes a List entry by entry and objects
// of a shape it knows from a template. The bytes are the same
// (TestRunIsExecute, TestRunIsExecuteGenerated, TestItemEncoderIsEncoder).
func Run(r io.Reader, w io.Writer) error {
	rw := &kio.ByteReadWriter{Reader: r, KeepReaderAnnotations: true}
	items, err := rw.Read()
	if err != nil {
		return fmt.Errorf("failed to read ResourceList input: %w", err)
	}
	if len(items) == 0 && rw.WrappingKind == "" && rw.FunctionConfig == nil {
		return fmt.Errorf("no input: expected a %s (or Kubernetes objects) on stdin", kio.ResourceListKind)
	}
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
// does in the items sequence of the whole list.
func writeResourceList(w io.Writer, apiVersion string, items []*yaml.RNode, functionConfig, results *yaml.RNode) error {
	out := bufio.NewWriterSize(w, 64<<10)
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	write := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}

	if err := write(encodeNode(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("apiVersion"), scalar(apiVersion), scalar("kind"), scalar(kio.ResourceListKind),
	}})); err != nil {
		return err
	}
	if _, err := out.WriteString("items:\n"); err != nil {
		return err
	}
	e := &itemEncoder{encode: encodeNode}
	for _, it := range items {
		// As kio.ByteWriter does, on the output's own nodes.
		if err := yaml.ClearEmptyAnnotations(it); err != nil {
			return err
		}
		if err := write(e.encodeListOrItem(it.YNode())); err != nil {
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
		if err := write(encodeNode(tail)); err != nil {
			return err
		}
	}
	return out.Flush()
}

// encodeNode encodes n as a YAML document of its own.
func encodeNode(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	e := yaml.NewEncoder(&buf)
	if err := e.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}); err != nil {
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeListOrItem encodes an item as encodeItem does, and a List item
// (`kubectl get -o yaml` writes one) entry by entry: the YAML encoder keeps
// every event of what it encodes until the end, which for a List of
// thousands of Pods costs more than encoding them. A List is written as the
// List without its entries, with each entry encoded as the only entry of an
// items sequence in its place, as deep as in the List, so it encodes as it
// does there. Lists with comments, anchors or aliases anywhere are encoded
// whole.
func (e *itemEncoder) encodeListOrItem(n *yaml.Node) ([]byte, error) {
	k := listItemsKey(n)
	if k < 0 || !plainTree(n) {
		return e.encodeItem(n)
	}
	key, items := n.Content[k], n.Content[k+1]
	list := func(content ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: n.Kind, Style: n.Style, Tag: n.Tag, Content: content}
	}
	// The List up to its items key, written as "items: []".
	head, err := e.encodeItem(list(append(slices.Clip(n.Content[:k]), key, &yaml.Node{Kind: items.Kind, Style: items.Style, Tag: items.Tag})...))
	if err != nil {
		return nil, err
	}
	head, ok := bytes.CutSuffix(head, []byte("items: []\n"))
	if !ok {
		return e.encodeItem(n)
	}
	out := append(head, "items:\n"...)
	entry := &yaml.Node{Kind: items.Kind, Style: items.Style, Tag: items.Tag, Content: make([]*yaml.Node, 1)}
	wrapper := list(key, entry)
	for _, it := range items.Content {
		entry.Content[0] = it
		b, err := e.encodeItem(wrapper)
		if err != nil {
			return nil, err
		}
		b, ok := bytes.CutPrefix(b, []byte("- items:\n"))
		if !ok {
			return e.encodeItem(n)
		}
		out = append(out, b...)
	}
	if rest := n.Content[k+2:]; len(rest) > 0 {
		// The keys after items, written as a List of their own: "- " where
		// the List writes the indentation of its keys.
		b, err := e.encodeItem(list(rest...))
		if err != nil {
			return nil, err
		}
		b, ok := bytes.CutPrefix(b, []byte("- "))
		if !ok {
			return e.encodeItem(n)
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

// plainTree tells whether n and all its descendants are plainNodes of the
// kinds the YAML encoder writes in place: mappings, sequences and scalars.
func plainTree(n *yaml.Node) bool {
	if !plainNode(n) || n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode && n.Kind != yaml.ScalarNode {
		return false
	}
	for _, c := range n.Content {
		if !plainTree(c) {
			return false
		}
	}
	return true
}
