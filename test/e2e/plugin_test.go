//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubectl packetcapture plugin against a real API server (etcd,
// kube-apiserver, kube-controller-manager; no kubelet, no Crossplane): what
// needs no exec into a running container. Run it alone with
//
//	cd test/e2e && go test -tags e2e -run '^TestPlugin$' -v .
//
// Copying files out of running containers needs a kubelet: a scenario on a
// real node calls the same binary (pluginRunner) with fetch and --merge.

const (
	pluginNS      = "pcap-plugin"
	pluginCapture = "capture-web"
	helperLabel   = "packetcapture.fn.crossplane.io/helper"
	captureLabel  = "packetcapture.fn.crossplane.io/capture"
)

// pluginRunner runs the kubectl-packetcapture binary built from this
// repository with a kubeconfig.
type pluginRunner struct {
	bin, kubeconfig string
}

// buildPlugin builds the plugin from the repository at root into dir.
func buildPlugin(root, dir string) (string, error) {
	bin := filepath.Join(dir, "kubectl-packetcapture")
	_, err := run(root, nil, 10*time.Minute, "go", "build", "-o", bin, "./cmd/kubectl-packetcapture")
	return bin, err
}

// start starts the plugin with args; wait returns its stdout, stderr and
// error.
func (p *pluginRunner) start(args ...string) (cmd *exec.Cmd, wait func() (string, string, error), err error) {
	cmd = exec.Command(p.bin, append([]string{"--kubeconfig", p.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, func() (string, string, error) {
		select {
		case err := <-done:
			return stdout.String(), stderr.String(), err
		case <-time.After(5 * time.Minute):
			_ = cmd.Process.Kill()
			<-done
			return stdout.String(), stderr.String(), fmt.Errorf("timed out")
		}
	}, nil
}

func (p *pluginRunner) run(args ...string) (stdout, stderr string, err error) {
	_, wait, err := p.start(args...)
	if err != nil {
		return "", "", err
	}
	return wait()
}

// The PacketCapture API as a plain CRD: the plugin needs its resource, not
// Crossplane.
const packetCaptureCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: packetcaptures.monitoring.openshift.tpg
spec:
  group: monitoring.openshift.tpg
  scope: Namespaced
  names: {kind: PacketCapture, plural: packetcaptures, singular: packetcapture, listKind: PacketCaptureList}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// captureJob is a capture Job as the function renders it, reduced to what
// the plugin reads: the capture container's args and output volume, the
// node, the capture's label.
func captureJob(name, node string, args []string, volume string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
  namespace: %s
  labels: {%s: %s}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {%s: %s}
    spec:
      nodeName: %s
      restartPolicy: Never
      automountServiceAccountToken: false
      tolerations: [{operator: Exists}]
      containers:
      - name: capture
        image: docker.io/nicolaka/netshoot:v0.13
        command: [/bin/sh, /etc/packet-capture/capture.sh]
        args: [%s]
        volumeMounts: [{name: pcap, mountPath: /pcap}]
      volumes:
      - name: pcap
        %s
`, name, pluginNS, captureLabel, pluginCapture, captureLabel, pluginCapture, node, strings.Join(args, ", "), volume)
}

func TestPlugin(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fpc-plugin-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	logf := func(format string, args ...any) { fmt.Printf("plugin-e2e: "+format+"\n", args...) }
	cp := &controlPlane{dir: dir, root: root, logf: logf}
	t.Cleanup(func() {
		if t.Failed() {
			fmt.Println("plugin-e2e: failed; the last lines of every process's log follow" + cp.logs(40))
		}
		cp.stop()
		_ = os.RemoveAll(dir)
	})
	step := func(name string, f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		logf("%-66s %6.1fs", name, time.Since(start).Seconds())
	}
	var bin string
	step("build: tools (cached) and the plugin", func() error {
		if cp.bins, err = buildTools(root, logf); err != nil {
			return err
		}
		bin, err = buildPlugin(root, dir)
		return err
	})
	step("start: etcd, kube-apiserver, kube-controller-manager", cp.startKubernetes)
	k := cp.adminKube
	plugin := &pluginRunner{bin: bin, kubeconfig: k.kubeconfig}

	expectFail := func(what string, want []string, args ...string) {
		t.Helper()
		stdout, stderr, err := plugin.run(args...)
		if err == nil {
			t.Errorf("%s: kubectl-packetcapture %s succeeded, want a failure\n%s", what, strings.Join(args, " "), stdout)
			return
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", what, w, stderr)
			}
		}
		logf("%s: %s", what, firstLine(stderr))
	}

	expectFail("no API", []string{"the PacketCapture API (packetcaptures.monitoring.openshift.tpg/v1alpha1) is not served by this cluster"},
		"fetch", pluginCapture, "-n", pluginNS)

	step("install the PacketCapture CRD, a namespace, node-a (node-b does not exist)", func() error {
		if err := k.apply(packetCaptureCRD); err != nil {
			return err
		}
		if err := poll(60*time.Second, 250*time.Millisecond, func() (bool, string, error) {
			_, err := k.run("", "get", "packetcaptures", "-A")
			return err == nil, fmt.Sprint(err), nil
		}); err != nil {
			return err
		}
		return k.apply(fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n", pluginNS))
	})

	step("a PacketCapture with a status, and its capture Jobs", func() error {
		if err := k.apply(fmt.Sprintf(`apiVersion: monitoring.openshift.tpg/v1alpha1
kind: PacketCapture
metadata: {name: %s, namespace: %s}
spec: {targetNamespace: shop, targetDeployment: web, duration: "30", jobId: qwer}
`, pluginCapture, pluginNS)); err != nil {
			return err
		}
		if err := k.patchStatus("packetcaptures", pluginNS, pluginCapture, map[string]any{"status": map[string]any{
			"phase": "Completed", "jobId": "qwer", "counts": map[string]any{"targets": 3, "succeeded": 3, "failed": 0}}}); err != nil {
			return err
		}
		hostPath := "hostPath: {path: /var/tmp/packet-capture, type: DirectoryOrCreate}"
		return k.apply(captureJob("node-a-1a2b3c4d-qwer", "node-a", []string{"web-1/0b9f3c1e-0000-4000-8000-000000000001", "web-2/0b9f3c1e-0000-4000-8000-000000000002"}, hostPath) +
			"---\n" + captureJob("node-b-5e6f7a8b-qwer", "node-b", []string{"web-3/0b9f3c1e-0000-4000-8000-000000000003"}, hostPath))
	})
	step("the Job controller makes the capture Pods (Pending: no kubelet)", func() error {
		return poll(90*time.Second, 500*time.Millisecond, func() (bool, string, error) {
			pods, err := k.list("pods", pluginNS, captureLabel+"="+pluginCapture)
			return err == nil && len(pods) == 2, fmt.Sprintf("%d capture Pods, %v", len(pods), err), nil
		})
	})

	// list.
	stdout, stderr, err := plugin.run("list", "-n", pluginNS)
	if err != nil {
		t.Errorf("list: %v\n%s", err, stderr)
	}
	if want := "capture-web Completed qwer 3 - 3 0 - - - -"; !hasRow(stdout, want) {
		t.Errorf("list does not show %q:\n%s", want, stdout)
	}
	if stdout, _, err = plugin.run("list", "-A"); err != nil || !hasRow(stdout, pluginNS+" capture-web Completed qwer 3 - 3 0 - - - -") {
		t.Errorf("list -A: %v\n%s", err, stdout)
	}

	// An unknown capture.
	expectFail("unknown capture", []string{`no PacketCapture "nope" in namespace "pcap-plugin" (kubectl packetcapture list -n pcap-plugin`},
		"fetch", "nope", "-n", pluginNS)

	// Missing RBAC, step by step: each 403 names the verb and resource.
	expectFail("RBAC: nothing", []string{`not allowed to get packetcaptures.monitoring.openshift.tpg in namespace pcap-plugin`, `verb "get"`, "kubectl auth can-i get packetcaptures.monitoring.openshift.tpg -n pcap-plugin"},
		"--as", "alice", "fetch", pluginCapture, "-n", pluginNS)
	expectFail("RBAC: list", []string{`not allowed to list packetcaptures.monitoring.openshift.tpg in namespace pcap-plugin`},
		"--as", "alice", "list", "-n", pluginNS)
	step("grant alice get on PacketCaptures only", func() error {
		return k.apply(fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pcap-reader, namespace: %[1]s}
rules:
- {apiGroups: [monitoring.openshift.tpg], resources: [packetcaptures], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pcap-reader, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pcap-reader}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
`, pluginNS))
	})
	if err := poll(30*time.Second, 250*time.Millisecond, func() (bool, string, error) {
		_, stderr, err := plugin.run("--as", "alice", "fetch", pluginCapture, "-n", pluginNS)
		return err != nil && strings.Contains(stderr, "not allowed to list jobs.batch"), stderr, nil
	}); err != nil {
		t.Errorf("RBAC: jobs: %v", err)
	} else {
		logf("RBAC: jobs: the 403 names list jobs.batch")
	}

	// fetch: node-b is gone; node-a's helper Pod is created, pinned to
	// node-a with the directory read-only, never runs (no kubelet), and is
	// deleted when the wait ends.
	var helper *corev1.Pod
	cmd, wait, err := plugin.start("fetch", pluginCapture, "-n", pluginNS, "-o", filepath.Join(dir, "out"), "--helper-timeout=8s")
	if err != nil {
		t.Fatal(err)
	}
	if err := poll(60*time.Second, 100*time.Millisecond, func() (bool, string, error) {
		var pods corev1.PodList
		if err := k.listInto(&pods, "pods", pluginNS, helperLabel); err != nil {
			return false, "", err
		}
		if len(pods.Items) > 0 {
			helper = &pods.Items[0]
		}
		return helper != nil, fmt.Sprintf("%d helper Pods", len(pods.Items)), nil
	}); err != nil {
		t.Errorf("helper Pod: %v", err)
	}
	stdout, stderr, err = wait()
	if err == nil {
		t.Errorf("fetch succeeded without a kubelet")
	}
	logf("fetch printed:\n%s%s", stdout, stderr)
	for _, want := range []string{
		"node node-b is gone (no Node object)",
		"on node node-a did not start within 8s",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("fetch: stderr does not say %q:\n%s", want, stderr)
		}
	}
	if helper != nil {
		v, m := helper.Spec.Volumes[0], helper.Spec.Containers[0].VolumeMounts[0]
		if helper.Spec.NodeName != "node-a" || v.HostPath == nil || v.HostPath.Path != "/var/tmp/packet-capture" ||
			*v.HostPath.Type != corev1.HostPathDirectory || !m.ReadOnly || helper.Labels[captureLabel] != pluginCapture {
			t.Errorf("helper Pod %s: node %q, volume %+v, mount %+v, labels %v; want node-a, /var/tmp/packet-capture read-only, the capture's label",
				helper.Name, helper.Spec.NodeName, v, m, helper.Labels)
		} else {
			logf("fetch: helper Pod %s on node-a, hostPath read-only; node-b named gone", helper.Name)
		}
	}
	expectNoHelpers := func(what string) {
		t.Helper()
		var pods corev1.PodList
		if err := k.listInto(&pods, "pods", pluginNS, helperLabel); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 0 {
			t.Errorf("%s: %d helper Pods left, want none", what, len(pods.Items))
		}
	}
	expectNoHelpers("after fetch")

	// ^C while the helper waits: it is deleted all the same.
	cmd, wait, err = plugin.start("clean", pluginCapture, "-n", pluginNS, "--helper-timeout=10m")
	if err != nil {
		t.Fatal(err)
	}
	if err := poll(60*time.Second, 100*time.Millisecond, func() (bool, string, error) {
		var pods corev1.PodList
		err := k.listInto(&pods, "pods", pluginNS, helperLabel+"=clean")
		return err == nil && len(pods.Items) == 1, fmt.Sprintf("%d clean helpers %v", len(pods.Items), err), nil
	}); err != nil {
		t.Errorf("clean's helper Pod: %v", err)
	}
	interrupted := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	_, stderr, err = wait()
	if err == nil || !strings.Contains(stderr, "context canceled") {
		t.Errorf("clean after ^C: %v, want it to stop:\n%s", err, stderr)
	}
	logf("clean: ^C ended it in %.1fs", time.Since(interrupted).Seconds())
	expectNoHelpers("after ^C")

	// The capture finishes and the function releases its Jobs: Crossplane
	// deletes them and their Pods. What is left is the status the
	// function wrote, whose ledger names every captured Pod, its node and
	// result, and where the files are: the plugin plans its helper Pods
	// from it. The recorded image differs from the Jobs' to show where it
	// comes from.
	const releasedImage = "registry.example/capture:released"
	step("the Jobs are released: status.ledger keeps the Pods, nodes, results and output; Jobs and capture Pods deleted", func() error {
		if err := k.patchStatus("packetcaptures", pluginNS, pluginCapture, map[string]any{"status": map[string]any{
			"ledger": map[string]any{"jobId": "qwer", "jobPer": "Node", "succeeded": []string{"web-1", "web-2", "web-3"},
				"output": map[string]any{"type": "HostPath", "hostPath": "/var/tmp/packet-capture", "image": releasedImage},
				"nodes": map[string]any{
					"node-a": map[string]string{"web-1": "ok 4 512 0 1 30", "web-2": "ok 5 640 0 1 30"},
					"node-b": map[string]string{"web-3": "ok 6 768 0 1 30"},
				}}}}); err != nil {
			return err
		}
		sel := captureLabel + "=" + pluginCapture
		if _, err := k.run("", "-n", pluginNS, "delete", "jobs", "-l", sel, "--cascade=orphan"); err != nil {
			return err
		}
		// No kubelet confirms a deletion: force it, as a kubelet's would.
		if _, err := k.run("", "-n", pluginNS, "delete", "pods", "-l", sel+",!"+helperLabel, "--grace-period=0", "--force"); err != nil {
			return err
		}
		return poll(60*time.Second, 250*time.Millisecond, func() (bool, string, error) {
			jobs, err := k.list("jobs", pluginNS, sel)
			if err != nil {
				return false, "", err
			}
			pods, err := k.list("pods", pluginNS, sel)
			return err == nil && len(jobs) == 0 && len(pods) == 0, fmt.Sprintf("%d Jobs, %d Pods %v", len(jobs), len(pods), err), nil
		})
	})
	helper = nil
	_, wait, err = plugin.start("fetch", pluginCapture, "-n", pluginNS, "-o", filepath.Join(dir, "released"), "--helper-timeout=8s")
	if err != nil {
		t.Fatal(err)
	}
	if err := poll(60*time.Second, 100*time.Millisecond, func() (bool, string, error) {
		var pods corev1.PodList
		if err := k.listInto(&pods, "pods", pluginNS, helperLabel); err != nil {
			return false, "", err
		}
		if len(pods.Items) > 0 {
			helper = &pods.Items[0]
		}
		return helper != nil, fmt.Sprintf("%d helper Pods", len(pods.Items)), nil
	}); err != nil {
		t.Errorf("released: helper Pod: %v", err)
	}
	stdout, stderr, err = wait()
	if err == nil {
		t.Errorf("released: fetch succeeded without a kubelet")
	}
	logf("released: fetch printed:\n%s%s", stdout, stderr)
	for _, want := range []string{
		"web-1: helper Pod", "web-2: helper Pod", "on node node-a did not start within 8s",
		"web-3: files gone: node node-b is gone (no Node object)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("released: fetch: stderr does not say %q:\n%s", want, stderr)
		}
	}
	for _, row := range []string{"web-1 node-a 4 0 0 0 failed", "web-2 node-a 5 0 0 0 failed", "web-3 node-b 6 0 0 0 gone"} {
		if !hasRow(stdout, row) {
			t.Errorf("released: the fetch table has no row %q:\n%s", row, stdout)
		}
	}
	if helper != nil {
		v, m := helper.Spec.Volumes[0], helper.Spec.Containers[0].VolumeMounts[0]
		if helper.Spec.NodeName != "node-a" || v.HostPath == nil || v.HostPath.Path != "/var/tmp/packet-capture" ||
			*v.HostPath.Type != corev1.HostPathDirectory || !m.ReadOnly || helper.Spec.Containers[0].Image != releasedImage {
			t.Errorf("released: helper Pod %s: node %q, volume %+v, mount %+v, image %s; want node-a, /var/tmp/packet-capture read-only, %s",
				helper.Name, helper.Spec.NodeName, v, m, helper.Spec.Containers[0].Image, releasedImage)
		} else {
			logf("released: helper Pod %s on node-a from the status (hostPath read-only, image %s); node-b named gone", helper.Name, releasedImage)
		}
	}
	expectNoHelpers("after the fetch of a released capture")

	// The Pod output of a released capture: its files went with its
	// capture Pods. Every Pod is named, with why; no helper is started.
	step("a released Pod-output capture: a status, no Job", func() error {
		if err := k.apply(fmt.Sprintf("apiVersion: monitoring.openshift.tpg/v1alpha1\nkind: PacketCapture\nmetadata: {name: capture-gone, namespace: %s}\nspec: {targetNamespace: shop, targetDeployment: web, duration: \"30\", jobId: gone}\n", pluginNS)); err != nil {
			return err
		}
		return k.patchStatus("packetcaptures", pluginNS, "capture-gone", map[string]any{"status": map[string]any{
			"phase": "Completed", "jobId": "gone",
			"ledger": map[string]any{"jobId": "gone", "jobPer": "Pod", "succeeded": []string{"web-1", "web-2"},
				"output": map[string]any{"type": "Pod", "image": releasedImage},
				"nodes":  map[string]any{"node-a": map[string]string{"web-1": "ok 4 512 0 1 30"}, "node-b": map[string]string{"web-2": "ok 5 640 0 1 30"}}}}})
	})
	stdout, stderr, err = plugin.run("fetch", "capture-gone", "-n", pluginNS, "-o", filepath.Join(dir, "gone"))
	if err == nil {
		t.Errorf("released Pod output: fetch succeeded")
	}
	for _, pod := range []string{"web-1", "web-2"} {
		if !strings.Contains(stderr, pod+": files gone: Pod output: the capture Pod was deleted after its retention") {
			t.Errorf("released Pod output: fetch does not name %s and why:\n%s", pod, stderr)
		}
	}
	logf("released Pod output: fetch printed:\n%s%s", stdout, stderr)
	stdout, stderr, err = plugin.run("clean", "capture-gone", "-n", pluginNS)
	if err != nil || !strings.Contains(stdout, "web-1: nothing to do: Pod output") || !strings.Contains(stdout, "web-2: nothing to do: Pod output") {
		t.Errorf("released Pod output: clean: %v, want a line per Pod:\n%s%s", err, stdout, stderr)
	}
	expectNoHelpers("after the released Pod output")

	// The Pod output: a Running, Ready capture Pod is copied over
	// pods/exec. The API server authorizes the exec before it reaches a
	// kubelet, so the 403 is real here; with the right, the copy fails only
	// at the missing kubelet, naming the Pod.
	var podName string
	step("a Pod-output capture whose Pod runs and is Ready (status as a kubelet writes it)", func() error {
		if err := k.apply(fmt.Sprintf("apiVersion: monitoring.openshift.tpg/v1alpha1\nkind: PacketCapture\nmetadata: {name: capture-pod, namespace: %s}\nspec: {targetNamespace: shop, targetDeployment: web, duration: \"30\", jobId: abcd}\n", pluginNS)); err != nil {
			return err
		}
		job := strings.ReplaceAll(captureJob("web-1-abcd", "node-a", []string{"web-1/0b9f3c1e-0000-4000-8000-000000000001"}, "emptyDir: {}"),
			captureLabel+": "+pluginCapture, captureLabel+": capture-pod")
		if err := k.apply(job); err != nil {
			return err
		}
		if err := poll(90*time.Second, 500*time.Millisecond, func() (bool, string, error) {
			pods, err := k.list("pods", pluginNS, captureLabel+"=capture-pod")
			if err == nil && len(pods) == 1 {
				podName = pods[0].GetName()
			}
			return podName != "", fmt.Sprint(err), nil
		}); err != nil {
			return err
		}
		now := time.Now().UTC().Format(time.RFC3339)
		return k.patchStatus("pod", pluginNS, podName, map[string]any{"status": map[string]any{
			"phase": "Running", "startTime": now, "podIP": "10.128.0.10", "podIPs": []map[string]string{{"ip": "10.128.0.10"}},
			"conditions": []map[string]string{{"type": "Ready", "status": "True", "lastTransitionTime": now}},
			"containerStatuses": []map[string]any{{"name": "capture", "ready": true, "restartCount": 0, "image": "docker.io/nicolaka/netshoot:v0.13", "imageID": "",
				"state": map[string]any{"running": map[string]any{"startedAt": now}}}},
		}})
	})
	step("grant alice list on Jobs and Pods, not pods/exec", func() error {
		return k.apply(fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pcap-reader, namespace: %s}
rules:
- {apiGroups: [monitoring.openshift.tpg], resources: [packetcaptures], verbs: [get, list]}
- {apiGroups: [batch], resources: [jobs], verbs: [list]}
- {apiGroups: [""], resources: [pods], verbs: [list]}
`, pluginNS))
	})
	if err := poll(30*time.Second, 250*time.Millisecond, func() (bool, string, error) {
		_, stderr, err := plugin.run("--as", "alice", "fetch", "capture-pod", "-n", pluginNS, "-o", filepath.Join(dir, "alice"))
		return err != nil && strings.Contains(stderr, "not allowed to create pods/exec in namespace pcap-plugin") &&
			strings.Contains(stderr, `verb "create" on resource "pods/exec"`), stderr, nil
	}); err != nil {
		t.Errorf("RBAC: exec: %v", err)
	} else {
		logf("RBAC: exec: the 403 names create pods/exec")
	}
	_, stderr, err = plugin.run("fetch", "capture-pod", "-n", pluginNS, "-o", filepath.Join(dir, "admin"))
	if err == nil || !strings.Contains(stderr, podName+": copy from "+podName+"/capture") {
		t.Errorf("fetch without a kubelet: %v, want the copy from %s to fail:\n%s", err, podName, stderr)
	}
	logf("fetch of a Ready Pod output without a kubelet: %s", lastLine(stderr))
}

// hasRow: a line of a table has these fields, whatever the spacing.
func hasRow(table, fields string) bool {
	for _, l := range strings.Split(table, "\n") {
		if strings.Join(strings.Fields(l), " ") == fields {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
