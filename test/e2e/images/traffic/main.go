// Command traffic is the e2e's target app: it sends numbered UDP datagrams
// on its own loopback, RATE a second (default 1000), to a socket of its own,
// so a capture of its Pod can be checked by sequence number. Each payload is
//
//	fpc <POD_NAME> <seq> <unix nanoseconds when sent>
//
// padded with '.' to 64 bytes. Once a second it prints how many it sent, how
// many its own socket received and how many sends failed; it exits 0 on
// SIGTERM.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const port = 47000

func main() {
	rate := 1000
	if s := os.Getenv("RATE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			fmt.Fprintf(os.Stderr, "RATE=%q: want datagrams a second, 1 to 100000\n", s)
			os.Exit(2)
		}
		rate = n
	}
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod = "unknown"
	}
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A large receive buffer, so that the sink drops nothing while it is
	// starved of CPU: then "received" below "sent" is a loss in the
	// kernel before delivery, which no capture can see either.
	_ = sink.SetReadBuffer(4 << 20)
	var received atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	interval := time.Second / time.Duration(rate)
	start := time.Now()
	report := start.Add(time.Second)
	failed := 0
	var lastErr error
	// A fixed schedule: a datagram that is late is sent at once, never
	// skipped, and one whose send failed is sent again, so sequence
	// numbers have no gaps of the sender's making.
	for seq := 0; ; {
		select {
		case <-stop:
			fmt.Printf("stopped: sent %d, received %d, %d send errors\n", seq, received.Load(), failed)
			os.Exit(0)
		default:
		}
		if d := time.Until(start.Add(time.Duration(seq) * interval)); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		msg := fmt.Sprintf("fpc %s %d %d ", pod, seq, now.UnixNano())
		if len(msg) < 64 {
			msg += strings.Repeat(".", 64-len(msg))
		}
		if _, err := conn.Write([]byte(msg)); err != nil {
			failed++
			lastErr = err
			time.Sleep(time.Millisecond)
		} else {
			seq++
		}
		if now.After(report) {
			line := fmt.Sprintf("%s sent %d, received %d, %d send errors", now.UTC().Format(time.RFC3339Nano), seq, received.Load(), failed)
			if lastErr != nil {
				line += fmt.Sprintf(" (last: %v)", lastErr)
			}
			fmt.Println(line)
			report = report.Add(time.Second)
		}
	}
}
