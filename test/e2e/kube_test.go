//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// kube drives the API server with kubectl and a kubeconfig the harness
// wrote: what a user would type, and no client library in go.mod.
type kube struct {
	kubectl    string
	kubeconfig string
}

// run runs kubectl with args, stdin as its input, and returns its stdout.
func (k *kube) run(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.kubectl, append([]string{"--kubeconfig", k.kubeconfig, "--request-timeout=30s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECTL_COMMAND_HEADERS=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// apply applies manifests server-side, as the e2e's own field manager.
func (k *kube) apply(manifests string) error {
	_, err := k.run(manifests, "apply", "--server-side", "--field-manager=e2e", "--force-conflicts", "-f", "-")
	return err
}

// create creates manifests (for kinds apply cannot send, such as Binding).
func (k *kube) create(manifests string) error {
	_, err := k.run(manifests, "create", "-f", "-")
	return err
}

// get reads one object; found is false when it does not exist.
func (k *kube) get(kind, ns, name string) (obj *unstructured.Unstructured, found bool, err error) {
	args := []string{"get", kind, name, "-o", "json", "--ignore-not-found"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	out, err := k.run("", args...)
	if err != nil || strings.TrimSpace(out) == "" {
		return nil, false, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(out)); err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// getInto decodes one object into a typed value.
func (k *kube) getInto(into any, kind, ns, name string) (bool, error) {
	u, found, err := k.get(kind, ns, name)
	if err != nil || !found {
		return found, err
	}
	b, err := u.MarshalJSON()
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, into)
}

// list lists objects of a kind; ns "" lists every namespace for namespaced
// kinds when allNamespaces is asked, otherwise the cluster scope.
func (k *kube) list(kind, ns string, selector string) ([]unstructured.Unstructured, error) {
	args := []string{"get", kind, "-o", "json"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := k.run("", args...)
	if err != nil {
		return nil, err
	}
	l := &unstructured.UnstructuredList{}
	if err := l.UnmarshalJSON([]byte(out)); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// listInto decodes a list of objects into a typed list.
func (k *kube) listInto(into any, kind, ns, selector string) error {
	args := []string{"get", kind, "-o", "json"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := k.run("", args...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), into)
}

// patchStatus merge-patches an object's status subresource, as a kubelet or
// a package runtime would.
func (k *kube) patchStatus(kind, ns, name string, patch any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	args := []string{"patch", kind, name, "--subresource=status", "--type=merge", "-p", string(b)}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	_, err = k.run("", args...)
	return err
}

// patch merge-patches an object.
func (k *kube) patch(kind, ns, name string, patch any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	args := []string{"patch", kind, name, "--type=merge", "-p", string(b)}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	_, err = k.run("", args...)
	return err
}

// delete deletes an object and does not wait for it to go.
func (k *kube) delete(kind, ns, name string, extra ...string) error {
	args := append([]string{"delete", kind, name, "--ignore-not-found", "--wait=false"}, extra...)
	if ns != "" {
		args = append(args, "-n", ns)
	}
	_, err := k.run("", args...)
	return err
}

// condition returns a status condition of an object.
func condition(u *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		s, _ := m["status"].(string)
		r, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return s, r, msg
	}
	return "", "", ""
}

// conditionsSummary renders every condition on one line, for messages.
func conditionsSummary(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%v=%v(%v: %v)", m["type"], m["status"], m["reason"], m["message"]))
	}
	return strings.Join(parts, "; ")
}

// controllerOf returns an object's controller reference.
func controllerOf(u *unstructured.Unstructured) *metav1.OwnerReference {
	for _, r := range u.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return &r
		}
	}
	return nil
}
