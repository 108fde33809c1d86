package netns

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// packet is one packet of a PCAP file as tcpdump -r prints it.
type packet struct {
	at      time.Time
	src     string
	dst     string
	dstPort int
	udp     bool
	// stream and seq come from the payload written by payload().
	stream string
	seq    int
	line   string
}

var (
	// 1732440000.123456 ifb0  In  IP 198.51.100.2.40000 > 198.51.100.1.47000: UDP, length 64
	headerLine = regexp.MustCompile(`^(\d+)\.(\d{6}) `)
	ipv4Line   = regexp.MustCompile(`IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): (UDP)?`)
	payloadRe  = regexp.MustCompile(`fpc ([a-z]+) (\d+) `)
)

// readPCAP reads a PCAP file with tcpdump -r and fails the test when the
// file is not a complete, valid PCAP.
func readPCAP(t *testing.T, path string) []packet {
	t.Helper()
	checkPCAPHeader(t, path)
	cmd := exec.Command(toolPaths["tcpdump"], "-r", path, "-n", "-tt", "-q", "-A")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, stderr.String())
	}
	if strings.Contains(stderr.String(), "truncated") {
		t.Fatalf("tcpdump -r %s: %s", path, stderr.String())
	}
	var pkts []packet
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := headerLine.FindStringSubmatch(line); m != nil {
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			usec, _ := strconv.ParseInt(m[2], 10, 64)
			p := packet{at: time.Unix(sec, usec*1000), line: line, seq: -1}
			if ip := ipv4Line.FindStringSubmatch(line); ip != nil {
				p.src, p.dst = ip[1], ip[3]
				p.dstPort, _ = strconv.Atoi(ip[4])
				p.udp = ip[5] == "UDP"
			}
			pkts = append(pkts, p)
			continue
		}
		if len(pkts) == 0 {
			continue
		}
		last := &pkts[len(pkts)-1]
		if last.stream == "" {
			if m := payloadRe.FindStringSubmatch(line); m != nil {
				last.stream = m[1]
				last.seq, _ = strconv.Atoi(m[2])
			}
		}
	}
	return pkts
}

// checkPCAPHeader checks the PCAP global header: a known magic number and
// version 2.4.
func checkPCAPHeader(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [24]byte
	if _, err := f.Read(h[:]); err != nil {
		t.Fatalf("%s: no PCAP header: %v", path, err)
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(h[:4]) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		t.Fatalf("%s: not a PCAP file (magic % x)", path, h[:4])
	}
	if major, minor := order.Uint16(h[4:6]), order.Uint16(h[6:8]); major != 2 || minor != 4 {
		t.Fatalf("%s: PCAP version %d.%d, want 2.4", path, major, minor)
	}
}
