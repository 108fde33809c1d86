package retrieve

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// released is a capture that ran to its end and whose finished Jobs the
// function released: Crossplane deleted them, and their capture Pods with
// them. What is left is the PacketCapture, with the status the real planner
// wrote, and the files on the nodes or the claim.
type released struct {
	pc     *unstructured.Unstructured
	status capture.Status
	// files by volume, as fixture_test.go's cluster keys them.
	files map[string]map[string][]byte
	// volumeOf is the volume of each captured Pod's files.
	volumeOf map[string]string
	// ours are the files a fetch copies for each captured Pod: its PCAP
	// and network snapshot, and its capture Pod's summary and SHA256SUMS.
	ours map[string][]string
	// jobs and capturePods are what Crossplane deleted, for a case that
	// keeps some.
	jobs        []batchv1.Job
	capturePods []*corev1.Pod
}

// captured is the capture Pod name suffix the API server would generate:
// 5 characters, as the Job controller's generateName gets.
const capturedSuffix = "x7k2q"

// releasedCapture runs a capture of the target Pods podNodes through the
// real planner: Jobs planned, run (files, summary and SHA256SUMS written as
// capture.sh does, for each target k 4+k packets, and no file for the
// targets in empty, which were not found), observed Complete with their
// capture Pods' termination messages, released, and deleted.
func releasedCapture(t *testing.T, output v1beta1.Output, jobPer v1beta1.JobPer, podNodes map[string]string, podLimit int32, empty ...string) released {
	t.Helper()
	req := captureRequest(output, jobPer, podNodes)
	if podLimit > 0 {
		req.Input.StatusPodLimit = &podLimit
	}
	first, err := capture.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	r := released{files: map[string]map[string][]byte{}, volumeOf: map[string]string{}, ours: map[string][]string{}}
	volume := func(node, capturePod string) string {
		switch output.Type {
		case v1beta1.OutputHostPath:
			return "host/" + node + output.HostPath
		case v1beta1.OutputPersistentVolumeClaim:
			return "pvc/" + output.ClaimName
		}
		return "pod/" + capturePod
	}
	for _, pj := range first.Jobs {
		job := *pj.Job.DeepCopy()
		job.UID = types.UID("uid-" + job.Name)
		cpName := job.Name + "-" + capturedSuffix
		vol := volume(job.Spec.Template.Spec.NodeName, cpName)
		if r.files[vol] == nil {
			r.files[vol] = otherCaptureFiles()
		}
		files := r.files[vol]
		var per [][]string
		var pk []int64
		var pods []string
		for k, arg := range job.Spec.Template.Spec.Containers[0].Args {
			pod, _, _ := strings.Cut(arg, "/")
			pods = append(pods, pod)
			r.volumeOf[pod] = vol
			if contains(empty, pod) {
				per, pk = append(per, nil), append(pk, 0)
				continue
			}
			name := fileName(pod, "")
			files[name] = pcapFile(t, packets(pod, t0.Add(time.Duration(k)*time.Microsecond), 2*time.Millisecond, 4+k))
			snap := strings.TrimSuffix(name, ".pcap") + ".netstate-start.txt"
			files[snap] = []byte("# network state of pod " + testTarget + "/" + pod)
			per, pk = append(per, []string{name}), append(pk, int64(4+k))
			r.ours[pod] = append(r.ours[pod], name, snap)
		}
		summary := summaryOf(pk, per, files)
		for i, pod := range pods {
			if contains(empty, pod) {
				summary = strings.Replace(summary, "\n"+itoa(i+1)+" ok 0 0 0 0 30\n", "\n"+itoa(i+1)+" pod-not-found 0 0 0 0 30\nwhy "+itoa(i+1)+" no process had its uid\n", 1)
				summary = strings.Replace(summary, "status=ok", "status=pod-not-found", 1)
			}
		}
		var names []string
		for _, f := range per {
			names = append(names, f...)
		}
		if output.Type != v1beta1.OutputPod {
			files[cpName+".summary.txt"] = []byte(summary)
			if len(names) > 0 {
				files["SHA256SUMS."+cpName] = sha256sums(files, names...)
			}
			for _, pod := range pods {
				if !contains(empty, pod) {
					r.ours[pod] = append(r.ours[pod], cpName+".summary.txt", "SHA256SUMS."+cpName)
				}
			}
		}
		p := podOf(job, capturedSuffix, corev1.PodSucceeded, false, summary)
		r.jobs, r.capturePods = append(r.jobs, job), append(r.capturePods, p)
	}
	for pod := range r.ours {
		sort.Strings(r.ours[pod])
	}
	// The Jobs complete and their summaries are read: released.
	req.Capture.Status = first.Status
	for _, j := range r.jobs {
		o := *j.DeepCopy()
		o.Status = batchv1.JobStatus{Succeeded: 1, Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
		req.Jobs = append(req.Jobs, o)
	}
	for _, p := range r.capturePods {
		req.CapturePods = append(req.CapturePods, *p)
	}
	second, err := capture.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Jobs) != 0 {
		t.Fatalf("the planner kept %d finished Jobs, want them released", len(second.Jobs))
	}
	// Crossplane deleted them; the next reconcile sees none.
	req.Capture.Status, req.Jobs, req.CapturePods = second.Status, nil, nil
	last, err := capture.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	r.status = last.Status
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&r.status)
	if err != nil {
		t.Fatal(err)
	}
	r.pc = packetCapture(testPC, "")
	r.pc.Object["status"] = st
	return r
}

// otherCaptureFiles are another capture's files in a shared directory (a
// jobId of its own): never fetched, never deleted.
func otherCaptureFiles() map[string][]byte {
	other := map[string][]byte{"shop_web-1_zzzz_20261124T090000Z.pcap": []byte("another jobId")}
	other["web-1-zzzz-abcde.summary.txt"] = []byte("status=ok targets=1 failed=0 files=1 bytes=13 packets=1 dropped=0 start=20261124T090000Z\n#pod status packets bytes dropped files seconds\n1 ok 1 13 0 1 30\nshop_web-1_zzzz_20261124T090000Z.pcap\n")
	other["SHA256SUMS.web-1-zzzz-abcde"] = sha256sums(other, "shop_web-1_zzzz_20261124T090000Z.pcap")
	// One that wrote no file, of a Job of another capture.
	other["web-9-zzzz-abcde.summary.txt"] = []byte("status=pod-not-found targets=1 failed=1 files=0 bytes=0 packets=0 dropped=0 start=20261124T090000Z\n1 pod-not-found 0 0 0 0 30\n")
	return other
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }

// clusterOf is the fake cluster a released capture leaves: the nodes, the
// PacketCapture, the files, and the objects of keep.
func clusterOf(t *testing.T, r released, nodes []string, keep ...runtime.Object) *cluster {
	t.Helper()
	objs := append([]runtime.Object{}, keep...)
	for _, n := range nodes {
		objs = append(objs, node(n))
	}
	c := newCluster(t, objs, r.pc)
	for vol, files := range r.files {
		for n, b := range files {
			c.put(vol, n, b)
		}
	}
	return c
}

// helperDesc describes the helper Pods created: node -> volume and mode.
func helperDesc(c *cluster) map[string]string {
	helpers := map[string]string{}
	for _, h := range c.helpers {
		v, m := h.Spec.Volumes[0], h.Spec.Containers[0].VolumeMounts[0]
		desc := ""
		switch {
		case v.HostPath != nil:
			desc = "hostPath " + v.HostPath.Path
		case v.PersistentVolumeClaim != nil:
			desc = "claim " + v.PersistentVolumeClaim.ClaimName
		}
		if m.ReadOnly {
			desc += " ro"
		}
		desc += " " + h.Spec.Containers[0].Image
		helpers[h.Spec.NodeName] = desc
	}
	return helpers
}

// TestFetchReleased: once a capture's Jobs are released (and its capture
// Pods deleted), fetch finds its files from the PacketCapture's status:
// every captured Pod of the ledger (status.pods may list fewer), on its node,
// from the output and image the status recorded, checked against the result
// the status keeps and the SHA256SUMS beside the files.
func TestFetchReleased(t *testing.T) {
	hostPath := v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"}
	claim := v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcaps"}
	three := map[string]string{"web-1": "node-a", "web-2": "node-a", "web-3": "node-b"}
	bothNodes := []string{"node-a", "node-b"}
	hostHelpers := map[string]string{"node-a": "hostPath /var/tmp/packet-capture ro " + testImage, "node-b": "hostPath /var/tmp/packet-capture ro " + testImage}
	verified := map[string]string{"web-1": "yes (size+sha256)", "web-2": "yes (size+sha256)", "web-3": "yes (size+sha256)"}
	cases := map[string]struct {
		reason   string
		output   v1beta1.Output
		jobPer   v1beta1.JobPer
		podLimit int32
		empty    []string
		nodes    []string
		// change alters the released capture; keep returns the objects
		// still in the cluster.
		change      func(r *released)
		keep        func(r released) []runtime.Object
		want        outcome
		wantHelpers map[string]string
	}{
		"HostPathJobPerPod": {
			reason: "One read-only helper per node of the ledger, with the recorded image; each Pod verified against its recorded result and its SHA256SUMS.",
			output: hostPath, jobPer: v1beta1.JobPerPod, nodes: bothNodes,
			want: outcome{Verified: verified}, wantHelpers: hostHelpers,
		},
		"HostPathJobPerNode": {
			reason: "A node's Job captured two Pods into one summary: each Pod is fetched with it and checked against its own line.",
			output: hostPath, jobPer: v1beta1.JobPerNode, nodes: bothNodes,
			want: outcome{Verified: verified}, wantHelpers: hostHelpers,
		},
		"StatusPodsCut": {
			reason: "status.pods holds one Pod (statusPodLimit 1): the ledger has them all, and all are fetched.",
			output: hostPath, jobPer: v1beta1.JobPerNode, podLimit: 1, nodes: bothNodes,
			want: outcome{Verified: verified}, wantHelpers: hostHelpers,
		},
		"Claim": {
			reason: "One helper mounts the claim read-only, on a node the capture ran on.",
			output: claim, jobPer: v1beta1.JobPerPod, nodes: bothNodes,
			want: outcome{Verified: verified}, wantHelpers: map[string]string{"node-a": "claim pcaps ro " + testImage},
		},
		"NodeGone": {
			reason: "A node that is gone is named, and no helper is started for it.",
			output: hostPath, jobPer: v1beta1.JobPerPod, nodes: []string{"node-a"},
			want: outcome{Verified: map[string]string{"web-1": "yes (size+sha256)", "web-2": "yes (size+sha256)", "web-3": "gone"},
				Problems: map[string][]string{"web-3": {"node node-b is gone (no Node object)"}}},
			wantHelpers: map[string]string{"node-a": hostHelpers["node-a"]},
		},
		"FileChanged": {
			reason: "A file that changed on the node fails its SHA-256 and its recorded size.",
			output: hostPath, jobPer: v1beta1.JobPerNode, nodes: bothNodes,
			change: func(r *released) {
				r.files[r.volumeOf["web-2"]][fileName("web-2", "")] = []byte("not the captured packets")
			},
			want: outcome{Verified: map[string]string{"web-1": "yes (size+sha256)", "web-2": "MISMATCH", "web-3": "yes (size+sha256)"},
				Problems: map[string][]string{"web-2": {"SHA-256", "Pod web-2: 1 files of 24 bytes arrived, the capture reported 1 files of", "(the PacketCapture's status.ledger)"}}},
			wantHelpers: hostHelpers,
		},
		"FilesDeleted": {
			reason: "A Pod whose files were deleted from the node is named gone, with where they were looked for.",
			output: hostPath, jobPer: v1beta1.JobPerPod, nodes: bothNodes,
			change: func(r *released) {
				for n := range r.files[r.volumeOf["web-3"]] {
					if strings.HasPrefix(n, testTarget+"_web-3_") {
						delete(r.files[r.volumeOf["web-3"]], n)
					}
				}
			},
			want: outcome{Verified: map[string]string{"web-1": "yes (size+sha256)", "web-2": "yes (size+sha256)", "web-3": "gone"},
				Problems: map[string][]string{"web-3": {"no file of it in HostPath /var/tmp/packet-capture on node node-b"}}},
			wantHelpers: hostHelpers,
		},
		"NothingWritten": {
			reason: "A Pod whose capture wrote no file (its recorded result says why) is named, and not looked for.",
			output: hostPath, jobPer: v1beta1.JobPerPod, nodes: bothNodes, empty: []string{"web-3"},
			want: outcome{Verified: map[string]string{"web-1": "yes (size+sha256)", "web-2": "yes (size+sha256)", "web-3": "gone"},
				Problems: map[string][]string{"web-3": {"nothing to fetch: its capture wrote no file (pod-not-found: no process had its uid)"}}},
			wantHelpers: map[string]string{"node-a": hostHelpers["node-a"]},
		},
		"PodOutput": {
			reason: "The Pod output's files went with their capture Pods: every Pod is named, with why; no helper is started.",
			output: v1beta1.Output{Type: v1beta1.OutputPod}, jobPer: v1beta1.JobPerPod, nodes: bothNodes,
			want: outcome{Verified: map[string]string{"web-1": "gone", "web-2": "gone", "web-3": "gone"}, Problems: map[string][]string{
				"web-1": {"Pod output: the capture Pod was deleted after its retention"},
				"web-2": {"Pod output: the capture Pod was deleted after its retention"},
				"web-3": {"Pod output: the capture Pod was deleted after its retention"}}},
			wantHelpers: map[string]string{},
		},
		"SomeJobsLeft": {
			reason: "A Job that is still there is fetched through its capture Pod (named after it); the others from the status, none twice.",
			output: hostPath, jobPer: v1beta1.JobPerPod, nodes: bothNodes,
			keep: func(r released) []runtime.Object {
				for i, j := range r.jobs {
					if strings.HasPrefix(j.Name, "web-1-") {
						return []runtime.Object{&r.jobs[i], r.capturePods[i]}
					}
				}
				return nil
			},
			want:        outcome{Verified: map[string]string{"web-1-qwer-" + capturedSuffix: "yes (size+sha256)", "web-2": "yes (size+sha256)", "web-3": "yes (size+sha256)"}},
			wantHelpers: hostHelpers,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := releasedCapture(t, tc.output, tc.jobPer, three, tc.podLimit, tc.empty...)
			if tc.podLimit > 0 && len(r.status.Pods) != int(tc.podLimit) {
				t.Fatalf("status.pods lists %d Pods, want %d", len(r.status.Pods), tc.podLimit)
			}
			if tc.change != nil {
				tc.change(&r)
			}
			var keep []runtime.Object
			if tc.keep != nil {
				keep = tc.keep(r)
			}
			c := clusterOf(t, r, tc.nodes, keep...)
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
			matches(t, outcomeOf(results), tc.want)
			if d := cmp.Diff(tc.wantHelpers, helperDesc(c)); d != "" {
				t.Errorf("%s\nhelper Pods (-want +got):\n%s", tc.reason, d)
			}
			if left, err := cl.Helpers(ctx, cp); err != nil || len(left) != 0 {
				t.Errorf("helper Pods left after the fetch: %v %v", left, err)
			}
			// Exactly each verified Pod's files, byte for byte: none of
			// the other capture's, nor another Pod's.
			want := map[string][]byte{}
			for _, res := range results {
				if res.Err != nil || !res.Verification.OK() {
					continue
				}
				pod := res.Source.Targets[0]
				for _, f := range r.ours[pod] {
					want[res.Source.Name+"/"+f] = r.files[r.volumeOf[pod]][f]
				}
			}
			got := readTree(t, dir)
			for n := range got {
				if strings.HasPrefix(n, "web-2/") && tc.want.Verified["web-2"] == "MISMATCH" {
					delete(got, n)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s\nfiles on disk (-want +got):\n%s", tc.reason, d)
			}
			var table strings.Builder
			if err := WriteTable(&table, results); err != nil {
				t.Fatal(err)
			}
			for pod := range three {
				if !strings.Contains(table.String(), pod) {
					t.Errorf("the table does not name %s:\n%s", pod, table.String())
				}
			}
		})
	}
}

// TestCleanReleased: clean works from the status once the Jobs are gone, and
// leaves nothing of the capture in a shared directory (its summary and
// checksum files neither), and everything of another capture.
func TestCleanReleased(t *testing.T) {
	three := map[string]string{"web-1": "node-a", "web-2": "node-a", "web-3": "node-b"}
	for _, tc := range []struct {
		name   string
		output v1beta1.Output
		jobPer v1beta1.JobPer
		empty  []string
	}{
		{"HostPathJobPerPod", v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"}, v1beta1.JobPerPod, nil},
		{"HostPathJobPerNode", v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"}, v1beta1.JobPerNode, nil},
		{"HostPathNothingWritten", v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"}, v1beta1.JobPerPod, []string{"web-3"}},
		{"Claim", v1beta1.Output{Type: v1beta1.OutputPersistentVolumeClaim, ClaimName: "pcaps"}, v1beta1.JobPerNode, []string{"web-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := releasedCapture(t, tc.output, tc.jobPer, three, 0, tc.empty...)
			c := clusterOf(t, r, []string{"node-a", "node-b"})
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
			other := otherCaptureFiles()
			var want []string
			for n := range other {
				want = append(want, n)
			}
			sort.Strings(want)
			for vol := range r.files {
				if d := cmp.Diff(want, c.names(vol)); d != "" {
					t.Errorf("%s after clean (-want +got):\n%s\nclean said:\n%s", vol, d, strings.Join(lines, "\n"))
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
		})
	}

	t.Run("PodOutput", func(t *testing.T) {
		r := releasedCapture(t, v1beta1.Output{Type: v1beta1.OutputPod}, v1beta1.JobPerPod, three, 0)
		c := clusterOf(t, r, []string{"node-a", "node-b"})
		cl := c.client()
		cp, err := cl.Find(context.Background(), testNS, testPC)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := cl.Clean(context.Background(), cp, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"web-1: nothing to do: Pod output: the capture Pod was deleted after its retention", "web-2: nothing to do: Pod output", "web-3: nothing to do: Pod output"}
		if len(lines) != len(want) {
			t.Fatalf("clean said %q, want a line per Pod", lines)
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], w) {
				t.Errorf("clean line %d: %q, want it to begin %q", i, lines[i], w)
			}
		}
		if len(c.helpers) != 0 {
			t.Errorf("clean of a Pod output started %d helper Pods", len(c.helpers))
		}
	})
}

// TestMadeByJob: a summary or checksum file names its capture Pod, which
// the API server named <job>- (cut to 58 characters) plus 5 characters.
func TestMadeByJob(t *testing.T) {
	long := capture.JobName(strings.Repeat("web-5d4f8b6c7d-", 4)+"abcde", testJobID) // 63 characters
	cases := []struct {
		file, job string
		want      bool
	}{
		{"web-1-qwer-x7k2q.summary.txt", "web-1-qwer", true},
		{"SHA256SUMS.web-1-qwer-x7k2q", "web-1-qwer", true},
		{"web-1-qwer-x7k2q.summary.txt", "web-1-qwe", false},
		{"web-10-qwer-x7k2q.summary.txt", "web-1-qwer", false},
		{"web-1-qwer-x7k2.summary.txt", "web-1-qwer", false},
		{long[:58] + "x7k2q.summary.txt", long, true},
		{long + "-x7k2q.summary.txt", long, false},
		{"web-1-qwer-x7k2q.summary.txt", "", false},
	}
	for _, tc := range cases {
		if got := madeByJob(sidecarHost(tc.file), tc.job); got != tc.want {
			t.Errorf("madeByJob(%q, %q) = %t, want %t", sidecarHost(tc.file), tc.job, got, tc.want)
		}
	}
}

// TestStatusSources: which captured Pods of a ledger become sources, and why
// those that cannot be fetched cannot.
func TestStatusSources(t *testing.T) {
	host := &capture.OutputRecord{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/pcap", Image: testImage}
	ledger := func(out *capture.OutputRecord) capture.Ledger {
		return capture.Ledger{JobID: testJobID, JobPer: v1beta1.JobPerPod, Output: out, Requested: []string{"web-4"},
			Succeeded: []string{"web-1", "web-2", "web-3"},
			Nodes: map[string]map[string]string{
				"node-a": {"web-1": "ok 4 400 0 1 30", "web-2": "", "web-4": ""},
				"node-b": {"web-3": "ok 6 600 1 2 30"},
			}}
	}
	type row struct{ Name, Node, Job, Gone string }
	cases := map[string]struct {
		ledger  capture.Ledger
		covered map[string]bool
		want    []row
	}{
		"HostPath": {
			ledger: ledger(host), covered: map[string]bool{"web-2": true},
			want: []row{
				{"web-1", "node-a", "web-1-qwer", ""},
				{"web-4", "node-a", "web-4-qwer", "its capture Job was requested but does not exist (not created yet, or never): nothing was captured"},
				{"web-3", "node-b", "web-3-qwer", ""},
			},
		},
		"NoOutputRecord": {
			ledger: ledger(nil), covered: map[string]bool{"web-1": true, "web-2": true, "web-4": true},
			want: []row{{"web-3", "node-b", "web-3-qwer", "its capture Job is gone and the PacketCapture's status.ledger.output, which says where the files are, is not there (written by an older function): fetch it while its Jobs exist, or copy the files by hand (status.retrieve)"}},
		},
		"NotStarted": {ledger: capture.Ledger{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []row
			for _, s := range statusSources(tc.ledger, tc.covered) {
				got = append(got, row{s.Name, s.Node, s.Job, s.Gone})
				if !s.FromStatus || len(s.Targets) != 1 || s.Targets[0] != s.Name || s.JobID != testJobID {
					t.Errorf("source %+v: want FromStatus, its Pod its one target, jobId %s", s, testJobID)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("sources (-want +got):\n%s", d)
			}
		})
	}
}
