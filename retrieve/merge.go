package retrieve

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// PodFiles are the capture files of one captured Pod, for the merge.
type PodFiles struct {
	// Namespace and Pod name the captured Pod; Node is where it ran, Source
	// the capture Pod (or Job) that captured it.
	Namespace, Pod, Node, Source string
	Paths                        []string
}

// Interface is the pcapng interface name and description of a Pod: open
// one file in Wireshark and filter by frame.interface_name.
func (p PodFiles) Interface() pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:        p.Pod,
		Description: fmt.Sprintf("Pod %s/%s on node %s (captured by %s)", p.Namespace, p.Pod, p.Node, p.Source),
	}
}

// MergeInputs groups the fetched files by captured Pod, in the order of the
// sources and of each Job's arguments; the files of a Pod sorted by name.
func MergeInputs(cp *Capture, results []*Result, dir string) []PodFiles {
	var out []PodFiles
	for _, r := range results {
		if r.Err != nil {
			continue
		}
		s := r.Source
		by := s.Name
		if s.FromStatus {
			// Its capture Pods are gone; the status names its Job.
			by = "Job " + s.Job
		}
		for i, prefix := range targetPrefixes(cp.TargetNamespace, s.JobID, s.Targets) {
			pf := PodFiles{Namespace: cp.TargetNamespace, Pod: s.Targets[i], Node: s.Node, Source: by}
			for _, f := range r.Files {
				if strings.HasPrefix(filepath.Base(f.Name), prefix) && !isSidecar(f.Name) && isPcapName(f.Name) {
					pf.Paths = append(pf.Paths, filepath.Join(dir, s.Name, filepath.FromSlash(f.Name)))
				}
			}
			if len(pf.Paths) > 0 {
				sort.Strings(pf.Paths)
				out = append(out, pf)
			}
		}
	}
	return out
}

// isPcapName: tcpdump's file, with its rotation number after .pcap.
func isPcapName(name string) bool {
	i := strings.LastIndex(name, ".pcap")
	if i < 0 {
		return false
	}
	for _, c := range name[i+len(".pcap"):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// packetSource reads one pcap or pcapng file.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// openCapture opens a pcap or pcapng file, by its magic number.
func openCapture(path string) (packetSource, layers.LinkType, uint32, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, 0, 0, nil, fmt.Errorf("%s: not a capture file: %w", path, err)
	}
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
		if err != nil {
			f.Close()
			return nil, 0, 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		snap := uint32(0)
		if intf, err := r.Interface(0); err == nil {
			snap = intf.SnapLength
		}
		return r, r.LinkType(), snap, f, nil
	}
	r, err := pcapgo.NewReader(br)
	if err != nil {
		f.Close()
		return nil, 0, 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, r.LinkType(), r.Snaplen(), f, nil
}

// cursor is the next packet of one file.
type cursor struct {
	src   packetSource
	iface int
	// order breaks ties between equal timestamps: Pod order, then file
	// order, so the merge is deterministic.
	order int
	data  []byte
	ci    gopacket.CaptureInfo
	path  string
}

type cursors []*cursor

func (h cursors) Len() int { return len(h) }
func (h cursors) Less(i, j int) bool {
	if !h[i].ci.Timestamp.Equal(h[j].ci.Timestamp) {
		return h[i].ci.Timestamp.Before(h[j].ci.Timestamp)
	}
	return h[i].order < h[j].order
}
func (h cursors) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursors) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursors) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// next reads the cursor's next packet; false at the end of its file.
func (c *cursor) next() (bool, error) {
	data, ci, err := c.src.ReadPacketData()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// A file cut in the middle of a packet (a capture killed hard)
		// keeps every whole packet before the cut.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.path, err)
	}
	c.data, c.ci = data, ci
	c.ci.InterfaceIndex = c.iface
	return true, nil
}

// Merge writes one pcapng to w: one interface per Pod (its name, its
// namespace/name/node in the description), every packet of every file,
// in time order across Pods. It returns the number of packets written.
func Merge(w io.Writer, pods []PodFiles, application string) (int64, error) {
	if len(pods) == 0 {
		return 0, errors.New("no capture files to merge")
	}
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	var h cursors
	var ifaces []pcapgo.NgInterface
	order := 0
	for i, p := range pods {
		intf := p.Interface()
		for j, path := range p.Paths {
			src, lt, snap, closer, err := openCapture(path)
			if err != nil {
				return 0, err
			}
			closers = append(closers, closer)
			if j == 0 {
				intf.LinkType, intf.SnapLength = lt, snap
			} else if lt != intf.LinkType {
				return 0, fmt.Errorf("%s: link type %s, but the Pod's other files have %s", path, lt, intf.LinkType)
			}
			c := &cursor{src: src, iface: i, order: order, path: path}
			order++
			ok, err := c.next()
			if err != nil {
				return 0, err
			}
			if ok {
				h = append(h, c)
			}
		}
		intf.TimestampResolution = 9
		ifaces = append(ifaces, intf)
	}
	heap.Init(&h)

	bw := bufio.NewWriterSize(w, 1<<16)
	nw, err := pcapgo.NewNgWriterInterface(bw, ifaces[0], pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: application}})
	if err != nil {
		return 0, err
	}
	for _, intf := range ifaces[1:] {
		if _, err := nw.AddInterface(intf); err != nil {
			return 0, err
		}
	}
	var n int64
	for h.Len() > 0 {
		c := h[0]
		if err := nw.WritePacket(c.ci, c.data); err != nil {
			return n, fmt.Errorf("write packet %d (from %s): %w", n+1, c.path, err)
		}
		n++
		ok, err := c.next()
		if err != nil {
			return n, err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	if err := nw.Flush(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// MergeFile writes the merge to path, atomically: a failed merge leaves no
// half file behind.
func MergeFile(path string, pods []PodFiles, application string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".merge-*.pcapng")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := Merge(tmp, pods, application)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), path)
}

// CheckMerged reads a merged pcapng back and checks it packet for packet
// against the Pods' own files: one interface per Pod, named and described
// as Merge does; every packet of every file exactly once, on its Pod's
// interface, with its time, lengths and bytes; times never going backwards.
// It streams: memory does not grow with the capture.
func CheckMerged(path string, pods []PodFiles) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(bufio.NewReaderSize(f, 1<<16), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	// One heap per Pod gives its packets in the order they must appear on
	// its interface.
	perPod := make([]cursors, len(pods))
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	order := 0
	for i, p := range pods {
		for _, fp := range p.Paths {
			src, _, _, closer, err := openCapture(fp)
			if err != nil {
				return 0, err
			}
			closers = append(closers, closer)
			c := &cursor{src: src, iface: i, order: order, path: fp}
			order++
			if ok, err := c.next(); err != nil {
				return 0, err
			} else if ok {
				perPod[i] = append(perPod[i], c)
			}
		}
		heap.Init(&perPod[i])
	}
	var n int64
	var last gopacket.CaptureInfo
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: packet %d: %w", path, n+1, err)
		}
		n++
		if ci.Timestamp.Before(last.Timestamp) {
			return n, fmt.Errorf("packet %d at %s comes after one at %s: not in time order", n, ci.Timestamp, last.Timestamp)
		}
		last = ci
		i := ci.InterfaceIndex
		if i < 0 || i >= len(pods) {
			return n, fmt.Errorf("packet %d is on interface %d; there are %d Pods", n, i, len(pods))
		}
		h := &perPod[i]
		if h.Len() == 0 {
			return n, fmt.Errorf("packet %d is on Pod %s's interface, whose files have no packets left", n, pods[i].Pod)
		}
		want := (*h)[0]
		if !want.ci.Timestamp.Equal(ci.Timestamp) || want.ci.Length != ci.Length || !bytes.Equal(want.data, data) {
			return n, fmt.Errorf("packet %d (Pod %s): %s, %d of %d bytes; its files have next %s, %d of %d bytes (%s)",
				n, pods[i].Pod, ci.Timestamp, len(data), ci.Length, want.ci.Timestamp, len(want.data), want.ci.Length, want.path)
		}
		if ok, err := want.next(); err != nil {
			return n, err
		} else if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	for i := range perPod {
		if perPod[i].Len() > 0 {
			return n, fmt.Errorf("packets of %s (Pod %s) are missing from the merge", perPod[i][0].path, pods[i].Pod)
		}
	}
	if r.NInterfaces() != len(pods) {
		return n, fmt.Errorf("%d interfaces, want one per Pod (%d)", r.NInterfaces(), len(pods))
	}
	for i, p := range pods {
		got, err := r.Interface(i)
		if err != nil {
			return n, err
		}
		want := p.Interface()
		if got.Name != want.Name || got.Description != want.Description {
			return n, fmt.Errorf("interface %d is %q (%q), want %q (%q)", i, got.Name, got.Description, want.Name, want.Description)
		}
	}
	return n, nil
}
