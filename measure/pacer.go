package measure

import (
	"math"
	"time"
)

// Schedule is a fixed-rate schedule on the load generator's Clock: event k
// (k = 0, 1, 2, ...) is due at Start + k/Rate seconds. An open-loop sender
// spreads it over n connections, event k going to connection k mod n as its
// message number k div n, so the total rate is even rather than bursty.
type Schedule struct {
	Start int64   // clock ns of event 0
	Rate  float64 // events per second, > 0
}

// Due is the clock time event k is due at.
func (s Schedule) Due(k uint64) int64 {
	return s.Start + int64(math.Round(float64(k)*1e9/s.Rate))
}

// First is the index of the first event due at or after clock time t.
func (s Schedule) First(t int64) uint64 {
	if t <= s.Start {
		return 0
	}
	k := uint64(math.Ceil(float64(t-s.Start) * s.Rate / 1e9))
	for k > 0 && s.Due(k-1) >= t {
		k--
	}
	for s.Due(k) < t {
		k++
	}
	return k
}

// ConnSeqs is the range [from, to) of message numbers of connection i of n
// whose events fall in the event range [kFrom, kTo).
func ConnSeqs(kFrom, kTo uint64, i, n int) (from, to uint64) {
	first := func(k uint64) uint64 { // first seq with seq*n+i >= k
		if k <= uint64(i) {
			return 0
		}
		return (k - uint64(i) + uint64(n) - 1) / uint64(n)
	}
	return first(kFrom), first(kTo)
}

// Pacer sleeps until points on the load generator's Clock, precisely. A Go
// timer on Linux wakes 0.5 ms late at p50 and 1.1 ms at p99 on an idle
// machine (the scheduler's poller waits in whole milliseconds), which an
// open-loop sender would report as latency. The Linux pacer instead arms a
// timerfd that the runtime's poller watches, so the goroutine wakes when the
// kernel timer fires (tens of µs late), and spins the last SpinFor of the
// wait when that costs at most a tenth of the time between wake-ups.
type Pacer struct {
	clock Clock
	// SpinFor is how long before each due time the pacer wakes to spin.
	SpinFor  time.Duration
	lastWake int64
	sleeper  sleeper
}

// MinSleep is the shortest sleep the pacer takes: at rates above
// 1/MinSleep it wakes every MinSleep and releases everything due by then.
const MinSleep = 100 * time.Microsecond

// DefaultSpin covers the kernel timer's wake-up lateness on the machines
// measured (p50 45 µs, p99 190 µs without spinning).
const DefaultSpin = 100 * time.Microsecond

// NewPacer returns a pacer on clock c; Close releases it.
func NewPacer(c Clock) *Pacer {
	return &Pacer{clock: c, SpinFor: DefaultSpin, sleeper: newSleeper()}
}

// Until sleeps until clock time t, or at most max, and returns the clock
// time it woke at. A caller that must notice other events waits in chunks.
func (p *Pacer) Until(t int64, maxWait time.Duration) int64 {
	now := p.clock.Now()
	wait := time.Duration(t - now)
	if wait <= 0 {
		return now
	}
	spin := p.SpinFor
	if time.Duration(t-p.lastWake) < 8*spin || wait > maxWait {
		spin = 0 // not worth a spin: an eighth of the gap at most
	}
	if sleep := min(max(wait-spin, MinSleep), maxWait); spin == 0 || wait > spin {
		// Shorter sleeps than MinSleep cost a wake-up each for little
		// precision: at high rates the events due within it leave together.
		p.sleeper.sleep(sleep)
	}
	if wait > maxWait {
		return p.clock.Now()
	}
	for now = p.clock.Now(); now < t; now = p.clock.Now() {
	}
	p.lastWake = now
	return now
}

// Close releases the pacer's timer.
func (p *Pacer) Close() { p.sleeper.close() }
