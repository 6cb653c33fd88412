package measure

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// SchedProbe measures how late the Go scheduler and the OS wake a sleeping
// goroutine in the load generator. A goroutine sleeps for a fixed interval
// again and again and records, in microseconds, how much later than intended
// it woke. When the load generator itself is saturated (CPU starved, GC
// pauses, too few Ps) this delay grows, and the latencies it reports for the
// server under test are inflated by about as much; the probe's histogram
// tells the two apart.
type SchedProbe struct {
	interval time.Duration

	mu  sync.Mutex
	rec *Recorder // swapped by Reset; the probe records under mu

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// StartSchedProbe starts a probe that sleeps interval at a time until Stop.
// An interval of 1 ms costs about a thousand wake-ups a second.
func StartSchedProbe(interval time.Duration) *SchedProbe {
	if interval <= 0 {
		interval = time.Millisecond
	}
	p := &SchedProbe{
		interval: interval,
		rec:      NewRecorder(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go p.loop()
	return p
}

func (p *SchedProbe) loop() {
	defer close(p.done)
	t := time.NewTimer(p.interval)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-p.stop:
			return // the sleep cut short is not a sample
		case <-t.C:
			// Not the time sent on the channel: that is when the timer
			// fired, not when this goroutine got to run.
			late := max(time.Since(start)-p.interval, 0)
			p.mu.Lock()
			p.rec.Record(late)
			p.mu.Unlock()
			// Measure each sleep from when it starts, so a late wake-up
			// does not shorten the next sleep.
			start = time.Now()
			t.Reset(p.interval)
		}
	}
}

// Stop ends the probe and waits for its goroutine to exit; no sample is
// recorded after it returns. Calling it again does nothing.
func (p *SchedProbe) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// Snapshot returns a copy of the wake-up delays recorded since the probe
// started or was last Reset, in microseconds, and how many were clamped to
// the histogram's upper bound. Safe while the probe runs.
func (p *SchedProbe) Snapshot() (*hdrhistogram.Histogram, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rec.Snapshot()
}

// Reset discards the samples so far and starts a fresh window, for example
// at the start of the measured phase after warm-up. Safe while the probe
// runs.
func (p *SchedProbe) Reset() {
	fresh := NewRecorder() // allocate outside the lock
	p.mu.Lock()
	p.rec = fresh
	p.mu.Unlock()
}
