package krm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Run reads a ResourceList from r, processes it and writes the result to w.
// The error is non-nil when a result is an error; the ResourceList, with its
// results, is written all the same.
//
// It is framework.Execute with one change: a ResourceList is written item by
// item. kyaml's writer encodes the whole ResourceList as one YAML document,
// and the YAML encoder keeps every event of a document until its end: for
// the Jobs of 10,000 Pods that is gigabytes, and most of the run time. The
// bytes are the same (TestRunIsExecute).
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
	encode := func(n *yaml.Node) error {
		var buf bytes.Buffer
		e := yaml.NewEncoder(&buf)
		if err := e.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}); err != nil {
			return err
		}
		if err := e.Close(); err != nil {
			return err
		}
		_, err := out.Write(buf.Bytes())
		return err
	}

	if err := encode(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("apiVersion"), scalar(apiVersion), scalar("kind"), scalar(kio.ResourceListKind),
	}}); err != nil {
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
		if err := encode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{it.YNode()}}); err != nil {
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
		if err := encode(tail); err != nil {
			return err
		}
	}
	return out.Flush()
}
