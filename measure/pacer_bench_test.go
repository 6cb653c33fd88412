package measure

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPacer paces b.N events at 1,000, 20,000 and 200,000 a second the
// way the open-loop sender does (sleep until the next event is due, release
// every event due by the wake) and reports, per event, how late it was
// released (p50, p99, max, in µs), the share of one core the process spent
// keeping time (cpu-frac: its CPU time over wall time; nothing else runs in
// it), and wakes per second. It uses only Until and Schedule, so the same
// file measures an older pacer too. Run it alone on the machine:
//
//	go test ./measure -run '^$' -bench '^BenchmarkPacer$' -benchtime 3s -count 3
func BenchmarkPacer(b *testing.B) {
	for _, rate := range []float64{1_000, 20_000, 200_000} {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) {
			c := NewClock()
			p := NewPacer(c)
			defer p.Close()
			h := NewHistogram()
			s := Schedule{Start: c.Now() + int64(time.Millisecond), Rate: rate}
			wakes := 0
			t0, cpu0 := c.Now(), SelfCPU()
			b.ResetTimer()
			for k := uint64(0); k < uint64(b.N); {
				due := s.Due(k)
				now := p.Until(due, time.Second)
				if now < due {
					continue
				}
				wakes++
				end := min(max(s.First(now+1), k+1), uint64(b.N))
				for ; k < end; k++ {
					_ = h.RecordValue(max(Micros(time.Duration(now-s.Due(k))), 1))
				}
			}
			wall := time.Duration(c.Now() - t0)
			b.StopTimer()
			b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-late-µs")
			b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-late-µs")
			b.ReportMetric(float64(h.Max()), "max-late-µs")
			b.ReportMetric(float64(SelfCPU()-cpu0)/float64(wall), "cpu-frac")
			b.ReportMetric(float64(wakes)/wall.Seconds(), "wakes/s")
		})
	}
}
