package retrieve

import (
	"archive/tar"
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/function-packet-capture/function-packet-capture/capture"
	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// Names of the files capture.sh writes beside the PCAPs: the summary (the
// same text as the termination message) and the SHA-256 of every file, in
// sha256sum's format. capture.sh names them after the capture Pod
// (<pod>.summary.txt, SHA256SUMS.<pod>), so that Jobs sharing a directory
// (HostPath, claim) keep theirs; any name ending in summaryFile or starting
// with sumsFile is read.
const (
	summaryFile = "summary.txt"
	sumsFile    = "SHA256SUMS"
)

// File is one file copied out of a capture.
type File struct {
	// Name is the path relative to the capture's output directory.
	Name   string
	Size   int64
	SHA256 string
}

// maxPodFileName is how much of a Pod's name capture.sh keeps in a file name.
const maxPodFileName = 100

// targetPrefixes returns the prefix of the file names of each target Pod, in
// argument order: <namespace>_<pod>_<jobId>_, as capture.sh makes them (a
// name cut to 100 characters that meets another gets -<argument number>).
func targetPrefixes(ns, jobID string, targets []string) []string {
	out := make([]string, len(targets))
	used := map[string]bool{}
	for i, t := range targets {
		p := t
		if len(p) > maxPodFileName {
			p = p[:maxPodFileName]
		}
		if used[p] {
			p = fmt.Sprintf("%s-%d", p, i+1)
		}
		used[p] = true
		out[i] = ns + "_" + p + "_" + jobID + "_"
	}
	return out
}

// isSidecar tells a summary or checksum file from a capture file.
func isSidecar(name string) bool {
	base := path.Base(name)
	return strings.HasSuffix(base, summaryFile) || strings.HasPrefix(base, sumsFile)
}

// dataFiles picks, from the names in a directory shared by many Jobs, the
// files of the target Pods whose names begin with prefixes: PCAPs and
// network snapshots, not the summary and checksum files (see sidecar.go).
func dataFiles(names, prefixes []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ".") || strings.Contains(n, "/") || isSidecar(n) {
			continue
		}
		if hasAnyPrefix(n, prefixes) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// extract writes the regular files of the tar stream r under dir, hashing
// each as it is written; counted receives every byte. Names that would
// leave dir are refused; hidden files (the script's markers and work
// directories) are skipped.
func extract(r io.Reader, dir string, counted io.Writer) ([]File, error) {
	tr := tar.NewReader(r)
	var files []File
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("read the tar stream: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return files, fmt.Errorf("the tar stream names %q, outside the output directory", h.Name)
		}
		if hidden(name) {
			continue
		}
		f, err := writeFile(tr, filepath.Join(dir, filepath.FromSlash(name)), counted)
		if err != nil {
			return files, err
		}
		if f.Size != h.Size {
			return files, fmt.Errorf("%s: the tar stream said %d bytes, %d arrived", name, h.Size, f.Size)
		}
		f.Name = name
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

func writeFile(r io.Reader, dst string, counted io.Writer) (File, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return File{}, err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	w := io.MultiWriter(out, h)
	if counted != nil {
		w = io.MultiWriter(out, h, counted)
	}
	n, err := io.Copy(w, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("write %s: %w", dst, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Verification is what checking one source's files found.
type Verification struct {
	// Packets and Dropped are the capture's own counts.
	Packets, Dropped int64
	// Files and Bytes count the capture files copied (tcpdump's), not the
	// summary, checksums or network snapshots.
	Files int
	Bytes int64
	// Checked says what was compared: "size", "sha256", "size+sha256", or "" when the
	// capture left nothing to compare with.
	Checked string
	// Problems are mismatches; any of them fails the fetch.
	Problems []string
}

// OK is true when nothing mismatched.
func (v Verification) OK() bool { return len(v.Problems) == 0 }

// verify checks the files copied from s (in dir) against s's summary and
// the SHA256SUMS among them, and removes the summary and checksum files that
// belong to other Jobs of a shared directory. targetNS and jobID name the
// files.
func verify(s *Source, targetNS string, files []File, dir string) Verification {
	var v Verification
	prefixes := targetPrefixes(targetNS, s.JobID, s.Targets)
	ours := func(name string) bool {
		if s.Output.Type == v1beta1.OutputPod {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(path.Base(name), p) {
				return true
			}
		}
		return false
	}
	byName := map[string]File{}
	for _, f := range files {
		byName[f.Name] = f
	}

	// The summary: the termination message, or a summary file of this
	// source. A source known from the status has its own line of the
	// summary, from the ledger: a summary file (of the newest attempt)
	// gives the start its files are named with, and lists them.
	sum := s.Summary
	var fileSum *capture.Summary
	var unrelated []string
	for _, f := range files {
		if !strings.HasSuffix(path.Base(f.Name), summaryFile) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: %v", f.Name, err))
			continue
		}
		parsed, err := capture.ParseSummary(string(b))
		related := err == nil && (s.Output.Type == v1beta1.OutputPod || anyOurs(parsed.FileNames, ours))
		if !related {
			if s.Output.Type == v1beta1.OutputPod {
				v.Problems = append(v.Problems, fmt.Sprintf("%s is not a capture summary: %v", f.Name, err))
			}
			unrelated = append(unrelated, f.Name)
			continue
		}
		if s.FromStatus {
			if fileSum == nil || parsed.Start > fileSum.Start {
				fileSum = &parsed
			}
			continue
		}
		if sum == nil {
			sum, s.Summary, s.SummaryFrom = &parsed, &parsed, f.Name
		}
	}

	// SHA256SUMS: every entry for a file of this source must match.
	hashed := 0
	for _, f := range files {
		if !strings.HasPrefix(path.Base(f.Name), sumsFile) {
			continue
		}
		entries, err := readSums(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: %v", f.Name, err))
			continue
		}
		related := false
		for _, e := range entries {
			if !ours(e.name) {
				continue
			}
			related = true
			got, ok := byName[path.Join(path.Dir(f.Name), e.name)]
			switch {
			case !ok:
				v.Problems = append(v.Problems, fmt.Sprintf("%s lists %s, which was not found", f.Name, e.name))
			case got.SHA256 != e.sum:
				v.Problems = append(v.Problems, fmt.Sprintf("%s: SHA-256 %s, but %s says %s", e.name, got.SHA256, f.Name, e.sum))
			default:
				hashed++
			}
		}
		if !related && s.Output.Type != v1beta1.OutputPod {
			unrelated = append(unrelated, f.Name)
		}
	}
	for _, n := range unrelated {
		_ = os.Remove(filepath.Join(dir, filepath.FromSlash(n)))
	}

	for _, f := range files {
		// The capture files, as the summary counts them; the network
		// snapshots beside them are copied but not counted.
		if isPcapName(f.Name) && !hidden(f.Name) && ours(f.Name) {
			v.Files++
			v.Bytes += f.Size
		}
	}
	if s.FromStatus {
		start := ""
		if fileSum != nil {
			start = fileSum.Start
			for _, n := range fileSum.FileNames {
				if _, ok := byName[n]; ours(n) && !ok {
					v.Problems = append(v.Problems, fmt.Sprintf("%s, named by the capture's summary, was not found", n))
				}
			}
		}
		if sum != nil {
			own := *sum
			own.Start = cmp.Or(start, newestStart(files, prefixes[0]))
			own.FileNames = nil
			sum = &own
		}
	}
	if sum == nil {
		if hashed > 0 {
			v.Checked = "sha256"
		}
		return v
	}
	v.Packets, v.Dropped = sum.Packets, sum.Dropped
	v.Checked = "size"
	if hashed > 0 {
		v.Checked = "size+sha256"
	}
	// The summary counts, per target Pod, the files named after it and its
	// start: <prefix><start>.pcap*, as capture.sh's "$base"* does.
	sizeOf := func(prefix string) (n, bytes int64) {
		for _, f := range files {
			if strings.HasPrefix(path.Base(f.Name), prefix) && !isSidecar(f.Name) {
				n++
				bytes += f.Size
			}
		}
		return n, bytes
	}
	bases := make([]string, len(prefixes))
	for i, p := range prefixes {
		bases[i] = p + sum.Start + ".pcap"
	}
	var allN, allBytes int64
	for i, b := range bases {
		n, bytes := sizeOf(b)
		allN, allBytes = allN+n, allBytes+bytes
		t, ok := sum.Target(i + 1)
		if !ok {
			continue
		}
		if n != t.Files || bytes != t.Bytes {
			v.Problems = append(v.Problems, fmt.Sprintf("Pod %s: %d files of %d bytes arrived, the capture reported %d files of %d bytes (%s)",
				s.Targets[i], n, bytes, t.Files, t.Bytes, s.SummaryFrom))
		}
	}
	// A source from the status has one target, checked just above.
	if !s.FromStatus && (allN != sum.Files || allBytes != sum.Bytes) {
		v.Problems = append(v.Problems, fmt.Sprintf("%d files of %d bytes arrived, the capture reported %d files of %d bytes (%s)",
			allN, allBytes, sum.Files, sum.Bytes, s.SummaryFrom))
	}
	for _, n := range sum.FileNames {
		if _, ok := byName[n]; !ok {
			v.Problems = append(v.Problems, fmt.Sprintf("%s, named by the capture's summary, was not found", n))
		}
	}
	return v
}

// newestStart is the newest start among the files of the target Pod whose
// names begin with prefix (<prefix><start>.pcap...): the last attempt of its
// capture Job, whose summary the function read.
func newestStart(files []File, prefix string) string {
	newest := ""
	for _, f := range files {
		rest, ok := strings.CutPrefix(path.Base(f.Name), prefix)
		if !ok || isSidecar(f.Name) {
			continue
		}
		if start, _, _ := strings.Cut(rest, "."); start > newest {
			newest = start
		}
	}
	return newest
}

func anyOurs(names []string, ours func(string) bool) bool {
	for _, n := range names {
		if ours(n) {
			return true
		}
	}
	return false
}

type sumEntry struct{ sum, name string }

// readSums reads a file in sha256sum's format.
func readSums(file string) ([]sumEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSums(f)
}

// parseSums reads sha256sum's format: "<hex>  <name>" (text mode) or
// "<hex> *<name>" (binary mode), one a line.
func parseSums(r io.Reader) ([]sumEntry, error) {
	var out []sumEntry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		sum, rest, ok := strings.Cut(line, " ")
		if !ok || len(sum) != sha256.Size*2 || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "*")) {
			return nil, fmt.Errorf("line %d is not \"<sha256>  <file>\": %q", n, line)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256", n, sum)
		}
		out = append(out, sumEntry{sum: strings.ToLower(sum), name: strings.TrimPrefix(rest[1:], "./")})
	}
	return out, sc.Err()
}
