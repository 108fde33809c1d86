package capture

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// The PacketCapture API.
const (
	Group      = "monitoring.openshift.tpg"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "PacketCapture"
)

// PacketCapture is what the planner needs of a PacketCapture composite
// resource (or claim): its identity, the labels to propagate, its spec and the
// status the previous reconcile wrote.
type PacketCapture struct {
	Name string
	// Namespace is where the ConfigMap and Jobs are created: the XR's own
	// namespace, or the claim's namespace for a legacy cluster-scoped XR.
	Namespace string
	UID       string
	Labels    map[string]string
	Spec      Spec
	Status    Status
}

// Spec is the PacketCapture's spec.
type Spec struct {
	// JobID makes Job names unique when the same Pods are captured more than
	// once: 4 lowercase letters or digits. Derived from the UID when empty.
	JobID string `json:"jobId,omitempty"`
	// TargetNamespace is the namespace of the target Deployment.
	TargetNamespace string `json:"targetNamespace"`
	// TargetDeployment is the name of the Deployment whose Pods are captured.
	TargetDeployment string `json:"targetDeployment"`
	// Duration of the capture: whole seconds ("30") or a Go duration ("90s",
	// "5m").
	Duration string `json:"duration"`
	// Filter is a tcpdump (BPF) filter expression.
	Filter string `json:"filter,omitempty"`
	// Interface inside the Pod's network namespace; the Input's by default.
	Interface string `json:"interface,omitempty"`
	// Snaplen overrides the Input's snaplen.
	Snaplen *int32 `json:"snaplen,omitempty"`
	// MaxFileSizeMB overrides the Input's file rotation size.
	MaxFileSizeMB *int32 `json:"maxFileSizeMB,omitempty"`
	// MaxFiles overrides the Input's number of rotated files.
	MaxFiles *int32 `json:"maxFiles,omitempty"`
	// FollowNewPods captures Pods that appear after the capture started.
	FollowNewPods bool `json:"followNewPods,omitempty"`
	// Output overrides the Input's output: Pod or PersistentVolumeClaim.
	Output *v1beta1.Output `json:"output,omitempty"`
	// PacketCount stops each Pod's capture after this many packets; the
	// duration still bounds it. Unset captures for the whole duration.
	PacketCount *int32 `json:"packetCount,omitempty"`
	// NetworkSnapshot records the Pod's addresses, routes, neighbours,
	// sockets and interface counters at the start and end of its capture.
	// On when unset.
	NetworkSnapshot *bool `json:"networkSnapshot,omitempty"`
}

// Request is everything one plan is made from.
type Request struct {
	Capture PacketCapture
	// Input is the function's Input as given; nil means all defaults. The
	// planner resolves it, with the spec's overrides, into its settings.
	Input *v1beta1.Input
	// Deployment is the target Deployment, nil when it does not exist.
	Deployment *appsv1.Deployment
	// ReplicaSets and Pods that may belong to the Deployment. The planner
	// checks ownership and the selector itself, so over-fetching is safe.
	ReplicaSets []appsv1.ReplicaSet
	Pods        []corev1.Pod
	// Jobs this capture created that exist now.
	Jobs []batchv1.Job
	// CapturePods are the Pods of those Jobs (labelled LabelCapture with the
	// capture's name, in its namespace): their termination messages hold the
	// capture summaries. Others are ignored, so over-fetching is safe. Of
	// each the planner reads metadata.name, creationTimestamp and
	// ownerReferences, the capture container's args, status.phase and the
	// capture container's state and lastState.terminated.message. Of the
	// Deployment it also reads spec.replicas (0 is said so).
	CapturePods []corev1.Pod
}

// Desired is the state that should exist: the plan.
type Desired struct {
	ConfigMap *corev1.ConfigMap
	// Jobs sorted by name.
	Jobs []PlannedJob
	// Status to write back on the PacketCapture.
	Status Status
	// Ready is true when every target Pod's capture succeeded.
	Ready bool
	// Headline is Status.Message without its details: it changes only with
	// the phase and the number of Pods and nodes, so a condition that
	// carries it changes rarely. Every change of an XR condition costs
	// Crossplane two writes of the XR, and a stale cached copy of the XR
	// can replay the older one for a while (crossplane/crossplane#7062).
	Headline string
	// Events tell the user what is happening, most important first.
	Events []Event
	// AwaitingSummaries: a finished Job is held until its capture Pod's
	// summary is in view. Ask again soon: no change of a composed
	// resource will say when it is.
	AwaitingSummaries bool
}

// PlannedJob is a desired capture Job and whether its capture is done.
type PlannedJob struct {
	Job   *batchv1.Job
	Ready bool
}

// Severity of an Event.
type Severity string

// Event severities.
const (
	SeverityNormal  Severity = "Normal"
	SeverityWarning Severity = "Warning"
)

// Event is something the user should be told.
type Event struct {
	Severity Severity
	Reason   string
	Message  string
	// Field is the path of the PacketCapture field the event is about
	// ("spec.jobId"), when one field is what the user should look at or
	// change; empty otherwise.
	Field string `json:",omitempty"`
}

// Phase of a capture as a whole (Status.Phase) or of one Pod's capture
// (PodStatus.Phase).
type Phase string

// Phases of the whole capture.
const (
	PhaseWaitingForDeployment Phase = "WaitingForDeployment"
	PhaseWaitingForPods       Phase = "WaitingForPods"
	PhaseCapturing            Phase = "Capturing"
	PhaseCompleted            Phase = "Completed"
	PhaseFailed               Phase = "Failed"
)

// Phases of one Pod's capture.
const (
	// PodRequested: the Job was asked for but has not been seen yet.
	PodRequested Phase = "Requested"
	// PodPending: the Job exists but has no running Pod yet.
	PodPending Phase = "Pending"
	// PodRunning: the capture is running.
	PodRunning Phase = "Running"
	// PodRetrievable: the capture finished and its files wait in the capture
	// Pod to be copied out (Pod output).
	PodRetrievable Phase = "Retrievable"
	PodSucceeded   Phase = "Succeeded"
	PodFailed      Phase = "Failed"
	// PodGone: the Job disappeared before its outcome was seen.
	PodGone Phase = "Gone"
	// PodSkipped: the Pod is not capturable (not scheduled, not running,
	// terminating).
	PodSkipped Phase = "Skipped"
	// PodNotCaptured: the Pod appeared after the capture started and
	// spec.followNewPods is false.
	PodNotCaptured Phase = "NotCaptured"
)

// Status is written to the PacketCapture's status.
type Status struct {
	Phase   Phase  `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
	// JobID in use, derived when the spec leaves it empty.
	JobID  string `json:"jobId,omitempty"`
	Counts Counts `json:"counts,omitempty"`
	// Pods lists per-Pod captures, problems first, bounded by the Input's
	// statusPodLimit; PodsOmitted counts the rest.
	Pods        []PodStatus `json:"pods,omitempty"`
	PodsOmitted int         `json:"podsOmitted,omitempty"`
	// Retrieve says how to fetch the PCAP files.
	Retrieve string `json:"retrieve,omitempty"`
	// Ledger is the planner's memory across reconciles.
	Ledger Ledger `json:"ledger,omitempty"`
}

// Counts of Pods by what happened to them.
type Counts struct {
	// Targets is the number of Pods whose capture was started.
	Targets     int `json:"targets"`
	Nodes       int `json:"nodes"`
	Active      int `json:"active"`
	Succeeded   int `json:"succeeded"`
	Failed      int `json:"failed"`
	Gone        int `json:"gone"`
	Skipped     int `json:"skipped"`
	NotCaptured int `json:"notCaptured"`
	// Partial counts the captures that hold less than the whole duration:
	// the Pod went away, or the capture was interrupted.
	Partial int `json:"partial"`
	// Totals over the captures whose summary has been read (a capture Pod
	// writes it when it ends: for the Pod output, after the retention
	// window).
	Packets int64 `json:"packets"`
	Bytes   int64 `json:"bytes"`
	Dropped int64 `json:"dropped"`
	Files   int64 `json:"files"`
}

// PodStatus is one Pod's capture.
type PodStatus struct {
	Pod     string `json:"pod"`
	Node    string `json:"node,omitempty"`
	Job     string `json:"job,omitempty"`
	Phase   Phase  `json:"phase"`
	Message string `json:"message,omitempty"`
	// Partial: the capture holds less than the whole duration.
	Partial bool `json:"partial,omitempty"`
	// From the capture's summary, once read; absent before.
	Packets *int64 `json:"packets,omitempty"`
	Bytes   *int64 `json:"bytes,omitempty"`
	Dropped *int64 `json:"dropped,omitempty"`
	Files   *int64 `json:"files,omitempty"`
}

// Ledger remembers, by Pod name, the captures this PacketCapture started and
// how far each got. Crossplane re-creates any desired resource that is
// missing, so the planner needs it to tell a Job that was never created
// (emit it again) from one that ran and was removed (never run it twice).
type Ledger struct {
	// JobID the record is for; a new jobId starts a new record.
	JobID string `json:"jobId,omitempty"`
	// JobPer is how this capture cuts its Pods into Jobs (Pod or Node),
	// decided when it started.
	JobPer v1beta1.JobPer `json:"jobPer,omitempty"`
	// Requested Jobs have been emitted but not yet seen.
	Requested []string `json:"requested,omitempty"`
	// Started Jobs have been seen, without an outcome yet.
	Started []string `json:"started,omitempty"`
	// Retrievable captures have finished; their files wait in the capture
	// Pod. A capture never moves back from here, whatever its Job shows on
	// its way to Complete.
	Retrievable []string `json:"retrievable,omitempty"`
	Succeeded   []string `json:"succeeded,omitempty"`
	Failed      []string `json:"failed,omitempty"`
	// Gone Jobs disappeared before their outcome was seen.
	Gone []string `json:"gone,omitempty"`
	// Output is where this capture's Jobs write their files, and their
	// image, as the capture started. The kubectl plugin finds the files of
	// a finished capture by it (and by Nodes) once its Jobs are released:
	// a helper Pod running this image mounts the directory on each node,
	// or the claim.
	Output *OutputRecord `json:"output,omitempty"`
	// Nodes maps each node to the Pods captured on it, so a capture keeps
	// its node once its Job is removed, and each Pod to its result once its
	// capture Pod's summary was read (the capture Pod goes away with its
	// Job), "" before. A result is the summary's line for the Pod without
	// its index, then the reason when the status is not ok:
	// "<status> <packets> <bytes> <dropped> <files> <seconds>[ <why>]".
	// One line, not an object, because a capture may have 5,000 Pods and
	// the XR is one etcd object (see TestPlanLedgerSize).
	Nodes map[string]map[string]string `json:"nodes,omitempty"`
}

// OutputRecord is where a capture's files are: the output its Jobs mount at
// OutputMountPath, and the image they run.
type OutputRecord struct {
	Type v1beta1.OutputType `json:"type"`
	// HostPath is the directory on each node (type HostPath).
	HostPath string `json:"hostPath,omitempty"`
	// ClaimName is the PersistentVolumeClaim in the capture's namespace
	// (type PersistentVolumeClaim).
	ClaimName string `json:"claimName,omitempty"`
	// Image is the capture image. It has sh, ls and tar, and is on every
	// node that ran a capture: the plugin's helper Pods run it.
	Image string `json:"image,omitempty"`
}
