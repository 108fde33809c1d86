//go:build e2e

package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/gopacket/pcapgo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// realFetch proves the kubectl packetcapture plugin on the real nodes (issue
// 14): fetch --merge from capture Pods in retention, clean, a fetch after the
// capture's Jobs were released that names every Pod and why its files are
// gone; fetch and clean of the HostPath and PersistentVolumeClaim outputs
// after the function released the finished Jobs and Crossplane deleted them,
// through helper Pods planned from the XR's status; packetCount; the network
// snapshots; the counts on the resource and in kubectl get. Every scenario
// runs the plugin binary built from this repository.
func (h *harness) realFetch() {
	var plugin *pluginRunner
	var appNames []string
	h.phase("fetch: build kubectl-packetcapture; 3 traffic Pods", func() error {
		bin, err := buildPlugin(h.root, h.cp.dir)
		if err != nil {
			return err
		}
		plugin = &pluginRunner{bin: bin, kubeconfig: h.k.kubeconfig}
		if err := h.k.apply(trafficDeployment(3, 1000)); err != nil {
			return err
		}
		// After the measurements (20 Pods at another rate) this is a
		// rollout: the captures must not target its old Pods.
		if _, err := h.waitObject("deployment", appNamespace, appDeployment, 4*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			gen := u.GetGeneration()
			observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			n := func(f string) int64 { v, _, _ := unstructured.NestedInt64(u.Object, "status", f); return v }
			return observed >= gen && n("replicas") == 3 && n("updatedReplicas") == 3 && n("availableReplicas") == 3,
				fmt.Sprintf("generation %d observed %d, replicas %d updated %d available %d", gen, observed, n("replicas"), n("updatedReplicas"), n("availableReplicas"))
		}); err != nil {
			return fmt.Errorf("the traffic Deployment rolled out to 3 Pods: %w", err)
		}
		app, err := h.runningApp(3)
		for _, p := range app {
			appNames = append(appNames, p.Name)
		}
		return err
	})

	const podXR = "fetch-pod"
	var podDir string
	h.scenario("fetch: Pod output: fetch --merge in retention, clean, a fetch after the Jobs were released names every Pod and why", func() (err error) {
		podDir, err = h.fetchPodOutput(plugin, podXR, appNames)
		return err
	})
	h.scenario("fetch: status.pods and kubectl get packetcaptures show what the fetched files hold", func() (err error) {
		defer h.removeXR(podXR, &err)
		if podDir == "" {
			return errors.New("nothing fetched by the Pod output scenario")
		}
		return h.checkCounts(podXR, podDir)
	})
	h.scenario("fetch: HostPath output: fetch after the Jobs were released, through helper Pods planned from the status; clean leaves nothing of it", func() error {
		return h.fetchHostPath(plugin, appNames)
	})
	h.scenario("fetch: PersistentVolumeClaim output (static PV): fetch after the Jobs were released, clean", func() error {
		return h.fetchClaim(plugin, appNames)
	})
	h.scenario("fetch: packetCount stops early with exactly N packets; snapshots name the Pod's IP", func() error {
		return h.packetCountAndSnapshot(plugin)
	})
	if err := h.realComposition(nil); err != nil {
		h.fatalf("%v", err)
	}
}

// runPlugin runs the plugin and fails with everything it said.
func runPlugin(p *pluginRunner, args ...string) (string, error) {
	out, stderr, err := p.run(args...)
	if err != nil {
		return out, fmt.Errorf("kubectl packetcapture %s: %w\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr)
	}
	return out, nil
}

// fetchedRows checks the fetch table: one row per source, each verified by
// size and SHA-256.
func fetchedRows(out string, want int) error {
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 7 && f[0] != "POD" && f[0] != "merged" {
			rows = append(rows, l)
		}
	}
	if len(rows) != want {
		return fmt.Errorf("the fetch table has %d rows, want %d:\n%s", len(rows), want, out)
	}
	for _, r := range rows {
		if !strings.Contains(r, "yes (size+sha256)") {
			return fmt.Errorf("a source not verified: %q\n%s", r, out)
		}
	}
	return nil
}

// waitCapturePods waits until n capture Pods of xr satisfy ok.
func (h *harness) waitCapturePods(xr string, n int, timeout time.Duration, what string, ok func(*corev1.Pod) bool) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	err := poll(timeout, 500*time.Millisecond, func() (bool, string, error) {
		var err error
		if pods, err = h.capturePods(xr); err != nil {
			return false, err.Error(), nil
		}
		good := 0
		var states []string
		for i := range pods {
			if ok(&pods[i]) {
				good++
			}
			states = append(states, fmt.Sprintf("%s %s ready=%t %s", pods[i].Name, pods[i].Status.Phase, podReady(&pods[i]), terminationMessage(&pods[i])))
		}
		return len(pods) == n && good == n, strings.Join(states, "; "), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s's %d capture Pods %s: %w", xr, n, what, err)
	}
	return pods, nil
}

func (h *harness) fetchPodOutput(p *pluginRunner, name string, appNames []string) (_ string, err error) {
	// Jobs (and their ended Pods) stay, so the fetch after the end finds
	// them and says why their files are gone.
	if err := h.realComposition(map[string]any{"ttlSecondsAfterFinished": int64(600)}); err != nil {
		return "", err
	}
	if err := h.k.apply(realXR(name, "fch1", "5", "")); err != nil {
		return "", err
	}
	if _, err := h.waitCapturePods(name, 3, 4*time.Minute, "Ready (in retention)", podReady); err != nil {
		return "", err
	}
	dir := filepath.Join(h.cp.dir, "fetch", name)
	start := time.Now()
	out, err := runPlugin(p, "fetch", name, "-n", realXRNamespace, "-o", dir, "--merge")
	if err != nil {
		return "", err
	}
	h.logf("fetch --merge of %s took %.1fs:\n%s", name, time.Since(start).Seconds(), indent(strings.TrimSpace(out)))
	if err := fetchedRows(out, 3); err != nil {
		return "", err
	}
	m := regexp.MustCompile(`merged (\d+) packets of 3 Pods`).FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no \"merged N packets of 3 Pods\" in:\n%s", out)
	}
	// The merged file out of the per-Pod tree, which readTraffic walks.
	merged := filepath.Join(h.cp.dir, "fetch", name+".pcapng")
	if err := os.Rename(filepath.Join(dir, name+".pcapng"), merged); err != nil {
		return "", err
	}
	if _, _, err := checkSums(dir, true); err != nil {
		return "", err
	}
	report, err := h.checkTraffic(dir, appNames, 5*time.Second)
	fmt.Println(indent(report))
	if err != nil {
		return "", err
	}
	n, err := compareMerged(merged, dir)
	if err != nil {
		return "", err
	}
	if strconv.Itoa(n) != m[1] {
		return "", fmt.Errorf("the plugin says it merged %s packets, the merged file holds %d", m[1], n)
	}
	h.logf("merged %s: %d packets, each Pod's interface equal packet for packet to its own files", filepath.Base(merged), n)

	out, err = runPlugin(p, "clean", name, "-n", realXRNamespace)
	if err != nil {
		return "", err
	}
	if c := strings.Count(out, "retention window ended"); c != 3 {
		return "", fmt.Errorf("clean ended %d retention windows, want 3:\n%s", c, out)
	}
	// The capture Pods end; the function releases the finished Jobs. After
	// that: non-zero, every captured Pod named from the status, with why.
	if err := h.waitReleased(name, 3); err != nil {
		return "", err
	}
	stdout, stderr, err := p.run("fetch", name, "-n", realXRNamespace, "-o", filepath.Join(h.cp.dir, "fetch", name+"-late"))
	if err == nil {
		return "", fmt.Errorf("a fetch after the capture's Jobs were released succeeded:\n%s%s", stdout, stderr)
	}
	h.logf("fetch after the Jobs were released (%v):\n%s", err, indent(strings.TrimSpace(stdout+stderr)))
	for _, pod := range appNames {
		if !strings.Contains(stderr, pod+": files gone: Pod output: the capture Pod was deleted after its retention") {
			return "", fmt.Errorf("the failed fetch after the Jobs were released does not name %s and why its files are gone:\n%s", pod, stderr)
		}
	}
	return dir, nil
}

// waitReleased waits until the function has recorded every one of the n
// captured Pods as succeeded and released its finished Job, and Crossplane
// has deleted the Jobs. Whether a capture Pod outlives its Job depends on
// how the Job was deleted (the API server's default for a batch/v1 Job
// orphans its Pods); those left are deleted here, as the Pod garbage
// collector or a node's end would in time, so that what follows finds the
// capture through the XR's status alone.
func (h *harness) waitReleased(name string, n int) error {
	if _, err := h.waitObject(xrResource, realXRNamespace, name, 5*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
		return statusCount(u, "succeeded") == int64(n) && statusPhase(u) == "Completed",
			fmt.Sprintf("phase %s, %d succeeded", statusPhase(u), statusCount(u, "succeeded"))
	}); err != nil {
		return fmt.Errorf("%s: every capture succeeded: %w", name, err)
	}
	sel := realCaptureLabel + "=" + name
	if err := h.waitGone(3*time.Minute, func() ([]string, error) {
		jobs, err := h.k.list("jobs", realXRNamespace, sel)
		return names(jobs), err
	}); err != nil {
		return fmt.Errorf("%s: the function releases the finished Jobs and Crossplane deletes them: %w", name, err)
	}
	left, err := h.k.list("pods", realXRNamespace, sel+",!"+helperLabel)
	if err != nil {
		return err
	}
	h.logf("%s: its Jobs are released and deleted; %d capture Pods outlived them %v (deleted now)", name, len(left), names(left))
	for _, p := range left {
		if err := h.k.delete("pod", realXRNamespace, p.GetName()); err != nil {
			return err
		}
	}
	return h.waitGone(2*time.Minute, func() ([]string, error) {
		pods, err := h.k.list("pods", realXRNamespace, sel+",!"+helperLabel)
		return names(pods), err
	})
}

// jobsGone fails when a Job of the capture exists: a fetch that follows must
// find the capture through the XR's status alone.
func (h *harness) jobsGone(name string) error {
	jobs, err := h.k.list("jobs", realXRNamespace, realCaptureLabel+"="+name)
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		return fmt.Errorf("%s: Jobs %v exist, want none (released)", name, names(jobs))
	}
	return nil
}

// checkCounts compares status.pods[] and the Packets printer column with
// the files fetched into dir.
func (h *harness) checkCounts(name, dir string) error {
	files := map[string][]string{} // target Pod → its PCAP files
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isPcapFile(d.Name()) {
			return err
		}
		parts := strings.Split(d.Name(), "_")
		files[parts[1]] = append(files[parts[1]], p)
		return nil
	})
	if err != nil {
		return err
	}
	type counts struct{ packets, bytes, files int64 }
	want := map[string]counts{}
	var total int64
	for pod, paths := range files {
		var c counts
		for _, p := range paths {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			n, err := packetCount(p)
			if err != nil {
				return err
			}
			c.packets += int64(n)
			c.bytes += st.Size()
			c.files++
		}
		want[pod] = c
		total += c.packets
	}
	u, err := h.waitObject(xrResource, realXRNamespace, name, 3*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
		list, _, _ := unstructured.NestedSlice(u.Object, "status", "pods")
		ok := 0
		for _, e := range list {
			m, _ := e.(map[string]any)
			if n, _ := m["packets"].(int64); n > 0 {
				ok++
			}
		}
		return ok == len(want), fmt.Sprintf("status.pods %v", list)
	})
	if err != nil {
		return fmt.Errorf("status.pods[].packets of every Pod: %w", err)
	}
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "pods")
	var errs []error
	for _, e := range list {
		m, _ := e.(map[string]any)
		pod, _ := m["pod"].(string)
		n := func(k string) int64 { v, _ := m[k].(int64); return v }
		got := counts{n("packets"), n("bytes"), n("files")}
		h.logf("status.pods[%s]: %+v; fetched files: %+v", pod, got, want[pod])
		if got != want[pod] {
			errs = append(errs, fmt.Errorf("status.pods[%s] says packets/bytes/files %+v, the fetched files hold %+v", pod, got, want[pod]))
		}
	}
	if c := statusCount(u, "packets"); c != total {
		errs = append(errs, fmt.Errorf("status.counts.packets = %d, the files hold %d", c, total))
	}
	if lines, err := h.functionPlanLines(name); err == nil {
		held := 0
		for _, l := range lines {
			if awaitingSummaries.MatchString(l) {
				held++
			}
		}
		h.logf("the function held a finished Job for its capture Pod's summary in %d of its %d calls for %s", held, len(lines), name)
	}
	out, err := h.k.run("", "-n", realXRNamespace, "get", "packetcaptures", name)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	h.logf("kubectl get packetcaptures:\n%s", indent(strings.TrimSpace(out)))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return errors.Join(append(errs, fmt.Errorf("kubectl get packetcaptures %s printed %d lines", name, len(lines)))...)
	}
	head, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	i := slices.Index(head, "PACKETS")
	if i < 0 || i >= len(row) || row[i] != strconv.FormatInt(total, 10) {
		errs = append(errs, fmt.Errorf("kubectl get packetcaptures: want PACKETS %d:\n%s", total, out))
	}
	return errors.Join(errs...)
}

// awaitingSummaries marks the function's debug line of a call that held a
// finished Job until its capture Pod's summary was in view.
var awaitingSummaries = regexp.MustCompile(`"awaitingSummaries":\s*true`)

func (h *harness) fetchHostPath(p *pluginRunner, appNames []string) (err error) {
	const name = "fetch-host"
	hostDir := filepath.Join(h.cp.dir, "hostpath-output")
	defer func() { err = errors.Join(err, os.RemoveAll(hostDir)) }()
	defer h.removeXR(name, &err)
	if err := h.realComposition(map[string]any{
		"ttlSecondsAfterFinished": int64(600),
		"output":                  map[string]any{"type": "HostPath", "hostPath": hostDir},
	}); err != nil {
		return err
	}
	if err := h.k.apply(realXR(name, "hst1", "3", "")); err != nil {
		return err
	}
	return h.fetchFinished(p, name, "hst1", hostDir, 3, appNames)
}

// fetchFinished waits for a capture with a HostPath or claim output to
// finish and for its Jobs to be released and deleted (and its capture Pods
// gone), fetches it through helper Pods planned from the XR's status alone,
// checks the helper Pods went away, cleans it and checks hostDir (where the
// files are on this machine, this capture's only) holds nothing of it: no
// PCAP or snapshot, no summary or SHA256SUMS.
func (h *harness) fetchFinished(p *pluginRunner, name, jobID, hostDir string, n int, appNames []string) error {
	if err := h.waitReleased(name, n); err != nil {
		return err
	}
	// Every entry but the script's hidden markers.
	onHost := func() ([]string, error) {
		entries, err := os.ReadDir(hostDir)
		var names []string
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		return names, err
	}
	before, err := onHost()
	if err != nil || !slices.ContainsFunc(before, func(n string) bool { return strings.Contains(n, "_"+jobID+"_") }) {
		return fmt.Errorf("no capture file in %s after the capture: %v %v", hostDir, before, err)
	}
	if err := h.jobsGone(name); err != nil {
		return err
	}
	dir := filepath.Join(h.cp.dir, "fetch", name)
	start := time.Now()
	out, err := runPlugin(p, "fetch", name, "-n", realXRNamespace, "-o", dir)
	if err != nil {
		return err
	}
	h.logf("fetch of %s after its Jobs were released took %.1fs:\n%s", name, time.Since(start).Seconds(), indent(strings.TrimSpace(out)))
	// Each capture Pod wrote SHA256SUMS.<its name> into the shared
	// directory: every file has its digest, and the recorded result
	// (status.ledger) its size.
	hashed, total, serr := checkSums(dir, true)
	h.logf("%s: %d of %d PCAP files match their SHA256SUMS", name, hashed, total)
	if err := errors.Join(fetchedRows(out, n), rowsNamed(out, appNames), h.noHelpers(name), serr); err != nil {
		return err
	}
	report, err := h.checkTraffic(dir, appNames, 3*time.Second)
	fmt.Println(indent(report))
	if err != nil {
		return err
	}
	out, err = runPlugin(p, "clean", name, "-n", realXRNamespace)
	if err != nil {
		return err
	}
	h.logf("clean %s:\n%s", name, indent(strings.TrimSpace(out)))
	if err := h.noHelpers(name); err != nil {
		return err
	}
	left, err := onHost()
	if err != nil || len(left) > 0 {
		return fmt.Errorf("after clean, %s still holds %v (%v)", hostDir, left, err)
	}
	return nil
}

// rowsNamed checks that the fetch table has a row for each captured Pod:
// what a fetch from the status names (DIR/<captured Pod>/).
func rowsNamed(out string, pods []string) error {
	for _, pod := range pods {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(pod) + `\s`).MatchString(out) {
			return fmt.Errorf("the fetch table has no row for the captured Pod %s:\n%s", pod, out)
		}
	}
	return nil
}

// noHelpers waits until the plugin's helper Pods of a capture are gone.
func (h *harness) noHelpers(name string) error {
	return h.waitGone(time.Minute, func() ([]string, error) {
		objs, err := h.k.list("pods", realXRNamespace, realCaptureLabel+"="+name+","+helperLabel)
		return names(objs), err
	})
}

func (h *harness) fetchClaim(p *pluginRunner, appNames []string) (err error) {
	const name, claim, pv = "fetch-claim", "fpce2e-pcap", "fpce2e-pcap-pv"
	pvDir := filepath.Join(h.cp.dir, "pv-output")
	if err := os.MkdirAll(pvDir, 0o777); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(pvDir)) }()
	defer func() {
		err = errors.Join(err, h.k.delete("pvc", realXRNamespace, claim), h.k.delete("pv", "", pv))
	}()
	defer h.removeXR(name, &err)
	// A static hostPath volume: both nodes are this machine, so it is
	// ReadWriteMany in fact.
	if err := h.k.apply(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata:
  name: %[1]s
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: %[2]s, type: Directory}
  claimRef: {namespace: %[3]s, name: %[4]s}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: %[4]s
  namespace: %[3]s
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: %[1]s
  resources: {requests: {storage: 1Gi}}
`, pv, pvDir, realXRNamespace, claim)); err != nil {
		return err
	}
	if _, err := h.waitObject("pvc", realXRNamespace, claim, 2*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
		ph, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		return ph == "Bound", "phase " + ph
	}); err != nil {
		return err
	}
	if err := h.realComposition(map[string]any{"ttlSecondsAfterFinished": int64(600)}); err != nil {
		return err
	}
	if err := h.k.apply(realXR(name, "pvc1", "3", "  output:\n    type: PersistentVolumeClaim\n    claimName: "+claim+"\n")); err != nil {
		return err
	}
	return h.fetchFinished(p, name, "pvc1", pvDir, 3, appNames)
}

func (h *harness) packetCountAndSnapshot(p *pluginRunner) (err error) {
	const name, count, duration = "fetch-count", 300, 120
	defer h.removeXR(name, &err)
	if err := h.realComposition(nil); err != nil {
		return err
	}
	app, err := h.runningApp(3)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := h.k.apply(realXR(name, "cnt1", strconv.Itoa(duration), fmt.Sprintf("  packetCount: %d\n", count))); err != nil {
		return err
	}
	if _, err := h.waitCapturePods(name, 3, 4*time.Minute, "Ready", podReady); err != nil {
		return err
	}
	took := time.Since(start)
	h.logf("packetCount %d: every capture Pod Ready %.1fs after the apply (duration %ds)", count, took.Seconds(), duration)
	// From the apply, including scheduling and start: half the duration
	// is far more than a loaded machine needs, and far less than a
	// capture that ran its duration.
	if took > duration/2*time.Second {
		return fmt.Errorf("the capture Pods were Ready only %.1fs after the apply: packetCount %d did not stop the %ds capture early", took.Seconds(), count, duration)
	}
	dir := filepath.Join(h.cp.dir, "fetch", name)
	out, err := runPlugin(p, "fetch", name, "-n", realXRNamespace, "-o", dir)
	if err != nil {
		return err
	}
	if _, _, err := checkSums(dir, true); err != nil {
		return err
	}
	if err := fetchedRows(out, 3); err != nil {
		return err
	}
	var errs []error
	for _, pod := range app {
		prefix := appNamespace + "_" + pod.Name + "_cnt1_"
		var pcaps, snaps []string
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
				if isPcapFile(d.Name()) {
					pcaps = append(pcaps, p)
				} else if strings.Contains(d.Name(), ".netstate-") {
					snaps = append(snaps, p)
				}
			}
			return err
		})
		n := 0
		for _, f := range pcaps {
			c, err := packetCount(f)
			if err != nil {
				return err
			}
			n += c
		}
		if n != count {
			errs = append(errs, fmt.Errorf("%s's files %v hold %d packets, want packetCount %d", pod.Name, pcaps, n, count))
		}
		for _, when := range []string{"start", "end"} {
			i := slices.IndexFunc(snaps, func(s string) bool { return strings.HasSuffix(s, ".netstate-"+when+".txt") })
			if i < 0 {
				errs = append(errs, fmt.Errorf("%s: no .netstate-%s.txt among %v", pod.Name, when, snaps))
				continue
			}
			b, err := os.ReadFile(snaps[i])
			if err != nil {
				return err
			}
			if pod.Status.PodIP == "" || !strings.Contains(string(b), pod.Status.PodIP) {
				errs = append(errs, fmt.Errorf("%s (podIP %q): %s does not name it:\n%s", pod.Name, pod.Status.PodIP, filepath.Base(snaps[i]), lastLines(string(b), 20)))
			}
		}
		h.logf("%s: %d packets in %d files; snapshots %d", pod.Name, n, len(pcaps), len(snaps))
	}
	if _, err := runPlugin(p, "clean", name, "-n", realXRNamespace); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isPcapFile: tcpdump's file, with its rotation number after .pcap.
func isPcapFile(name string) bool {
	i := strings.LastIndex(name, ".pcap")
	return i >= 0 && strings.Trim(name[i+len(".pcap"):], "0123456789") == ""
}

// packetCount counts every packet of a pcap file.
func packetCount(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		n++
	}
}

// checkSums checks every file under dir against the SHA256SUMS files the
// captures wrote (SHA256SUMS.<capture Pod>; a shared directory holds those
// of other Jobs too, whose files are not here) and returns how many PCAP
// files were listed of how many. With all, every PCAP file must be listed.
func checkSums(dir string, all bool) (listedN, total int, err error) {
	listed := map[string]bool{}
	var pcaps []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if isPcapFile(d.Name()) {
			pcaps = append(pcaps, p)
		}
		if !strings.HasPrefix(d.Name(), "SHA256SUMS") && !strings.HasSuffix(d.Name(), "SHA256SUMS") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			sum, file, ok := strings.Cut(sc.Text(), "  ")
			if !ok {
				return fmt.Errorf("%s: not sha256sum's format: %q", p, sc.Text())
			}
			target := filepath.Join(filepath.Dir(p), filepath.FromSlash(strings.TrimPrefix(file, "./")))
			b, err := os.ReadFile(target)
			if errors.Is(err, os.ErrNotExist) {
				continue // another Job's file in a shared directory
			} else if err != nil {
				return err
			}
			got := sha256.Sum256(b)
			if hex.EncodeToString(got[:]) != sum {
				return fmt.Errorf("%s: SHA-256 %s, %s says %s", target, hex.EncodeToString(got[:]), p, sum)
			}
			listed[target] = true
		}
		return sc.Err()
	})
	if err != nil {
		return 0, 0, err
	}
	if len(pcaps) == 0 {
		return 0, 0, fmt.Errorf("no PCAP file under %s", dir)
	}
	for _, p := range pcaps {
		if !listed[p] && all {
			return len(listed), len(pcaps), fmt.Errorf("%s is in no SHA256SUMS", p)
		}
	}
	if len(listed) == 0 {
		return 0, len(pcaps), fmt.Errorf("no PCAP file under %s is in a SHA256SUMS", dir)
	}
	return len(listed), len(pcaps), nil
}

// compareMerged reads the merged pcapng and each Pod's own files with
// pcapgo: every interface, named after its Pod, carries exactly that Pod's
// packets (bytes and times) in their order; times never go backwards. It
// returns the merged packet count.
func compareMerged(merged, dir string) (int, error) {
	own := map[string][]timedPacket{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isPcapFile(d.Name()) {
			return err
		}
		pod := strings.Split(d.Name(), "_")[1]
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		r, err := pcapgo.NewReader(f)
		if err != nil {
			return err
		}
		for {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			own[pod] = append(own[pod], timedPacket{ci.Timestamp, string(data)})
		}
	})
	if err != nil {
		return 0, err
	}
	for pod := range own {
		slices.SortStableFunc(own[pod], func(a, b timedPacket) int { return a.t.Compare(b.t) })
	}
	f, err := os.Open(merged)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", merged, err)
	}
	got := map[string][]timedPacket{}
	var last time.Time
	n := 0
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return n, fmt.Errorf("%s: packet %d: %w", merged, n+1, err)
		}
		iface, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			return n, err
		}
		if ci.Timestamp.Before(last) {
			return n, fmt.Errorf("%s: packet %d (%s) is earlier than the one before it", merged, n+1, iface.Name)
		}
		last = ci.Timestamp
		got[iface.Name] = append(got[iface.Name], timedPacket{ci.Timestamp, string(data)})
		n++
	}
	if len(got) != len(own) {
		return n, fmt.Errorf("%s has interfaces for %d Pods, the files are of %d", merged, len(got), len(own))
	}
	for pod, want := range own {
		g := got[pod]
		if len(g) != len(want) {
			return n, fmt.Errorf("%s: interface %s holds %d packets, the Pod's files %d", merged, pod, len(g), len(want))
		}
		for i := range want {
			if !g[i].t.Equal(want[i].t) || g[i].data != want[i].data {
				return n, fmt.Errorf("%s: interface %s, packet %d differs from the Pod's files (time %s vs %s)", merged, pod, i+1, g[i].t, want[i].t)
			}
		}
		// The traffic app's sequence numbers: the same, in the same order.
		if a, b := seqsOf(g), seqsOf(want); !slices.Equal(a, b) || len(a) == 0 {
			return n, fmt.Errorf("%s: interface %s: %d sequence numbers, the Pod's files %d", merged, pod, len(a), len(b))
		}
	}
	return n, nil
}

// seqsOf is the traffic app's sequence numbers in packets, in order.
func seqsOf(ps []timedPacket) []int {
	var out []int
	for _, p := range ps {
		if m := payloadRe.FindStringSubmatch(p.data); m != nil {
			s, _ := strconv.Atoi(m[2])
			out = append(out, s)
		}
	}
	return out
}

// timedPacket is one packet's capture time and bytes.
type timedPacket struct {
	t    time.Time
	data string
}
