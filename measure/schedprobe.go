package measure

import (
	"math"
	"runtime/metrics"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// schedLatencies is the Go runtime's histogram of how long goroutines
// waited in a run queue after becoming runnable before they ran.
const schedLatencies = "/sched/latencies:seconds"

// SchedProbe measures how long the load generator's goroutines wait for a
// CPU once they are ready to run, from the Go runtime's own scheduling
// histogram (runtime/metrics, /sched/latencies:seconds, sampled by the
// runtime). When the load generator itself is saturated (CPU starved, GC
// pauses, too few Ps) this delay grows, and the latencies it reports for the
// server under test are inflated by about as much.
//
// An earlier probe slept on a 1 ms Go timer and measured how late it woke;
// on Linux that reads the timer's own granularity (0.5 ms late at p50, 1.1 ms
// at p99 on an idle machine) and flagged idle generators as saturated. The
// runtime's histogram has no such floor.
type SchedProbe struct {
	mu   sync.Mutex
	base []uint64 // bucket counts at the last Reset
}

// StartSchedProbe starts a probe window now. It holds no goroutine or
// timer: the runtime keeps the histogram, the probe only its baseline.
func StartSchedProbe() *SchedProbe {
	p := &SchedProbe{}
	p.Reset()
	return p
}

func readSched() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// Reset starts a fresh window, for example at the start of the measured
// phase after warm-up.
func (p *SchedProbe) Reset() {
	var base []uint64
	if h := readSched(); h != nil {
		base = append(base, h.Counts...)
	}
	p.mu.Lock()
	p.base = base
	p.mu.Unlock()
}

// Snapshot returns the scheduling delays since the probe started or was
// last Reset, in microseconds, each counted at the upper edge of its runtime
// bucket (so delays never read smaller than they were), and how many were
// clamped to the histogram's upper bound.
func (p *SchedProbe) Snapshot() (*hdrhistogram.Histogram, uint64) {
	out := NewHistogram()
	h := readSched()
	if h == nil {
		return out, 0
	}
	p.mu.Lock()
	base := p.base
	p.mu.Unlock()
	var clamped uint64
	for i, c := range h.Counts {
		if i < len(base) {
			c -= base[i]
		}
		if c == 0 {
			continue
		}
		edge := h.Buckets[i+1] // upper edge, seconds
		if math.IsInf(edge, 1) {
			edge = h.Buckets[i]
		}
		us := int64(math.Ceil(edge * 1e6))
		switch {
		case us < LowestUs:
			us = LowestUs
		case us > HighestUs:
			us = HighestUs
			clamped += c
		}
		_ = out.RecordValues(us, int64(c))
	}
	return out, clamped
}
