//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// nodeJobs checks that the API server accepts the Jobs of a capture cut one
// per node (input.jobPer Node): crossplane render accepts what a real API
// server may refuse, so the Jobs go to the live one. The function renders
// them in KRM mode, the binary the e2e serves, from example/kpt's
// PacketCapture and cluster (three Pods, two of them on worker-0), and they
// are created in the PacketCapture's namespace as they are, then deleted.
func (h *harness) nodeJobs() {
	h.phase("node mode: the API server accepts one Job per node (jobPer Node, rendered in KRM mode)", func() error {
		var items []any
		for _, f := range []string{"packetcapture.yaml", filepath.Join("cluster", "openshift-gitops.yaml")} {
			objs, err := readManifests(filepath.Join(h.root, "example", "kpt", f))
			if err != nil {
				return err
			}
			for _, o := range objs {
				if o.GetKind() == "PacketCapture" {
					// A fresh capture: the committed status records one
					// started with one Job per Pod.
					unstructured.RemoveNestedField(o.Object, "status")
				}
				items = append(items, o.Object)
			}
		}
		rl, err := yaml.Marshal(map[string]any{
			"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items,
			"functionConfig": map[string]any{"apiVersion": "packetcapture.fn.crossplane.io/v1beta1", "kind": "Input", "jobPer": "Node"},
		})
		if err != nil {
			return err
		}
		cmd := exec.Command(h.cp.functionBin, "--mode=krm")
		cmd.Stdin = bytes.NewReader(rl)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("the function in KRM mode: %v\n%s", err, errOut.String())
		}
		var result struct {
			Items []map[string]any `json:"items"`
		}
		if err := yaml.Unmarshal(out.Bytes(), &result); err != nil {
			return err
		}
		var jobs []string
		var manifests []string
		for _, item := range result.Items {
			u := &unstructured.Unstructured{Object: item}
			if u.GetKind() != "Job" {
				continue
			}
			// The KRM bookkeeping annotations are kpt's, not the cluster's.
			ann := u.GetAnnotations()
			for k := range ann {
				if strings.Contains(k, "config.kubernetes.io/") {
					delete(ann, k)
				}
			}
			u.SetAnnotations(ann)
			b, err := yaml.Marshal(u.Object)
			if err != nil {
				return err
			}
			manifests = append(manifests, string(b))
			jobs = append(jobs, u.GetName())
		}
		if len(jobs) != 2 {
			return fmt.Errorf("jobPer Node rendered Jobs %v, want one per node (2)\n%s", jobs, errOut.String())
		}
		if err := h.k.apply(strings.Join(manifests, "---\n")); err != nil {
			return fmt.Errorf("the API server refused a node's Job: %w", err)
		}
		args := map[string]int{}
		for _, name := range jobs {
			j, found, err := h.k.get("jobs", xrNamespace, name)
			if err != nil || !found {
				return fmt.Errorf("Job %s after apply: found=%t %v", name, found, err)
			}
			containers, _, _ := unstructured.NestedSlice(j.Object, "spec", "template", "spec", "containers")
			a, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			node, _, _ := unstructured.NestedString(j.Object, "spec", "template", "spec", "nodeName")
			args[node] = len(a)
		}
		for _, name := range jobs {
			if err := h.k.delete("jobs", xrNamespace, name, "--cascade=foreground"); err != nil {
				return err
			}
		}
		if want := map[string]int{"worker-0.ocp.example.internal": 2, "worker-1.ocp.example.internal": 1}; !maps.Equal(args, want) {
			return fmt.Errorf("target Pods per node's Job: %v, want %v", args, want)
		}
		return nil
	})
}
