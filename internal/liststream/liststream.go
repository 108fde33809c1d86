// Package liststream turns what `kubectl get ... -o yaml` prints (a v1 List,
// or several) into the plain YAML stream of objects that
// `crossplane render --required-resources` reads: render does not unwrap
// Lists itself.
package liststream

import (
	"errors"
	"fmt"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Expand reads YAML or JSON documents from r and writes every object, with
// the items of each List in place of the List, as a YAML stream to w.
func Expand(r io.Reader, w io.Writer) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	first := true
	for n := 1; ; n++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		if doc == nil {
			continue
		}
		objs := []any{doc}
		if kind, _ := doc["kind"].(string); strings.HasSuffix(kind, "List") {
			items, ok := doc["items"].([]any)
			if !ok && doc["items"] != nil {
				return fmt.Errorf("document %d: %s.items is not a list", n, kind)
			}
			objs = items
		}
		for _, o := range objs {
			b, err := yaml.Marshal(o)
			if err != nil {
				return fmt.Errorf("document %d: %w", n, err)
			}
			if !first {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
			first = false
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
}
