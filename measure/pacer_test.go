package measure

import (
	"testing"
	"time"
)

func TestScheduleDueAndFirst(t *testing.T) {
	s := Schedule{Start: 1000, Rate: 3} // every 333,333,333.3 ns
	if s.Due(0) != 1000 || s.Due(3) != 1000+int64(time.Second) || s.Due(1) != 1000+333_333_333 {
		t.Fatalf("Due: %d %d %d", s.Due(0), s.Due(1), s.Due(3))
	}
	for _, tc := range []struct {
		t    int64
		want uint64
	}{{0, 0}, {1000, 0}, {1001, 1}, {s.Due(5), 5}, {s.Due(5) + 1, 6}, {s.Due(5) - 1, 5}} {
		if got := s.First(tc.t); got != tc.want {
			t.Errorf("First(%d) = %d, want %d", tc.t, got, tc.want)
		}
	}
}

// TestConnSeqsPartitionsTheEvents: the per-connection ranges of a window
// cover every event of the window exactly once.
func TestConnSeqsPartitionsTheEvents(t *testing.T) {
	for _, n := range []int{1, 3, 7} {
		for _, w := range [][2]uint64{{0, 10}, {5, 6}, {4, 31}, {9, 9}} {
			seen := map[uint64]int{}
			for i := range n {
				from, to := ConnSeqs(w[0], w[1], i, n)
				for seq := from; seq < to; seq++ {
					seen[seq*uint64(n)+uint64(i)]++
				}
			}
			if len(seen) != int(w[1]-w[0]) {
				t.Errorf("n=%d window %v: %d events covered, want %d", n, w, len(seen), w[1]-w[0])
			}
			for k, c := range seen {
				if k < w[0] || k >= w[1] || c != 1 {
					t.Errorf("n=%d window %v: event %d covered %d times", n, w, k, c)
				}
			}
		}
	}
}

// TestPacerNeverWakesEarly: whatever the kernel timer does, Until returns
// at or after the time asked for, and a wait capped by maxWait returns
// early without spinning the rest.
func TestPacerNeverWakesEarly(t *testing.T) {
	c := NewClock()
	p := NewPacer(c)
	defer p.Close()
	for i := range 20 {
		due := c.Now() + int64(time.Duration(i%4)*300*time.Microsecond)
		if woke := p.Until(due, time.Second); woke < due {
			t.Fatalf("woke %d ns early", due-woke)
		}
	}
	due := c.Now() + int64(time.Hour)
	if woke := p.Until(due, time.Millisecond); woke >= due || time.Duration(due-woke) < 59*time.Minute {
		t.Fatalf("a wait capped at 1 ms returned at %d for a due time an hour away", woke)
	}
}

// BenchmarkPacerLateness reports how late the pacer wakes (p50, p99) at a
// low rate (1 ms apart) and at a high one (50 µs apart), and compares a Go
// timer. Run: go test ./measure -run x -bench PacerLateness -benchtime 2000x
func BenchmarkPacerLateness(b *testing.B) {
	for _, gap := range []time.Duration{time.Millisecond, 50 * time.Microsecond} {
		b.Run("pacer/gap="+gap.String(), func(b *testing.B) {
			c := NewClock()
			p := NewPacer(c)
			defer p.Close()
			h := NewHistogram()
			start := c.Now()
			cpu0 := SelfCPU()
			b.ResetTimer()
			for i := range b.N {
				due := start + int64(i+1)*int64(gap)
				woke := p.Until(due, time.Second)
				_ = h.RecordValue(max(Micros(time.Duration(woke-due)), 1))
			}
			b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-late-µs")
			b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-late-µs")
			b.ReportMetric(float64(SelfCPU()-cpu0)/float64(time.Duration(c.Now()-start)), "cpu-frac")
		})
	}
	b.Run("go-timer/gap=1ms", func(b *testing.B) {
		h := NewHistogram()
		start := time.Now()
		tm := time.NewTimer(time.Hour)
		defer tm.Stop()
		for i := range b.N {
			due := start.Add(time.Duration(i+1) * time.Millisecond)
			tm.Reset(time.Until(due))
			<-tm.C
			_ = h.RecordValue(max(Micros(time.Since(due)), 1))
		}
		b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-late-µs")
		b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-late-µs")
	})
}
