//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// namespacedXR runs the example's Crossplane v2 namespaced XR through a
// whole capture.
func (h *harness) namespacedXR() {
	var tg *targets
	h.phase("xr: Deployments, ReplicaSets and Pods as real objects", func() (err error) {
		tg, err = h.arrangeTargets()
		if err == nil {
			fmt.Printf("e2e: captured %v; skipped %v; canary %s\n", tg.captured, tg.skipped, tg.canary)
		}
		return err
	})
	h.phase("xr: install example/xrd.yaml and its Composition", func() error {
		if err := h.installXRD("example/xrd.yaml", "example/composition.yaml", ttlSeconds, ""); err != nil {
			return err
		}
		return h.k.apply(fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", xrNamespace))
	})

	var xr *unstructured.Unstructured
	h.phase("xr: composes the ConfigMap and one Job per Pod, owned and labelled", func() error {
		b, err := os.ReadFile(filepath.Join(h.root, "example", "xr.yaml"))
		if err != nil {
			return err
		}
		if err := h.k.apply(string(b)); err != nil {
			return err
		}
		xr, err = h.waitObject(xrResource, xrNamespace, xrName, 3*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			s, _, _ := condition(u, "Synced")
			pods := statusPods(u)
			for _, p := range tg.captured {
				if pods[p].Job != jobName(p) {
					return false, fmt.Sprintf("Synced=%s, status.pods %+v", s, pods)
				}
			}
			return s == "True", "Synced=" + s
		})
		if err != nil {
			return err
		}
		return h.waitComposed(tg.captured, "PacketCapture", string(xr.GetUID()))
	})
	h.phase("xr: status lists the Pods, counts them, skips the rest", func() error {
		pods := statusPods(xr)
		for _, p := range tg.captured {
			if got := pods[p]; got.Job != jobName(p) || got.Node == "" {
				return fmt.Errorf("status.pods[%s] = %+v, want its Job %s and node", p, got, jobName(p))
			}
		}
		for _, p := range tg.skipped {
			if got := pods[p]; got.Phase != "Skipped" || got.Job != "" {
				return fmt.Errorf("status.pods[%s] = %+v, want Skipped without a Job", p, got)
			}
		}
		if _, ok := pods[tg.canary]; ok {
			return fmt.Errorf("the canary Deployment's Pod %s is in status.pods: %+v", tg.canary, pods[tg.canary])
		}
		if n := statusCount(xr, "targets"); n != 3 {
			return fmt.Errorf("status.counts.targets = %d, want 3", n)
		}
		if n := statusCount(xr, "nodes"); n != 2 {
			return fmt.Errorf("status.counts.nodes = %d, want 2", n)
		}
		if s, _, _ := condition(xr, "Ready"); s == "True" {
			return fmt.Errorf("XR Ready before any capture finished: %s", conditionsSummary(xr))
		}
		return nil
	})
	h.phase("xr: every Job's Pod is admitted (job controller)", func() error {
		for _, p := range tg.captured {
			if _, err := h.w.jobPod(xrNamespace, jobName(p)); err != nil {
				return err
			}
		}
		return nil
	})

	first := tg.captured[0]
	h.phase("xr: a capture Running, Retrievable, then Succeeded", func() error {
		pod, err := h.captureRuns(jobName(first))
		if err != nil {
			return err
		}
		if _, err := h.waitPodPhase(xrResource, xrNamespace, xrName, map[string]string{first: "Running"}); err != nil {
			return err
		}
		if err := h.w.setReady(xrNamespace, pod.Name); err != nil {
			return err
		}
		if _, err := h.waitPodPhase(xrResource, xrNamespace, xrName, map[string]string{first: "Retrievable"}); err != nil {
			return err
		}
		if err := h.w.succeed(xrNamespace, pod.Name); err != nil {
			return err
		}
		u, err := h.waitPodPhase(xrResource, xrNamespace, xrName, map[string]string{first: "Succeeded"})
		if err != nil {
			return err
		}
		if s, _, _ := condition(u, "Ready"); s == "True" {
			return fmt.Errorf("XR Ready with two captures still running: %s", conditionsSummary(u))
		}
		return nil
	})

	gone := tg.captured[2]
	var replacement string
	h.phase("xr: deleting a target Pod keeps its Job; the new Pod is not captured", func() error {
		if err := h.k.delete("pod", targetNamespace, gone, "--grace-period=0", "--force"); err != nil {
			return err
		}
		var err error
		replacement, err = h.scheduleReplacement(tg)
		if err != nil {
			return err
		}
		u, err := h.waitPodPhase(xrResource, xrNamespace, xrName, map[string]string{replacement: "NotCaptured"})
		if err != nil {
			return err
		}
		if got := statusPods(u)[gone]; got.Job != jobName(gone) {
			return fmt.Errorf("status.pods[%s] = %+v after its Pod was deleted, want its Job kept", gone, got)
		}
		job, found, err := h.k.get("job", xrNamespace, jobName(gone))
		if err != nil {
			return err
		}
		if !found || job.GetDeletionTimestamp() != nil {
			return fmt.Errorf("Job %s of the deleted Pod was removed (found=%v)", jobName(gone), found)
		}
		if _, found, err := h.k.get("job", xrNamespace, jobName(replacement)); err != nil || found {
			return fmt.Errorf("Job %s made for a Pod that appeared after the capture started (err %v)", jobName(replacement), err)
		}
		return nil
	})

	h.phase("xr: all captures Succeeded makes the XR Ready", func() error {
		for _, p := range tg.captured[1:] {
			pod, err := h.captureRuns(jobName(p))
			if err != nil {
				return err
			}
			if err := h.w.succeed(xrNamespace, pod.Name); err != nil {
				return err
			}
		}
		_, err := h.waitObject(xrResource, xrNamespace, xrName, 2*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			s, _, _ := condition(u, "Ready")
			return s == "True" && statusPhase(u) == "Completed" && statusCount(u, "succeeded") == 3,
				fmt.Sprintf("Ready=%s phase=%s succeeded=%d", s, statusPhase(u), statusCount(u, "succeeded"))
		})
		return err
	})
	h.phase("xr: kubectl get packetcaptures shows the printer columns", func() error {
		return h.printerColumns(map[string]string{"SYNCED": "True", "READY": "True", "PHASE": "Completed", "PODS": "3", "SUCCEEDED": "3", "DURATION": "30"})
	})

	// A finished capture never running again (Jobs created once, also after
	// their TTL) and followNewPods are proven on the real nodes
	// (realCaptures), which replaced their played versions here.

	h.phase("xr: bad input composes nothing and says why on the XR", h.badInput)

	h.phase("xr: deleting the XR removes every composed object (GC)", func() error {
		if err := h.k.delete(xrResource, xrNamespace, xrName); err != nil {
			return err
		}
		if err := h.waitGone(2*time.Minute, func() ([]string, error) {
			_, found, err := h.k.get(xrResource, xrNamespace, xrName)
			if found {
				return []string{"PacketCapture/" + xrName}, err
			}
			return nil, err
		}); err != nil {
			return err
		}
		return h.waitGone(2*time.Minute, h.composedNames)
	})

	h.phase("xr: remove the v2 XRD (its CRD goes too)", func() error {
		if err := h.k.delete("compositeresourcedefinitions.apiextensions.crossplane.io", "", xrResource); err != nil {
			return err
		}
		if err := h.k.delete("compositions.apiextensions.crossplane.io", "", xrResource); err != nil {
			return err
		}
		return h.waitGone(3*time.Minute, func() ([]string, error) {
			_, found, err := h.k.get("customresourcedefinitions", "", xrResource)
			if found {
				return []string{"CustomResourceDefinition/" + xrResource}, err
			}
			return nil, err
		})
	})
	h.captured = h.livePods()
}

// scheduleReplacement waits for the ReplicaSet's replacement of a deleted
// Pod, schedules it and reports it Running.
func (h *harness) scheduleReplacement(tg *targets) (string, error) {
	known := append(slices.Clone(tg.captured), tg.skipped...)
	var name string
	err := poll(90*time.Second, time.Second, func() (bool, string, error) {
		pods, err := h.w.deploymentPods(targetDeployment)
		if err != nil {
			return false, "", err
		}
		for _, p := range pods {
			if !slices.Contains(known, p.Name) && p.DeletionTimestamp == nil {
				name = p.Name
				return true, "", nil
			}
		}
		return false, "no replacement Pod yet", nil
	})
	if err != nil {
		return "", err
	}
	if err := h.w.schedule(targetNamespace, name, "worker-1.ocp.example.internal"); err != nil {
		return "", err
	}
	return name, h.w.run(targetNamespace, name, "worker-1.ocp.example.internal", true)
}

// livePods are the target Deployment's Pods that are Running, scheduled and
// not terminating now.
func (h *harness) livePods() []string {
	pods, err := h.w.deploymentPods(targetDeployment)
	if err != nil {
		h.fatalf("%v", err)
	}
	var out []string
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Status.Phase == "Running" {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

// badInput checks that input the function rejects composes nothing and
// that the reason reaches the XR, and that what the XRD's schema already
// rejects never reaches the function.
func (h *harness) badInput() error {
	const bad = "bad-duration"
	xr := fmt.Sprintf(`apiVersion: monitoring.openshift.tpg/v1alpha1
kind: PacketCapture
metadata:
  name: %s
  namespace: %s
  labels:
    app.kubernetes.io/instance: %s
spec:
  jobId: bad1
  targetNamespace: %s
  targetDeployment: %s
  duration: "25h"
`, bad, xrNamespace, bad, targetNamespace, targetDeployment)
	if err := h.k.apply(xr); err != nil {
		return err
	}
	u, err := h.waitObject(xrResource, xrNamespace, bad, 2*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
		s, _, msg := condition(u, "Synced")
		return s == "False" && strings.Contains(msg, "spec.duration"), "Synced=" + s
	})
	if err != nil {
		return err
	}
	_, _, msg := condition(u, "Synced")
	fmt.Printf("e2e: the XR with duration 25h says: %s\n", msg)
	// A few more reconciles, then nothing may exist for it.
	time.Sleep(5 * time.Second)
	for _, kind := range []string{"configmaps", "jobs"} {
		objs, err := h.k.list(kind, xrNamespace, labelCapture+"="+bad)
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			return fmt.Errorf("%s composed for an invalid XR: %v", kind, names(objs))
		}
		all, err := h.k.list(kind, xrNamespace, "")
		if err != nil {
			return err
		}
		for i := range all {
			if ref := controllerOf(&all[i]); ref != nil && ref.UID == u.GetUID() {
				return fmt.Errorf("%s %s composed for an invalid XR", kind, all[i].GetName())
			}
		}
	}
	if err := h.k.delete(xrResource, xrNamespace, bad); err != nil {
		return err
	}

	// A bad jobId cannot reach the function: the XRD's schema has the same
	// rule, and the API server names the field.
	badID := strings.Replace(strings.Replace(xr, "name: "+bad, "name: bad-jobid", 1), "jobId: bad1", "jobId: BAD!", 1)
	badID = strings.Replace(badID, `duration: "25h"`, `duration: "30"`, 1)
	err = h.k.apply(badID)
	if err == nil {
		return fmt.Errorf("the API server accepted jobId BAD!")
	}
	if !strings.Contains(err.Error(), "spec.jobId") {
		return fmt.Errorf("rejected without naming spec.jobId: %v", err)
	}
	fmt.Printf("e2e: jobId BAD! is rejected by the API server: %s\n", lastLine(err.Error()))
	return nil
}

// legacyClaim runs the legacy XRD's claim (example/legacy) the same way.
func (h *harness) legacyClaim() {
	captured := h.captured
	// The claim's Jobs have the names the XR's had: new objects, rightly.
	h.jobUIDs = nil
	h.phase("legacy: install example/legacy/xrd.yaml and its Composition", func() error {
		return h.installXRD("example/legacy/xrd.yaml", "example/legacy/composition.yaml", 0, "packetcaptures")
	})
	var claim, xr *unstructured.Unstructured
	h.phase("legacy: the claim composes the ConfigMap and Jobs, owned and labelled", func() error {
		b, err := os.ReadFile(filepath.Join(h.root, "example", "legacy", "claim.yaml"))
		if err != nil {
			return err
		}
		if err := h.k.apply(string(b)); err != nil {
			return err
		}
		claim, err = h.waitObject(xrResource, xrNamespace, xrName, 3*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			s, _, _ := condition(u, "Synced")
			ref, _, _ := unstructured.NestedString(u.Object, "spec", "resourceRef", "name")
			return s == "True" && ref != "", fmt.Sprintf("Synced=%s resourceRef=%q", s, ref)
		})
		if err != nil {
			return err
		}
		ref, _, _ := unstructured.NestedString(claim.Object, "spec", "resourceRef", "name")
		xr, err = h.waitObject(legacyResource, "", ref, 2*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			pods := statusPods(u)
			for _, p := range captured {
				if pods[p].Job != jobName(p) {
					return false, fmt.Sprintf("status.pods %+v", pods)
				}
			}
			return true, ""
		})
		if err != nil {
			return err
		}
		return h.waitComposed(captured, "XPacketCapture", string(xr.GetUID()))
	})
	h.phase("legacy: the claim shows the XR's status", func() error {
		_, err := h.waitObject(xrResource, xrNamespace, xrName, time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			pods := statusPods(u)
			for _, p := range captured {
				if pods[p].Job != jobName(p) {
					return false, fmt.Sprintf("claim status.pods %+v", pods)
				}
			}
			return true, ""
		})
		return err
	})
	h.phase("legacy: all captures Succeeded makes the claim Ready", func() error {
		for _, p := range captured {
			pod, err := h.captureRuns(jobName(p))
			if err != nil {
				return err
			}
			if err := h.w.succeed(xrNamespace, pod.Name); err != nil {
				return err
			}
		}
		_, err := h.waitObject(xrResource, xrNamespace, xrName, 2*time.Minute, func(u *unstructured.Unstructured) (bool, string) {
			s, _, _ := condition(u, "Ready")
			return s == "True", "Ready=" + s
		})
		return err
	})
	h.phase("legacy: kubectl get packetcaptures shows the printer columns", func() error {
		return h.printerColumns(map[string]string{"SYNCED": "True", "READY": "True", "PHASE": "Completed",
			"PODS": fmt.Sprint(len(captured)), "SUCCEEDED": fmt.Sprint(len(captured)), "DURATION": "30"})
	})
	h.phase("legacy: deleting the claim removes the XR and every composed object", func() error {
		if err := h.k.delete(xrResource, xrNamespace, xrName); err != nil {
			return err
		}
		if err := h.waitGone(2*time.Minute, func() ([]string, error) {
			var left []string
			if _, found, err := h.k.get(xrResource, xrNamespace, xrName); err != nil || found {
				left = append(left, "claim")
			}
			if _, found, err := h.k.get(legacyResource, "", xr.GetName()); err != nil || found {
				left = append(left, "XR")
			}
			return left, nil
		}); err != nil {
			return err
		}
		return h.waitGone(2*time.Minute, h.composedNames)
	})
}
