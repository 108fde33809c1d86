package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// targetName returns the Pod name of the script's argument <pod>/<uid>.
func targetName(arg string) string {
	name, _, _ := strings.Cut(arg, "/")
	return name
}

// filesOfTarget returns the PCAP files of res that belong to the Pod of
// argument arg: the script cuts a long Pod name to 100 characters for its
// file names.
func filesOfTarget(t *testing.T, res result, arg string) []string {
	t.Helper()
	name := targetName(arg)
	if len(name) > 100 {
		name = name[:100]
	}
	return filesOf(t, res, name)
}

// checkSummary checks what a capture reported against what it left, reading
// the summary with capture.ParseSummary as the function and the plugin do:
// the termination log is under 4 KiB and stdout carries it; summary.txt holds
// the same summary uncut; the head's status is want and its totals are the
// files' and the targets'; there is one line per target Pod, in argument
// order, whose files and bytes are those of its files (and whose packets are
// those in them, unless packets < 0, when the ring of files dropped some);
// every Pod that is not ok has a why; every file is listed in summary.txt and
// SHA256SUMS holds its digest. packets, when >= 0, is the total number of
// packets in the files. It returns the uncut summary.
func checkSummary(t *testing.T, res result, want string, packets int) capture.Summary {
	t.Helper()
	if res.summaryErr != nil {
		t.Fatalf("capture.ParseSummary: %v\n%v", res.summaryErr, res)
	}
	cut := res.summary
	if len(res.termLog) >= 4096 {
		t.Errorf("termination log is %d bytes, the kubelet keeps 4096", len(res.termLog))
	}
	if !strings.Contains(res.stdout, strings.TrimRight(res.termLog, "\n")) {
		t.Errorf("stdout does not carry the summary:\n%s", res.stdout)
	}
	text, err := os.ReadFile(filepath.Join(res.outDir, res.summaryFile))
	if err != nil {
		t.Fatalf("no %s: %v", res.summaryFile, err)
	}
	full, err := capture.ParseSummary(string(text))
	if err != nil {
		t.Fatalf("summary.txt: capture.ParseSummary: %v\n%s", err, text)
	}
	if cut.FilesOmitted == 0 {
		if string(text) != res.termLog {
			t.Errorf("summary.txt differs from the termination log, which was not cut:\n%s\n---\n%s", text, res.termLog)
		}
	} else {
		lines := strings.Split(strings.TrimRight(res.termLog, "\n"), "\n")
		kept := strings.Join(lines[:len(lines)-1], "\n") + "\n"
		if !strings.HasPrefix(string(text), kept) {
			t.Errorf("the cut termination log is not the start of summary.txt:\n%s\n---\n%s", res.termLog, text)
		}
		if all := strings.Count(string(text), "\n"); len(lines)-1+cut.FilesOmitted != all {
			t.Errorf("the termination log keeps %d lines and says %d more, summary.txt has %d", len(lines)-1, cut.FilesOmitted, all)
		}
	}
	if full.Status != want || cut.Status != want {
		t.Errorf("summary status %q (summary.txt %q), want %q: %v", cut.Status, full.Status, want, res)
	}

	// One line per target, in argument order; the totals add them up.
	if len(full.Targets) != len(res.args) {
		t.Fatalf("summary.txt has %d target lines, the Job has %d target Pods:\n%s", len(full.Targets), len(res.args), text)
	}
	var sum capture.TargetSummary
	firstFailed := ""
	for i, tg := range full.Targets {
		arg := res.args[i]
		if tg.Index != i+1 {
			t.Errorf("target line %d has index %d", i+1, tg.Index)
		}
		files := filesOfTarget(t, res, arg)
		var bytes int64
		pkts := 0
		for _, f := range files {
			bytes += fileSize(t, filepath.Join(res.outDir, f))
			if packets >= 0 {
				pkts += len(readPCAP(t, filepath.Join(res.outDir, f)))
			}
		}
		if tg.Files != int64(len(files)) || tg.Bytes != bytes {
			t.Errorf("%s: summary says %d files of %d bytes, it has %d of %d", targetName(arg), tg.Files, tg.Bytes, len(files), bytes)
		}
		if packets >= 0 && tg.Packets != int64(pkts) {
			t.Errorf("%s: summary says %d packets, its files hold %d", targetName(arg), tg.Packets, pkts)
		}
		if tg.Status != capture.CaptureOK {
			if tg.Why == "" {
				t.Errorf("%s: status %s and no why line:\n%s", targetName(arg), tg.Status, text)
			}
			if firstFailed == "" {
				firstFailed = tg.Status
			}
		}
		sum.Files += tg.Files
		sum.Bytes += tg.Bytes
		sum.Packets += tg.Packets
		sum.Dropped += tg.Dropped
	}
	if full.Status != capture.CaptureInterrupted && firstFailed != "" && full.Status != firstFailed {
		t.Errorf("summary status %q, but the first target that is not ok is %q", full.Status, firstFailed)
	}
	if full.Files != sum.Files || full.Bytes != sum.Bytes || full.Packets != sum.Packets || full.Dropped != sum.Dropped {
		t.Errorf("the totals (files %d, bytes %d, packets %d, dropped %d) are not the targets' sums (%d, %d, %d, %d)",
			full.Files, full.Bytes, full.Packets, full.Dropped, sum.Files, sum.Bytes, sum.Packets, sum.Dropped)
	}
	if full.Files != int64(len(res.files)) {
		t.Errorf("summary files=%d, but %d files are there", full.Files, len(res.files))
	}
	if packets >= 0 && full.Packets != int64(packets) {
		t.Errorf("summary packets=%d, the files hold %d", full.Packets, packets)
	}
	if names := slices.Sorted(slices.Values(full.FileNames)); !slices.Equal(names, res.files) {
		t.Errorf("summary.txt lists %q, the files are %q", full.FileNames, res.files)
	}
	for _, name := range cut.FileNames {
		if !slices.Contains(res.files, name) {
			t.Errorf("the termination log lists %q, which is not a file", name)
		}
	}
	checkSHA256SUMS(t, res)
	return full
}

// checkSHA256SUMS checks that SHA256SUMS (sha256sum's format, names relative
// to the output directory) holds the digest of every PCAP file and nothing
// else.
func checkSHA256SUMS(t *testing.T, res result) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(res.outDir, res.sumsFile))
	if len(res.files) == 0 {
		if err == nil && len(b) > 0 {
			t.Errorf("SHA256SUMS without files: %s", b)
		}
		return
	}
	if err != nil {
		t.Fatalf("no SHA256SUMS: %v", err)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		digest, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Errorf("SHA256SUMS line %q is not <digest>  <name>", line)
			continue
		}
		data, err := os.ReadFile(filepath.Join(res.outDir, name))
		if err != nil {
			t.Errorf("SHA256SUMS names %q: %v", name, err)
			continue
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest {
			t.Errorf("SHA256SUMS: %s has digest %x, the file says %s", name, sum, digest)
		}
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, res.files) {
		t.Errorf("SHA256SUMS lists %q, the files are %q", listed, res.files)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// targetOf returns the summary line of the target Pod named pod.
func targetOf(t *testing.T, res result, s capture.Summary, pod string) capture.TargetSummary {
	t.Helper()
	for i, arg := range res.args {
		if targetName(arg) == pod {
			if tg, ok := s.Target(i + 1); ok {
				return tg
			}
		}
	}
	t.Fatalf("the summary has no line for %s:\n%s", pod, res.termLog)
	return capture.TargetSummary{}
}

// fakeHugeTCPDump stands in for tcpdump at the largest numbers a day-long
// capture could report: three rotated files of 40 GB (sparse) and 2^32-1
// packets captured and dropped, and then it fails, so every target is
// tcpdump-failed, the longest status, with a why line.
const fakeHugeTCPDump = `#!/bin/sh
w=
while [ $# -gt 0 ]; do
	case $1 in
	-w) w=$2; shift ;;
	--) break ;;
	esac
	shift
done
for i in 0 1 2; do truncate -s 40000000000 "$w$i"; done
echo "tcpdump: listening on any" >&2
printf '%s\n' "4294967295 packets captured" "4294967295 packets received by filter" "4294967295 packets dropped by kernel" >&2
echo "tcpdump: pcap_loop: The interface went down on a node whose name is long enough to fill the line" >&2
exit 1
`

// fakeSHA256SUM stands in for sha256sum, which would read 12 TB of sparse
// files: a digest of zeros for each name.
const fakeSHA256SUM = `#!/bin/sh
[ "$1" = -- ] && shift
for f in "$@"; do echo "0000000000000000000000000000000000000000000000000000000000000000  $f"; done
`

// TestSummaryWorstCase measures the summary of a node Job of 110 target Pods
// (the kubelet's default Pod limit) at the largest numbers, each Pod with a
// why line: the termination log stays under 4 KiB, keeps the head's totals
// and the first target lines, and counts the lines it leaves out; summary.txt
// has them all.
func TestSummaryWorstCase(t *testing.T) {
	requireTools(t, "truncate")
	bin := t.TempDir()
	for name, text := range map[string]string{"tcpdump": fakeHugeTCPDump, "sha256sum": fakeSHA256SUM} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "proc")
	const total = 110
	var pods []targetPodSpec
	for i := range total {
		// The longest name a Deployment's Pod can have: 63 characters.
		pod := targetPodSpec{name: fmt.Sprintf("%s-%03d", strings.Repeat("w", 59), i), uid: newUID()}
		pods = append(pods, pod)
		fakeProc(t, root, strconv.Itoa(1000+i), "app", "0::/kubepods/besteffort/pod"+pod.uid+"/"+randomHex(64)+"\n", "/proc/self/ns/net")
	}
	r := render(t, nil, spec{duration: "1", pods: pods})
	res := startCapture(t, r, options{
		pathPrefix: bin,
		data:       map[string]string{"proc-root": root, "network-snapshot": "off"},
	}).wait(t, 60*time.Second)
	if res.exit != capture.ExitTCPDumpFailed {
		t.Fatalf("exit %d, want %d: %v", res.exit, capture.ExitTCPDumpFailed, res)
	}
	if res.summaryErr != nil {
		t.Fatal(res.summaryErr)
	}
	cut := res.summary
	if len(res.termLog) >= 4096 {
		t.Errorf("termination log is %d bytes, the kubelet keeps 4096", len(res.termLog))
	}
	const huge = 4294967295
	if cut.Status != capture.CaptureTcpdumpFailed || cut.Packets != total*huge || cut.Dropped != total*huge ||
		cut.Files != 3*total || cut.Bytes != 3*total*40000000000 {
		t.Errorf("head %+v, want tcpdump-failed and the totals of %d targets", cut, total)
	}
	text, err := os.ReadFile(filepath.Join(res.outDir, res.summaryFile))
	if err != nil {
		t.Fatal(err)
	}
	full, err := capture.ParseSummary(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Targets) != total || len(full.FileNames) != 3*total {
		t.Errorf("summary.txt has %d target lines and %d names, want %d and %d", len(full.Targets), len(full.FileNames), total, 3*total)
	}
	for i, tg := range cut.Targets {
		if tg.Index != i+1 || tg.Status != capture.CaptureTcpdumpFailed || tg.Packets != huge || tg.Bytes != 3*40000000000 {
			t.Errorf("kept target line %d: %+v", i+1, tg)
		}
	}
	lines := strings.Count(string(text), "\n")
	kept := strings.Count(res.termLog, "\n") - 1
	if cut.FilesOmitted != lines-kept {
		t.Errorf("the termination log keeps %d of %d lines and says %d more", kept, lines, cut.FilesOmitted)
	}
	if !strings.HasPrefix(string(text), strings.Join(strings.SplitAfter(res.termLog, "\n")[:kept], "")) {
		t.Errorf("the termination log is not the start of summary.txt")
	}
	line := strings.SplitAfter(string(text), "\n")[2]
	t.Logf("%d targets at the largest numbers: summary.txt %d bytes (%d lines; a target line is %d bytes); the termination log %d bytes keeps %d of %d target lines, says %d more",
		total, len(text), lines, len(line), len(res.termLog), len(cut.Targets), total, cut.FilesOmitted)
}

// TestSharedOutputDir runs two capture Jobs at once into one output
// directory, as on a HostPath or claim that every Job on a node shares: each
// capture Pod keeps its own summary (<HOSTNAME>.summary.txt) and checksums
// (SHA256SUMS.<HOSTNAME>) of its own files, where fixed names would have one
// Job overwrite the other's. The second runs without HOSTNAME and names them
// after its job and first target.
func TestSharedOutputDir(t *testing.T) {
	requireTools(t)
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "tcpdump"), []byte(fakeTCPDump), 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "proc")
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	jobs := []struct {
		pod      targetPodSpec
		hostname string
		want     string
	}{
		{pod: targetPodSpec{name: podA, uid: newUID()}, hostname: "capture-node-a-x1y2z", want: "capture-node-a-x1y2z"},
		{pod: targetPodSpec{name: podB, uid: newUID()}, want: "capture-" + testJobID + "-" + podB},
	}
	var runs []*capRun
	for i, j := range jobs {
		// Each Pod's process is the capture's own, in its new network namespace.
		fakeProc(t, root, strconv.Itoa(1000+i), "app", "0::/kubepods/pod"+j.pod.uid+"/"+randomHex(64)+"\n", "/proc/self/ns/net")
		r := render(t, nil, spec{duration: "1", pods: []targetPodSpec{j.pod}})
		runs = append(runs, startCapture(t, r, options{
			pathPrefix: bin,
			data:       map[string]string{"proc-root": root},
			env:        map[string]string{"HOSTNAME": j.hostname},
			outDir:     shared,
		}))
	}
	for i, c := range runs {
		res := c.wait(t, 2*loadSlack)
		if res.exit != 0 {
			t.Fatalf("capture %d failed: %v", i+1, res)
		}
		if res.summaryFile != jobs[i].want+".summary.txt" || res.sumsFile != "SHA256SUMS."+jobs[i].want {
			t.Fatalf("the harness expects %s and %s", res.summaryFile, res.sumsFile)
		}
		// The files of this Job's target Pod; the other Job's are beside them.
		own := targetNamespace + "_" + jobs[i].pod.name + "_"
		res.files = slices.DeleteFunc(res.files, func(f string) bool { return !strings.HasPrefix(f, own) })
		if len(res.files) != 60 {
			t.Fatalf("capture %d: %d files named %s*, want 60", i+1, len(res.files), own)
		}
		checkSummary(t, res, capture.CaptureOK, -1)
	}
	for _, fixed := range []string{"summary.txt", "SHA256SUMS"} {
		if _, err := os.Stat(filepath.Join(shared, fixed)); err == nil {
			t.Errorf("%s was written: Jobs sharing the directory would overwrite it", fixed)
		}
	}
}
