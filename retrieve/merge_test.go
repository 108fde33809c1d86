package retrieve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/function-packet-capture/function-packet-capture/input/v1beta1"
)

// seen is one packet as read back from a pcapng.
type seen struct {
	Iface  int
	At     time.Time
	Length int
	Data   string
}

// readBack reads a pcapng with pcapgo, independently of CheckMerged.
func readBack(t *testing.T, path string) ([]seen, []pcapgo.NgInterface) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []seen
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, seen{Iface: ci.InterfaceIndex, At: ci.Timestamp.UTC(), Length: ci.Length, Data: string(data)})
	}
	var ifaces []pcapgo.NgInterface
	for i := 0; i < r.NInterfaces(); i++ {
		intf, _ := r.Interface(i)
		ifaces = append(ifaces, intf)
	}
	return out, ifaces
}

func putFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	// web-1 rotated into two files; web-2 interleaves with it, one packet at
	// the very same time as one of web-1's; web-3 captured nothing.
	a0 := packets("web-1", t0, 2*time.Millisecond, 3)
	a1 := packets("web-1 second file", t0.Add(10*time.Millisecond), time.Millisecond, 2)
	b0 := packets("web-2", t0.Add(time.Millisecond), time.Millisecond, 4)
	b0[1].at = a0[1].at
	pods := []PodFiles{
		{Namespace: "shop", Pod: "web-1", Node: "node-a", Source: "node-a-1234-qwer-x",
			Paths: []string{putFile(t, dir, "a0", pcapFile(t, a0)), putFile(t, dir, "a1", pcapFile(t, a1))}},
		{Namespace: "shop", Pod: "web-2", Node: "node-b", Source: "web-2-qwer-y",
			Paths: []string{putFile(t, dir, "b0", pcapFile(t, b0))}},
		{Namespace: "shop", Pod: "web-3", Node: "node-b", Source: "web-3-qwer-z",
			Paths: []string{putFile(t, dir, "c0", pcapFile(t, nil))}},
	}
	merged := filepath.Join(dir, "capture.pcapng")
	n, err := MergeFile(merged, pods, "test")
	if err != nil {
		t.Fatal(err)
	}

	// Expected: every packet, ordered by time, ties by Pod then file.
	var want []seen
	for i, ps := range [][]pkt{a0, a1, b0} {
		iface := map[int]int{0: 0, 1: 0, 2: 1}[i]
		for _, p := range ps {
			want = append(want, seen{Iface: iface, At: p.at, Length: len(p.data) + 10, Data: string(p.data)})
		}
	}
	sort.SliceStable(want, func(i, j int) bool { return want[i].At.Before(want[j].At) })
	got, ifaces := readBack(t, merged)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("merged packets (-want +got):\n%s", d)
	}
	if n != int64(len(want)) {
		t.Errorf("Merge says %d packets, want %d", n, len(want))
	}
	type iface struct {
		Name, Description string
		LinkType          layers.LinkType
	}
	var gotIfaces []iface
	for _, i := range ifaces {
		gotIfaces = append(gotIfaces, iface{i.Name, i.Description, i.LinkType})
	}
	wantIfaces := []iface{
		{"web-1", "Pod shop/web-1 on node node-a (captured by node-a-1234-qwer-x)", layers.LinkTypeLinuxSLL},
		{"web-2", "Pod shop/web-2 on node node-b (captured by web-2-qwer-y)", layers.LinkTypeLinuxSLL},
		{"web-3", "Pod shop/web-3 on node node-b (captured by web-3-qwer-z)", layers.LinkTypeLinuxSLL},
	}
	if d := cmp.Diff(wantIfaces, gotIfaces); d != "" {
		t.Errorf("interfaces (-want +got):\n%s", d)
	}
	if _, err := CheckMerged(merged, pods); err != nil {
		t.Errorf("CheckMerged on a good merge: %v", err)
	}
}

// TestCheckMerged: the read-back check fails for every way a merge can be
// wrong.
func TestCheckMerged(t *testing.T) {
	dir := t.TempDir()
	a := packets("web-1", t0, 2*time.Millisecond, 3)
	b := packets("web-2", t0.Add(time.Millisecond), 2*time.Millisecond, 3)
	pods := []PodFiles{
		{Namespace: "shop", Pod: "web-1", Node: "n", Source: "s1", Paths: []string{putFile(t, dir, "a", pcapFile(t, a))}},
		{Namespace: "shop", Pod: "web-2", Node: "n", Source: "s2", Paths: []string{putFile(t, dir, "b", pcapFile(t, b))}},
	}
	type out struct {
		iface int
		p     pkt
	}
	// good is the right merge.
	good := []out{{0, a[0]}, {1, b[0]}, {0, a[1]}, {1, b[1]}, {0, a[2]}, {1, b[2]}}
	cases := map[string]struct {
		packets []out
		ifaces  func([]pcapgo.NgInterface)
		want    string
	}{
		"Good":        {packets: good},
		"Missing":     {packets: good[:5], want: "packets of"},
		"Extra":       {packets: append(append([]out{}, good...), out{0, pkt{at: t0.Add(time.Second), data: []byte("extra")}}), want: "no packets left"},
		"OutOfOrder":  {packets: []out{good[1], good[0], good[2], good[3], good[4], good[5]}, want: "not in time order"},
		"WrongPod":    {packets: []out{{1, a[0]}, good[1], good[2], good[3], good[4], good[5]}, want: "packet 1 (Pod web-2)"},
		"ChangedByte": {packets: append([]out{{0, pkt{at: a[0].at, data: []byte("web-1 packet 0 .......!")}}}, good[1:]...), want: "packet 1 (Pod web-1)"},
		"WrongName": {packets: good, ifaces: func(i []pcapgo.NgInterface) { i[1].Name = "web-9" },
			want: `interface 1 is "web-9"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ifaces := []pcapgo.NgInterface{pods[0].Interface(), pods[1].Interface()}
			for i := range ifaces {
				ifaces[i].LinkType = layers.LinkTypeLinuxSLL
			}
			if tc.ifaces != nil {
				tc.ifaces(ifaces)
			}
			var buf bytes.Buffer
			w, err := pcapgo.NewNgWriterInterface(&buf, ifaces[0], pcapgo.NgWriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.AddInterface(ifaces[1]); err != nil {
				t.Fatal(err)
			}
			for _, o := range tc.packets {
				ci := gopacket.CaptureInfo{Timestamp: o.p.at, CaptureLength: len(o.p.data), Length: len(o.p.data) + 10, InterfaceIndex: o.iface}
				if err := w.WritePacket(ci, o.p.data); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			path := putFile(t, dir, name+".pcapng", buf.Bytes())
			_, err = CheckMerged(path, pods)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckMerged: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckMerged: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestFetchThenMerge: the files of a HostPath capture of three Pods on two
// nodes (one node Job of two Pods), fetched and merged: one interface per
// Pod, checked packet for packet against the fetched files.
func TestFetchThenMerge(t *testing.T) {
	s := sharedCapture(t, v1beta1.Output{Type: v1beta1.OutputHostPath, HostPath: "/var/tmp/packet-capture"})
	c := newCluster(t, append(s.objs, node("node-a"), node("node-b")), packetCapture(testPC, ""))
	for vol, files := range s.files {
		for n, b := range files {
			c.put(vol, n, b)
		}
	}
	cl := c.client()
	ctx := context.Background()
	cp, err := cl.Find(ctx, testNS, testPC)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	results, err := cl.Fetch(ctx, cp, FetchOptions{Dir: dir, HelperTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p := Problems(results); len(p) > 0 {
		t.Fatalf("fetch: %v", p)
	}
	inputs := MergeInputs(cp, results, dir)
	var names []string
	for _, in := range inputs {
		names = append(names, in.Pod+"@"+in.Node)
	}
	if d := cmp.Diff([]string{"web-1@node-a", "web-2@node-a", "web-3@node-b"}, names); d != "" {
		t.Errorf("merge inputs (-want +got):\n%s", d)
	}
	merged := filepath.Join(dir, testPC+".pcapng")
	n, err := MergeFile(merged, inputs, "test")
	if err != nil {
		t.Fatal(err)
	}
	checked, err := CheckMerged(merged, inputs)
	if err != nil {
		t.Fatal(err)
	}
	// sharedCapture gives the k-th Pod of a Job 4+k packets.
	if n != 4+5+4 || checked != n {
		t.Errorf("merged %d packets, checked %d, want 13", n, checked)
	}
	got, _ := readBack(t, merged)
	for i := 1; i < len(got); i++ {
		if got[i].At.Before(got[i-1].At) {
			t.Errorf("packet %d at %s before packet %d at %s", i+1, got[i].At, i, got[i-1].At)
		}
	}
}

// BenchmarkMerge merges 4 Pods of 50,000 packets of 200 bytes each (about
// 46 MB of pcap) and checks the merge back.
func BenchmarkMerge(b *testing.B) {
	dir := b.TempDir()
	var pods []PodFiles
	var size int64
	for i := range 4 {
		ps := make([]pkt, 50000)
		for j := range ps {
			ps[j] = pkt{at: t0.Add(time.Duration(j*4+i) * time.Microsecond), data: bytes.Repeat([]byte{byte(i)}, 200)}
		}
		data := pcapFile(b, ps)
		size += int64(len(data))
		pods = append(pods, PodFiles{Namespace: "shop", Pod: "web-" + string(rune('a'+i)), Node: "n", Source: "s",
			Paths: []string{putFile(b, dir, "p"+string(rune('a'+i)), data)}})
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		out := filepath.Join(dir, "merged.pcapng")
		if _, err := MergeFile(out, pods, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := CheckMerged(out, pods); err != nil {
			b.Fatal(err)
		}
	}
}
