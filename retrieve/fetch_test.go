package retrieve

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

var t0 = time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// outcome is what a test looks at in a fetch: each source's verdict and
// its problems (substrings), and the files that landed.
type outcome struct {
	Verified map[string]string
	Problems map[string][]string
}

func outcomeOf(results []*Result) outcome {
	o := outcome{Verified: map[string]string{}, Problems: map[string][]string{}}
	for _, r := range results {
		o.Verified[r.Source.Name] = Verified(r)
		var ps []string
		if r.Err != nil {
			ps = append(ps, r.Err.Error())
		}
		ps = append(ps, r.Verification.Problems...)
		if len(ps) > 0 {
			o.Problems[r.Source.Name] = ps
		}
	}
	return o
}

// matches compares got with want, where want's problems are substrings.
func matches(t *testing.T, got, want outcome) {
	t.Helper()
	if d := cmp.Diff(want.Verified, got.Verified); d != "" {
		t.Errorf("verdicts (-want +got):\n%s\nproblems: %v", d, got.Problems)
	}
	for name, subs := range want.Problems {
		all := strings.Join(got.Problems[name], "\n")
		for _, s := range subs {
			if !strings.Contains(all, s) {
				t.Errorf("%s: problems %q do not say %q", name, all, s)
			}
		}
	}
	for name, ps := range got.Problems {
		if _, ok := want.Problems[name]; !ok {
			t.Errorf("%s: unexpected problems %q", name, ps)
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFetchPodOutput(t *testing.T) {
	type podFiles = map[string][]byte
	// The files of web-1's capture Pod as capture.sh leaves them, with a
	// rotated second file; change edits them for a case.
	web1 := func(t *testing.T) podFiles {
		f := podFiles{
			fileName("web-1", "0"): pcapFile(t, packets("web-1", t0, time.Millisecond, 3)),
			fileName("web-1", "1"): pcapFile(t, packets("web-1b", t0.Add(time.Second), time.Millisecond, 2)),
			".capture-complete":    nil,
			// The network snapshot beside the PCAPs: copied, not counted.
			testTarget + "_web-1_" + testJobID + "_" + testStart + ".netstate-start.txt": []byte("1: lo: <LOOPBACK,UP>\n"),
		}
		f[summaryFile] = []byte(summaryOf([]int64{5}, [][]string{{fileName("web-1", "0"), fileName("web-1", "1")}}, f))
		f[sumsFile] = sha256sums(f, fileName("web-1", "0"), fileName("web-1", "1"), summaryFile)
		return f
	}
	cases := map[string]struct {
		reason string
		change func(f podFiles, pod *corev1.Pod)
		tar    func(files map[string][]byte) []byte
		want   outcome
	}{
		"Verified": {
			reason: "Every file arrives with the size and SHA-256 the capture recorded.",
			change: func(podFiles, *corev1.Pod) {},
			want:   outcome{Verified: map[string]string{"web-1-qwer-a": "yes (size+sha256)"}},
		},
		"ChecksumMismatch": {
			reason: "A file whose bytes differ from SHA256SUMS fails.",
			change: func(f podFiles, _ *corev1.Pod) {
				b := f[fileName("web-1", "1")]
				b[len(b)-1] ^= 0xff
			},
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "MISMATCH"},
				Problems: map[string][]string{"web-1-qwer-a": {fileName("web-1", "1") + ": SHA-256"}}},
		},
		"SizeMismatch": {
			reason: "Files shorter than the summary says fail, without checksums too.",
			change: func(f podFiles, _ *corev1.Pod) {
				delete(f, sumsFile)
				f[fileName("web-1", "1")] = f[fileName("web-1", "1")][:40]
			},
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "MISMATCH"},
				Problems: map[string][]string{"web-1-qwer-a": {"Pod web-1: 2 files of", "the capture reported 2 files of"}}},
		},
		"FileMissing": {
			reason: "A file the summary and SHA256SUMS name but that is not there fails.",
			change: func(f podFiles, _ *corev1.Pod) { delete(f, fileName("web-1", "1")) },
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "MISMATCH"},
				Problems: map[string][]string{"web-1-qwer-a": {"lists " + fileName("web-1", "1") + ", which was not found", "named by the capture's summary, was not found"}}},
		},
		"NoSummary": {
			reason: "A capture that left no summary is copied, and said to be unverified.",
			change: func(f podFiles, _ *corev1.Pod) { delete(f, summaryFile); delete(f, sumsFile) },
			want:   outcome{Verified: map[string]string{"web-1-qwer-a": "no summary"}},
		},
		"ChecksumsOnly": {
			reason: "Without a summary, SHA256SUMS alone still verifies every file it lists.",
			change: func(f podFiles, _ *corev1.Pod) {
				delete(f, summaryFile)
				f[sumsFile] = sha256sums(f, fileName("web-1", "0"), fileName("web-1", "1"))
			},
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "yes (sha256)"}},
		},
		"Ended": {
			reason: "A capture Pod that has ended took its files with it: say so.",
			change: func(_ podFiles, p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded },
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "gone"},
				Problems: map[string][]string{"web-1-qwer-a": {"files gone: the capture Pod has ended (Succeeded)", "retentionSeconds"}}},
		},
		"StillCapturing": {
			reason: "A capture Pod that is not Ready has not closed its files yet.",
			change: func(_ podFiles, p *corev1.Pod) { p.Status.ContainerStatuses[0].Ready = false },
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "gone"},
				Problems: map[string][]string{"web-1-qwer-a": {"the capture is still running"}}},
		},
		"TarEscapes": {
			reason: "A tar stream that names a path outside the directory is refused.",
			change: func(podFiles, *corev1.Pod) {},
			tar: func(map[string][]byte) []byte {
				var buf bytes.Buffer
				tw := tar.NewWriter(&buf)
				_ = tw.WriteHeader(&tar.Header{Name: "../../etc/evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
				_, _ = tw.Write([]byte("x"))
				_ = tw.Close()
				return buf.Bytes()
			},
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "failed"},
				Problems: map[string][]string{"web-1-qwer-a": {`names "../../etc/evil", outside the output directory`}}},
		},
		"TarCutAtBoundary": {
			reason: "A stream cut between two files looks whole to tar; the summary and checksums catch it.",
			change: func(podFiles, *corev1.Pod) {},
			tar: func(files map[string][]byte) []byte {
				b := tarOf(files, true)
				return b[:2048]
			},
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "MISMATCH"},
				Problems: map[string][]string{"web-1-qwer-a": {"SHA256SUMS lists " + fileName("web-1", "1") + ", which was not found"}}},
		},
		"TarCutInFile": {
			reason: "A stream cut inside a file (the exec ended early) fails, whatever arrived.",
			change: func(podFiles, *corev1.Pod) {},
			tar: func(files map[string][]byte) []byte {
				b := tarOf(files, true)
				return b[:2048+100]
			},
			want: outcome{Verified: map[string]string{"web-1-qwer-a": "failed"},
				Problems: map[string][]string{"web-1-qwer-a": {"copy from web-1-qwer-a/capture"}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			jobs := plannedJobs(t, v1beta1.Output{Type: v1beta1.OutputPod}, v1beta1.JobPerPod, map[string]string{"web-1": "node-a"})
			pod := podOf(jobs[0], "a", corev1.PodRunning, true, "")
			files := web1(t)
			tc.change(files, pod)
			c := newCluster(t, []runtime.Object{&jobs[0], pod, node("node-a")}, packetCapture(testPC, ""))
			c.tarOverride = tc.tar
			for n, b := range files {
				c.put("pod/"+pod.Name, n, b)
			}
			cl := c.client()
			cp, err := cl.Find(context.Background(), testNS, testPC)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			results, err := cl.Fetch(context.Background(), cp, FetchOptions{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			matches(t, outcomeOf(results), tc.want)
			if tc.want.Verified["web-1-qwer-a"] == "yes (size+sha256)" {
				want := map[string][]byte{}
				for n, b := range files {
					if !strings.HasPrefix(n, ".") {
						want["web-1-qwer-a/"+n] = b
					}
				}
				if d := cmp.Diff(want, readTree(t, dir)); d != "" {
					t.Errorf("%s\nfiles on disk (-want +got):\n%s", tc.reason, d)
				}
				v := results[0].Verification
				wantBytes := int64(len(files[fileName("web-1", "0")]) + len(files[fileName("web-1", "1")]))
				if v.Files != 2 || v.Bytes != wantBytes || v.Packets != 5 {
					t.Errorf("counted %d files, %d bytes, %d packets; want the 2 PCAPs, %d bytes, 5 packets", v.Files, v.Bytes, v.Packets, wantBytes)
				}
			}
			if len(c.helpers) != 0 {
				t.Errorf("the Pod output needs no helper Pod, got %d", len(c.helpers))
			}
		})
	}
}

// sharedSetup is a HostPath or PVC capture of web-1 and web-2 on node-a
// (one node Job) and web-3 on node-b, with the files of another capture in
// the same directory, and the capture Pods ended with their summaries.
type sharedSetup struct {
	objs    []runtime.Object
	volumes map[string]string // node -> volume key
	files   map[string]map[string][]byte
	ours    map[string][]string // source -> its files
}

func sharedCapture(t *testing.T, out v1beta1.Output) sharedSetup {
	jobs := plannedJobs(t, out, v1beta1.JobPerNode, map[string]string{"web-1": "node-a", "web-2": "node-a", "web-3": "node-b"})
	s := sharedSetup{volumes: map[string]string{}, files: map[string]map[string][]byte{}, ours: map[string][]string{}}
	for _, n := range []string{"node-a", "node-b"} {
		if out.Type == v1beta1.OutputHostPath {
			s.volumes[n] = "host/" + n + out.HostPath
		} else {
			s.volumes[n] = "pvc/" + out.ClaimName
		}
		if s.files[s.volumes[n]] == nil {
			// Another capture's files: never fetched, never deleted.
			s.files[s.volumes[n]] = otherCaptureFiles()
			s.files[s.volumes[n]]["other_web-1_qwer_20261124T090000Z.pcap"] = []byte("another namespace")
		}
	}
	for i := range jobs {
		j := jobs[i]
		var per [][]string
		var pk []int64
		vol := s.files[s.volumes[j.Spec.Template.Spec.NodeName]]
		for k, arg := range j.Spec.Template.Spec.Containers[0].Args {
			pod, _, _ := strings.Cut(arg, "/")
			name := fileName(pod, "")
			vol[name] = pcapFile(t, packets(pod, t0.Add(time.Duration(k)*time.Microsecond), 2*time.Millisecond, 4+k))
			per = append(per, []string{name})
			pk = append(pk, int64(4+k))
		}
		p := podOf(j, "b", corev1.PodSucceeded, false, summaryOf(pk, per, vol))
		var names []string
		for _, f := range per {
			names = append(names, f...)
		}
		// Beside the files, as capture.sh writes them: named after the
		// capture Pod.
		vol[p.Name+".summary.txt"] = []byte(summaryOf(pk, per, vol))
		vol["SHA256SUMS."+p.Name] = sha256sums(vol, names...)
		s.ours[p.Name] = append(names, p.Name+".summary.txt", "SHA256SUMS."+p.Name)
		s.objs = append(s.objs, &jobs[i], p)
	}
	return s
}

func TestFetchShared(t *testing.T) {
	hostPath := v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"}
	claim := v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcaps"}
	// Capture Pods are named after their Job: <node>-<hash>-qwer-b.
	cases := map[string]struct {
		reason      string
		output      v1beta1.Output
		nodes       []string
		helpersRun  bool
		change      func(s *sharedSetup)
		want        outcome
		wantHelpers map[string]string // helper's node -> its volume
	}{
		"HostPathBothNodes": {
			reason: "One read-only helper Pod per node copies exactly this capture's files; both are deleted.",
			output: hostPath, nodes: []string{"node-a", "node-b"}, helpersRun: true,
			want:        outcome{Verified: map[string]string{"node-a": "yes (size+sha256)", "node-b": "yes (size+sha256)"}},
			wantHelpers: map[string]string{"node-a": "hostPath /var/tmp/packet-capture ro", "node-b": "hostPath /var/tmp/packet-capture ro"},
		},
		"HostPathNodeGone": {
			reason: "A node that is gone took its files; the other node's are fetched.",
			output: hostPath, nodes: []string{"node-a"}, helpersRun: true,
			want: outcome{Verified: map[string]string{"node-a": "yes (size+sha256)", "node-b": "gone"},
				Problems: map[string][]string{"node-b": {"node node-b is gone (no Node object)"}}},
			wantHelpers: map[string]string{"node-a": "hostPath /var/tmp/packet-capture ro"},
		},
		"HostPathFilesDeleted": {
			reason: "Files deleted from the node are named as gone, not as an error of the copy.",
			output: hostPath, nodes: []string{"node-a", "node-b"}, helpersRun: true,
			change: func(s *sharedSetup) {
				for n := range s.files["host/node-b/var/tmp/packet-capture"] {
					if strings.Contains(n, "web-3_qwer") {
						delete(s.files["host/node-b/var/tmp/packet-capture"], n)
					}
				}
			},
			want: outcome{Verified: map[string]string{"node-a": "yes (size+sha256)", "node-b": "gone"},
				Problems: map[string][]string{"node-b": {"no file of it in HostPath /var/tmp/packet-capture on node node-b"}}},
			wantHelpers: map[string]string{"node-a": "hostPath /var/tmp/packet-capture ro", "node-b": "hostPath /var/tmp/packet-capture ro"},
		},
		"HelperNeverStarts": {
			reason: "A helper Pod that never runs fails its node's sources with the reason, and is deleted.",
			output: hostPath, nodes: []string{"node-a", "node-b"}, helpersRun: false,
			want: outcome{Verified: map[string]string{"node-a": "failed", "node-b": "failed"},
				Problems: map[string][]string{"node-a": {"on node node-a did not start within", "phase Pending"}, "node-b": {"on node node-b did not start"}}},
			wantHelpers: map[string]string{"node-a": "hostPath /var/tmp/packet-capture ro", "node-b": "hostPath /var/tmp/packet-capture ro"},
		},
		"Claim": {
			reason: "One helper Pod mounts the claim read-only, on a capture Pod's node, for every source.",
			output: claim, nodes: []string{"node-a", "node-b"}, helpersRun: true,
			want:        outcome{Verified: map[string]string{"node-a": "yes (size+sha256)", "node-b": "yes (size+sha256)"}},
			wantHelpers: map[string]string{"node-a": "claim pcaps ro"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := sharedCapture(t, tc.output)
			if tc.change != nil {
				tc.change(&s)
			}
			objs := s.objs
			for _, n := range tc.nodes {
				objs = append(objs, node(n))
			}
			c := newCluster(t, objs, packetCapture(testPC, ""))
			c.helpersRun = tc.helpersRun
			for vol, files := range s.files {
				for n, b := range files {
					c.put(vol, n, b)
				}
			}
			cl := c.client()
			ctx := context.Background()
			cp, err := cl.Find(ctx, testNS, testPC)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			results, err := cl.Fetch(ctx, cp, FetchOptions{Dir: dir, HelperTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			// Source names carry the node Job's hash: key them by node.
			byNode := map[string]*Result{}
			for _, r := range results {
				byNode[r.Source.Node] = r
			}
			got := outcomeOf(results)
			renamed := outcome{Verified: map[string]string{}, Problems: map[string][]string{}}
			for n, r := range byNode {
				renamed.Verified[n] = got.Verified[r.Source.Name]
				if ps, ok := got.Problems[r.Source.Name]; ok {
					renamed.Problems[n] = ps
				}
			}
			matches(t, renamed, tc.want)

			helpers := map[string]string{}
			for _, h := range c.helpers {
				v, m := h.Spec.Volumes[0], h.Spec.Containers[0].VolumeMounts[0]
				desc := ""
				switch {
				case v.HostPath != nil:
					desc = "hostPath " + v.HostPath.Path
					if *v.HostPath.Type != corev1.HostPathDirectory {
						t.Errorf("helper %s: hostPath type %s, want Directory (never create a directory)", h.Name, *v.HostPath.Type)
					}
				case v.PersistentVolumeClaim != nil:
					desc = "claim " + v.PersistentVolumeClaim.ClaimName
				}
				if m.ReadOnly {
					desc += " ro"
				}
				helpers[h.Spec.NodeName] = desc
				if h.Labels[capture.LabelCapture] != testPC || h.Spec.Containers[0].Image != testImage {
					t.Errorf("helper %s: labels %v image %s, want the capture's label and image", h.Name, h.Labels, h.Spec.Containers[0].Image)
				}
			}
			if d := cmp.Diff(tc.wantHelpers, helpers); d != "" {
				t.Errorf("%s\nhelper Pods (-want +got):\n%s", tc.reason, d)
			}
			left, err := cl.Helpers(ctx, cp)
			if err != nil || len(left) != 0 {
				t.Errorf("helper Pods left after the fetch: %v %v", left, err)
			}

			// Exactly this capture's files, byte for byte, for every source
			// fetched.
			want := map[string][]byte{}
			for _, r := range results {
				if r.Err != nil {
					continue
				}
				for _, f := range s.ours[r.Source.Name] {
					want[r.Source.Name+"/"+f] = s.files[s.volumes[r.Source.Node]][f]
				}
			}
			if d := cmp.Diff(want, readTree(t, dir)); d != "" {
				t.Errorf("%s\nfiles on disk (-want +got):\n%s", tc.reason, d)
			}
		})
	}
}

// TestFetchInterrupted: an interrupt while a helper Pod waits still deletes
// it.
func TestFetchInterrupted(t *testing.T) {
	s := sharedCapture(t, v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"})
	c := newCluster(t, append(s.objs, node("node-a"), node("node-b")), packetCapture(testPC, ""))
	c.helpersRun = false
	cl := c.client()
	cp, err := cl.Find(context.Background(), testNS, testPC)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the first helper exists, as a ^C would.
		for {
			c.mu.Lock()
			n := len(c.helpers)
			c.mu.Unlock()
			if n > 0 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, err = cl.Fetch(ctx, cp, FetchOptions{Dir: t.TempDir(), HelperTimeout: time.Hour})
	if err == nil {
		t.Fatal("Fetch went on after the interrupt")
	}
	if len(c.helpers) != 1 {
		t.Errorf("%d helper Pods were created, want 1 (none after the interrupt)", len(c.helpers))
	}
	left, err := cl.Helpers(context.Background(), cp)
	if err != nil || len(left) != 0 {
		t.Errorf("helper Pods left after the interrupt: %v %v", left, err)
	}
}

func TestClean(t *testing.T) {
	// Pod output: the running capture Pod gets .retrieved; the ended one is
	// left alone.
	jobs := plannedJobs(t, v1beta1.Output{Type: v1beta1.OutputPod}, v1beta1.JobPerPod, map[string]string{"web-1": "node-a", "web-2": "node-b"})
	running := podOf(jobs[0], "a", corev1.PodRunning, true, "")
	ended := podOf(jobs[1], "a", corev1.PodSucceeded, false, "")
	c := newCluster(t, []runtime.Object{&jobs[0], &jobs[1], running, ended}, packetCapture(testPC, ""))
	c.put("pod/"+running.Name, fileName("web-1", ""), []byte("x"))
	cl := c.client()
	ctx := context.Background()
	cp, err := cl.Find(ctx, testNS, testPC)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := cl.Clean(ctx, cp, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{".retrieved", fileName("web-1", "")}, c.names("pod/"+running.Name)); d != "" {
		t.Errorf("Pod output: files after clean (-want +got):\n%s\n%v", d, lines)
	}

	// HostPath: this capture's files go, the other capture's stay, and the
	// writable helper is deleted.
	s := sharedCapture(t, v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"})
	c = newCluster(t, append(s.objs, node("node-a"), node("node-b")), packetCapture(testPC, ""))
	for vol, files := range s.files {
		for n, b := range files {
			c.put(vol, n, b)
		}
	}
	cl = c.client()
	if cp, err = cl.Find(ctx, testNS, testPC); err != nil {
		t.Fatal(err)
	}
	if lines, err = cl.Clean(ctx, cp, time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-a", "node-b"} {
		// The other captures' files; none of this one's, its summary and
		// checksum files neither.
		want := []string{"SHA256SUMS.web-1-zzzz-abcde", "other_web-1_qwer_20261124T090000Z.pcap", "shop_web-1_zzzz_20261124T090000Z.pcap", "web-1-zzzz-abcde.summary.txt", "web-9-zzzz-abcde.summary.txt"}
		if d := cmp.Diff(want, c.names("host/"+n+"/var/tmp/packet-capture")); d != "" {
			t.Errorf("%s: files after clean (-want +got):\n%s\n%v", n, d, lines)
		}
	}
	for _, h := range c.helpers {
		if h.Spec.Containers[0].VolumeMounts[0].ReadOnly {
			t.Errorf("clean's helper %s mounts read-only", h.Name)
		}
	}
	if left, err := cl.Helpers(ctx, cp); err != nil || len(left) != 0 {
		t.Errorf("helper Pods left after clean: %v %v", left, err)
	}
	// A second clean finds nothing left.
	lines, err = cl.Clean(ctx, cp, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	for _, l := range lines {
		if !strings.Contains(l, "no files left") {
			t.Errorf("second clean: %q, want no files left", l)
		}
	}
}

// BenchmarkExtract unpacks and hashes a 64 MiB tar stream, as a copy does.
func BenchmarkExtract(b *testing.B) {
	stream := tarOf(map[string][]byte{"a.pcap": bytes.Repeat([]byte("x"), 64<<20)}, true)
	b.SetBytes(int64(len(stream)))
	dir := b.TempDir()
	for range b.N {
		if _, err := extract(bytes.NewReader(stream), dir, nil); err != nil {
			b.Fatal(err)
		}
	}
}
