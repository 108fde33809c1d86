// Package v1beta1 contains the Input API of function-packet-capture: the
// settings a platform team sets once per Composition (or once per kpt
// pipeline) rather than once per capture.
//
// +kubebuilder:object:generate=true
// +groupName=packetcapture.fn.crossplane.io
// +versionName=v1beta1
package v1beta1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and Version of the Input API.
const (
	Group   = "packetcapture.fn.crossplane.io"
	Version = "v1beta1"
)

// OutputType says where a capture Job writes its PCAP files.
// +kubebuilder:validation:Enum=Pod;HostPath;PersistentVolumeClaim
type OutputType string

// The places a capture can be written to.
const (
	// OutputPod keeps the files in the capture Pod's own emptyDir volume and
	// keeps the Pod running for a retrieval window so `kubectl cp` works.
	OutputPod OutputType = "Pod"
	// OutputHostPath writes the files to a directory on the target Pod's node.
	OutputHostPath OutputType = "HostPath"
	// OutputPersistentVolumeClaim writes the files to an existing PVC in the
	// PacketCapture's namespace.
	OutputPersistentVolumeClaim OutputType = "PersistentVolumeClaim"
)

// SecurityMode says how much privilege the capture container gets.
// +kubebuilder:validation:Enum=Capabilities;Privileged
type SecurityMode string

// The security modes.
const (
	// SecurityCapabilities grants only the capabilities that entering a
	// network namespace and capturing packets need: SYS_ADMIN, SYS_PTRACE,
	// NET_ADMIN, NET_RAW and SETGID (tcpdump's -Z root).
	SecurityCapabilities SecurityMode = "Capabilities"
	// SecurityPrivileged runs the capture container privileged, for runtimes
	// whose seccomp or LSM profiles block setns without it.
	SecurityPrivileged SecurityMode = "Privileged"
)

// JobPer says how a capture's target Pods are shared out among capture Jobs.
// +kubebuilder:validation:Enum=Auto;Pod;Node
type JobPer string

// The ways to cut a capture into Jobs.
const (
	// JobPerPod runs one Job per target Pod, named <pod>-<jobId>, as the
	// original packet-capture-operator did.
	JobPerPod JobPer = "Pod"
	// JobPerNode runs one Job per node, which captures every target Pod on
	// that node (one tcpdump each). A Deployment of thousands of Pods needs
	// it: Crossplane takes at most 4 MiB from a function, about 1,600 Jobs.
	JobPerNode JobPer = "Node"
	// JobPerAuto is Pod for a capture that starts with at most maxPodJobs
	// target Pods, and Node for a larger one. The choice is made once, when
	// the capture starts, and kept for its whole life.
	JobPerAuto JobPer = "Auto"
)

// Defaults used when the Input (or one of its fields) is omitted.
const (
	DefaultImage                   = "docker.io/nicolaka/netshoot:v0.13"
	DefaultSecurityMode            = SecurityCapabilities
	DefaultOutputType              = OutputPod
	DefaultHostPath                = "/var/tmp/packet-capture"
	DefaultRetentionSeconds  int32 = 900
	DefaultTTLSeconds        int32 = 3600
	DefaultGraceSeconds      int32 = 30
	DefaultInterface               = "any"
	DefaultSnaplen           int32 = 262144
	DefaultMaxFileSizeMB     int32 = 100
	DefaultMaxFiles          int32 = 10
	DefaultMaxTargetPods     int32 = 5000
	DefaultMaxDurationSecond int32 = 24 * 60 * 60
	DefaultStatusPodLimit    int32 = 50
	DefaultJobPer                  = JobPerAuto
	DefaultMaxPodJobs        int32 = 10
)

// Input configures function-packet-capture.
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=crossplane
type Input struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Image is the capture container image. It must provide a POSIX sh,
	// tcpdump and nsenter (util-linux).
	// +kubebuilder:default="docker.io/nicolaka/netshoot:v0.13"
	// +optional
	Image string `json:"image,omitempty"`

	// ImagePullPolicy of the capture container. Unset, the Job leaves it to
	// Kubernetes: IfNotPresent for an image with a tag other than :latest
	// (the default image's), Always for :latest or no tag.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// SecurityMode is Capabilities (SYS_ADMIN, SYS_PTRACE, NET_ADMIN, NET_RAW
	// and SETGID only) or Privileged.
	// +kubebuilder:default=Capabilities
	// +optional
	SecurityMode SecurityMode `json:"securityMode,omitempty"`

	// Output is where the PCAP files go unless a PacketCapture chooses
	// otherwise. Only the platform may choose a HostPath.
	// +optional
	Output *Output `json:"output,omitempty"`

	// TTLSecondsAfterFinished is how long a finished capture Job (and, for the
	// Pod output, its files) is kept before Kubernetes deletes it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=3600
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// GraceSeconds is added to the capture duration to form the Job's
	// activeDeadlineSeconds: time to pull the image, find the Pod and flush.
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=3600
	// +kubebuilder:default=30
	// +optional
	GraceSeconds *int32 `json:"graceSeconds,omitempty"`

	// Interface captured inside the target Pod's network namespace, unless
	// the PacketCapture names one.
	// +kubebuilder:default=any
	// +optional
	Interface string `json:"interface,omitempty"`

	// Snaplen is the default number of bytes kept of each packet.
	// +kubebuilder:validation:Minimum=64
	// +kubebuilder:validation:Maximum=262144
	// +kubebuilder:default=262144
	// +optional
	Snaplen *int32 `json:"snaplen,omitempty"`

	// MaxFileSizeMB is the default size at which tcpdump starts a new file.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10240
	// +kubebuilder:default=100
	// +optional
	MaxFileSizeMB *int32 `json:"maxFileSizeMB,omitempty"`

	// MaxFiles is the default number of files kept per capture: with
	// MaxFileSizeMB it caps the disk a capture may use. When the cap is
	// reached the oldest file is overwritten.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=10
	// +optional
	MaxFiles *int32 `json:"maxFiles,omitempty"`

	// MaxDurationSeconds bounds spec.duration.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	// +kubebuilder:default=86400
	// +optional
	MaxDurationSeconds *int32 `json:"maxDurationSeconds,omitempty"`

	// MaxTargetPods refuses captures of Deployments with more Pods than this,
	// since each target Pod gets a privileged capture Pod.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:default=5000
	// +optional
	MaxTargetPods *int32 `json:"maxTargetPods,omitempty"`

	// JobPer says how target Pods are shared out among capture Jobs: Pod
	// (one Job per Pod), Node (one Job per node, for all its target Pods) or
	// Auto (Pod up to maxPodJobs target Pods, else Node).
	// +kubebuilder:default=Auto
	// +optional
	JobPer JobPer `json:"jobPer,omitempty"`

	// MaxPodJobs is the largest capture that jobPer Auto runs with one Job per
	// Pod. A Job per Pod costs Crossplane about ten watch events per Pod; above
	// about ten Pods its watch circuit breaker (default burst 100) opens and
	// the XR's status lags the capture by a minute (docs/e2e.md). Raise it with
	// Crossplane's --circuit-breaker-burst; at about 2.5 KB per Job in
	// Crossplane's response (4 MiB at most), 1,000 leaves room for long names.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:default=10
	// +optional
	MaxPodJobs *int32 `json:"maxPodJobs,omitempty"`

	// StatusPodLimit bounds the per-Pod list written to the PacketCapture's
	// status; counts cover the rest.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=50
	// +optional
	StatusPodLimit *int32 `json:"statusPodLimit,omitempty"`

	// PriorityClassName of the capture Pods.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// Resources of the capture container. Requests are what the kubelet
	// admits a capture Pod by, even with nodeName: the default asks for none
	// (only limits), so a node whose requests are all given out can still be
	// captured. A Job that captures several Pods gets its memory and
	// ephemeral-storage limits raised to what that many captures need.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// AllowHostNetworkPods lets Pods with hostNetwork: true be captured. Such
	// a Pod shares its node's network namespace, so its capture records every
	// packet of every Pod and process on that node, not just the Pod's. Off
	// by default: those Pods are skipped and the status says why.
	// +optional
	AllowHostNetworkPods bool `json:"allowHostNetworkPods,omitempty"`
}

// Output says where PCAP files are written.
type Output struct {
	// Type of output.
	// +kubebuilder:default=Pod
	// +optional
	Type OutputType `json:"type,omitempty"`

	// HostPath is the node directory for the HostPath output.
	// +kubebuilder:default="/var/tmp/packet-capture"
	// +optional
	HostPath string `json:"hostPath,omitempty"`

	// ClaimName is the PersistentVolumeClaim for the PersistentVolumeClaim
	// output, in the PacketCapture's namespace. Captures of Pods on several
	// nodes need a ReadWriteMany claim.
	// +optional
	ClaimName string `json:"claimName,omitempty"`

	// RetentionSeconds is how long a capture Pod stays up after the capture
	// for the Pod output, so its files can be copied out.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +kubebuilder:default=900
	// +optional
	RetentionSeconds *int32 `json:"retentionSeconds,omitempty"`
}
