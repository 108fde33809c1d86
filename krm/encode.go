package krm

import (
	"bytes"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// itemEncoder encodes the items of one output as the YAML encoder does, but
// without running the encoder on every item. Most of an output is objects of
// one shape: a plan's capture Jobs, or a Deployment's Pods in an export.
// Objects of one shape differ in a few values (a name, a node, a uid) and
// encode to the same bytes but for those values. So once two objects of one
// shape have been seen, the encoder learns the shape's template: its bytes,
// cut at the values that vary. An object of a known shape is then written as
// the template with its own values pasted in.
//
// Pasting a value is exact only where the encoder would have written it as
// it is: the encoder quotes a plain string that reads as a number, escapes
// some characters, breaks multi-line text. So only values the encoder
// provably writes verbatim are pasted (pastable), everything else must equal
// the template's; an object that does not fit any template is encoded by the
// YAML encoder, as is any object with comments, anchors or aliases. Each new
// template is checked against the YAML encoder's bytes before it is used.
type itemEncoder struct {
	// encode is the YAML encoder, the slow path.
	encode func(*yaml.Node) ([]byte, error)
	// templates are the known shapes, most recently learned last.
	templates []*template
	// last is the skeleton of the last object encoded the slow way: a second
	// object of its shape makes it a template.
	last *template
	// values is reused from object to object.
	values []string
}

// maxTemplates bounds the templates an object is compared with, and
// maxTemplateNodes the size of an object worth a template: a List of a
// thousand Pods is one object of its shape.
const (
	maxTemplates     = 8
	maxTemplateNodes = 4096
)

// template is the shape of an object: its nodes in preorder, and once
// learned, the object's bytes cut at its holes, the values that may vary.
type template struct {
	nodes []skeletonNode
	// segments are the bytes around the holes: one more than holes.
	segments [][]byte
	holes    int
}

// skeletonNode is one node of a shape.
type skeletonNode struct {
	kind  yaml.Kind
	style yaml.Style
	tag   string
	// value is a scalar's value, unless the scalar is a hole.
	value string
	// children is the length of a mapping's or sequence's Content.
	children int
	hole     bool
}

// encodeItem returns the bytes of n encoded as the only entry of a sequence,
// as encode would.
func (e *itemEncoder) encodeItem(n *yaml.Node) ([]byte, error) {
	for i, t := range e.templates {
		values, ok := t.match(n, e.values[:0])
		e.values = values
		if ok {
			if i != len(e.templates)-1 {
				// Keep the template in use last: it is tried first next time.
				copy(e.templates[i:], e.templates[i+1:])
				e.templates[len(e.templates)-1] = t
			}
			return t.fill(values), nil
		}
	}
	out, err := e.encode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
	if err != nil {
		return nil, err
	}
	if e.last != nil {
		if values, ok := e.last.match(n, e.values[:0]); ok && e.last.holes > 0 {
			e.values = values
			e.learn(e.last, n, values, out)
			e.last = nil
			return out, nil
		}
	}
	e.last = newSkeleton(n)
	return out, nil
}

// learn makes t, the shape of n, a template: it encodes n with a placeholder
// in each hole and cuts the bytes at the placeholders. The template must give
// back out, n's own bytes, or it is not kept.
func (e *itemEncoder) learn(t *template, n *yaml.Node, values []string, out []byte) {
	placeholders := make([]string, t.holes)
	for i := range placeholders {
		placeholders[i] = placeholderPrefix + strconv.Itoa(i) + "zz"
	}
	hole := 0
	marked, ok := t.copyWith(n, placeholders, new(int), &hole)
	if !ok {
		return
	}
	b, err := e.encode(&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{marked}})
	if err != nil || bytes.Count(b, []byte(placeholderPrefix)) != t.holes {
		return
	}
	segments := make([][]byte, 0, t.holes+1)
	for _, p := range placeholders {
		before, after, found := bytes.Cut(b, []byte(p))
		if !found {
			return
		}
		segments = append(segments, before)
		b = after
	}
	t.segments = append(segments, b)
	if !bytes.Equal(t.fill(values), out) {
		return
	}
	if len(e.templates) == maxTemplates {
		e.templates = e.templates[1:]
	}
	e.templates = append(e.templates, t)
}

// placeholderPrefix starts the placeholders learn puts in the holes: a plain
// string that appears nowhere else in the bytes (learn checks).
const placeholderPrefix = "zzkrmhole"

// fill returns the template's bytes with values in its holes.
func (t *template) fill(values []string) []byte {
	size := 0
	for _, s := range t.segments {
		size += len(s)
	}
	for _, v := range values {
		size += len(v)
	}
	out := make([]byte, 0, size)
	for i, v := range values {
		out = append(out, t.segments[i]...)
		out = append(out, v...)
	}
	return append(out, t.segments[len(values)]...)
}

// newSkeleton returns the shape of n, or nil if n is not worth a template or
// has what templates do not handle: comments, anchors, aliases.
func newSkeleton(n *yaml.Node) *template {
	t := &template{}
	if !t.add(n, false, false) {
		return nil
	}
	return t
}

// add appends n and its descendants to the skeleton. A scalar is a hole when
// it is a value (not a key), in block style all the way up, and its value is
// pastable.
func (t *template) add(n *yaml.Node, isKey, inFlow bool) bool {
	if len(t.nodes) == maxTemplateNodes || !plainNode(n) {
		return false
	}
	s := skeletonNode{kind: n.Kind, style: n.Style, tag: n.Tag, children: len(n.Content)}
	switch n.Kind {
	case yaml.ScalarNode:
		s.hole = !isKey && !inFlow && pastable(n)
		if !s.hole {
			s.value = n.Value
		} else {
			t.holes++
		}
		t.nodes = append(t.nodes, s)
		return true
	case yaml.MappingNode, yaml.SequenceNode:
		t.nodes = append(t.nodes, s)
		inFlow = inFlow || n.Style&yaml.FlowStyle != 0
		for i, c := range n.Content {
			if !t.add(c, n.Kind == yaml.MappingNode && i%2 == 0, inFlow) {
				return false
			}
		}
		return true
	}
	return false
}

// plainNode tells whether n has nothing but its kind, style, tag, value and
// children: no comments, no anchor, no alias.
func plainNode(n *yaml.Node) bool {
	return n.Anchor == "" && n.Alias == nil && n.HeadComment == "" && n.LineComment == "" && n.FootComment == ""
}

// match tells whether n has the template's shape, appending its values at
// the holes to values.
func (t *template) match(n *yaml.Node, values []string) ([]string, bool) {
	i := 0
	values, ok := t.matchNode(n, &i, values)
	return values, ok && i == len(t.nodes)
}

func (t *template) matchNode(n *yaml.Node, i *int, values []string) ([]string, bool) {
	if *i == len(t.nodes) {
		return values, false
	}
	s := &t.nodes[*i]
	*i++
	if n.Kind != s.kind || n.Style != s.style || n.Tag != s.tag || len(n.Content) != s.children || !plainNode(n) {
		return values, false
	}
	if n.Kind == yaml.ScalarNode {
		if s.hole {
			return append(values, n.Value), pastable(n)
		}
		return values, n.Value == s.value
	}
	for _, c := range n.Content {
		var ok bool
		if values, ok = t.matchNode(c, i, values); !ok {
			return values, false
		}
	}
	return values, true
}

// copyWith returns a copy of n, of the template's shape, with placeholders
// in its holes.
func (t *template) copyWith(n *yaml.Node, placeholders []string, i, hole *int) (*yaml.Node, bool) {
	if *i == len(t.nodes) {
		return nil, false
	}
	s := t.nodes[*i]
	*i++
	c := *n
	if s.hole {
		c.Value = placeholders[*hole]
		*hole++
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for k, child := range n.Content {
			var ok bool
			if c.Content[k], ok = t.copyWith(child, placeholders, i, hole); !ok {
				return nil, false
			}
		}
	}
	return &c, true
}

// pastable tells whether the YAML encoder writes the scalar n, a value in
// block context, as its value verbatim (in quotes if its style is quoted):
//   - plain: a string of letters, digits and _ . / - that does not start
//     with . or - (indicators) and reads back as a string, not as a number,
//     bool, null or timestamp (the encoder would quote it);
//   - single or double quoted: printable ASCII without spaces (the encoder
//     may break a line at a space), the quote or, double quoted, a
//     backslash (the encoder would escape them).
//
// The scalar's tag must say string, or be empty.
func pastable(n *yaml.Node) bool {
	v := n.Value
	if v == "" || (n.Tag != yaml.NodeTagString && n.Tag != "") {
		return false
	}
	switch n.Style {
	case 0:
		if v[0] == '.' || v[0] == '-' {
			return false
		}
		for i := range len(v) {
			c := v[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-') {
				return false
			}
		}
		return (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag() == yaml.NodeTagString
	case yaml.SingleQuotedStyle:
		return printableWithout(v, "'")
	case yaml.DoubleQuotedStyle:
		return printableWithout(v, `"\`)
	}
	return false
}

// printableWithout tells whether s is printable ASCII without spaces nor
// any of the characters of except.
func printableWithout(s, except string) bool {
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' || strings.IndexByte(except, s[i]) >= 0 {
			return false
		}
	}
	return true
}
