package retrieve

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress reports copies as they go: on a terminal one line redrawn in
// place (a bar when the size is known), elsewhere one plain line per copy
// when it ends, so logs and CI output stay readable. A nil *Progress
// reports nothing.
type Progress struct {
	Out      io.Writer
	Terminal bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Bar counts the bytes of one copy.
type Bar struct {
	p            *Progress
	label        string
	total, n     int64
	start, drawn time.Time
	mu           sync.Mutex
}

// Start begins reporting one copy of total bytes (0: unknown).
func (p *Progress) Start(label string, total int64) *Bar {
	if p == nil {
		return nil
	}
	now := p.now()
	return &Bar{p: p, label: label, total: total, start: now}
}

func (p *Progress) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Write counts b; it never fails.
func (b *Bar) Write(data []byte) (int, error) {
	if b == nil {
		return len(data), nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(len(data))
	if b.p.Terminal {
		if now := b.p.now(); now.Sub(b.drawn) >= 100*time.Millisecond {
			b.drawn = now
			fmt.Fprintf(b.p.Out, "\r\033[K%s", b.line(now))
		}
	}
	return len(data), nil
}

// Done ends the copy's report.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.p.now()
	if b.p.Terminal {
		fmt.Fprintf(b.p.Out, "\r\033[K%s\n", b.line(now))
		return
	}
	fmt.Fprintf(b.p.Out, "fetched %s: %s in %.1fs\n", b.label, humanBytes(b.n), now.Sub(b.start).Seconds())
}

// line is "label [=====>    ]  45%  12.0 MiB / 26.6 MiB  3.1 MiB/s".
func (b *Bar) line(now time.Time) string {
	rate := ""
	if secs := now.Sub(b.start).Seconds(); secs > 0 {
		rate = "  " + humanBytes(int64(float64(b.n)/secs)) + "/s"
	}
	if b.total <= 0 {
		return fmt.Sprintf("%s  %s%s", b.label, humanBytes(b.n), rate)
	}
	const width = 30
	frac := min(float64(b.n)/float64(b.total), 1)
	full := int(frac * width)
	bar := strings.Repeat("=", full)
	if full < width {
		bar += ">" + strings.Repeat(" ", width-full-1)
	}
	return fmt.Sprintf("%s [%s] %3d%%  %s / %s%s", b.label, bar, int(frac*100), humanBytes(b.n), humanBytes(b.total), rate)
}

// humanBytes prints n in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, []string{"B", "KiB", "MiB", "GiB"}[i])
}
