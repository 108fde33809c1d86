package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// Keys of the labels and annotations the planner sets.
const (
	labelPrefix = "packetcapture.fn.crossplane.io/"
	// LabelCapture names the PacketCapture that made an object.
	LabelCapture = labelPrefix + "capture"
	// annotationTemplateHash records the hash of the Job as first planned, so
	// a later plan can tell that the spec or the Input changed since.
	annotationTemplateHash = labelPrefix + "template-hash"
)

// Where things live in the capture container.
const (
	ContainerName   = "capture"
	configMountPath = "/etc/packet-capture"
	OutputMountPath = "/pcap"
	scriptKey       = "capture.sh"
	configVolume    = "config"
	outputVolume    = "pcap"
	// CompleteMarker is created in the output directory once the capture's
	// files are closed; the Pod output's readiness probe waits for it.
	CompleteMarker = ".capture-complete"
)

// targetArg is the capture script's argument for one target Pod:
// <name>/<uid>. A Job's args are all that differs from Job to Job besides its
// name and node, one per target Pod; the namespace and every setting are in
// the ConfigMap. Every byte counts: Crossplane receives all Jobs in one
// message of at most 4 MiB.
func targetArg(podName, podUID string) string { return podName + "/" + podUID }

// parseTargetArg splits a targetArg; ok is false for anything else.
func parseTargetArg(arg string) (name, uid string, ok bool) {
	name, uid, ok = strings.Cut(arg, "/")
	return name, uid, ok && name != "" && uid != "" && !strings.Contains(uid, "/")
}

// Exit codes of the capture script that mean a retry cannot help; the Job's
// pod failure policy fails the Job at once on them.
// 143 means SIGTERM or SIGINT, and is retried. The summary says which target
// Pod a code applies to; the first in argument order that is not ok decides.
const (
	ExitBadSettings   = 2
	ExitPodNotFound   = 3
	ExitTCPDumpFailed = 4
	// ExitGone: a target Pod's process went away during the capture
	// (CaptureGone); its files hold what was captured until then. A retry
	// would capture the Job's other Pods a second time.
	ExitGone = 5
	// ExitHostNetwork: a target Pod's network namespace is the node's own
	// (CaptureHostNetwork); it was not captured.
	ExitHostNetwork = 6
)

// backoffLimit allows one retry for a node hiccup; the Job's deadline still
// bounds both attempts together.
const backoffLimit = 1

// configMap carries the capture script and the settings every Job of this
// capture shares, one key per setting: the script reads each as a file, so
// no value ever passes through a shell parse.
func configMap(pc PacketCapture, s settings) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      configMapName(pc.Name, s.jobID),
			Namespace: pc.Namespace,
			Labels:    objectLabels(pc),
		},
		Data: map[string]string{
			scriptKey:           captureScript,
			"duration-seconds":  strconv.Itoa(int(s.durationSeconds)),
			"filter":            s.filter,
			"interface":         s.iface,
			"job-id":            s.jobID,
			"max-file-size-mb":  strconv.Itoa(int(s.maxFileSizeMB)),
			"max-files":         strconv.Itoa(int(s.maxFiles)),
			"network-snapshot":  onOff(s.networkSnapshot),
			"output-dir":        OutputMountPath,
			"proc-root":         "/proc",
			"retention-seconds": strconv.Itoa(int(retentionSeconds(s))),
			"snaplen":           strconv.Itoa(int(s.snaplen)),
			"target-namespace":  pc.Spec.TargetNamespace,
		},
	}
	if s.packetCount > 0 {
		// Left out when unset: the script captures for the whole duration.
		cm.Data["packet-count"] = strconv.Itoa(int(s.packetCount))
	}
	return cm
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// retentionSeconds is how long the capture Pod waits after the capture: only
// the Pod output needs its files kept in a live container.
func retentionSeconds(s settings) int32 {
	if s.output.Type != v1beta1.OutputPod {
		return 0
	}
	return *s.output.RetentionSeconds
}

// jobMaker returns the maker of one plan's capture Jobs: the Job named name
// that captures targets, all on one node, annotated with its template hash.
func jobMaker(pc PacketCapture, s settings, cmName string) func(name string, targets []target) *batchv1.Job {
	// The labels are the same on every Job: made valid once, copied to each.
	labels, podLabels := objectLabels(pc), podTemplateLabels(pc)
	return func(name string, targets []target) *batchv1.Job {
		node := ""
		if len(targets) > 0 {
			node = targets[0].Node
		}
		args := make([]string, len(targets))
		for i, t := range targets {
			args[i] = targetArg(t.Name, t.UID)
		}
		job := captureJob(pc, s, cmName, jobValues{name: name, node: node, args: args}, len(targets), maps.Clone(labels), maps.Clone(podLabels))
		job.Annotations = map[string]string{annotationTemplateHash: templateHash(job)}
		return job
	}
}

// jobValues are what a capture Job has of its own: everything else is the
// same for every Job of a plan that captures as many target Pods.
type jobValues struct {
	name, node string
	// args name the target Pods, one targetArg each.
	args []string
}

// captureJob is the Job that captures the n target Pods named by v.args on
// v.node, without annotations, labelled with labels and its pod template with
// podLabels. It is built only from its arguments, in a fixed order, so the
// same arguments give the same Job byte for byte.
func captureJob(pc PacketCapture, s settings, cmName string, v jobValues, n int, labels, podLabels map[string]string) *batchv1.Job {
	// The Input's resources are shared by the Jobs of a plan, as their
	// other settings are; a Job with a limit of its own gets a copy.
	resources := s.resources
	memory, disk := s.memoryLimitFor(n), s.diskLimitFor(n)
	if !memory.IsZero() || !disk.IsZero() {
		// Either is set only over a limit the Input has: Limits is not nil.
		resources = *s.resources.DeepCopy()
		if !memory.IsZero() {
			resources.Limits[corev1.ResourceMemory] = memory
		}
		if !disk.IsZero() {
			resources.Limits[corev1.ResourceEphemeralStorage] = disk
		}
	}
	container := corev1.Container{
		Name:            ContainerName,
		Image:           s.image,
		ImagePullPolicy: s.imagePullPolicy,
		Command:         []string{"/bin/sh", configMountPath + "/" + scriptKey},
		Args:            v.args,
		// The script names the node in its logs and summary.
		Env: []corev1.EnvVar{{Name: "TARGET_NODE_NAME", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
		}}},
		Resources: resources,
		VolumeMounts: []corev1.VolumeMount{
			{Name: configVolume, MountPath: configMountPath, ReadOnly: true},
			{Name: outputVolume, MountPath: OutputMountPath},
		},
		SecurityContext: securityContext(s.securityMode),
	}
	if s.output.Type == v1beta1.OutputPod {
		// Ready means: the capture is over and its files can be copied out.
		container.ReadinessProbe = &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"test", "-e", OutputMountPath + "/" + CompleteMarker},
			}},
			PeriodSeconds: 5,
		}
	}

	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      v.name,
			Namespace: pc.Namespace,
			Labels:    labels,
		},
		Spec: batchv1.JobSpec{
			ActiveDeadlineSeconds:   ptrTo(s.activeDeadlineSeconds()),
			BackoffLimit:            ptrTo(int32(backoffLimit)),
			TTLSecondsAfterFinished: ptrTo(s.ttlSeconds),
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: ptrTo(ContainerName),
					Operator:      batchv1.PodFailurePolicyOnExitCodesOpIn,
					Values:        []int32{ExitBadSettings, ExitPodNotFound, ExitTCPDumpFailed, ExitGone, ExitHostNetwork},
				},
			}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					// nodeName bypasses the scheduler: the capture must run on
					// this node even when it is cordoned or full (the kubelet
					// still admits by requests: see defaultResources).
					NodeName: v.node,
					// A Windows node's kubelet refuses the Pod at once,
					// rather than let it wait for the deadline.
					OS:                           &corev1.PodOS{Name: corev1.Linux},
					HostPID:                      true,
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptrTo(false),
					PriorityClassName:            s.priorityClassName,
					// Tolerate every taint the target's node may carry.
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers:  []corev1.Container{container},
					Volumes: []corev1.Volume{
						{Name: configVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: cmName},
						}}},
						{Name: outputVolume, VolumeSource: outputVolumeSource(s.output, s.diskPerTarget()*int64(n))},
					},
				},
			},
		},
	}
	return job
}

// securityContext runs the capture as root with either full privilege or
// only SYS_ADMIN (setns), SYS_PTRACE (open another process's namespace),
// NET_RAW and NET_ADMIN (capture, promiscuous mode) and SETGID (tcpdump
// builds with a default user call setgid even for `-Z root`; without it
// every capture fails).
func securityContext(mode v1beta1.SecurityMode) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{RunAsUser: ptrTo(int64(0)), RunAsNonRoot: ptrTo(false)}
	if mode == v1beta1.SecurityPrivileged {
		sc.Privileged = ptrTo(true)
		return sc
	}
	// allowPrivilegeEscalation stays unset: the API server refuses false
	// together with CAP_SYS_ADMIN, which setns needs.
	sc.Capabilities = &corev1.Capabilities{
		Drop: []corev1.Capability{"ALL"},
		Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW", "SETGID", "SYS_ADMIN", "SYS_PTRACE"},
	}
	return sc
}

// outputVolumeSource is where the files go. The Pod output's emptyDir is
// bounded by what the capture's files may take (diskBytes): past it the
// kubelet evicts the capture Pod rather than let it fill the node's disk.
func outputVolumeSource(o v1beta1.Output, diskBytes int64) corev1.VolumeSource {
	switch o.Type {
	case v1beta1.OutputHostPath:
		return corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: o.HostPath, Type: ptrTo(corev1.HostPathDirectoryOrCreate),
		}}
	case v1beta1.OutputPersistentVolumeClaim:
		return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.ClaimName}}
	default:
		return corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: resource.NewQuantity(diskBytes, resource.BinarySI)}}
	}
}

// defaultResources keep a capture small but let tcpdump buffer bursts. They
// request nothing: the kubelet admits a Pod by its requests even when
// nodeName bypasses the scheduler, and the node an SRE must capture is often
// the full one. Zero is written out, since requests left out default to the
// limits.
func defaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("0"),
			corev1.ResourceMemory: resource.MustParse("0"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("256Mi"),
		},
	}
}

// objectLabels go on the ConfigMap and the Jobs: the PacketCapture's
// app.kubernetes.io labels, so the old operator's clean-up by instance label
// keeps working, and the capture's own name.
func objectLabels(pc PacketCapture) map[string]string {
	l := propagatedLabels(pc.Labels)
	l[LabelCapture] = LabelValue(pc.Name)
	return l
}

// podTemplateLabels go on the capture Pods: the capture's name, so that
// `kubectl get pods -l packetcapture.fn.crossplane.io/capture=<name>` finds
// all of them to copy the files out, and app.kubernetes.io/instance, which
// the old operator's users select by. Only these two: every label here is
// repeated in every Job of a response Crossplane caps at 4 MiB.
func podTemplateLabels(pc PacketCapture) map[string]string {
	l := objectLabels(pc)
	for k := range l {
		if k != LabelCapture && k != "app.kubernetes.io/instance" {
			delete(l, k)
		}
	}
	return l
}

// propagatedLabels are the PacketCapture's app.kubernetes.io/* labels, with
// values made valid where they are not (crossplane render does not check).
func propagatedLabels(from map[string]string) map[string]string {
	l := make(map[string]string)
	for k, v := range from {
		if strings.HasPrefix(k, "app.kubernetes.io/") {
			l[k] = LabelValue(v)
		}
	}
	return l
}

// templateHash identifies a planned Job by everything but its annotations:
// the first 16 hex digits of the SHA-256 of its JSON.
func templateHash(job *batchv1.Job) string {
	sum := sha256.Sum256(jobJSON(job))
	return hex.EncodeToString(sum[:8])
}

func jobJSON(job *batchv1.Job) []byte {
	b, err := json.Marshal(job)
	if err != nil {
		// A Job built from Go values always marshals.
		panic(err)
	}
	return b
}

// targetsOfJob recovers the targets a capture Job was made for from the Job
// itself, so the Job can be planned again after its Pods have gone. ok is
// false for a Job that is not a capture Job (or not one this version makes).
func targetsOfJob(job *batchv1.Job) (targets []target, ok bool) {
	for _, c := range job.Spec.Template.Spec.Containers {
		if c.Name != ContainerName {
			continue
		}
		for _, a := range c.Args {
			name, uid, ok := parseTargetArg(a)
			if !ok {
				return nil, false
			}
			targets = append(targets, target{Name: name, UID: uid, Node: job.Spec.Template.Spec.NodeName})
		}
		return targets, len(targets) > 0
	}
	return nil, false
}

// outputRecord is where the Jobs planned with s write, and their image.
func outputRecord(s settings) OutputRecord {
	r := OutputRecord{Type: s.output.Type, Image: s.image}
	switch s.output.Type {
	case v1beta1.OutputHostPath:
		r.HostPath = s.output.HostPath
	case v1beta1.OutputPersistentVolumeClaim:
		r.ClaimName = s.output.ClaimName
	}
	return r
}

// OutputOf reads, from a capture Job's (or capture Pod's) pod spec, where
// its capture container writes and the image it runs; ok is false when the
// spec has no capture container. The plugin reads the Jobs that exist with
// it; the planner records it for when they are gone.
func OutputOf(spec *corev1.PodSpec) (r OutputRecord, ok bool) {
	for _, c := range spec.Containers {
		if c.Name != ContainerName {
			continue
		}
		r = OutputRecord{Type: v1beta1.OutputPod, Image: c.Image}
		for _, m := range c.VolumeMounts {
			if m.MountPath != OutputMountPath {
				continue
			}
			for _, v := range spec.Volumes {
				switch {
				case v.Name != m.Name:
				case v.HostPath != nil:
					r.Type, r.HostPath = v1beta1.OutputHostPath, v.HostPath.Path
				case v.PersistentVolumeClaim != nil:
					r.Type, r.ClaimName = v1beta1.OutputPersistentVolumeClaim, v.PersistentVolumeClaim.ClaimName
				}
			}
		}
		return r, true
	}
	return OutputRecord{}, false
}

// keptJob is an existing Job planned as it is, for when planning it anew
// would change it (the spec or the Input changed after it was created): its
// pod template is immutable, and replacing it would kill a running capture.
// Only what the API server fills in itself is left out.
func keptJob(observed *batchv1.Job) *batchv1.Job {
	j := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        observed.Name,
			Namespace:   observed.Namespace,
			Labels:      maps.Clone(observed.Labels),
			Annotations: maps.Clone(observed.Annotations),
		},
		Spec: *observed.Spec.DeepCopy(),
	}
	j.Spec.Selector = nil
	j.Spec.ManualSelector = nil
	for _, l := range []string{"controller-uid", "job-name", "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"} {
		delete(j.Spec.Template.Labels, l)
	}
	return j
}
