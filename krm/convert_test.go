package krm

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestToValue(t *testing.T) {
	cases := map[string]struct {
		yaml    string
		want    any
		wantErr string
	}{
		"scalars as Kubernetes decodes JSON": {
			yaml: "s: '30'\ni: 30\nhex: 0x1e\nf: 1.5\nb: true\nn: null\nts: 2026-10-02T08:14:55Z\nempty:\n",
			want: map[string]any{"s": "30", "i": int64(30), "hex": int64(30), "f": 1.5, "b": true, "n": nil, "ts": "2026-10-02T08:14:55Z", "empty": nil},
		},
		"aliases and merge keys; written keys win": {
			yaml: "base: &b {a: 1, c: 1}\nmore: &m {d: 4}\nx: {c: 3, <<: [*b, *m]}\ny: *b\n",
			want: map[string]any{
				"base": map[string]any{"a": int64(1), "c": int64(1)},
				"more": map[string]any{"d": int64(4)},
				"x":    map[string]any{"a": int64(1), "c": int64(3), "d": int64(4)},
				"y":    map[string]any{"a": int64(1), "c": int64(1)},
			},
		},
		"an alias that contains itself": {
			yaml:    "a: &a [1, *a]\n",
			wantErr: "alias *a contains itself",
		},
		"a merge key that contains itself": {
			yaml:    "a: &a {b: 1, <<: *a}\n",
			wantErr: "alias *a contains itself",
		},
		"a billion laughs": {
			yaml:    laughs(),
			wantErr: "aliases expand to more than",
		},
		"a merge of a scalar": {
			yaml:    "a: {<<: 1}\n",
			wantErr: "a merge key needs a mapping",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := yaml.Parse(tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got, err := toValue(n.YNode())
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

// laughs is the classic alias bomb: 10 levels of 10 aliases each.
func laughs() string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol]\n")
	for i := 1; i <= 10; i++ {
		b.WriteString("l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// TestHostileYAML runs the function on ResourceLists whose PacketCapture or
// Pods hold alias bombs and self-referential aliases: each is an error
// result, never a crash or a hang.
func TestHostileYAML(t *testing.T) {
	for name, in := range map[string]string{
		"self-referential spec": `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {name: c, namespace: captures}
  spec: &s {targetNamespace: shop, targetDeployment: web, duration: "30", x: *s}
`,
		"bomb in a Pod": `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {name: c, namespace: captures}
  spec: {targetNamespace: shop, targetDeployment: web, duration: "30"}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop, uid: d}
  spec: {selector: {matchLabels: {app: web}}}
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, namespace: shop, uid: p, labels: {app: web}}
  spec:
    nodeName: n
    bomb:
` + indent(laughs(), "      "),
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan struct{})
			var out []byte
			var err error
			go func() {
				defer close(done)
				out, err = runFn([]byte(in))
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the function hangs")
			}
			if err == nil || !strings.Contains(string(out), "severity: error") {
				t.Fatalf("want an error result, got error %v and:\n%s", err, out)
			}
		})
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
