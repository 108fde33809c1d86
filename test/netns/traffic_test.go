package netns

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Ports of the test streams. The capture filter of most tests takes the
// first two and must leave the third out.
const (
	portStream   = 47000 // the numbered stream whose recording is measured
	portTicker   = 47001 // a steady ticker that shows when the capture ran
	portExcluded = 47002 // traffic the filter must exclude
)

// testFilter is the BPF filter most tests capture with.
var testFilter = fmt.Sprintf("udp and (dst port %d or dst port %d)", portStream, portTicker)

// peer sends UDP datagrams from the peer namespace to the Pod.
type peer struct {
	conn *net.UDPConn
	mu   sync.Mutex
}

// newPeer opens the peer's socket and, in the pod namespace, sinks for the
// test ports, so no datagram draws an ICMP error.
func (n *node) newPeer(t *testing.T) *peer {
	t.Helper()
	p := &peer{}
	inNetns(t, n.peerNS, func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(peerIP)})
		p.conn = c
		return err
	})
	t.Cleanup(func() { p.conn.Close() })
	for _, port := range []int{portStream, portTicker, portExcluded} {
		var sink *net.UDPConn
		inNetns(t, n.podNS, func() error {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(podIP), Port: port})
			sink = c
			return err
		})
		go func() {
			buf := make([]byte, 65536)
			for {
				if _, _, err := sink.ReadFromUDP(buf); err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() { sink.Close() })
	}
	return p
}

// payload is "fpc <stream> <seq>", padded with '.' to size bytes.
func payload(stream string, seq, size int) []byte {
	s := fmt.Sprintf("fpc %s %d ", stream, seq)
	if len(s) < size {
		s += strings.Repeat(".", size-len(s))
	}
	return []byte(s)
}

// send sends one datagram to the Pod.
func (p *peer) send(port int, b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.conn.WriteToUDP(b, &net.UDPAddr{IP: net.ParseIP(podIP), Port: port})
	return err
}

// streamResult tells what a stream really sent.
type streamResult struct {
	sent        int
	errors      int
	first, last time.Time
}

// stream sends count datagrams of size bytes, numbered from 0, one every
// interval, on a fixed schedule (a late one is sent at once, never skipped).
func (p *peer) stream(port int, name string, count, size int, interval time.Duration) streamResult {
	var r streamResult
	start := time.Now()
	for i := 0; i < count; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		if i == 0 {
			r.first = now
		}
		r.last = now
		if err := p.send(port, payload(name, i, size)); err != nil {
			r.errors++
			continue
		}
		r.sent++
	}
	return r
}

// ticker sends a numbered datagram every interval until stop is closed, and
// then reports what it sent.
func (p *peer) ticker(port int, name string, interval time.Duration, stop <-chan struct{}) <-chan streamResult {
	done := make(chan streamResult, 1)
	go func() {
		var r streamResult
		t := time.NewTicker(interval)
		defer t.Stop()
		for i := 0; ; i++ {
			now := time.Now()
			if i == 0 {
				r.first = now
			}
			r.last = now
			if err := p.send(port, payload(name, i, 32)); err != nil {
				r.errors++
			} else {
				r.sent++
			}
			select {
			case <-stop:
				done <- r
				return
			case <-t.C:
			}
		}
	}()
	return done
}
