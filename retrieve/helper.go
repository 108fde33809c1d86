package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// Helper Pods: a short-lived Pod that mounts a capture's shared output (the
// node's directory, or the claim), so the files can be read after the
// capture Pods are gone.
const (
	// LabelHelper marks the plugin's helper Pods (value: fetch or clean).
	LabelHelper         = "packetcapture.fn.crossplane.io/helper"
	helperContainer     = "files"
	helperMountPath     = "/pcap"
	helperVolume        = "pcap"
	helperGenerateName  = "pcap-helper-"
	helperDeadlineHours = 1
)

// helperKey groups the sources one helper Pod serves: those of one node
// directory, or of one claim.
type helperKey struct {
	output Output
	node   string
}

func keyOf(s *Source) helperKey {
	k := helperKey{output: s.Output}
	if s.Output.Type == v1beta1.OutputHostPath {
		k.node = s.Node
	}
	return k
}

// helperPod is the spec of a helper Pod for k, labelled with the capture's
// label so that `kubectl get pods -l` shows it beside the capture Pods.
// node pins it (HostPath; for a claim, the node of a capture Pod, since a
// ReadWriteOnce claim attaches only there); writable is for clean.
func helperPod(cp *Capture, k helperKey, node, image, purpose string, writable bool) *corev1.Pod {
	vol := corev1.Volume{Name: helperVolume}
	if k.output.Type == v1beta1.OutputHostPath {
		// Directory, not DirectoryOrCreate: a helper never makes a directory.
		t := corev1.HostPathDirectory
		vol.HostPath = &corev1.HostPathVolumeSource{Path: k.output.HostPath, Type: &t}
	} else {
		vol.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: k.output.ClaimName, ReadOnly: !writable}
	}
	root, deadline := int64(0), int64(helperDeadlineHours*3600)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: helperGenerateName,
			Namespace:    cp.Namespace,
			Labels:       map[string]string{capture.LabelCapture: cp.Label, LabelHelper: purpose},
		},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyNever,
			// A helper left behind by a killed plugin ends by itself.
			ActiveDeadlineSeconds:        &deadline,
			AutomountServiceAccountToken: new(bool),
			Tolerations:                  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name:  helperContainer,
				Image: image,
				// The capture image is on the node already and has sh and
				// tar; the helper only waits to be exec'd into.
				Command:         []string{"sleep", fmt.Sprint(deadline)},
				SecurityContext: &corev1.SecurityContext{RunAsUser: &root},
				VolumeMounts:    []corev1.VolumeMount{{Name: helperVolume, MountPath: helperMountPath, ReadOnly: !writable}},
			}},
			Volumes: []corev1.Volume{vol},
		},
	}
}

// startHelper creates a helper Pod and waits until it runs. The returned
// stop deletes it (also when starting failed), with a context of its own so
// that an interrupt still cleans up.
func (c *Client) startHelper(ctx context.Context, pod *corev1.Pod, timeout time.Duration) (*corev1.Pod, func() error, error) {
	pods := c.Kube.CoreV1().Pods(pod.Namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, func() error { return nil }, forbidden(err, "create", "pods", pod.Namespace)
	}
	stop := func() error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		zero := int64(0)
		err := pods.Delete(dctx, created.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete helper Pod %s/%s (delete it by hand): %w", created.Namespace, created.Name, forbidden(err, "delete", "pods", created.Namespace))
		}
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		p, err := pods.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return nil, stop, fmt.Errorf("helper Pod %s: %w", created.Name, err)
		}
		switch p.Status.Phase {
		case corev1.PodRunning:
			return p, stop, nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return nil, stop, fmt.Errorf("helper Pod %s on node %s ended (%s) before it could be used: %s", p.Name, p.Spec.NodeName, p.Status.Phase, podTrouble(p))
		}
		if time.Now().After(deadline) {
			return nil, stop, fmt.Errorf("helper Pod %s on node %s did not start within %s (%s): is the node Ready, and may Pods with a %s volume run in namespace %s?",
				p.Name, p.Spec.NodeName, timeout, podTrouble(p), volumeKind(pod), p.Namespace)
		}
		select {
		case <-ctx.Done():
			return nil, stop, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func volumeKind(p *corev1.Pod) string {
	if p.Spec.Volumes[0].HostPath != nil {
		return "hostPath"
	}
	return "persistentVolumeClaim"
}

// podTrouble summarises why a Pod is not running.
func podTrouble(p *corev1.Pod) string {
	var why []string
	why = append(why, "phase "+string(p.Status.Phase))
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			why = append(why, fmt.Sprintf("%s: %s", c.Type, c.Message))
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			why = append(why, fmt.Sprintf("container %s: %s %s", cs.Name, w.Reason, w.Message))
		}
		if t := cs.State.Terminated; t != nil {
			why = append(why, fmt.Sprintf("container %s: exit %d %s %s", cs.Name, t.ExitCode, t.Reason, t.Message))
		}
	}
	return strings.Join(why, "; ")
}

// listDir lists the names in the helper's mounted directory, one level.
func (c *Client) listDir(ctx context.Context, helper *corev1.Pod) ([]string, error) {
	var out bytes.Buffer
	if err := c.Exec.Exec(ctx, helper.Namespace, helper.Name, helperContainer, []string{"ls", "-1A", helperMountPath}, &out); err != nil {
		return nil, fmt.Errorf("list %s in helper Pod %s: %w", helperMountPath, helper.Name, err)
	}
	var names []string
	for _, n := range strings.Split(out.String(), "\n") {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// helperNode picks the node a helper for k runs on: the HostPath's node, or
// for a claim a node the capture ran on that still exists (a ReadWriteOnce
// claim attaches only there while a capture Pod uses it), else none (the
// scheduler chooses).
func helperNode(k helperKey, group []*Source, nodeExists func(string) bool) string {
	if k.output.Type == v1beta1.OutputHostPath {
		return k.node
	}
	for _, s := range group {
		if s.Node != "" && nodeExists(s.Node) {
			return s.Node
		}
	}
	return ""
}
