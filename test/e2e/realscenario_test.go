//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// realCaptures runs captures end to end on the real nodes: XR → function
// over mTLS → Jobs → capture Pods under real kubelets → PCAP files fetched
// with kubectl cp → packets read back.
func (h *harness) realCaptures() {
	var app []corev1.Pod
	h.phase("real: v2 XRD, Composition with the capture image; 3 traffic Pods spread over 2 nodes", func() error {
		if err := h.installXRD("example/xrd.yaml", "example/composition.yaml", realCaptureTTL, ""); err != nil {
			return err
		}
		if err := h.realComposition(nil); err != nil {
			return err
		}
		if err := h.k.apply(fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", realXRNamespace)); err != nil {
			return err
		}
		if err := h.k.apply(trafficDeployment(3, 1000)); err != nil {
			return err
		}
		var err error
		if app, err = h.runningApp(3); err != nil {
			return err
		}
		perNode := map[string][]string{}
		for _, p := range app {
			perNode[p.Spec.NodeName] = append(perNode[p.Spec.NodeName], p.Name)
		}
		h.logf("traffic Pods by node: %v", perNode)
		if len(perNode) != 2 {
			return fmt.Errorf("the topology spread put the Pods on %d nodes: %v", len(perNode), perNode)
		}
		return nil
	})
	jobWatch, err := h.watch("jobs-"+realXRNamespace, "jobs", "-n", realXRNamespace)
	if err != nil {
		h.t.Fatal(err)
	}
	xrWatch, err := h.watch("xr-"+realXRNamespace, xrResource, "-n", realXRNamespace)
	if err != nil {
		h.t.Fatal(err)
	}
	nodeOf := map[string]string{}
	var appNames []string
	for _, p := range app {
		nodeOf[p.Name] = p.Spec.NodeName
		appNames = append(appNames, p.Name)
	}

	const podXR = "traffic-pod"
	h.phase("real: jobPer Pod, 3 Pods for 10s: every datagram, a stop on time, Jobs on their Pods' nodes", func() error {
		var rvBefore map[string]string
		dir, ct, err := h.runCapture(podXR, realXR(podXR, "rea1", "10", ""), 3, func(pods []corev1.Pod) error {
			for _, p := range pods {
				job := p.Labels["batch.kubernetes.io/job-name"]
				target := strings.TrimSuffix(job, "-rea1")
				if nodeOf[target] == "" || p.Spec.NodeName != nodeOf[target] {
					return fmt.Errorf("capture Pod %s (Job %s) runs on %q, its target %s on %q", p.Name, job, p.Spec.NodeName, target, nodeOf[target])
				}
			}
			// A reconcile that changes nothing must not write the Jobs:
			// record their versions, make Crossplane reconcile, compare.
			time.Sleep(3 * time.Second)
			var err error
			if rvBefore, err = h.jobVersions(podXR); err != nil {
				return err
			}
			if err := h.k.patch(xrResource, realXRNamespace, podXR, map[string]any{"metadata": map[string]any{"annotations": map[string]string{"e2e.fpc/poke": time.Now().Format(time.RFC3339Nano)}}}); err != nil {
				return err
			}
			time.Sleep(20 * time.Second)
			after, err := h.jobVersions(podXR)
			if err != nil {
				return err
			}
			if !maps.Equal(rvBefore, after) {
				return fmt.Errorf("a reconcile that changed nothing wrote the capture Jobs: resourceVersions %v, then %v", rvBefore, after)
			}
			return nil
		})
		if err != nil {
			return err
		}
		h.measure("3 Pods, jobPer Pod", ct)
		report, err := checkTraffic(dir, appNames, 10*time.Second)
		fmt.Println(indent(report))
		if err != nil {
			return err
		}
		return nil
	})
	h.phase("real: the XR never went back; each capture Job was created once", func() error {
		// Over two poll intervals after the TTL removed the finished Jobs.
		time.Sleep(time.Duration(realCaptureTTL)*time.Second + 35*time.Second)
		events, err := xrWatch.events()
		if err != nil {
			return err
		}
		seq, err := checkMonotonic(events, podXR)
		h.logf("%s versions: %s", podXR, seq)
		if err != nil {
			return err
		}
		jobs, err := jobWatch.events()
		if err != nil {
			return err
		}
		hist := historyOf(jobs)
		for _, name := range slices.Sorted(maps.Keys(hist.uids)) {
			h.logf("Job %s: %d creation(s), %d watch events, %d resourceVersions", name, len(hist.uids[name]), hist.events[name], hist.versions[name])
			if len(hist.uids[name]) != 1 {
				return fmt.Errorf("Job %s was created %d times (uids %v): a finished capture ran again", name, len(hist.uids[name]), hist.uids[name])
			}
		}
		if len(hist.uids) != 3 {
			return fmt.Errorf("Jobs seen: %v, want 3", slices.Sorted(maps.Keys(hist.uids)))
		}
		return nil
	})
	h.phase("real: deleting the XR removes its Jobs, their Pods and the ConfigMap", func() error {
		if err := h.k.delete(xrResource, realXRNamespace, podXR); err != nil {
			return err
		}
		return h.waitCaptureGone(podXR)
	})

	const nodeXR = "traffic-node"
	h.phase("real: jobPer Node, 3 Pods on 2 nodes: one Job per node, each with only its node's Pods", func() error {
		if err := h.realComposition(map[string]any{"jobPer": "Node"}); err != nil {
			return err
		}
		dir, ct, err := h.runCapture(nodeXR, realXR(nodeXR, "rea2", "5", ""), 2, nil)
		if err != nil {
			return err
		}
		h.measure("3 Pods, jobPer Node", ct)
		report, err := checkTraffic(dir, appNames, 5*time.Second)
		fmt.Println(indent(report))
		if err != nil {
			return err
		}
		return checkNodeFiles(dir, nodeOf)
	})
	h.phase("real: deleting the jobPer Node XR removes everything", func() error {
		if err := h.k.delete(xrResource, realXRNamespace, nodeXR); err != nil {
			return err
		}
		return h.waitCaptureGone(nodeXR)
	})

	const privXR = "traffic-priv"
	h.phase("real: securityMode Privileged captures too", func() error {
		if err := h.realComposition(map[string]any{"securityMode": "Privileged"}); err != nil {
			return err
		}
		dir, _, err := h.runCapture(privXR, realXR(privXR, "rea3", "3", ""), 3, nil)
		if err != nil {
			return err
		}
		report, err := checkTraffic(dir, appNames, 3*time.Second)
		fmt.Println(indent(report))
		if err != nil {
			return err
		}
		if err := h.k.delete(xrResource, realXRNamespace, privXR); err != nil {
			return err
		}
		return h.waitCaptureGone(privXR)
	})
}

// checkNodeFiles checks that each node's capture Pod holds the files of
// exactly the target Pods on its node.
func checkNodeFiles(dir string, nodeOf map[string]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	seenNodes := map[string]bool{}
	for _, e := range entries {
		got, _, err := readTraffic(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		pods := slices.Sorted(maps.Keys(got))
		node := ""
		for _, p := range pods {
			if node == "" {
				node = nodeOf[p]
			}
			if nodeOf[p] != node {
				return fmt.Errorf("capture Pod %s holds files of Pods on two nodes: %v", e.Name(), pods)
			}
		}
		var want []string
		for p, n := range nodeOf {
			if n == node {
				want = append(want, p)
			}
		}
		slices.Sort(want)
		if !slices.Equal(pods, want) {
			return fmt.Errorf("capture Pod %s (node %s) holds files of %v, want its node's Pods %v", e.Name(), node, pods, want)
		}
		seenNodes[node] = true
	}
	if len(seenNodes) != 2 {
		return fmt.Errorf("capture Pods covered nodes %v, want both", seenNodes)
	}
	return nil
}

// jobVersions maps each of a capture's Jobs to its resourceVersion.
func (h *harness) jobVersions(xr string) (map[string]string, error) {
	jobs, err := h.k.list("jobs", realXRNamespace, realCaptureLabel+"="+xr)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, j := range jobs {
		out[j.GetName()] = j.GetResourceVersion()
	}
	return out, nil
}

// measure prints one capture's timings, for docs/e2e.md.
func (h *harness) measure(what string, ct *captureTimes) {
	h.logf("measured %-22s from apply: Jobs %5.1fs, Pods Running %5.1fs, Pods Retrievable %5.1fs, XR says Retrievable %5.1fs (lag %4.1fs), XR Ready after retention ended %5.1fs",
		what+":", ct.jobsCreated.Seconds(), ct.podsRunning.Seconds(), ct.podsRetrievable.Seconds(), ct.xrAllRetrievable.Seconds(),
		(ct.xrAllRetrievable - ct.podsRetrievable).Seconds(), ct.xrReady.Seconds())
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "e2e:   " + strings.ReplaceAll(s, "\n", "\ne2e:   ")
}
