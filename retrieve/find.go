// Package retrieve is the logic of the kubectl packetcapture plugin: it finds
// a PacketCapture's capture Jobs and Pods (or, once they are gone, its
// captured Pods in its status), copies their files out (from a running
// capture Pod, or through a short-lived helper Pod on the node or on the
// claim), checks every file against the capture's summary and SHA256SUMS,
// and merges the files of a capture into one pcapng.
package retrieve

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// PacketCaptures is the resource both API flavours serve: the v2 namespaced
// XR (example/xrd.yaml) and the legacy claim (example/legacy/xrd.yaml) are
// both monitoring.openshift.tpg/v1alpha1 PacketCapture, namespaced.
var PacketCaptures = schema.GroupVersionResource{Group: "monitoring.openshift.tpg", Version: "v1alpha1", Resource: "packetcaptures"}

// Client holds what every command needs of the cluster.
type Client struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Exec    Execer
}

// Capture is one PacketCapture and what the plugin found of it.
type Capture struct {
	Namespace, Name string
	// Label is the value of capture.LabelCapture on its Jobs and Pods: the
	// XR's name, which for a claim is the name of the XR behind it.
	Label           string
	Phase           string
	TargetNamespace string
	Sources         []*Source
}

// Source is one place a capture's files come from: a capture Pod with the
// Pod output (each has its own volume), or a capture Job with the HostPath or
// PersistentVolumeClaim output (its attempts share the directory).
type Source struct {
	// Name is the capture Pod's name, or the Job's when its Pods are gone;
	// the files land in DIR/<Name>/.
	Name string
	// Job is the capture Job's name (FromStatus: the name the status
	// implies), which begins its capture Pods' names.
	Job string
	// Pod is the newest capture Pod of the Job, nil when none is left.
	Pod    *corev1.Pod
	Node   string
	Output Output
	Image  string
	// JobID ends the Job's name and names the files.
	JobID string
	// Targets are the captured Pods, in the order of the Job's arguments.
	Targets []string
	// Summary is the capture's summary from the Pod's termination message,
	// or from a summary file fetched with the files; nil when neither exists.
	Summary     *capture.Summary
	SummaryFrom string
	// Gone says why the files cannot be fetched; empty when they can.
	Gone string
	// FromStatus: the source is one captured Pod (Targets[0]) whose Job
	// and capture Pods are gone, known from the PacketCapture's status
	// (status.ledger): its files land in DIR/<captured Pod>/, Job is the
	// name the status implies, and Summary holds only its own line.
	FromStatus bool
	// wroteNothing: its result (FromStatus) says the capture wrote no
	// file; there may still be its summary to clean.
	wroteNothing bool
}

// Output is where a capture Job writes its files.
type Output struct {
	Type      v1beta1.OutputType
	HostPath  string
	ClaimName string
}

func (o Output) String() string {
	switch o.Type {
	case v1beta1.OutputHostPath:
		return "HostPath " + o.HostPath
	case v1beta1.OutputPersistentVolumeClaim:
		return "PersistentVolumeClaim " + o.ClaimName
	}
	return "Pod"
}

// Find reads the PacketCapture ns/name and its capture Jobs and Pods.
func (c *Client) Find(ctx context.Context, ns, name string) (*Capture, error) {
	pc, err := c.Dynamic.Resource(PacketCaptures).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, c.packetCaptureError(ctx, err, ns, name)
	}
	cp := &Capture{Namespace: ns, Name: name, Label: capture.LabelValue(name)}
	// A claim names its XR in spec.resourceRef; the function labels the
	// Jobs with the XR's name (fn/fn.go reads the XR, not the claim).
	if xr, ok, _ := unstructured.NestedString(pc.Object, "spec", "resourceRef", "name"); ok && xr != "" {
		cp.Label = capture.LabelValue(xr)
	}
	cp.Phase, _, _ = unstructured.NestedString(pc.Object, "status", "phase")
	// The core's decoder reads the spec and status.ledger as the function
	// does: one reader of what the function writes.
	decoded, err := capture.DecodePacketCapture(pc.Object)
	if err != nil {
		return nil, fmt.Errorf("read PacketCapture %s/%s: %w", ns, name, err)
	}
	cp.TargetNamespace = decoded.Spec.TargetNamespace

	selector := capture.LabelCapture + "=" + cp.Label
	jobs, err := c.Kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, forbidden(err, "list", "jobs.batch", ns)
	}
	// The plugin's own helper Pods carry the capture's label too.
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector + ",!" + LabelHelper})
	if err != nil {
		return nil, forbidden(err, "list", "pods", ns)
	}
	cp.Sources = sources(jobs.Items, pods.Items)
	// A finished capture's Jobs are released, and their Pods deleted with
	// them: its Pods that no Job or capture Pod covers any more are found
	// through the status.
	covered := map[string]bool{}
	for _, s := range cp.Sources {
		if s.JobID == decoded.Status.Ledger.JobID {
			for _, t := range s.Targets {
				covered[t] = true
			}
		}
	}
	cp.Sources = append(cp.Sources, statusSources(decoded.Status.Ledger, covered)...)
	sort.SliceStable(cp.Sources, func(i, j int) bool { return cp.Sources[i].Name < cp.Sources[j].Name })
	if len(cp.Sources) > 0 && cp.TargetNamespace == "" {
		return nil, fmt.Errorf("PacketCapture %s/%s has no spec.targetNamespace, which names its files", ns, name)
	}
	for _, s := range cp.Sources {
		if s.Gone == "" && s.Output.Type == v1beta1.OutputHostPath {
			s.Gone = c.nodeGone(ctx, s.Node)
		}
		if s.Gone == "" && s.FromStatus && s.Summary != nil && s.Summary.Files == 0 {
			t := s.Summary.Targets[0]
			s.Gone, s.wroteNothing = "nothing to fetch: its capture wrote no file ("+t.Status+cond(t.Why != "", ": "+t.Why)+")", true
		}
	}
	return cp, nil
}

var errAPINotServed = fmt.Errorf("the PacketCapture API (%s/%s) is not served by this cluster: install its XRD (example/xrd.yaml, or example/legacy/xrd.yaml for claims)", PacketCaptures.GroupResource(), PacketCaptures.Version)

// packetCaptureError explains a failed get of a PacketCapture.
func (c *Client) packetCaptureError(ctx context.Context, err error, ns, name string) error {
	switch {
	case apierrors.IsForbidden(err):
		return forbidden(err, "get", PacketCaptures.GroupResource().String(), ns)
	case apierrors.IsNotFound(err):
		// A missing object and a missing API both answer 404; a list tells
		// them apart.
		if _, lerr := c.Dynamic.Resource(PacketCaptures).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 1}); apierrors.IsNotFound(lerr) {
			return errAPINotServed
		}
		return fmt.Errorf("no PacketCapture %q in namespace %q (kubectl packetcapture list -n %s shows the captures there)", name, ns, ns)
	}
	return fmt.Errorf("get PacketCapture %s/%s: %w", ns, name, err)
}

// nodeGone says why a HostPath capture's files cannot be fetched from node,
// or "" when the node is there (or cannot be looked at: the helper Pod will
// tell).
func (c *Client) nodeGone(ctx context.Context, node string) string {
	if node == "" {
		return "its Job names no node"
	}
	_, err := c.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("node %s is gone (no Node object): the files on its disk went with it", node)
	}
	return ""
}

// sources turns a capture's Jobs and Pods into the places its files are.
func sources(jobs []batchv1.Job, pods []corev1.Pod) []*Source {
	podsOf := map[string][]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		podsOf[jobOfPod(p)] = append(podsOf[jobOfPod(p)], p)
	}
	// Pods whose Job is gone still carry its template.
	templates := map[string]*corev1.PodSpec{}
	for i := range jobs {
		templates[jobs[i].Name] = &jobs[i].Spec.Template.Spec
	}
	for job, ps := range podsOf {
		if _, ok := templates[job]; !ok && job != "" {
			templates[job] = &ps[0].Spec
		}
	}
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Strings(names)

	var out []*Source
	for _, job := range names {
		spec := templates[job]
		base := Source{Job: job, Node: spec.NodeName, JobID: jobID(job)}
		base.Output, base.Image, base.Targets = outputOf(spec)
		if base.Output.Type == "" {
			// Not a capture Job (no capture container): nothing of ours.
			continue
		}
		ps := podsOf[job]
		// Newest first: the newest attempt's summary describes the files.
		sort.Slice(ps, func(i, j int) bool {
			if !ps[i].CreationTimestamp.Equal(&ps[j].CreationTimestamp) {
				return ps[j].CreationTimestamp.Before(&ps[i].CreationTimestamp)
			}
			return ps[i].Name < ps[j].Name
		})
		if base.Output.Type != v1beta1.OutputPod {
			s := base
			s.Name = job
			if len(ps) > 0 {
				s.Pod, s.Name = ps[0], ps[0].Name
				s.Summary, s.SummaryFrom = terminationSummary(ps[0])
			}
			out = append(out, &s)
			continue
		}
		if len(ps) == 0 {
			s := base
			s.Name = job
			s.Gone = "its capture Pods are gone (deleted with the finished Job after ttlSecondsAfterFinished); the Pod output lives only as long as the Pod"
			out = append(out, &s)
			continue
		}
		for _, p := range ps {
			s := base
			s.Pod, s.Name = p, p.Name
			s.Summary, s.SummaryFrom = terminationSummary(p)
			s.Gone = podOutputGone(p)
			out = append(out, &s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// statusSources are the captured Pods of a capture's ledger that no Job or
// capture Pod covers any more (covered): one source per Pod, on the node the
// ledger keeps for it, with the output and image it recorded, and its result
// when the function read it. The ledger holds every Pod, however many
// status.pods leaves out.
func statusSources(l capture.Ledger, covered map[string]bool) []*Source {
	requested := map[string]bool{}
	for _, p := range l.Requested {
		requested[p] = true
	}
	var out []*Source
	for _, node := range slices.Sorted(maps.Keys(l.Nodes)) {
		pods := l.Nodes[node]
		names := slices.Sorted(maps.Keys(pods))
		for _, pod := range names {
			if covered[pod] {
				continue
			}
			s := &Source{Name: pod, Node: node, JobID: l.JobID, Targets: []string{pod}, FromStatus: true}
			// The Job's name names its capture Pods' summary and checksum
			// files. A node's Job is named after the Pods it captured: all
			// of the node's, unless some came later (spec.followNewPods).
			s.Job = capture.JobName(pod, l.JobID)
			if l.JobPer == v1beta1.JobPerNode {
				s.Job = capture.NodeJobName(node, names, l.JobID)
			}
			if t, ok := capture.LedgerResult(pods[pod]); ok {
				s.Summary = &capture.Summary{Status: t.Status, Targets: []capture.TargetSummary{t},
					Files: t.Files, Bytes: t.Bytes, Packets: t.Packets, Dropped: t.Dropped}
				s.SummaryFrom = "the PacketCapture's status.ledger"
			}
			if o := l.Output; o != nil {
				s.Output, s.Image = Output{Type: o.Type, HostPath: o.HostPath, ClaimName: o.ClaimName}, o.Image
			}
			s.Gone = statusSourceGone(l.Output, requested[pod])
			out = append(out, s)
		}
	}
	return out
}

// statusSourceGone says why the files of a captured Pod known only from the
// status cannot be fetched, or "" when they may be (Find then asks whether
// its node is there, and whether its capture wrote anything).
func statusSourceGone(o *capture.OutputRecord, requested bool) string {
	switch {
	case requested:
		return "its capture Job was requested but does not exist (not created yet, or never): nothing was captured"
	case o == nil:
		return "its capture Job is gone and the PacketCapture's status.ledger.output, which says where the files are, is not there (written by an older function): fetch it while its Jobs exist, or copy the files by hand (status.retrieve)"
	case o.Type == v1beta1.OutputPod:
		return "Pod output: the capture Pod was deleted after its retention, and its files with it (its Job finished and was released); the HostPath and PersistentVolumeClaim outputs keep files after the capture"
	}
	return ""
}

func cond(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// podOutputGone says why a capture Pod's own files cannot be copied out of
// it, or "" when they can: it runs and has closed its files.
func podOutputGone(p *corev1.Pod) string {
	switch {
	case p.DeletionTimestamp != nil:
		return "the capture Pod is being deleted"
	case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		return fmt.Sprintf("the capture Pod has ended (%s) and its files ended with it: the Pod output keeps files only for retentionSeconds after the capture (or until clean); use the HostPath or PersistentVolumeClaim output to keep them longer", p.Status.Phase)
	case p.Status.Phase != corev1.PodRunning:
		return fmt.Sprintf("the capture Pod is %s, not Running", p.Status.Phase)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == capture.ContainerName && !cs.Ready {
			return "the capture is still running (the capture Pod turns Ready once its files are closed): fetch again when it is"
		}
	}
	return ""
}

// jobOfPod is the name of the Job that made p.
func jobOfPod(p *corev1.Pod) string {
	for _, k := range []string{"batch.kubernetes.io/job-name", "job-name"} {
		if v := p.Labels[k]; v != "" {
			return v
		}
	}
	if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "Job" {
		return ref.Name
	}
	return p.Name
}

// jobID is the jobId that ends every capture Job's name (capture.JobName,
// capture.NodeJobName).
func jobID(job string) string {
	i := strings.LastIndexByte(job, '-')
	return job[i+1:]
}

// outputOf reads a capture pod spec: where its capture container writes, its
// image, and the Pods it captures (the <name>/<uid> arguments).
func outputOf(spec *corev1.PodSpec) (Output, string, []string) {
	r, ok := capture.OutputOf(spec)
	if !ok {
		return Output{}, "", nil
	}
	var targets []string
	for _, c := range spec.Containers {
		if c.Name == capture.ContainerName {
			for _, a := range c.Args {
				name, _, _ := strings.Cut(a, "/")
				targets = append(targets, name)
			}
		}
	}
	return Output{Type: r.Type, HostPath: r.HostPath, ClaimName: r.ClaimName}, r.Image, targets
}

// terminationSummary is the capture summary in the capture container's
// termination message, current or last.
func terminationSummary(p *corev1.Pod) (*capture.Summary, string) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != capture.ContainerName {
			continue
		}
		for _, st := range []corev1.ContainerState{cs.State, cs.LastTerminationState} {
			if st.Terminated == nil || st.Terminated.Message == "" {
				continue
			}
			if s, err := capture.ParseSummary(st.Terminated.Message); err == nil {
				return &s, "termination message of " + p.Name
			}
		}
	}
	return nil, ""
}
