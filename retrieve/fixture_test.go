package retrieve

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// A capture for the tests: PacketCapture capture-web in packet-capture,
// capturing Deployment shop/web under jobId qwer, started at testStart.
const (
	testNS     = "packet-capture"
	testPC     = "capture-web"
	testTarget = "shop"
	testJobID  = "qwer"
	testStart  = "20261124T101500Z"
	testImage  = "docker.io/nicolaka/netshoot:v0.13"
)

// plannedJobs are the capture Jobs the real planner makes for target Pods
// (name -> node) with output and jobPer: the plugin reads what the
// function writes, not a copy of it.
func plannedJobs(t *testing.T, output v1beta1.Output, jobPer v1beta1.JobPer, podNodes map[string]string) []batchv1.Job {
	t.Helper()
	out, err := capture.Plan(captureRequest(output, jobPer, podNodes))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var jobs []batchv1.Job
	for _, pj := range out.Jobs {
		j := *pj.Job
		j.UID = types.UID("uid-" + j.Name)
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		t.Fatal("the planner made no Jobs")
	}
	return jobs
}

// captureRequest is the planner's request for a capture of Deployment
// shop/web whose target Pods are podNodes (name -> node).
func captureRequest(output v1beta1.Output, jobPer v1beta1.JobPer, podNodes map[string]string) capture.Request {
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testTarget, UID: "uid-deploy"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	ctrl := true
	rs := appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d4f8", Namespace: testTarget, UID: "uid-rs",
		Labels:          map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-deploy", Controller: &ctrl}}}}
	var pods []corev1.Pod
	for name, node := range podNodes {
		pods = append(pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testTarget, UID: types.UID("0b9f3c1e-0000-4000-8000-" + fmt.Sprintf("%012x", len(name)*7919+int(name[len(name)-1]))),
				Labels:          map[string]string{"app": "web"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &ctrl}}},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"},
		})
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return capture.Request{
		Capture: capture.PacketCapture{Name: testPC, Namespace: testNS, UID: "uid-pc",
			Spec: capture.Spec{JobID: testJobID, TargetNamespace: testTarget, TargetDeployment: "web", Duration: "30"}},
		Input:       &v1beta1.Input{Output: &output, JobPer: jobPer},
		Deployment:  deploy,
		ReplicaSets: []appsv1.ReplicaSet{rs},
		Pods:        pods,
	}
}

// podOf is the capture Pod the Job controller would make of job, in phase
// (Running and ready, or ended with the termination message msg).
func podOf(job batchv1.Job, suffix string, phase corev1.PodPhase, ready bool, msg string) *corev1.Pod {
	labels := map[string]string{"batch.kubernetes.io/job-name": job.Name}
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
	}
	ctrl := true
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-" + suffix, Namespace: job.Namespace, Labels: labels,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)),
			OwnerReferences:   []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: &ctrl}}},
		Spec:   *job.Spec.Template.Spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: phase},
	}
	cs := corev1.ContainerStatus{Name: capture.ContainerName, Ready: ready}
	if msg != "" {
		cs.State.Terminated = &corev1.ContainerStateTerminated{Message: msg}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	return p
}

// packetCapture is the PacketCapture object, with a claim's resourceRef
// when xr is not empty.
func packetCapture(name, xr string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": capture.APIVersion, "kind": capture.Kind,
		"metadata": map[string]any{"name": name, "namespace": testNS},
		"spec":     map[string]any{"targetNamespace": testTarget, "targetDeployment": "web", "duration": "30", "jobId": testJobID},
		"status": map[string]any{"phase": "Completed", "jobId": testJobID,
			"counts": map[string]any{"targets": int64(2), "succeeded": int64(2), "packets": int64(7)}},
	}}
	if xr != "" {
		_ = unstructured.SetNestedField(u.Object, map[string]any{"apiVersion": capture.APIVersion, "kind": "XPacketCapture", "name": xr}, "spec", "resourceRef")
	}
	return u
}

// cluster is a fake API server plus the files the fake containers see:
// a capture Pod's own /pcap (key "pod/<name>"), a node's directory
// ("host/<node><path>") and a claim ("pvc/<claim>").
type cluster struct {
	kube *fake.Clientset
	dyn  *dynamicfake.FakeDynamicClient

	mu    sync.Mutex
	files map[string]map[string][]byte
	// helpersRun: helper Pods turn Running when created (a kubelet that
	// works); false leaves them Pending.
	helpersRun bool
	// helpers records every helper Pod created.
	helpers []*corev1.Pod
	// tarOverride replaces the tar stream of every copy, when set.
	tarOverride func(files map[string][]byte) []byte
}

func newCluster(t *testing.T, objs []runtime.Object, dynObjs ...runtime.Object) *cluster {
	t.Helper()
	c := &cluster{kube: fake.NewClientset(objs...), files: map[string]map[string][]byte{}, helpersRun: true}
	c.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{PacketCaptures: "PacketCaptureList"}, dynObjs...)
	n := 0
	c.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" && p.GenerateName != "" {
			n++
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n)
		}
		if p.Labels[LabelHelper] != "" {
			if c.helpersRun {
				p.Status.Phase = corev1.PodRunning
			} else {
				p.Status.Phase = corev1.PodPending
			}
			c.mu.Lock()
			c.helpers = append(c.helpers, p.DeepCopy())
			c.mu.Unlock()
		}
		return false, nil, nil
	})
	return c
}

func (c *cluster) client() *Client {
	return &Client{Kube: c.kube, Dynamic: c.dyn, Exec: fakeExec{c}}
}

func (c *cluster) put(volume, name string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files[volume] == nil {
		c.files[volume] = map[string][]byte{}
	}
	c.files[volume][name] = data
}

func (c *cluster) names(volume string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.files[volume] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// fakeExec runs the few commands the plugin runs (tar, ls, touch, rm)
// against the cluster's files: the in-memory kubelet.
type fakeExec struct{ c *cluster }

func (e fakeExec) Exec(ctx context.Context, ns, pod, container string, cmd []string, stdout io.Writer) error {
	p, err := e.c.kube.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("container %s is not running", container)
	}
	volume, mount, readOnly := "", "", false
	for _, ctr := range p.Spec.Containers {
		if ctr.Name != container {
			continue
		}
		for _, m := range ctr.VolumeMounts {
			for _, v := range p.Spec.Volumes {
				if v.Name != m.Name {
					continue
				}
				switch {
				case v.HostPath != nil:
					volume = "host/" + p.Spec.NodeName + v.HostPath.Path
				case v.PersistentVolumeClaim != nil:
					volume = "pvc/" + v.PersistentVolumeClaim.ClaimName
				case v.EmptyDir != nil:
					volume = "pod/" + p.Name
				default:
					continue
				}
				mount, readOnly = m.MountPath, m.ReadOnly
			}
		}
	}
	if volume == "" {
		return fmt.Errorf("container %s has no output volume", container)
	}
	rel := func(path string) (string, error) {
		if !strings.HasPrefix(path, mount+"/") {
			return "", fmt.Errorf("%s is not under %s", path, mount)
		}
		return strings.TrimPrefix(path, mount+"/"), nil
	}
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	files := e.c.files[volume]
	switch {
	case len(cmd) == 3 && cmd[0] == "ls" && cmd[1] == "-1A" && cmd[2] == mount:
		var names []string
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case len(cmd) >= 6 && cmd[0] == "tar" && cmd[1] == "cf" && cmd[2] == "-" && cmd[3] == "-C" && cmd[4] == mount:
		picked := map[string][]byte{}
		if cmd[5] == "." {
			picked = files
		} else {
			for _, n := range cmd[6:] {
				b, ok := files[n]
				if !ok {
					return fmt.Errorf("tar: %s: Cannot stat: No such file or directory", n)
				}
				picked[n] = b
			}
		}
		if e.c.tarOverride != nil {
			_, err := stdout.Write(e.c.tarOverride(picked))
			return err
		}
		_, err := stdout.Write(tarOf(picked, cmd[5] == "."))
		return err
	case len(cmd) == 2 && cmd[0] == "touch":
		n, err := rel(cmd[1])
		if err != nil {
			return err
		}
		if readOnly {
			return fmt.Errorf("touch: %s: Read-only file system", cmd[1])
		}
		files[n] = nil
		return nil
	case len(cmd) >= 3 && cmd[0] == "rm" && cmd[1] == "-f" && cmd[2] == "--":
		if readOnly {
			return fmt.Errorf("rm: Read-only file system")
		}
		for _, path := range cmd[3:] {
			n, err := rel(path)
			if err != nil {
				return err
			}
			delete(files, n)
		}
		return nil
	}
	return fmt.Errorf("fake exec: unexpected command %q", cmd)
}

// tarOf is a tar stream of files, sorted, named "./<name>" as `tar -C dir .`
// names them (with the directory itself first), or "<name>" otherwise.
func tarOf(files map[string][]byte, dot bool) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if dot {
		_ = tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		name := n
		if dot {
			name = "./" + n
		}
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))})
		_, _ = tw.Write(files[n])
	}
	_ = tw.Close()
	return buf.Bytes()
}

// pkt is one packet of a test capture.
type pkt struct {
	at   time.Time
	data []byte
}

// pcapFile is a real pcap (tcpdump's format, Linux cooked capture) of
// packets, written with pcapgo.
func pcapFile(t testing.TB, packets []pkt) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeLinuxSLL); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		ci := gopacket.CaptureInfo{Timestamp: p.at, CaptureLength: len(p.data), Length: len(p.data) + 10}
		if err := w.WritePacket(ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// packets are n packets from start, every step, their bytes naming tag.
func packets(tag string, start time.Time, step time.Duration, n int) []pkt {
	out := make([]pkt, n)
	for i := range out {
		out[i] = pkt{at: start.Add(time.Duration(i) * step), data: []byte(fmt.Sprintf("%s packet %d ........", tag, i))}
	}
	return out
}

// fileName is capture.sh's name for a target Pod's file.
func fileName(pod, rotation string) string {
	return testTarget + "_" + pod + "_" + testJobID + "_" + testStart + ".pcap" + rotation
}

// summaryOf writes a capture summary of files (per target Pod, in argument
// order) as capture.sh does.
func summaryOf(packetsPerTarget []int64, filesPerTarget [][]string, contents map[string][]byte) string {
	var totalFiles, totalBytes, totalPackets int64
	var lines []string
	var names []string
	for i, fs := range filesPerTarget {
		var b int64
		for _, f := range fs {
			b += int64(len(contents[f]))
			names = append(names, f)
		}
		totalFiles += int64(len(fs))
		totalBytes += b
		totalPackets += packetsPerTarget[i]
		lines = append(lines, fmt.Sprintf("%d ok %d %d 0 %d 30", i+1, packetsPerTarget[i], b, len(fs)))
	}
	return fmt.Sprintf("status=ok targets=%d failed=0 files=%d bytes=%d packets=%d dropped=0 start=%s\n#pod status packets bytes dropped files seconds\n%s\n%s\n",
		len(filesPerTarget), totalFiles, totalBytes, totalPackets, testStart, strings.Join(lines, "\n"), strings.Join(names, "\n"))
}

// sha256sums is a SHA256SUMS file of files, in sha256sum's format.
func sha256sums(files map[string][]byte, names ...string) []byte {
	var b strings.Builder
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return []byte(b.String())
}
