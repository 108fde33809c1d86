//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The example XR and claim (example/xr.yaml, example/legacy/claim.yaml).
const (
	xrNamespace  = "packet-capture"
	xrName       = "packet-capture-openshift-gitops-openshift-gitops-server"
	instance     = "packet-capture-openshift-gitops-openshift-gitops-server"
	jobID        = "qwer"
	configMap    = xrName + "-" + jobID
	labelCapture = "packetcapture.fn.crossplane.io/capture"

	xrResource     = "packetcaptures.monitoring.openshift.tpg"
	legacyResource = "xpacketcaptures.monitoring.openshift.tpg"

	// ttlSeconds replaces the example Composition's
	// ttlSecondsAfterFinished, so the TTL controller removes finished Jobs
	// within the test.
	ttlSeconds = 20
)

// harness is one run: a control plane, the example's workload, timings.
type harness struct {
	t    *testing.T
	root string
	cp   *controlPlane
	k    *kube
	w    *workload
	// captured are the Pods the legacy claim must capture: those Running
	// when the v2 XR is gone.
	captured []string
	// jobUIDs records the uid of every capture Job seen, to catch a Job
	// that was deleted and created again: a capture run twice.
	jobUIDs map[string]string
	// nodes are the real nodes.
	nodes *nodes
	// watching are the resources whose every version is recorded.
	watching map[string]bool
	// timings are the real scenarios' durations, printed again at the end.
	timings []string
	// failures are the failed steps, printed again as the run's last
	// lines: CI keeps only the end of a long log.
	failures []string
}

// errorf fails the test and records the failure for the closing summary.
func (h *harness) errorf(format string, args ...any) {
	h.t.Helper()
	msg := fmt.Sprintf(format, args...)
	h.failures = append(h.failures, msg)
	h.t.Error(msg)
}

// fatalf is errorf that stops the test.
func (h *harness) fatalf(format string, args ...any) {
	h.t.Helper()
	msg := fmt.Sprintf(format, args...)
	h.failures = append(h.failures, msg)
	h.t.Fatal(msg)
}

// failureSummary is every failure, each cut to its first lines, for the
// end of the log.
func (h *harness) failureSummary() string {
	if len(h.failures) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "e2e: FAILED (%d):", len(h.failures))
	for _, f := range h.failures {
		lines := strings.Split(f, "\n")
		if len(lines) > 2 {
			lines = append(lines[:2], fmt.Sprintf("... %d more lines: see the log above", len(lines)-2))
		}
		for i, l := range lines {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			if i == 0 {
				b.WriteString("\n  - " + l)
			} else {
				b.WriteString("\n    " + l)
			}
		}
	}
	return b.String()
}

// checkJobsNotRecreated fails when a capture Job now has another uid than
// when it was first seen.
func (h *harness) checkJobsNotRecreated() error {
	jobs, err := h.k.list("jobs", xrNamespace, "")
	if err != nil {
		return err
	}
	if h.jobUIDs == nil {
		h.jobUIDs = map[string]string{}
	}
	for _, j := range jobs {
		uid := string(j.GetUID())
		if old, ok := h.jobUIDs[j.GetName()]; ok && old != uid {
			return fmt.Errorf("Job %s was deleted and created again (uid %s, now %s, created %s): a capture ran twice",
				j.GetName(), old, uid, j.GetCreationTimestamp().UTC().Format(time.RFC3339))
		}
		h.jobUIDs[j.GetName()] = uid
	}
	return nil
}

// scenario runs one named real-node scenario and prints how long it took.
// A failing scenario fails the test but lets the next ones run: each
// cleans up after itself.
func (h *harness) scenario(name string, f func() error) {
	h.t.Helper()
	start := time.Now()
	err := f()
	took := time.Since(start).Seconds()
	fmt.Printf("e2e: %-70s %7.1fs\n", name, took)
	h.timings = append(h.timings, fmt.Sprintf("%-70s %7.1fs", name, took))
	if err != nil {
		h.errorf("%s: %v", name, err)
	}
}

// phase runs one named step and prints how long it took. A failing step
// stops the test.
func (h *harness) phase(name string, f func() error) {
	h.t.Helper()
	start := time.Now()
	err := f()
	fmt.Printf("e2e: %-70s %7.1fs\n", name, time.Since(start).Seconds())
	if err != nil {
		h.fatalf("%s: %v", name, err)
	}
}

func TestEndToEnd(t *testing.T) {
	start := time.Now()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	xpkg := os.Getenv("FPC_E2E_XPKG")
	if xpkg == "" {
		xpkg = filepath.Join(root, "_output", "function-packet-capture-"+runtime.GOARCH+".xpkg")
	}
	if _, err := os.Stat(xpkg); err != nil {
		t.Fatalf("the function's package is missing (%v): run `make xpkg` first, or `make e2e`, which does", err)
	}
	dir, err := os.MkdirTemp("", "fpc-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	logf := func(format string, args ...any) { fmt.Printf("e2e: "+format+"\n", args...) }
	cp := &controlPlane{dir: dir, root: root, logf: logf, crossplaneAdmin: os.Getenv("FPC_E2E_CROSSPLANE_ADMIN") == "1"}
	h := &harness{t: t, root: root, cp: cp}
	t.Cleanup(func() {
		if t.Failed() {
			fmt.Println("e2e: failed; the last lines of every process's log follow" + cp.logs(60))
			if keep := os.Getenv("FPC_E2E_KEEP_LOGS"); keep != "" {
				if out, err := run(dir, nil, time.Minute, "sh", "-c", "mkdir -p \"$0\" && cp ./*.log \"$0\"/", keep); err != nil {
					logf("keeping logs: %v %s", err, out)
				} else {
					logf("logs kept in %s", keep)
				}
			}
		}
		stopStart := time.Now()
		cp.stop()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
		fmt.Printf("e2e: %-70s %7.1fs\n", "stop every process, remove "+dir, time.Since(stopStart).Seconds())
		fmt.Printf("e2e: %-70s %7.1fs\n", "whole run", time.Since(start).Seconds())
		if t.Failed() {
			fmt.Println(h.failureSummary())
		}
	})

	h.phase("build: kube-apiserver, kube-controller-manager, crossplane", func() error {
		cp.bins, err = buildTools(root, logf)
		return err
	})
	upStart := time.Now()
	h.phase("start: etcd, kube-apiserver, kube-controller-manager", cp.startKubernetes)
	h.k = cp.adminKube
	h.w = &workload{k: h.k}
	var pkg string
	h.phase("start: OCI registry, push "+filepath.Base(xpkg), func() error {
		pkg, err = cp.startRegistry(xpkg)
		return err
	})
	var xpKubeconfig string
	h.phase("start: crossplane core init", func() error {
		xpKubeconfig, err = cp.installCrossplane()
		return err
	})
	var endpoint, tlsDir string
	h.phase("start: build and serve the function (mTLS)", func() error {
		endpoint, tlsDir, err = cp.startFunction()
		return err
	})
	h.phase("start: crossplane core start", func() error { return cp.startCrossplane(xpKubeconfig) })
	h.phase("start: install the Function package, RevisionHealthy", func() error { return cp.installFunction(pkg, endpoint, tlsDir) })
	fmt.Printf("e2e: %-70s %7.1fs\n", "control plane up (start phases together)", time.Since(upStart).Seconds())
	if cp.crossplaneAdmin {
		logf("Crossplane runs as cluster-admin (FPC_E2E_CROSSPLANE_ADMIN=1), not with example/rbac.yaml")
	} else {
		logf("Crossplane runs as its ServiceAccount with its chart's RBAC and example/rbac.yaml only")
	}

	h.startNodes()
	if os.Getenv("FPC_E2E_REAL") == "fetch" {
		logf("FPC_E2E_REAL=fetch: only the plugin's real-node scenarios run")
		h.realSetup()
	} else {
		h.realCaptures()
	}
	h.realFetch()
	fmt.Println("e2e: real-node scenarios:\n  " + strings.Join(h.timings, "\n  "))

	if os.Getenv("FPC_E2E_PLAYED") == "0" {
		logf("FPC_E2E_PLAYED=0: the played-kubelet scenarios are skipped")
		return
	}
	h.namespacedXR()
	h.legacyClaim()
	h.realLegacyClaim()
	h.nodeJobs()
}

// targets are the example Deployment's Pods as the harness arranged them.
type targets struct {
	// captured are Running, scheduled and not terminating: each gets a Job.
	captured []string
	// skipped are the target Deployment's Pods that must not be captured.
	skipped []string
	// canary is the other Deployment's Pod, which carries the same app
	// label and must not appear at all.
	canary string
}

// arrangeTargets creates the Deployments and plays scheduler and kubelet:
// three Pods Running on two nodes, one terminating, one never scheduled
// (and the terminating Pod's replacement, also never scheduled), plus the
// canary's Pod Running on a third node.
func (h *harness) arrangeTargets() (*targets, error) {
	if err := h.w.createDeployments(h.root, 5); err != nil {
		return nil, err
	}
	pods, err := h.w.waitPods(targetDeployment, 5)
	if err != nil {
		return nil, err
	}
	canary, err := h.w.waitPods(canaryDeployment, 1)
	if err != nil {
		return nil, err
	}
	tg := &targets{canary: canary[0].Name}
	placement := []string{"worker-0.ocp.example.internal", "worker-1.ocp.example.internal", "worker-0.ocp.example.internal", "worker-1.ocp.example.internal"}
	for i, node := range placement {
		if err := h.w.schedule(targetNamespace, pods[i].Name, node); err != nil {
			return nil, err
		}
		if err := h.w.run(targetNamespace, pods[i].Name, node, true); err != nil {
			return nil, err
		}
	}
	if err := h.w.schedule(targetNamespace, tg.canary, "worker-2.ocp.example.internal"); err != nil {
		return nil, err
	}
	if err := h.w.run(targetNamespace, tg.canary, "worker-2.ocp.example.internal", true); err != nil {
		return nil, err
	}
	// A graceful delete of a Pod on a node waits for its kubelet, which
	// never comes: the Pod stays terminating, and its ReplicaSet makes a
	// replacement that nobody schedules.
	if err := h.k.delete("pod", targetNamespace, pods[3].Name); err != nil {
		return nil, err
	}
	live, err := h.w.waitPods(targetDeployment, 5)
	if err != nil {
		return nil, err
	}
	tg.captured = []string{pods[0].Name, pods[1].Name, pods[2].Name}
	tg.skipped = []string{pods[3].Name}
	for _, p := range live {
		if p.Spec.NodeName == "" {
			tg.skipped = append(tg.skipped, p.Name)
		}
	}
	slices.Sort(tg.skipped)
	if len(tg.skipped) != 3 {
		return nil, fmt.Errorf("want 3 Pods that must be skipped (terminating, 2 unscheduled), have %v", tg.skipped)
	}
	return tg, nil
}

// xrdClusterRole plays Crossplane's RBAC manager (not run here: it serves
// metrics on every interface at a fixed port): it grants Crossplane the
// kinds an XRD defines, with the rules the RBAC manager would.
func xrdClusterRole(xrd, plural, claimPlural string) string {
	resources := []string{plural, plural + "/status"}
	finalizers := []string{plural + "/finalizers"}
	if claimPlural != "" {
		resources = append(resources, claimPlural, claimPlural+"/status")
		finalizers = append(finalizers, claimPlural+"/finalizers")
	}
	return fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: crossplane:composite:%s:aggregate-to-crossplane
  labels:
    rbac.crossplane.io/aggregate-to-crossplane: "true"
rules:
- apiGroups: [monitoring.openshift.tpg]
  resources: [%s]
  verbs: ["*"]
- apiGroups: [monitoring.openshift.tpg]
  resources: [%s]
  verbs: [update]
`, xrd, strings.Join(resources, ", "), strings.Join(finalizers, ", "))
}

// composition reads a Composition and sets its function Input's
// ttlSecondsAfterFinished when ttl > 0.
func (h *harness) composition(path string, ttl int64) (string, error) {
	objs, err := readManifests(filepath.Join(h.root, path))
	if err != nil {
		return "", err
	}
	if len(objs) != 1 {
		return "", fmt.Errorf("%s: want one Composition", path)
	}
	c := objs[0]
	if ttl > 0 {
		steps, _, _ := unstructured.NestedSlice(c.Object, "spec", "pipeline")
		for _, s := range steps {
			if in, ok := s.(map[string]any)["input"].(map[string]any); ok {
				in["ttlSecondsAfterFinished"] = ttl
			}
		}
		if err := unstructured.SetNestedSlice(c.Object, steps, "spec", "pipeline"); err != nil {
			return "", err
		}
	}
	return toYAML(c)
}

// installXRD applies an XRD and its Composition and waits until its kinds
// are served.
func (h *harness) installXRD(xrdPath, compositionPath string, ttl int64, claimPlural string) error {
	objs, err := readManifests(filepath.Join(h.root, xrdPath))
	if err != nil {
		return err
	}
	xrd := objs[0]
	plural, _, _ := unstructured.NestedString(xrd.Object, "spec", "names", "plural")
	if !h.cp.crossplaneAdmin {
		if err := h.k.apply(xrdClusterRole(xrd.GetName(), plural, claimPlural)); err != nil {
			return err
		}
	}
	y, err := toYAML(xrd)
	if err != nil {
		return err
	}
	if err := h.k.apply(y); err != nil {
		return err
	}
	comp, err := h.composition(compositionPath, ttl)
	if err != nil {
		return err
	}
	if err := h.k.apply(comp); err != nil {
		return err
	}
	// Record every version of the XRs (and claims), for a failure's
	// post-mortem (FPC_E2E_KEEP_LOGS keeps the logs).
	group, _, _ := unstructured.NestedString(xrd.Object, "spec", "group")
	watched := []string{plural + "." + group}
	if claimPlural != "" {
		watched = append(watched, claimPlural+"."+group)
	}
	defer func() {
		for _, r := range watched {
			if h.watching[r] {
				continue
			}
			if h.watching == nil {
				h.watching = map[string]bool{}
			}
			h.watching[r] = true
			_, _ = h.cp.start("watch-"+r, h.k.kubectl, []string{"--kubeconfig", h.k.kubeconfig, "get", r, "-A", "-w", "-o", "json", "--output-watch-events"}, nil)
		}
	}()
	want := []string{"Established"}
	if claimPlural != "" {
		want = append(want, "Offered")
	}
	return poll(2*time.Minute, time.Second, func() (bool, string, error) {
		u, found, err := h.k.get("compositeresourcedefinitions.apiextensions.crossplane.io", "", xrd.GetName())
		if err != nil || !found {
			return false, fmt.Sprint("XRD not readable ", err), nil
		}
		for _, c := range want {
			if s, _, _ := condition(u, c); s != "True" {
				return false, conditionsSummary(u), nil
			}
		}
		return true, "", nil
	})
}

// podStatus is one entry of the XR's status.pods.
type podStatus struct {
	Pod, Node, Job, Phase, Message string
}

func statusPods(u *unstructured.Unstructured) map[string]podStatus {
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "pods")
	out := make(map[string]podStatus, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		out[s("pod")] = podStatus{Pod: s("pod"), Node: s("node"), Job: s("job"), Phase: s("phase"), Message: s("message")}
	}
	return out
}

func statusCount(u *unstructured.Unstructured, name string) int64 {
	n, _, _ := unstructured.NestedInt64(u.Object, "status", "counts", name)
	return n
}

func statusPhase(u *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	return s
}

// waitObject polls an object until check accepts it.
func (h *harness) waitObject(resource, ns, name string, timeout time.Duration, check func(u *unstructured.Unstructured) (bool, string)) (*unstructured.Unstructured, error) {
	var last *unstructured.Unstructured
	err := poll(timeout, time.Second, func() (bool, string, error) {
		if err := h.checkJobsNotRecreated(); err != nil {
			return false, "", err
		}
		u, found, err := h.k.get(resource, ns, name)
		if err != nil {
			return false, err.Error(), nil
		}
		if !found {
			return false, resource + " " + name + " not found", nil
		}
		last = u
		ok, state := check(u)
		if ok {
			return true, "", nil
		}
		state += " | conditions: " + conditionsSummary(u)
		if s, _, _ := condition(u, "Synced"); s == "False" {
			// Why: Crossplane records what the API server said as events.
			warnings, err := h.warnings(ns, name)
			if err != nil {
				return false, "", err
			}
			for _, w := range warnings {
				if strings.Contains(w, " is invalid: ") {
					return false, "", fmt.Errorf("the API server rejected a composed resource: %s", w)
				}
			}
			if len(warnings) > 0 {
				state += " | warning events: " + strings.Join(warnings, "; ")
			}
		}
		return false, state, nil
	})
	return last, err
}

// warnings returns the distinct Warning events of an object, newest last.
func (h *harness) warnings(ns, name string) ([]string, error) {
	args := []string{"get", "events", "--field-selector", "type=Warning,involvedObject.name=" + name,
		"--sort-by=.lastTimestamp", "-o", "custom-columns=REASON:.reason,MESSAGE:.message", "--no-headers"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	out, err := h.k.run("", args...)
	if err != nil {
		return nil, err
	}
	var ws []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(ws, l) {
			ws = append(ws, l)
		}
	}
	return ws, nil
}

// composed lists the ConfigMaps and Jobs of the XR namespace.
func (h *harness) composed() (configMaps, jobs []unstructured.Unstructured, err error) {
	if configMaps, err = h.k.list("configmaps", xrNamespace, labelCapture); err != nil {
		return nil, nil, err
	}
	jobs, err = h.k.list("jobs", xrNamespace, "")
	return configMaps, jobs, err
}

func names(objs []unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	slices.Sort(out)
	return out
}

func jobName(pod string) string { return pod + "-" + jobID }

// checkComposed checks the ConfigMap and one Job per captured Pod exist,
// each labelled with the XR's instance label and controlled by owner.
func (h *harness) checkComposed(tg []string, ownerKind string, ownerUID string) error {
	cms, jobs, err := h.composed()
	if err != nil {
		return err
	}
	// The ConfigMap is the capture's own, {{captureName}}-{{jobId}} (the
	// legacy XR's name is generated), and every Job mounts it.
	if got := names(cms); len(got) != 1 || (ownerKind == "PacketCapture" && got[0] != configMap) {
		return fmt.Errorf("ConfigMaps labelled %s: %v, want one (%s for the v2 XR)", labelCapture, got, configMap)
	}
	for _, j := range jobs {
		vols, _, _ := unstructured.NestedSlice(j.Object, "spec", "template", "spec", "volumes")
		mounted := false
		for _, v := range vols {
			name, _, _ := unstructured.NestedString(v.(map[string]any), "configMap", "name")
			mounted = mounted || name == cms[0].GetName()
		}
		if !mounted {
			return fmt.Errorf("Job %s does not mount its capture's ConfigMap %s", j.GetName(), cms[0].GetName())
		}
	}
	want := make([]string, 0, len(tg))
	for _, p := range tg {
		want = append(want, jobName(p))
	}
	slices.Sort(want)
	if got := names(jobs); !slices.Equal(got, want) {
		return fmt.Errorf("Jobs in %s: %v, want %v", xrNamespace, got, want)
	}
	for _, o := range append(cms, jobs...) {
		if got := o.GetLabels()["app.kubernetes.io/instance"]; got != instance {
			return fmt.Errorf("%s %s: label app.kubernetes.io/instance=%q, want %q", o.GetKind(), o.GetName(), got, instance)
		}
		ref := controllerOf(&o)
		if ref == nil || ref.Kind != ownerKind || string(ref.UID) != ownerUID {
			return fmt.Errorf("%s %s: controller %+v, want the %s with uid %s", o.GetKind(), o.GetName(), ref, ownerKind, ownerUID)
		}
		if o.GetKind() == "Job" {
			tl, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
			if tl["app.kubernetes.io/instance"] != instance {
				return fmt.Errorf("Job %s: pod template label app.kubernetes.io/instance=%q, want %q", o.GetName(), tl["app.kubernetes.io/instance"], instance)
			}
		}
	}
	return nil
}

// waitComposed waits for checkComposed to pass.
func (h *harness) waitComposed(tg []string, ownerKind, ownerUID string) error {
	return poll(2*time.Minute, time.Second, func() (bool, string, error) {
		err := h.checkComposed(tg, ownerKind, ownerUID)
		return err == nil, fmt.Sprint(err), nil
	})
}

// captureRuns plays the kubelet for a Job's Pod as its capture starts:
// Running, not yet Ready. The caller moves it on (setReady, succeed).
func (h *harness) captureRuns(job string) (*corev1.Pod, error) {
	p, err := h.w.jobPod(xrNamespace, job)
	if err != nil {
		return nil, err
	}
	return p, h.w.run(xrNamespace, p.Name, p.Spec.NodeName, false)
}

// waitPodPhase waits until the XR (or claim) reports each Pod in a phase.
func (h *harness) waitPodPhase(resource, ns, name string, want map[string]string) (*unstructured.Unstructured, error) {
	return h.waitObject(resource, ns, name, 2*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
		got := statusPods(u)
		for pod, phase := range want {
			if got[pod].Phase != phase {
				return false, fmt.Sprintf("status.pods: %+v, want %v", got, want)
			}
		}
		return true, ""
	})
}

// printerColumns runs `kubectl get packetcaptures -n packet-capture` and
// checks the XRD's columns and a row's values.
func (h *harness) printerColumns(want map[string]string) error {
	out, err := h.k.run("", "get", "packetcaptures", "-n", xrNamespace)
	if err != nil {
		return err
	}
	fmt.Printf("e2e: kubectl get packetcaptures -n %s\n%s", xrNamespace, out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 {
		return fmt.Errorf("no rows:\n%s", out)
	}
	// kubectl aligns columns; a cell may be empty (CONNECTION-SECRET), so
	// cut each row at the header's column starts.
	header := strings.Fields(lines[0])
	starts := make([]int, len(header))
	from := 0
	for i, col := range header {
		starts[i] = from + strings.Index(lines[0][from:], col)
		from = starts[i] + len(col)
	}
	cell := func(line string, i int) string {
		if starts[i] >= len(line) {
			return ""
		}
		end := len(line)
		if i+1 < len(starts) && starts[i+1] < end {
			end = starts[i+1]
		}
		return strings.TrimSpace(line[starts[i]:end])
	}
	for _, col := range []string{"NAME", "SYNCED", "READY", "PHASE", "PODS", "SUCCEEDED", "DURATION", "AGE"} {
		if !slices.Contains(header, col) {
			return fmt.Errorf("column %s missing:\n%s", col, out)
		}
	}
	for _, line := range lines[1:] {
		if cell(line, 0) != xrName {
			continue
		}
		for col, v := range want {
			if got := cell(line, slices.Index(header, col)); got != v {
				return fmt.Errorf("column %s = %q, want %q:\n%s", col, got, v, out)
			}
		}
		return nil
	}
	return fmt.Errorf("no complete row for %s:\n%s", xrName, out)
}

// waitGone waits until none of the objects exist.
func (h *harness) waitGone(timeout time.Duration, what func() ([]string, error)) error {
	return poll(timeout, 2*time.Second, func() (bool, string, error) {
		left, err := what()
		if err != nil {
			return false, "", err
		}
		return len(left) == 0, fmt.Sprintf("still there: %v", left), nil
	})
}

func (h *harness) composedNames() ([]string, error) {
	cms, jobs, err := h.composed()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range append(cms, jobs...) {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out, nil
}
