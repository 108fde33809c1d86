package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// Target Pods of the node-mode tests, in their argument order.
const (
	podA = "web-5d8f7c9b4-aaaaa"
	podB = "web-5d8f7c9b4-bbbbb"
	podC = "web-5d8f7c9b4-ccccc"
)

// sortedPods returns pods in the order of the Job's arguments.
func sortedPods(pods []targetPodSpec) []targetPodSpec {
	s := slices.Clone(pods)
	slices.SortFunc(s, func(a, b targetPodSpec) int { return strings.Compare(a.name, b.name) })
	return s
}

// filesOf returns the files of res that belong to the target Pod pod.
func filesOf(t *testing.T, res result, pod string) []string {
	t.Helper()
	re := fileNameOf(pod)
	var files []string
	for _, f := range res.files {
		if re.MatchString(f) {
			files = append(files, f)
		}
	}
	return files
}

// waitFiles waits until the capture has created n files.
func (c *capRun) waitFiles(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	if !c.waitFor(timeout, func() bool { return len(captureFiles(t, c.outDir)) >= n }) {
		t.Fatalf("fewer than %d capture files after %v: %v\nstdout:\n%s\nstderr:\n%s", n, timeout, captureFiles(t, c.outDir), c.stdout.String(), c.stderr.String())
	}
}

// memoryPeak samples the capture's processes until it ends and reports the
// largest resident size seen of one tcpdump, of one shell, and of all of
// them together.
type memoryPeak struct {
	mu                        sync.Mutex
	tcpdumpKiB, shellKiB      int
	tcpdumpAnonKiB, totalKiB  int
	tcpdumps, shells, samples int
}

func (c *capRun) sampleMemory() *memoryPeak {
	m := &memoryPeak{}
	go func() {
		for c.running() {
			total, tcpdumps, shells := 0, 0, 0
			m.mu.Lock()
			for _, p := range groupProcs(c.cmd.Process.Pid) {
				total += p.rssKiB
				switch p.comm {
				case "tcpdump":
					tcpdumps++
					m.tcpdumpKiB = max(m.tcpdumpKiB, p.hwmKiB)
					m.tcpdumpAnonKiB = max(m.tcpdumpAnonKiB, p.anonKiB)
				case "sh", "dash", "bash", "busybox", "capture.sh":
					shells++
					m.shellKiB = max(m.shellKiB, p.rssKiB)
				}
			}
			m.totalKiB = max(m.totalKiB, total)
			m.tcpdumps = max(m.tcpdumps, tcpdumps)
			m.shells = max(m.shells, shells)
			m.samples++
			m.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return m
}

func (m *memoryPeak) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("peak RSS of one tcpdump %d KiB (anon %d KiB), of one shell %d KiB, of all %d KiB (%d tcpdumps, %d shells, %d samples)",
		m.tcpdumpKiB, m.tcpdumpAnonKiB, m.shellKiB, m.totalKiB, m.tcpdumps, m.shells, m.samples)
}

// newMemCgroup makes a cgroup v1 memory cgroup for one capture, or returns
// "" where there is no such hierarchy (the measurement is then left out).
func newMemCgroup(t *testing.T) string {
	t.Helper()
	const root = "/sys/fs/cgroup/memory"
	if _, err := os.Stat(filepath.Join(root, "memory.max_usage_in_bytes")); err != nil {
		return ""
	}
	dir := filepath.Join(root, "fpc-"+randomHex(8))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Logf("no memory cgroup: %v", err)
		return ""
	}
	// Registered first, so it runs after the capture's own cleanup.
	t.Cleanup(func() {
		for range 50 {
			if err := syscall.Rmdir(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("cannot remove %s", dir)
	})
	return dir
}

// memCgroupUsage describes what the capture charged to its memory cgroup:
// the peak of all (page cache of the PCAPs included) and, now, the
// anonymous memory and the page cache.
func memCgroupUsage(dir string) string {
	if dir == "" {
		return "no memory cgroup"
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b))
	}
	mib := func(v string) string {
		n, _ := strconv.ParseInt(v, 10, 64)
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	stat := map[string]string{}
	for _, line := range strings.Split(read("memory.stat"), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			stat[k] = v
		}
	}
	return fmt.Sprintf("memory cgroup peak %s (kernel %s), at the end rss %s, cache %s, mapped_file %s",
		mib(read("memory.max_usage_in_bytes")), mib(read("memory.kmem.max_usage_in_bytes")), mib(stat["rss"]), mib(stat["cache"]), mib(stat["mapped_file"]))
}

// TestNodeJobTwoPods runs one node Job for two target Pods, each in its own
// network namespace with its own traffic: each Pod gets one complete PCAP
// holding its own packets and only those, and both stop on time.
func TestNodeJobTwoPods(t *testing.T) {
	cases := []struct {
		name     string
		shell    string
		security v1beta1.SecurityMode
	}{
		{"dash/privileged", shellHost, v1beta1.SecurityPrivileged},
		{"bash/capabilities", shellBash, v1beta1.SecurityCapabilities},
		{"busybox/capabilities", shellBusybox, v1beta1.SecurityCapabilities},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := map[string]*node{podA: newNode(t), podB: newNode(t)}
			streams := map[string]string{podA: "alpha", podB: "bravo"}
			ticks := map[string]string{podA: "ticka", podB: "tickb"}
			peers := map[string]*peer{podA: nodes[podA].newPeer(t), podB: nodes[podB].newPeer(t)}
			const duration = 3 * time.Second
			// Listed out of order: the planner sorts the arguments.
			r := render(t, nil, spec{duration: "3", filter: testFilter, security: tc.security,
				pods: []targetPodSpec{{podB, nodes[podB].uid}, {podA, nodes[podA].uid}}})

			stop := make(chan struct{})
			tickers := map[string]<-chan streamResult{}
			for _, pod := range []string{podA, podB} {
				tickers[pod] = peers[pod].ticker(portTicker, ticks[pod], 10*time.Millisecond, stop)
			}
			cg := newMemCgroup(t)
			c := startCapture(t, r, options{shell: tc.shell, memCgroup: cg})
			mem := c.sampleMemory()
			c.waitFiles(t, 2, startSlack)
			const count = 2000
			sent := map[string]streamResult{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, pod := range []string{podA, podB} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := peers[pod].stream(portStream, streams[pod], count, 200, time.Millisecond)
					mu.Lock()
					sent[pod] = s
					mu.Unlock()
				}()
			}
			res := c.wait(t, duration+10*time.Second)
			wg.Wait()
			time.Sleep(100 * time.Millisecond)
			close(stop)
			for _, ch := range tickers {
				<-ch
			}
			if res.exit != 0 {
				t.Fatalf("capture failed: %v", res)
			}
			checkRan(t, res.elapsed, duration)

			total := 0
			for _, pod := range []string{podA, podB} {
				n := nodes[pod]
				if s := sent[pod]; s.errors > 0 || s.last.After(c.ended) {
					t.Fatalf("%s: test stream not sent in time (%d errors, last at %v, capture ended at %v)", pod, s.errors, s.last, c.ended)
				}
				if want := fmt.Sprintf("pod %s/%s (uid %s) via pid %d ", targetNamespace, pod, n.uid, n.pausePID); !strings.Contains(res.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
				}
				files := filesOf(t, res, pod)
				if len(files) != 1 {
					t.Fatalf("%s: files %v, want 1 (all files: %v)", pod, files, res.files)
				}
				pkts := readPCAP(t, filepath.Join(res.outDir, files[0]))
				total += len(pkts)
				seqs := map[int]bool{}
				var firstTick, lastTick time.Time
				foreign := 0
				for _, pk := range pkts {
					switch pk.stream {
					case streams[pod]:
						seqs[pk.seq] = true
					case ticks[pod]:
						if firstTick.IsZero() {
							firstTick = pk.at
						}
						lastTick = pk.at
					default:
						foreign++
						if foreign <= 3 {
							t.Errorf("%s: a packet not of its own traffic: %s", pod, pk.line)
						}
					}
				}
				if foreign > 0 {
					t.Errorf("%s: %d packets of another Pod's traffic", pod, foreign)
				}
				ratio := float64(len(seqs)) / float64(sent[pod].sent)
				if ratio < 0.999 {
					t.Errorf("%s: recorded %d of %d datagrams of its stream (%.4f), want >= 0.999", pod, len(seqs), sent[pod].sent, ratio)
				}
				span := lastTick.Sub(firstTick)
				checkSpan(t, span, duration)
				if lastTick.After(c.ended) {
					t.Errorf("%s: a packet at %v was recorded after the capture ended at %v", pod, lastTick, c.ended)
				}
				t.Logf("%s: %d/%d of its stream, ticker span %v, %d packets in %s", pod, len(seqs), sent[pod].sent, span.Round(time.Millisecond), len(pkts), files[0])
			}
			checkSummary(t, res, capture.CaptureOK, total)
			if _, err := os.Stat(filepath.Join(res.outDir, capture.CompleteMarker)); err != nil {
				t.Errorf("no %s after the capture: %v", capture.CompleteMarker, err)
			}
			t.Logf("script ran %v; %s; %s; summary %q", res.elapsed.Round(time.Millisecond), mem, memCgroupUsage(cg), firstLine(res.termLog))
		})
	}
}

// TestNodeJobPodMissing runs a node Job whose first target Pod is not on the
// node: the second is still captured for the whole duration, its file is
// complete and listed, the summary names the missing Pod, and the script
// keeps the files for the retention window before it exits 3.
func TestNodeJobPodMissing(t *testing.T) {
	n := newNode(t)
	p := n.newPeer(t)
	stop := make(chan struct{})
	ticks := p.ticker(portTicker, "tick", 10*time.Millisecond, stop)
	t.Cleanup(func() { close(stop); <-ticks })

	const duration = 2 * time.Second
	missingUID := newUID()
	r := render(t, nil, spec{duration: "2", filter: testFilter, retention: 60,
		pods: []targetPodSpec{{podA, missingUID}, {podB, n.uid}}})
	c, ready, probe := startWithReadiness(t, r, options{})
	c.firstFile(t, loadSlack)
	sent := p.stream(portStream, "seq", 1000, 200, time.Millisecond)
	if ready() {
		t.Errorf("readiness probe %q passes while the capture runs", probe)
	}
	if !c.waitFor(duration+loadSlack, ready) {
		t.Fatalf("readiness probe %q never passed\nstdout:\n%s\nstderr:\n%s", probe, c.stdout.String(), c.stderr.String())
	}
	readyAt := time.Since(c.started)
	if !c.running() {
		t.Fatalf("the script did not wait for retrieval: exit %d\nstderr:\n%s", c.exit, c.stderr.String())
	}
	if readyAt < duration {
		t.Errorf("the capture was over after %v, before its duration %v", readyAt, duration)
	}
	// The summary is written before the retention window.
	termLog, _ := os.ReadFile(c.termLog)
	sum, err := capture.ParseSummary(string(termLog))
	if err != nil {
		t.Fatalf("capture.ParseSummary: %v\n%s", err, termLog)
	}
	files := captureFiles(t, c.outDir)
	if len(files) != 1 || !fileNameOf(podB).MatchString(files[0]) {
		t.Fatalf("files %v, want one of %s", files, podB)
	}
	a, _ := sum.Target(1)
	b, _ := sum.Target(2)
	if sum.Status != capture.CapturePodNotFound || a.Status != capture.CapturePodNotFound || !strings.Contains(a.Why, missingUID) ||
		b.Status != capture.CaptureOK || b.Files != 1 || !slices.Equal(sum.FileNames, files) {
		t.Errorf("summary %+v, want %s pod-not-found (why naming its uid), %s ok with %s", sum, podA, podB, files[0])
	}
	pkts := readPCAP(t, filepath.Join(c.outDir, files[0]))
	seqs := map[int]bool{}
	var firstTick, lastTick time.Time
	for _, pk := range pkts {
		switch pk.stream {
		case "seq":
			seqs[pk.seq] = true
		case "tick":
			if firstTick.IsZero() {
				firstTick = pk.at
			}
			lastTick = pk.at
		}
	}
	if ratio := float64(len(seqs)) / float64(sent.sent); ratio < 0.999 {
		t.Errorf("recorded %d of %d datagrams (%.4f), want >= 0.999", len(seqs), sent.sent, ratio)
	}
	checkSpan(t, lastTick.Sub(firstTick), duration)
	time.Sleep(time.Second)
	if !c.running() {
		t.Fatalf("the script ended within the retention window")
	}
	retrieved := time.Now()
	if err := os.WriteFile(filepath.Join(c.outDir, ".retrieved"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := c.wait(t, loadSlack)
	if res.exit != capture.ExitPodNotFound {
		t.Fatalf("exit %d, want %d: %v", res.exit, capture.ExitPodNotFound, res)
	}
	if took := c.ended.Sub(retrieved); took > loadSlack {
		t.Errorf("took %v to end after .retrieved", took)
	}
	checkSummary(t, res, capture.CapturePodNotFound, len(pkts))
	if !strings.Contains(res.stderr, targetNamespace+"/"+podA) || !strings.Contains(res.stderr, missingUID) {
		t.Errorf("stderr does not name the missing Pod:\n%s", res.stderr)
	}
	t.Logf("ready after %v, exit %d %v after .retrieved: %q", readyAt.Round(time.Millisecond), res.exit, c.ended.Sub(retrieved).Round(time.Millisecond), res.termLog)
}

// TestNodeJobExitCode runs a node Job of three target Pods: the first is
// captured, the second's tcpdump fails (its "network namespace" is not one)
// and the third is not on the node. The first is captured for the whole
// duration; the exit code is the first failure's in argument order (4), and
// only after the capture.
func TestNodeJobExitCode(t *testing.T) {
	n := newNode(t)
	p := n.newPeer(t)
	stop := make(chan struct{})
	ticks := p.ticker(portTicker, "tick", 10*time.Millisecond, stop)
	t.Cleanup(func() { close(stop); <-ticks })

	uidA, uidB, uidC := newUID(), newUID(), newUID()
	root := filepath.Join(t.TempDir(), "proc")
	fakeProc(t, root, "1000", "app", "0::/kubepods/besteffort/pod"+uidA+"/"+randomHex(64)+"\n", fmt.Sprintf("/proc/%d/ns/net", n.appPID))
	fakeProc(t, root, "1001", "app", "0::/kubepods/besteffort/pod"+uidB+"/"+randomHex(64)+"\n", "/dev/null")

	const duration = 2 * time.Second
	r := render(t, nil, spec{duration: "2", filter: testFilter,
		pods: []targetPodSpec{{podC, uidC}, {podB, uidB}, {podA, uidA}}})
	for _, shell := range []string{shellHost, shellBusybox} {
		t.Run(shell, func(t *testing.T) {
			res := startCapture(t, r, options{shell: shell, data: map[string]string{"proc-root": root}}).wait(t, duration+10*time.Second)
			if res.exit != capture.ExitTCPDumpFailed {
				t.Fatalf("exit %d, want %d: %v", res.exit, capture.ExitTCPDumpFailed, res)
			}
			if res.elapsed < duration {
				t.Errorf("exited after %v, before the duration %v", res.elapsed, duration)
			}
			files := filesOf(t, res, podA)
			if len(files) != 1 || len(res.files) != 1 {
				t.Fatalf("files %v, want one of %s", res.files, podA)
			}
			var firstTick, lastTick time.Time
			pkts := readPCAP(t, filepath.Join(res.outDir, files[0]))
			for _, pk := range pkts {
				if pk.stream == "tick" {
					if firstTick.IsZero() {
						firstTick = pk.at
					}
					lastTick = pk.at
				}
			}
			checkSpan(t, lastTick.Sub(firstTick), duration)
			s := checkSummary(t, res, capture.CaptureTcpdumpFailed, len(pkts))
			a, b, cc := targetOf(t, res, s, podA), targetOf(t, res, s, podB), targetOf(t, res, s, podC)
			if a.Status != capture.CaptureOK || b.Status != capture.CaptureTcpdumpFailed || cc.Status != capture.CapturePodNotFound ||
				!strings.HasPrefix(b.Why, "tcpdump exited with status ") {
				t.Errorf("targets %+v, %+v, %+v: want %s ok, %s tcpdump-failed, %s pod-not-found", a, b, cc, podA, podB, podC)
			}
			t.Logf("exit %d after %v: %q", res.exit, res.elapsed.Round(time.Millisecond), res.termLog)
		})
	}
}

// TestNodeJobManyPods runs a node Job of 100 target Pods: 30 are found (all
// in one network namespace, through a prepared proc tree) and captured
// concurrently, 70 are missing. The termination log stays under 4 KiB: the
// totals, the failures first, the files while they fit, the count of the rest.
func TestNodeJobManyPods(t *testing.T) {
	n := newNode(t)
	p := n.newPeer(t)
	stop := make(chan struct{})
	ticks := p.ticker(portTicker, "tick", 10*time.Millisecond, stop)
	t.Cleanup(func() { close(stop); <-ticks })

	const total, found = 100, 30
	root := filepath.Join(t.TempDir(), "proc")
	var pods []targetPodSpec
	real := map[string]bool{}
	for i := range total {
		pod := targetPodSpec{name: fmt.Sprintf("web-5d8f7c9b4-p%03d", i), uid: newUID()}
		pods = append(pods, pod)
		if i%10 < 3 {
			real[pod.name] = true
			fakeProc(t, root, strconv.Itoa(1000+i), "app", "0::/kubepods/besteffort/pod"+pod.uid+"/"+randomHex(64)+"\n", fmt.Sprintf("/proc/%d/ns/net", n.appPID))
		}
	}
	const duration = 2 * time.Second
	r := render(t, nil, spec{duration: "2", filter: testFilter, pods: pods})
	for _, shell := range []string{shellHost, shellBash, shellBusybox} {
		t.Run(shell, func(t *testing.T) {
			cg := newMemCgroup(t)
			c := startCapture(t, r, options{shell: shell, data: map[string]string{"proc-root": root}, memCgroup: cg})
			mem := c.sampleMemory()
			res := c.wait(t, 2*time.Minute) // against a hang: under load this is slow
			if res.exit != capture.ExitPodNotFound {
				t.Fatalf("exit %d, want %d: %v", res.exit, capture.ExitPodNotFound, res)
			}
			if res.elapsed < duration {
				t.Errorf("the capture ran %v, less than its duration %v", res.elapsed, duration)
			}
			if len(res.files) != found {
				t.Errorf("%d files, want %d", len(res.files), found)
			}
			packets := 0
			for _, pod := range pods {
				files := filesOf(t, res, pod.name)
				if !real[pod.name] {
					if len(files) != 0 {
						t.Errorf("%s is missing but has files %v", pod.name, files)
					}
					continue
				}
				if len(files) != 1 {
					t.Errorf("%s: files %v, want 1", pod.name, files)
					continue
				}
				pkts := readPCAP(t, filepath.Join(res.outDir, files[0]))
				packets += len(pkts)
				if len(pkts) < 100 {
					t.Errorf("%s: %d packets in %v, want about 200", pod.name, len(pkts), duration)
				}
			}
			full := checkSummary(t, res, capture.CapturePodNotFound, packets)
			for i, pod := range sortedPods(pods) {
				tg, _ := full.Target(i + 1)
				if want := map[bool]string{true: capture.CaptureOK, false: capture.CapturePodNotFound}[real[pod.name]]; tg.Status != want {
					t.Errorf("%s: status %s (%s), want %s", pod.name, tg.Status, tg.Why, want)
				}
			}
			t.Logf("%d targets (%d found) in %v: %d bytes of termination log, %d of %d target lines and %d of %d names kept; %s; %s",
				total, found, res.elapsed.Round(time.Millisecond), len(res.termLog), len(res.summary.Targets), total, len(res.summary.FileNames), found, mem, memCgroupUsage(cg))
		})
	}
}

// TestNodeJobTerminated sends SIGTERM to a node Job of two target Pods, at
// points from before its tcpdumps listen to well into the capture: it exits
// 143 at once, every file it left is a complete PCAP, and no tcpdump
// outlives it (checked by the harness).
func TestNodeJobTerminated(t *testing.T) {
	a, b := newNode(t), newNode(t)
	stop := make(chan struct{})
	ta := a.newPeer(t).ticker(portTicker, "tick", 10*time.Millisecond, stop)
	tb := b.newPeer(t).ticker(portTicker, "tick", 10*time.Millisecond, stop)
	t.Cleanup(func() { close(stop); <-ta; <-tb })

	r := render(t, nil, spec{duration: "30", filter: testFilter, pods: []targetPodSpec{{podA, a.uid}, {podB, b.uid}}})
	for _, shell := range []string{shellHost, shellBash, shellBusybox} {
		for _, after := range []time.Duration{0, 10 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, 1500 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/%v", shell, after), func(t *testing.T) {
				c := startCapture(t, r, options{shell: shell})
				if after >= time.Second {
					c.waitFiles(t, 2, startSlack)
				}
				time.Sleep(after)
				sent := time.Now()
				c.signal(t, syscall.SIGTERM)
				res := c.wait(t, 2*loadSlack)
				took := c.ended.Sub(sent)
				if res.exit != 143 {
					t.Fatalf("exit %d, want 143: %v", res.exit, res)
				}
				if took > loadSlack {
					t.Errorf("took %v to stop after SIGTERM", took)
				}
				packets := 0
				for _, f := range res.files {
					packets += len(readPCAP(t, filepath.Join(res.outDir, f)))
				}
				if after >= time.Second {
					if len(res.files) != 2 {
						t.Fatalf("files %v, want 2", res.files)
					}
					for _, f := range res.files {
						// About 150 on an idle machine; 38 with make test and
						// make e2e side by side, whose load starves the
						// ticker too. A handful shows the packets recorded
						// before the SIGTERM were kept.
						if n := len(readPCAP(t, filepath.Join(res.outDir, f))); n < 10 {
							t.Errorf("%s: %d packets in about 1.5 s, want about 150", f, n)
						}
					}
				}
				// A SIGTERM before the script knows its targets leaves only
				// the status; one before its first line, nothing.
				switch {
				case res.termLog == "":
				case len(res.summary.Targets) == 0:
					if res.summary.Status != capture.CaptureInterrupted || len(res.files) != 0 {
						t.Errorf("status %q and files %v, want interrupted and none: %v", res.summary.Status, res.files, res)
					}
				default:
					checkSummary(t, res, capture.CaptureInterrupted, packets)
				}
				t.Logf("stopped %v after SIGTERM, %d files, %d packets: %q", took.Round(time.Millisecond), len(res.files), packets, firstLine(res.termLog))
			})
		}
	}
}
