package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// maxNameLength keeps every generated name a valid label value too: a Job's
// name becomes the job-name label of its Pods, so it must fit in 63.
const maxNameLength = validation.DNS1123LabelMaxLength

// hashLength is the number of hex digits of the hash that keeps shortened
// names unique. 8 digits make a collision between two Pods of one Deployment
// vanishingly unlikely.
const hashLength = 8

// configMapName names a capture's ConfigMap: {{captureName}}-{{jobId}},
// shortened like JobName. The old operator's
// {{targetNamespace}}-{{targetDeployment}} was shared by every capture of one
// Deployment from one namespace (and, '-' being ambiguous, by shop-eu/web and
// shop/eu-web), so a capture's Jobs could start with another's settings. A
// PacketCapture's name is unique in its namespace, where its ConfigMap and
// Jobs live, and the jobId tells a capture's runs apart: each Job mounts
// the settings of its own capture and run, and no other's.
func configMapName(captureName, jobID string) string {
	return shorten(captureName, "-"+jobID)
}

// JobName is the old operator's {{podName}}-{{jobId}}, shortened when longer
// than 63 characters; the jobId always stays at the end.
func JobName(podName, jobID string) string {
	return shorten(podName, "-"+jobID)
}

// NodeJobName names a Job that captures the Pods pods (sorted) on node:
// {{node}}-{{hash of the Pods}}-{{jobId}}, shortened like JobName. The hash
// keeps apart the Jobs of Pods that appear on a node later (spec.followNewPods).
func NodeJobName(node string, pods []string, jobID string) string {
	return shorten(node+"-"+hash(strings.Join(pods, ","))[:hashLength], "-"+jobID)
}

// shorten returns base+suffix when it fits in 63 characters. Otherwise it
// keeps as much of base as fits, then a hash of the whole base, then suffix:
// readable, deterministic and unique per base.
func shorten(base, suffix string) string {
	if len(base)+len(suffix) <= maxNameLength {
		return base + suffix
	}
	keep := maxNameLength - len(suffix) - hashLength - 1
	prefix := strings.TrimRight(base[:keep], "-.")
	return prefix + "-" + hash(base)[:hashLength] + suffix
}

// LabelValue returns v when it is a valid label value, and otherwise a valid
// value derived from it deterministically: characters a label value cannot
// hold become '-', and a value longer than 63 is shortened like a name.
func LabelValue(v string) string {
	// The length first: the validator's regexp takes seconds on a 10 MB
	// value, and a value that long is shortened whatever it holds.
	if len(v) <= validation.LabelValueMaxLength && len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if !isAlphanumeric(c) && c != '-' && c != '_' && c != '.' {
			b[i] = '-'
		}
	}
	clean := strings.Trim(string(b), "-_.")
	if clean != v || len(clean) > maxNameLength {
		// Anything changed: the hash of the original keeps distinct inputs
		// distinct.
		keep := min(len(clean), maxNameLength-hashLength-1)
		clean = strings.Trim(clean[:keep], "-_.")
		if clean == "" {
			return hash(v)[:hashLength]
		}
		return clean + "-" + hash(v)[:hashLength]
	}
	return clean
}

func isAlphanumeric(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// derivedJobID is a stable 4-character jobId for a PacketCapture that names
// none: from its UID, or (for rendering without a cluster, where there is no
// UID) from its namespace and name.
func derivedJobID(pc PacketCapture) string {
	seed := pc.UID
	if seed == "" {
		seed = pc.Namespace + "/" + pc.Name
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	sum := sha256.Sum256([]byte(seed))
	id := make([]byte, 4)
	for i := range id {
		id[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(id)
}

// quoted returns names each quoted as Go quotes strings (at most 80 bytes
// shown): a name from the input goes into events and results, and a control
// character in it must never reach a terminal.
func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%.80q", n)
	}
	return out
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
