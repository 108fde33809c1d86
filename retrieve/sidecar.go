package retrieve

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/function-packet-capture/function-packet-capture/capture"
)

// A directory that many captures share (a node's HostPath, a claim) holds,
// beside each capture Pod's PCAP files, its summary and checksum files,
// named after the capture Pod, not after the captured Pods: whose they are
// is told by what they name (a summary lists its files, a SHA256SUMS its
// digests), or, for a summary of a capture that wrote no file, by the
// capture Pod's name, which its Job's name begins.

// sidecar is one summary or checksum file of a shared directory.
type sidecar struct {
	name string
	// host is the capture Pod the file is named after.
	host string
	// named are the files it names; readable is false when it is not what
	// its name says (it is then never deleted, and not copied).
	named    []string
	readable bool
}

// maxSidecarBytes bounds what is read of one summary or checksum file: a
// summary of 5,000 Pods' files is about 300 KB.
const maxSidecarBytes = 8 << 20

// readSidecars reads every summary and checksum file among names, in the
// helper's directory, with one tar.
func (c *Client) readSidecars(ctx context.Context, helper *corev1.Pod, names []string) ([]sidecar, error) {
	var want []string
	for _, n := range names {
		if isSidecar(n) && !hidden(n) && !strings.Contains(n, "/") {
			want = append(want, n)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	cmd := append([]string{"tar", "cf", "-", "-C", helperMountPath, "--"}, want...)
	if err := c.Exec.Exec(ctx, helper.Namespace, helper.Name, helperContainer, cmd, &buf); err != nil {
		return nil, fmt.Errorf("read the summary and checksum files in helper Pod %s: %w", helper.Name, err)
	}
	tr := tar.NewReader(&buf)
	var out []sidecar
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read the summary and checksum files in helper Pod %s: %w", helper.Name, err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeReg || h.Size > maxSidecarBytes || strings.Contains(name, "/") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return out, fmt.Errorf("read %s in helper Pod %s: %w", name, helper.Name, err)
		}
		out = append(out, parseSidecar(name, b))
	}
}

// parseSidecar reads what a summary or checksum file names.
func parseSidecar(name string, content []byte) sidecar {
	sc := sidecar{name: name, host: sidecarHost(name)}
	if strings.HasSuffix(name, summaryFile) {
		sum, err := capture.ParseSummary(string(content))
		sc.named, sc.readable = sum.FileNames, err == nil
		return sc
	}
	entries, err := parseSums(bytes.NewReader(content))
	for _, e := range entries {
		sc.named = append(sc.named, e.name)
	}
	sc.readable = err == nil
	return sc
}

// sidecarHost is the capture Pod a summary (<pod>.summary.txt) or checksum
// file (SHA256SUMS.<pod>) is named after.
func sidecarHost(name string) string {
	base := path.Base(name)
	if h, ok := strings.CutSuffix(base, "."+summaryFile); ok {
		return h
	}
	h, _ := strings.CutPrefix(base, sumsFile+".")
	return h
}

// maxGeneratedBase is how much of a generateName the API server keeps
// before the 5 random characters it adds: a Job's Pods are <job>- cut to 58
// characters, then 5 more.
const maxGeneratedBase = 63 - 5

// madeByJob tells whether the capture Pod host is one of Job job's.
func madeByJob(host, job string) bool {
	base := job + "-"
	if len(base) > maxGeneratedBase {
		base = base[:maxGeneratedBase]
	}
	return job != "" && len(host) == len(base)+5 && strings.HasPrefix(host, base)
}

// relatedTo tells whether a sidecar belongs with a source whose files begin
// with prefixes and whose Job is job: it names one of its files, or names no
// file and was written by one of its Job's Pods.
func (sc sidecar) relatedTo(prefixes []string, job string) bool {
	if !sc.readable {
		return false
	}
	for _, n := range sc.named {
		if hasAnyPrefix(path.Base(n), prefixes) {
			return true
		}
	}
	return len(sc.named) == 0 && madeByJob(sc.host, job)
}

// ownedBy tells whether a sidecar belongs to the capture whose files, in
// this directory, begin with prefixes and whose Jobs are jobs: every file it
// names is one of them, or it names none and one of the Jobs wrote it. A
// file that names another capture's file is never the capture's to delete.
func (sc sidecar) ownedBy(prefixes, jobs []string) bool {
	if !sc.readable {
		return false
	}
	for _, n := range sc.named {
		if !hasAnyPrefix(path.Base(n), prefixes) {
			return false
		}
	}
	if len(sc.named) > 0 {
		return true
	}
	for _, j := range jobs {
		if madeByJob(sc.host, j) {
			return true
		}
	}
	return false
}
