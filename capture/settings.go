package capture

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// maxFilterLength bounds spec.filter. Real BPF expressions are short; a
// kilobyte-long one is a mistake or an attack.
const maxFilterLength = 1024

var (
	jobIDPattern     = regexp.MustCompile(`^[a-z0-9]{4}$`)
	interfacePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$`)
	// durationPattern is a duration whose units each come once, in order.
	// Units other than h, m and s, and fractions, are left to the checks
	// that follow (whole seconds).
	durationPattern = regexp.MustCompile(`^([0-9.]+h)?([0-9.]+m)?([0-9.]+(s|ms|us|µs|ns))?$`)
)

// settings is a PacketCapture's spec merged over the platform's Input, with
// defaults applied and every value validated: what a capture really runs with.
type settings struct {
	jobID           string
	durationSeconds int32
	filter          string
	iface           string
	snaplen         int32
	maxFileSizeMB   int32
	maxFiles        int32
	followNewPods   bool
	// packetCount stops each Pod's capture after so many packets; 0 never.
	packetCount     int32
	networkSnapshot bool
	// allowHostNetwork lets Pods that share their node's network be captured.
	allowHostNetwork  bool
	output            v1beta1.Output
	image             string
	imagePullPolicy   corev1.PullPolicy
	securityMode      v1beta1.SecurityMode
	ttlSeconds        int32
	graceSeconds      int32
	maxTargetPods     int32
	jobPer            v1beta1.JobPer
	maxPodJobs        int32
	statusPodLimit    int32
	priorityClassName string
	resources         corev1.ResourceRequirements
}

// activeDeadlineSeconds bounds the whole Job, retries included: the capture,
// the retrieval window of the Pod output and a grace period to start and
// flush.
func (s settings) activeDeadlineSeconds() int64 {
	d := int64(s.durationSeconds) + int64(s.graceSeconds)
	if s.output.Type == v1beta1.OutputPod {
		d += int64(*s.output.RetentionSeconds)
	}
	return d
}

// memoryPerTarget is the memory one tcpdump needs: its resident size (about
// 8 MiB) and a full 2 MiB capture buffer, with room to spare.
const memoryPerTarget = 32 << 20

// diskHeadroom is the disk one target Pod's capture needs besides its PCAP
// files: the network snapshots, the summary and tcpdump's log.
const diskHeadroom = 16 << 20

// diskPerTarget is the most one target Pod's capture writes: maxFiles files
// of maxFileSizeMB (tcpdump overwrites the oldest past that) and headroom.
func (s settings) diskPerTarget() int64 {
	return int64(s.maxFileSizeMB)*int64(s.maxFiles)<<20 + diskHeadroom
}

// memoryLimitFor is the memory limit of a Job that captures n target Pods,
// zero to keep the Input's: a Job of many Pods runs one tcpdump per Pod, so
// its limit is at least memoryPerTarget per Pod.
func (s settings) memoryLimitFor(n int) resource.Quantity {
	return atLeast(s.resources.Limits, corev1.ResourceMemory, int64(memoryPerTarget)*int64(n))
}

// diskLimitFor is the ephemeral-storage limit of a Job that captures n
// target Pods into its emptyDir (the Pod output), zero to keep the Input's:
// a limit below what the files may take gets the capture Pod evicted, and
// every file with it.
func (s settings) diskLimitFor(n int) resource.Quantity {
	if s.output.Type != v1beta1.OutputPod {
		return resource.Quantity{}
	}
	return atLeast(s.resources.Limits, corev1.ResourceEphemeralStorage, s.diskPerTarget()*int64(n))
}

// atLeast is need when the limits set a limit of name below it, and zero
// (keep the limit, or its absence) otherwise.
func atLeast(limits corev1.ResourceList, name corev1.ResourceName, need int64) resource.Quantity {
	limit, ok := limits[name]
	if !ok || limit.Sign() <= 0 || limit.Value() >= need {
		return resource.Quantity{}
	}
	return *resource.NewQuantity(need, resource.BinarySI)
}

// resolveSettings validates the capture and the Input and merges them. Every
// problem is reported, each naming its field, so a user fixes all at once:
// the Input's first, then the spec's, then the capture's own name.
func resolveSettings(pc PacketCapture, in *v1beta1.Input) (settings, field.ErrorList) {
	if in == nil {
		in = &v1beta1.Input{}
	}
	s, maxDuration, errs := platformSettings(in)
	errs = append(errs, s.applySpec(pc, in, maxDuration)...)
	errs = append(errs, validateIdentity(pc)...)
	return s, errs
}

var inputPath, specPath = field.NewPath("input"), field.NewPath("spec")

// platformSettings are the platform's Input with its defaults, and the
// longest capture it allows.
func platformSettings(in *v1beta1.Input) (settings, int32, field.ErrorList) {
	s := settings{
		image:             cmp.Or(in.Image, v1beta1.DefaultImage),
		imagePullPolicy:   in.ImagePullPolicy,
		securityMode:      cmp.Or(in.SecurityMode, v1beta1.DefaultSecurityMode),
		ttlSeconds:        int32Or(in.TTLSecondsAfterFinished, v1beta1.DefaultTTLSeconds),
		graceSeconds:      int32Or(in.GraceSeconds, v1beta1.DefaultGraceSeconds),
		maxTargetPods:     int32Or(in.MaxTargetPods, v1beta1.DefaultMaxTargetPods),
		statusPodLimit:    int32Or(in.StatusPodLimit, v1beta1.DefaultStatusPodLimit),
		jobPer:            cmp.Or(in.JobPer, v1beta1.DefaultJobPer),
		maxPodJobs:        int32Or(in.MaxPodJobs, v1beta1.DefaultMaxPodJobs),
		priorityClassName: in.PriorityClassName,
		allowHostNetwork:  in.AllowHostNetworkPods,
		resources:         defaultResources(),
	}
	if in.Resources != nil {
		s.resources = *in.Resources
	}
	maxDuration := int32Or(in.MaxDurationSeconds, v1beta1.DefaultMaxDurationSecond)
	errs := validatePlatform(s, maxDuration)
	var outErrs field.ErrorList
	s.output, outErrs = resolveOutput(inputPath.Child("output"), in.Output, v1beta1.Output{
		Type:             v1beta1.DefaultOutputType,
		HostPath:         v1beta1.DefaultHostPath,
		RetentionSeconds: ptrTo(v1beta1.DefaultRetentionSeconds),
	}, true)
	return s, maxDuration, append(errs, outErrs...)
}

// validatePlatform checks the Input's values, defaults applied.
func validatePlatform(s settings, maxDuration int32) field.ErrorList {
	var errs field.ErrorList
	if strings.TrimSpace(s.image) != s.image || strings.ContainsAny(s.image, " \t\n") {
		errs = append(errs, field.Invalid(inputPath.Child("image"), s.image, "must be an image reference without spaces"))
	}
	switch s.imagePullPolicy {
	case "": // Kubernetes' default for the image's tag applies.
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, field.NotSupported(inputPath.Child("imagePullPolicy"), s.imagePullPolicy,
			[]corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
	}
	if s.securityMode != v1beta1.SecurityCapabilities && s.securityMode != v1beta1.SecurityPrivileged {
		errs = append(errs, field.NotSupported(inputPath.Child("securityMode"), s.securityMode,
			[]v1beta1.SecurityMode{v1beta1.SecurityCapabilities, v1beta1.SecurityPrivileged}))
	}
	errs = append(errs, inRange(inputPath.Child("ttlSecondsAfterFinished"), s.ttlSeconds)...)
	errs = append(errs, inRange(inputPath.Child("graceSeconds"), s.graceSeconds)...)
	errs = append(errs, inRange(inputPath.Child("maxTargetPods"), s.maxTargetPods)...)
	if !slices.Contains([]v1beta1.JobPer{v1beta1.JobPerAuto, v1beta1.JobPerPod, v1beta1.JobPerNode}, s.jobPer) {
		errs = append(errs, field.NotSupported(inputPath.Child("jobPer"), s.jobPer,
			[]v1beta1.JobPer{v1beta1.JobPerAuto, v1beta1.JobPerPod, v1beta1.JobPerNode}))
	}
	errs = append(errs, inRange(inputPath.Child("maxPodJobs"), s.maxPodJobs)...)
	errs = append(errs, inRange(inputPath.Child("statusPodLimit"), s.statusPodLimit)...)
	errs = append(errs, inRange(inputPath.Child("maxDurationSeconds"), maxDuration)...)
	if s.priorityClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.priorityClassName) {
			errs = append(errs, field.Invalid(inputPath.Child("priorityClassName"), s.priorityClassName, msg))
		}
	}
	return errs
}

// applySpec merges the PacketCapture's spec over the platform's settings,
// validating each value.
func (s *settings) applySpec(pc PacketCapture, in *v1beta1.Input, maxDuration int32) field.ErrorList {
	var errs field.ErrorList
	spec := pc.Spec
	s.followNewPods, s.filter = spec.FollowNewPods, spec.Filter
	s.networkSnapshot = spec.NetworkSnapshot == nil || *spec.NetworkSnapshot
	s.jobID = spec.JobID
	if s.jobID == "" {
		s.jobID = derivedJobID(pc)
	} else if !jobIDPattern.MatchString(s.jobID) {
		errs = append(errs, field.Invalid(specPath.Child("jobId"), s.jobID,
			"must be exactly 4 lowercase letters or digits (for example \"qwer\"), or omitted to derive one"))
	}
	errs = append(errs, validateTarget(specPath, spec)...)
	d, err := parseDuration(spec.Duration, maxDuration)
	if err != nil {
		errs = append(errs, field.Invalid(specPath.Child("duration"), spec.Duration, err.Error()))
	}
	s.durationSeconds = d
	errs = append(errs, validateFilter(specPath.Child("filter"), s.filter)...)

	s.iface = firstNonEmpty(spec.Interface, in.Interface, v1beta1.DefaultInterface)
	if !interfacePattern.MatchString(s.iface) {
		p := specPath.Child("interface")
		if spec.Interface == "" {
			p = inputPath.Child("interface")
		}
		errs = append(errs, field.Invalid(p, s.iface, "must be an interface name of at most 15 letters, digits or _.:@- (\"any\" captures all)"))
	}
	s.snaplen, errs = overridable(specPath, inputPath, "snaplen", spec.Snaplen, in.Snaplen, v1beta1.DefaultSnaplen, errs)
	s.maxFileSizeMB, errs = overridable(specPath, inputPath, "maxFileSizeMB", spec.MaxFileSizeMB, in.MaxFileSizeMB, v1beta1.DefaultMaxFileSizeMB, errs)
	s.maxFiles, errs = overridable(specPath, inputPath, "maxFiles", spec.MaxFiles, in.MaxFiles, v1beta1.DefaultMaxFiles, errs)
	if spec.PacketCount != nil {
		s.packetCount = *spec.PacketCount
		errs = append(errs, inRange(specPath.Child("packetCount"), s.packetCount)...)
	}
	if spec.Output == nil {
		return errs
	}
	if spec.Output.Type == v1beta1.OutputHostPath || spec.Output.HostPath != "" {
		return append(errs, field.Forbidden(specPath.Child("output"),
			"a HostPath output writes to the node's disk and is chosen by the platform in the function's Input; use type Pod or PersistentVolumeClaim"))
	}
	var outErrs field.ErrorList
	s.output, outErrs = resolveOutput(specPath.Child("output"), spec.Output, s.output, false)
	return append(errs, outErrs...)
}

// validateIdentity checks the capture's name and namespace. The name only
// labels what is generated, but the KRM adapter also makes file paths of it:
// "../x" must never get that far.
func validateIdentity(pc PacketCapture) field.ErrorList {
	var errs field.ErrorList
	if pc.Name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(pc.Name) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), pc.Name, msg))
		}
	}
	if pc.Namespace == "" {
		return append(errs, field.Required(field.NewPath("metadata", "namespace"),
			"the PacketCapture needs a namespace for its ConfigMap and Jobs (a namespaced XR, or a claim)"))
	}
	for _, msg := range validation.IsDNS1123Label(pc.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), pc.Namespace, msg))
	}
	return errs
}

// validateTarget checks that the target names can name Kubernetes objects.
func validateTarget(specPath *field.Path, spec Spec) field.ErrorList {
	var errs field.ErrorList
	if spec.TargetNamespace == "" {
		errs = append(errs, field.Required(specPath.Child("targetNamespace"), "name the namespace of the Deployment to capture"))
	}
	for _, msg := range validation.IsDNS1123Label(spec.TargetNamespace) {
		if spec.TargetNamespace != "" {
			errs = append(errs, field.Invalid(specPath.Child("targetNamespace"), spec.TargetNamespace, msg))
		}
	}
	if spec.TargetDeployment == "" {
		errs = append(errs, field.Required(specPath.Child("targetDeployment"), "name the Deployment whose Pods to capture"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(spec.TargetDeployment) {
		if spec.TargetDeployment != "" {
			errs = append(errs, field.Invalid(specPath.Child("targetDeployment"), spec.TargetDeployment, msg))
		}
	}
	return errs
}

// validateFilter keeps the filter to what tcpdump can take as one argument.
// It never reaches a shell, but control characters have no place in BPF and
// would garble logs and the termination message.
func validateFilter(p *field.Path, filter string) field.ErrorList {
	if len(filter) > maxFilterLength {
		return field.ErrorList{field.TooLong(p, "", maxFilterLength)}
	}
	if strings.HasPrefix(strings.TrimSpace(filter), "-") {
		// A BPF expression never starts with a dash; an option would.
		return field.ErrorList{field.Invalid(p, filter, "must be a BPF expression such as \"tcp port 80\", not a tcpdump option")}
	}
	// BPF is ASCII. A non-breaking space, a zero-width or a bidi character
	// pasted from a chat or a wiki makes a filter that reads right and
	// matches something else, or nothing.
	for i, r := range filter {
		if r < ' ' || r > '~' {
			return field.ErrorList{field.Invalid(p, filter, fmt.Sprintf("must be printable ASCII (found %q at byte %d); retype the filter rather than paste it", r, i))}
		}
	}
	return nil
}

// resolveOutput merges an output over a base and validates the result.
func resolveOutput(p *field.Path, o *v1beta1.Output, base v1beta1.Output, platform bool) (v1beta1.Output, field.ErrorList) {
	out := base
	var errs field.ErrorList
	if o != nil {
		if o.Type != "" {
			out.Type = o.Type
		}
		if o.HostPath != "" {
			out.HostPath = o.HostPath
		}
		if o.ClaimName != "" {
			out.ClaimName = o.ClaimName
		}
		if o.RetentionSeconds != nil {
			out.RetentionSeconds = o.RetentionSeconds
		}
	}
	if o != nil && o.ClaimName != "" && out.Type != v1beta1.OutputPersistentVolumeClaim {
		// Ignoring it would lose the files the user meant to keep there.
		errs = append(errs, field.Invalid(p.Child("claimName"), o.ClaimName,
			fmt.Sprintf("is used only by type PersistentVolumeClaim, and the output's type is %s: set type: PersistentVolumeClaim, or leave claimName out", out.Type)))
	}
	switch out.Type {
	case v1beta1.OutputPod:
	case v1beta1.OutputPersistentVolumeClaim:
		if out.ClaimName == "" {
			errs = append(errs, field.Required(p.Child("claimName"), "the PersistentVolumeClaim output needs the name of an existing claim"))
		}
		for _, msg := range validation.IsDNS1123Subdomain(out.ClaimName) {
			if out.ClaimName != "" {
				errs = append(errs, field.Invalid(p.Child("claimName"), out.ClaimName, msg))
			}
		}
	case v1beta1.OutputHostPath:
		if platform {
			errs = append(errs, validateHostPath(p.Child("hostPath"), out.HostPath)...)
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), out.Type,
			[]v1beta1.OutputType{v1beta1.OutputPod, v1beta1.OutputHostPath, v1beta1.OutputPersistentVolumeClaim}))
	}
	if out.RetentionSeconds == nil {
		out.RetentionSeconds = ptrTo(v1beta1.DefaultRetentionSeconds)
	}
	errs = append(errs, inRange(p.Child("retentionSeconds"), *out.RetentionSeconds)...)
	return out, errs
}

// validateHostPath refuses node paths that would let a capture overwrite the
// node: the directory must be absolute, clean and not a system directory.
func validateHostPath(p *field.Path, dir string) field.ErrorList {
	if !path.IsAbs(dir) || path.Clean(dir) != dir {
		return field.ErrorList{field.Invalid(p, dir, "must be a clean absolute path such as /var/tmp/packet-capture")}
	}
	for _, system := range []string{"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/usr", "/var", "/var/lib", "/var/lib/kubelet", "/var/run"} {
		if dir == system {
			return field.ErrorList{field.Invalid(p, dir, "must be a dedicated directory, not a system directory")}
		}
	}
	return nil
}

// parseDuration reads a capture duration: whole seconds ("30") or a Go
// duration of whole seconds ("90s", "5m", "1h30m"), from 1 s to max seconds.
func parseDuration(s string, maxSeconds int32) (int32, error) {
	if s == "" {
		return 0, fmt.Errorf("is required: whole seconds such as \"30\", or a duration such as \"90s\" or \"5m\"")
	}
	var d time.Duration
	// Whole seconds too many for an int64 are still whole seconds: say the
	// bound, not the format.
	if n, err := strconv.ParseInt(s, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n < 1 || n > int64(maxSeconds) {
			return 0, fmt.Errorf("must be between 1 and %d seconds", maxSeconds)
		}
		return int32(n), nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && !durationPattern.MatchString(strings.TrimLeft(s, "+-")) {
		// Go adds "30s30s" up to a minute; nobody means that.
		return 0, fmt.Errorf("must name each unit once, hours before minutes before seconds, such as \"1h30m\" or \"90s\"")
	}
	if err != nil {
		return 0, fmt.Errorf("must be whole seconds such as \"30\", or a duration such as \"90s\" or \"5m\"")
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("must be a whole number of seconds")
	}
	if d < time.Second || d > time.Duration(maxSeconds)*time.Second {
		return 0, fmt.Errorf("must be between 1s and %s", time.Duration(maxSeconds)*time.Second)
	}
	return int32(d / time.Second), nil
}

// overridable resolves a number the spec may override over the Input.
func overridable(specPath, inPath *field.Path, name string, spec, in *int32, def int32, errs field.ErrorList) (int32, field.ErrorList) {
	if in != nil {
		errs = append(errs, inRange(inPath.Child(name), *in)...)
	}
	if spec != nil {
		return *spec, append(errs, inRange(specPath.Child(name), *spec)...)
	}
	return int32Or(in, def), errs
}

// intRanges are the bounds of every integer field of the spec and the Input,
// by JSON name: the planner checks values with them, and the decoders name
// them for a number too large for an integer field.
var intRanges = map[string][2]int32{
	"ttlSecondsAfterFinished": {0, 7 * 24 * 3600},
	"graceSeconds":            {5, 3600},
	"maxTargetPods":           {1, 10000},
	"maxPodJobs":              {1, 10000},
	"statusPodLimit":          {0, 1000},
	"maxDurationSeconds":      {1, 7 * 24 * 3600},
	"snaplen":                 {64, 262144},
	"maxFileSizeMB":           {1, 10240},
	"maxFiles":                {1, 1000},
	"retentionSeconds":        {0, 86400},
	// A sane bound: 100 million packets are tens of gigabytes at common
	// sizes; a larger count is a typo.
	"packetCount": {1, 100_000_000},
}

// inRange checks v against the bounds of the field p names (intRanges).
func inRange(p *field.Path, v int32) field.ErrorList {
	r := intRanges[leafName(p)]
	if v < r[0] || v > r[1] {
		return field.ErrorList{field.Invalid(p, v, fmt.Sprintf("must be between %d and %d", r[0], r[1]))}
	}
	return nil
}

// leafName is the last name of a field path: "maxFiles" of spec.maxFiles.
func leafName(p *field.Path) string {
	s := p.String()
	return s[strings.LastIndexByte(s, '.')+1:]
}

func int32Or(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func ptrTo[T any](v T) *T { return &v }
