package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// FetchOptions say where files go and how to report.
type FetchOptions struct {
	// Dir receives DIR/<source>/<file>.
	Dir string
	// HelperTimeout bounds the wait for a helper Pod to run.
	HelperTimeout time.Duration
	// Progress reports bytes as they arrive; nil reports nothing.
	Progress *Progress
}

// Result is what fetching one source gave.
type Result struct {
	Source       *Source
	Files        []File
	Verification Verification
	// Err says why the files were not (all) copied, Source.Gone included.
	Err error
}

// ErrGone marks a source whose files no longer exist or cannot be reached.
var ErrGone = errors.New("files gone")

// Fetch copies every file of cp into opts.Dir and verifies it. A source that
// fails does not stop the others; its Result carries the error. The error
// returned is for what stops everything (an interrupt).
func (c *Client) Fetch(ctx context.Context, cp *Capture, opts FetchOptions) ([]*Result, error) {
	results := make([]*Result, len(cp.Sources))
	groups := map[helperKey][]int{}
	var keys []helperKey
	for i, s := range cp.Sources {
		results[i] = &Result{Source: s}
		switch {
		case s.Gone != "":
			results[i].Err = fmt.Errorf("%w: %s", ErrGone, s.Gone)
		case s.Output.Type == v1beta1.OutputPod:
			results[i].Files, results[i].Err = c.copyOut(ctx, s, s.Pod.Namespace, s.Pod.Name, capture.ContainerName,
				[]string{"tar", "cf", "-", "-C", capture.OutputMountPath, "."}, opts)
		default:
			k := keyOf(s)
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], i)
		}
		if err := ctx.Err(); err != nil {
			return results, err
		}
	}
	for _, k := range keys {
		if err := c.fetchShared(ctx, cp, k, groups[k], results, opts); err != nil {
			for _, i := range groups[k] {
				if results[i].Err == nil && results[i].Files == nil {
					results[i].Err = err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return results, err
		}
	}
	for _, r := range results {
		if r.Err == nil {
			r.Verification = verify(r.Source, cp.TargetNamespace, r.Files, filepath.Join(opts.Dir, r.Source.Name))
		}
	}
	return results, nil
}

// fetchShared copies the files of the sources idx, which share one node
// directory or claim, through one helper Pod.
func (c *Client) fetchShared(ctx context.Context, cp *Capture, k helperKey, idx []int, results []*Result, opts FetchOptions) (err error) {
	group := make([]*Source, len(idx))
	for j, i := range idx {
		group[j] = results[i].Source
	}
	node := helperNode(k, group, func(n string) bool { return c.nodeGone(ctx, n) == "" })
	helper, stop, err := c.startHelper(ctx, helperPod(cp, k, node, group[0].Image, "fetch", false), opts.HelperTimeout)
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err != nil {
		return err
	}
	names, err := c.listDir(ctx, helper)
	if err != nil {
		return err
	}
	sidecars, err := c.readSidecars(ctx, helper, names)
	if err != nil {
		return err
	}
	for _, i := range idx {
		s := results[i].Source
		prefixes := targetPrefixes(cp.TargetNamespace, s.JobID, s.Targets)
		picked := dataFiles(names, prefixes)
		if len(picked) == 0 {
			results[i].Err = fmt.Errorf("%w: no file of it in %s%s (deleted by clean or by hand, or never written)", ErrGone, k.output, onNode(helper.Spec.NodeName))
			continue
		}
		// Only its own summary and checksum files: a directory shared by
		// every capture on the node may hold thousands.
		for _, sc := range sidecars {
			if sc.relatedTo(prefixes, s.Job) {
				picked = append(picked, sc.name)
			}
		}
		cmd := append([]string{"tar", "cf", "-", "-C", helperMountPath, "--"}, picked...)
		results[i].Files, results[i].Err = c.copyOut(ctx, s, helper.Namespace, helper.Name, helperContainer, cmd, opts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func onNode(n string) string {
	if n == "" {
		return ""
	}
	return " on node " + n
}

// copyOut runs a tar command in a container and unpacks its stream into
// DIR/<source>. Files of an earlier fetch there are overwritten, never
// removed (DIR is the user's); verify and merge look only at the files of
// this copy.
func (c *Client) copyOut(ctx context.Context, s *Source, ns, pod, container string, cmd []string, opts FetchOptions) ([]File, error) {
	dir := filepath.Join(opts.Dir, s.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var total int64
	if s.Summary != nil {
		total = s.Summary.Bytes
	}
	bar := opts.Progress.Start(s.Name, total)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := c.Exec.Exec(ctx, ns, pod, container, cmd, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	files, xerr := extract(pr, dir, bar)
	// Drain what is left so the exec can end, then take its outcome.
	_, _ = io.Copy(io.Discard, pr)
	eerr := <-done
	bar.Done()
	if eerr != nil {
		return files, fmt.Errorf("copy from %s/%s: %w", pod, container, eerr)
	}
	if xerr != nil {
		return files, fmt.Errorf("copy from %s/%s: %w", pod, container, xerr)
	}
	return files, nil
}

// Clean ends the retention window of the capture's running Pod-output
// capture Pods (creates .retrieved, which capture.sh waits for) and deletes
// the capture's files from node directories and claims (through a writable
// helper Pod). It returns one line per source for people.
func (c *Client) Clean(ctx context.Context, cp *Capture, helperTimeout time.Duration) ([]string, error) {
	var lines []string
	var errs []error
	groups := map[helperKey][]*Source{}
	var keys []helperKey
	for _, s := range cp.Sources {
		if s.Output.Type == v1beta1.OutputPod {
			if s.Pod == nil && s.Gone != "" {
				lines = append(lines, fmt.Sprintf("%s: nothing to do: %s", s.Name, s.Gone))
				continue
			}
			if s.Pod == nil || s.Pod.Status.Phase != corev1.PodRunning || s.Pod.DeletionTimestamp != nil {
				lines = append(lines, fmt.Sprintf("%s: nothing to do (no running capture Pod)", s.Name))
				continue
			}
			err := c.Exec.Exec(ctx, s.Pod.Namespace, s.Pod.Name, capture.ContainerName,
				[]string{"touch", capture.OutputMountPath + "/.retrieved"}, io.Discard)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: end the retention window: %w", s.Name, err))
				continue
			}
			lines = append(lines, fmt.Sprintf("%s: retention window ended; the capture Pod exits and its files go with it", s.Name))
			continue
		}
		if s.Gone != "" && !s.wroteNothing {
			lines = append(lines, fmt.Sprintf("%s: nothing to do: %s", s.Name, s.Gone))
			continue
		}
		// A capture that wrote no file may still have left its summary.
		k := keyOf(s)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	for _, k := range keys {
		l, err := c.cleanShared(ctx, cp, k, groups[k], helperTimeout)
		lines = append(lines, l...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}

func (c *Client) cleanShared(ctx context.Context, cp *Capture, k helperKey, group []*Source, timeout time.Duration) (lines []string, err error) {
	node := helperNode(k, group, func(n string) bool { return c.nodeGone(ctx, n) == "" })
	helper, stop, err := c.startHelper(ctx, helperPod(cp, k, node, group[0].Image, "clean", true), timeout)
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err != nil {
		return nil, err
	}
	names, err := c.listDir(ctx, helper)
	if err != nil {
		return nil, err
	}
	sidecars, err := c.readSidecars(ctx, helper, names)
	if err != nil {
		return nil, err
	}
	where := k.output.String() + onNode(helper.Spec.NodeName)
	var prefixes, jobs []string
	for _, s := range group {
		ps := targetPrefixes(cp.TargetNamespace, s.JobID, s.Targets)
		prefixes, jobs = append(prefixes, ps...), append(jobs, s.Job)
		picked := dataFiles(names, ps)
		if len(picked) == 0 {
			lines = append(lines, fmt.Sprintf("%s: no files left in %s", s.Name, where))
			continue
		}
		if err := c.remove(ctx, helper, picked); err != nil {
			return lines, fmt.Errorf("%s: delete its files: %w", s.Name, err)
		}
		lines = append(lines, fmt.Sprintf("%s: deleted %d files from %s", s.Name, len(picked), where))
	}
	// The summary and checksum files go with the last of the files they
	// name; one that names another capture's file stays.
	var owned []string
	for _, sc := range sidecars {
		if sc.ownedBy(prefixes, jobs) {
			owned = append(owned, sc.name)
		}
	}
	if len(owned) > 0 {
		if err := c.remove(ctx, helper, owned); err != nil {
			return lines, fmt.Errorf("delete the capture's summary and checksum files: %w", err)
		}
		lines = append(lines, fmt.Sprintf("%s: deleted %d summary and checksum files from %s", cp.Name, len(owned), where))
	}
	return lines, nil
}

// remove deletes names from the helper's directory.
func (c *Client) remove(ctx context.Context, helper *corev1.Pod, names []string) error {
	cmd := []string{"rm", "-f", "--"}
	for _, n := range names {
		cmd = append(cmd, helperMountPath+"/"+n)
	}
	return c.Exec.Exec(ctx, helper.Namespace, helper.Name, helperContainer, cmd, io.Discard)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// Helpers lists the helper Pods of a capture that still exist: after a
// fetch or clean there are none, unless one could not be deleted.
func (c *Client) Helpers(ctx context.Context, cp *Capture) ([]string, error) {
	pods, err := c.Kube.CoreV1().Pods(cp.Namespace).List(ctx, metav1.ListOptions{LabelSelector: capture.LabelCapture + "=" + cp.Label + "," + LabelHelper})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, forbidden(err, "list", "pods", cp.Namespace)
		}
		return nil, err
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	return names, nil
}
