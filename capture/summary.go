package capture

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// The capture summary is what capture.sh writes, once, when a capture Job's
// captures have ended: to the capture Pod's termination message (which the
// kubelet caps at 4 KiB) and to <capture Pod>.summary.txt beside the PCAP files. The
// function reads it back into the XR's status and the kubectl plugin checks
// the files it fetches against it. This file is the one description of the
// format and its one parser; capture.sh is its one writer.
//
//	status=ok targets=2 failed=0 files=2 bytes=123456 packets=1000 dropped=0 start=20261124T101500Z
//	#pod status packets bytes dropped files seconds
//	1 ok 500 61728 0 1 30
//	2 gone 500 61728 0 1 12
//	why 2 its process 4711 ended 12 s into the capture: the Pod was deleted or restarted
//	default_web-1_ab12_20261124T101500Z.pcap
//	... and 3 more
//
// The first line holds the totals over every target Pod, status first. Then
// a header and one line per target Pod, in the order of the Job's arguments
// (1 is the first argument): its status, packets written to its files, the
// bytes of its files, packets the kernel dropped, its number of files and the
// seconds it was captured for. Then one "why" line per target Pod whose status
// is not ok, then file names, as many as fit. A summary cut to fit ends with
// "... and N more"; target lines come before anything else, so they are the
// last to be cut.
//
// Every line but the first is optional for a reader: a summary from before
// the per-target lines, or cut short, parses into fewer Targets.

// Statuses of one target Pod's capture (TargetSummary.Status) and of the
// summary as a whole (Summary.Status: ok when every target is ok, else the
// status of the first target, in argument order, that is not; or one of the
// Job-wide statuses interrupted and bad-settings).
const (
	// CaptureOK: captured for the whole duration (or until spec.packetCount).
	CaptureOK = "ok"
	// CaptureGone: the Pod's process went away during the capture (deleted,
	// evicted or restarted); its files hold what was captured until then.
	CaptureGone = "gone"
	// CapturePodNotFound: no process of the Pod was found on the node within
	// the capture window; nothing was captured.
	CapturePodNotFound = "pod-not-found"
	// CaptureHostNetwork: the Pod's network namespace is the node's own;
	// capturing it would record every Pod on the node, so it was refused.
	CaptureHostNetwork = "host-network"
	// CaptureTcpdumpFailed: tcpdump (or nsenter) failed.
	CaptureTcpdumpFailed = "tcpdump-failed"
	// CaptureInterrupted: the capture Pod was stopped before the duration
	// ended; files are complete up to that moment.
	CaptureInterrupted = "interrupted"
	// CaptureBadSettings: the script refused its settings or arguments;
	// nothing was captured.
	CaptureBadSettings = "bad-settings"
)

// Summary is one capture Job's summary.
type Summary struct {
	Status  string
	Targets []TargetSummary
	// Totals over every target, from the first line.
	Files, Bytes, Packets, Dropped int64
	// Start of the capture, UTC, as 20061102T150405Z.
	Start string
	// FileNames lists the PCAP files (relative to the output directory) the
	// summary had room for; FilesOmitted counts the lines cut to fit.
	FileNames    []string
	FilesOmitted int
}

// TargetSummary is the capture of one target Pod.
type TargetSummary struct {
	// Index of the Pod among the Job's arguments, from 1.
	Index   int
	Status  string
	Packets int64
	Bytes   int64
	Dropped int64
	Files   int64
	// Seconds the Pod was captured for.
	Seconds int64
	// Why the status is not ok, in the script's words.
	Why string
}

// ParseSummary reads a capture summary. It fails only when the first line is
// not a summary; a line it does not know is skipped, so a newer script's
// summary still parses.
func ParseSummary(text string) (Summary, error) {
	var s Summary
	sc := bufio.NewScanner(strings.NewReader(text))
	if !sc.Scan() {
		return s, fmt.Errorf("empty capture summary")
	}
	head := strings.Fields(sc.Text())
	for _, kv := range head {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return s, fmt.Errorf("capture summary: first line: %q is not key=value", kv)
		}
		var err error
		switch k {
		case "status":
			s.Status = v
		case "start":
			s.Start = v
		case "files":
			s.Files, err = strconv.ParseInt(v, 10, 64)
		case "bytes":
			s.Bytes, err = strconv.ParseInt(v, 10, 64)
		case "packets":
			s.Packets, err = strconv.ParseInt(v, 10, 64)
		case "dropped":
			s.Dropped, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return s, fmt.Errorf("capture summary: first line: %s: %w", k, err)
		}
	}
	if s.Status == "" {
		return s, fmt.Errorf("capture summary: the first line has no status=")
	}
	byIndex := map[int]int{}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "... and "):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line, "... and "), " more"))
			if err == nil {
				s.FilesOmitted = n
			}
		case strings.HasPrefix(line, "why "):
			idx, why, _ := strings.Cut(strings.TrimPrefix(line, "why "), " ")
			i, err := strconv.Atoi(idx)
			if j, ok := byIndex[i]; err == nil && ok {
				s.Targets[j].Why = why
			}
		default:
			if t, ok := parseTargetLine(line); ok {
				byIndex[t.Index] = len(s.Targets)
				s.Targets = append(s.Targets, t)
				continue
			}
			if !strings.ContainsAny(line, " /") {
				s.FileNames = append(s.FileNames, line)
			}
		}
	}
	return s, sc.Err()
}

// parseTargetLine reads "<index> <status> <packets> <bytes> <dropped> <files> <seconds>".
func parseTargetLine(line string) (TargetSummary, bool) {
	f := strings.Fields(line)
	if len(f) != 7 {
		return TargetSummary{}, false
	}
	var t TargetSummary
	var err error
	if t.Index, err = strconv.Atoi(f[0]); err != nil || t.Index < 1 {
		return TargetSummary{}, false
	}
	t.Status = f[1]
	for i, dst := range []*int64{&t.Packets, &t.Bytes, &t.Dropped, &t.Files, &t.Seconds} {
		if *dst, err = strconv.ParseInt(f[2+i], 10, 64); err != nil || *dst < 0 {
			return TargetSummary{}, false
		}
	}
	return t, true
}

// Target returns the summary of the Pod given as the Job's i-th argument
// (from 1), and whether the summary has it.
func (s Summary) Target(i int) (TargetSummary, bool) {
	for _, t := range s.Targets {
		if t.Index == i {
			return t, true
		}
	}
	return TargetSummary{}, false
}
