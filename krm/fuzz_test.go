package krm

import (
	"bytes"
	"encoding/json"
	"github.com/function-packet-capture/function-packet-capture/internal/fuzzseed"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// The fuzz targets of the KRM adapter. `go test ./krm` runs their seed
// corpora (testdata/fuzz/<target>/); `make fuzz` mutates them for a while.
// FPC_WRITE_FUZZ_SEEDS=1 go test ./krm -run 'Fuzz' rewrites the seeds.

// FuzzRun feeds arbitrary bytes to the KRM function as its stdin, as kpt or
// kustomize would: it must never panic, and what it writes must be a
// ResourceList that, run again, comes back unchanged.
func FuzzRun(f *testing.F) {
	fuzzseed.Write(f, "FuzzRun", func(yield func(string, []any)) {
		inputs, err := filepath.Glob(filepath.Join("testdata", "*", "input.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, in := range inputs {
			b, err := os.ReadFile(in)
			if err != nil {
				f.Fatal(err)
			}
			if len(b) > 8<<10 {
				continue // large seeds slow every mutation down; the golden tests cover them.
			}
			yield(filepath.Base(filepath.Dir(in)), []any{b})
		}
		for name, in := range krmYAMLSeeds {
			yield(name, []any{[]byte(in)})
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCheckKRM(t, data)
	})
}

// FuzzRunFields builds well-formed ResourceLists from fuzzed field values:
// the PacketCapture, the target's names and labels, and one kpt key=value
// argument. It reaches the planner far more often than random bytes do.
func FuzzRunFields(f *testing.F) {
	seeds := []struct {
		name string
		v    []any
	}{
		{"operator-example", []any{"capture", "packet-capture", "qwer", "openshift-gitops", "openshift-gitops-server", "30", "", "", "openshift-gitops-server-6d8f9c7b5d-4xk2p", "worker-0", "packet-capture-openshift-gitops-openshift-gitops-server", "image", "busybox"}},
		{"derived-jobid", []any{"c", "ns", "", "shop", "web", "5m", "tcp port 80", "eth0", "web-5d4f8-aaaaa", "node-a", "x", "output.type", "HostPath"}},
		{"long-names", []any{strings.Repeat("n", 253), strings.Repeat("s", 63), "ab12", strings.Repeat("t", 63), strings.Repeat("d", 200), "86400", "host 10.0.0.1", "any", strings.Repeat("p", 253), strings.Repeat("w", 253), strings.Repeat("v", 63), "maxFiles", "1000"}},
		{"shell-in-filter", []any{"c", "ns", "zzzz", "shop", "web", "90s", "$(reboot); `id` ' \" \\", "lo", "web-1", "n", "a b", "resources", "{limits: {cpu: 1}}"}},
		{"bad-everything", []any{"", "", "QWERTY", "Shop", "web_1", "-5", "-w /etc/passwd", "eth0; rm", "Pod", "", "\x00", "imag", "x"}},
		{"yaml-looking-values", []any{"yes", "null", "1e3", "~", "true", "0x1f", "*a", "&b", "- x", "{a: b}", "|\n  x", "maxTargetPods", "1_000"}},
	}
	fuzzseed.Write(f, "FuzzRunFields", func(yield func(string, []any)) {
		for _, s := range seeds {
			yield(s.name, s.v)
		}
	})
	f.Fuzz(func(t *testing.T, name, namespace, jobID, targetNamespace, targetDeployment, duration, filter, iface, podName, nodeName, labelValue, configKey, configValue string) {
		for _, s := range []string{name, namespace, jobID, targetNamespace, targetDeployment, duration, filter, iface, podName, nodeName, labelValue, configKey, configValue} {
			if !utf8.ValidString(s) {
				return // YAML is text: kpt cannot pass it.
			}
		}
		sel := map[string]any{"app": labelValue}
		owner := func(kind, name, uid string) []any {
			return []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true}}
		}
		pod := func(name string) map[string]any {
			return map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": name, "namespace": targetNamespace, "uid": "uid-" + name,
					"labels": sel, "ownerReferences": owner("ReplicaSet", targetDeployment+"-5d4f8", "uid-rs")},
				"spec":   map[string]any{"nodeName": nodeName},
				"status": map[string]any{"phase": "Running", "podIP": "10.1.2.3"}}
		}
		rl := map[string]any{
			"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
			"functionConfig": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "fn-config"},
				"data": map[string]any{configKey: configValue}},
			"items": []any{
				map[string]any{"apiVersion": capture.APIVersion, "kind": capture.Kind,
					"metadata": map[string]any{"name": name, "namespace": namespace,
						"labels": map[string]any{"app.kubernetes.io/instance": labelValue}},
					"spec": map[string]any{"jobId": jobID, "targetNamespace": targetNamespace, "targetDeployment": targetDeployment,
						"duration": duration, "filter": filter, "interface": iface}},
				map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{
					map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
						"metadata": map[string]any{"name": targetDeployment, "namespace": targetNamespace, "uid": "uid-d"},
						"spec":     map[string]any{"selector": map[string]any{"matchLabels": sel}}},
					map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet",
						"metadata": map[string]any{"name": targetDeployment + "-5d4f8", "namespace": targetNamespace, "uid": "uid-rs",
							"labels": sel, "ownerReferences": owner("Deployment", targetDeployment, "uid-d")}},
					pod(podName), pod(podName + "-b"),
				}},
			},
		}
		// JSON is YAML, and json.Marshal quotes every value safely.
		in, err := json.Marshal(rl)
		if err != nil {
			t.Fatal(err)
		}
		out := fuzzCheckKRM(t, in)
		// A filter reaches the ConfigMap as data, byte for byte.
		for _, it := range out {
			if it.GetKind() == "ConfigMap" && it.GetAnnotations()[AnnotationGeneratedBy] == GeneratedBy {
				if got := it.GetDataMap()["filter"]; got != filter {
					t.Errorf("ConfigMap filter = %q, want %q", got, filter)
				}
			}
		}
	})
}

// fuzzCheckKRM runs the function on in and checks what must hold for every
// input. It returns the output's items.
func fuzzCheckKRM(t *testing.T, in []byte) []*yaml.RNode {
	t.Helper()
	var out bytes.Buffer
	runErr := Run(bytes.NewReader(in), &out)
	if out.Len() == 0 {
		if runErr == nil {
			// Only an input without a single YAML document may give
			// nothing back (kyaml reads nothing to answer).
			if nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(in)}).Read(); err == nil && len(nodes) > 0 {
				t.Fatalf("no output and no error for an input of %d objects", len(nodes))
			}
		}
		return nil // not a ResourceList: kyaml reports it.
	}
	rw := &kio.ByteReader{Reader: bytes.NewReader(out.Bytes()), WrapBareSeqNode: true}
	items, err := rw.Read()
	if err != nil {
		t.Fatalf("the output is not a ResourceList: %v\n%s", err, out.String())
	}
	for _, it := range items {
		if it.GetAnnotations()[AnnotationGeneratedBy] != GeneratedBy || it.GetLabels()[capture.LabelCapture] == "" {
			continue
		}
		if errs := append(validation.IsDNS1123Subdomain(it.GetName()), validation.IsValidLabelValue(it.GetName())...); len(errs) > 0 {
			t.Errorf("generated %s %q: %v", it.GetKind(), it.GetName(), errs)
		}
		if errs := validation.IsDNS1123Label(it.GetNamespace()); len(errs) > 0 {
			t.Errorf("generated %s %s in namespace %q: %v", it.GetKind(), it.GetName(), it.GetNamespace(), errs)
		}
		for k, v := range it.GetLabels() {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				t.Errorf("generated %s %s: label %s=%q: %v", it.GetKind(), it.GetName(), k, v, errs)
			}
		}
	}
	// Idempotence is promised for ResourceLists; a bare object (which kpt
	// never sends) comes back as kyaml formats it, comments and all.
	if isList := bytes.Contains(out.Bytes(), []byte("kind: ResourceList")); runErr == nil && isList {
		var again bytes.Buffer
		if err := Run(bytes.NewReader(out.Bytes()), &again); err != nil {
			t.Fatalf("running on its own output failed: %v", err)
		}
		if again.String() != out.String() {
			t.Fatalf("running on its own output changed it:\nfirst:\n%s\nsecond:\n%s", out.String(), again.String())
		}
	}
	return items
}

// krmYAMLSeeds exercise YAML features the adapter converts itself.
var krmYAMLSeeds = map[string]string{
	"anchors-and-merge-keys": `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: &meta {name: c, namespace: captures}
  spec: &spec
    targetNamespace: shop
    targetDeployment: web
    duration: 0x1e
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {<<: *meta, name: d}
  spec: {<<: [*spec], jobId: ab12, snaplen: 1_500}
`,
	"json": `{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [
  {"apiVersion": "monitoring.openshift.tpg/v1alpha1", "kind": "PacketCapture", "metadata": {"name": "c", "namespace": "captures"},
   "spec": {"targetNamespace": "shop", "targetDeployment": "web", "duration": "30", "followNewPods": true}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "uid": "d"},
   "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}}]}
`,
	"wrong-types": `apiVersion: config.kubernetes.io/v1
kind: ResourceList
functionConfig: {apiVersion: packetcapture.fn.crossplane.io/v1beta1, kind: Input, maxFiles: ten, output: [1]}
items:
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: PacketCapture
  metadata: {name: [c], namespace: 7, labels: {a: {b: c}}}
  spec: [targetNamespace]
- apiVersion: monitoring.openshift.tpg/v1alpha1
  kind: XPacketCapture
  metadata: {name: x}
  spec: {targetNamespace: shop, targetDeployment: web, duration: 30.5, snaplen: .inf}
- apiVersion: v1
  kind: PodList
  items: [1, null, {kind: Pod}]
`,
}
