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

// Pacer sleeps until points on the load generator's Clock, precisely and
// cheaply. A Go timer on Linux wakes 0.5 ms late at p50 and 1.1 ms at p99 on
// an idle machine (the scheduler's poller waits in whole milliseconds),
// which an open-loop sender would report as latency. The Linux pacer instead
// arms a timerfd that the runtime's poller watches, so the goroutine wakes
// when the kernel timer fires (tens of µs late).
//
// What a wake-up costs, not the sleep, is the pacer's CPU, so it bounds how
// often it wakes: its sleep targets are at least Quantum apart, and a caller
// releases every event due by the time of a wake in one batch (Next). At
// high rates that is at most 1/Quantum wake-ups a second whatever the rate,
// and an event waits at most Quantum plus the kernel's wake-up lateness; it
// never spins there. Only when the targets are far apart (8·SpinFor or
// more: 1,250 events a second or fewer) does it wake SpinFor early and spin
// to the due time, which costs at most an eighth of the time between events
// and takes the kernel's lateness out of a low-rate run's figures.
type Pacer struct {
	clock Clock
	// SpinFor is how long before each due time the pacer wakes to spin,
	// when the sleep targets are at least 8·SpinFor apart.
	SpinFor time.Duration
	// Quantum is the least time between two sleep targets: the pacer wakes
	// at most 1/Quantum times a second.
	Quantum time.Duration
	// lastTarget is the clock time the last full sleep aimed at.
	lastTarget int64
	sleeps     uint64 // kernel sleeps taken, for tests
	sleeper    sleeper
}

// DefaultSpin covers the kernel timer's wake-up lateness on the machines
// measured (p50 45 µs, p99 190 µs without spinning).
const DefaultSpin = 100 * time.Microsecond

// DefaultQuantum bounds the pacer at 5,000 wake-ups a second: an event due
// between two wakes waits at most 200 µs for the next one. A wake-up costs
// 45–60 µs of CPU on the 2-core VM this was measured on (BenchmarkPacer),
// so the pacer's CPU follows its wake-ups: 50 µs took 64–76 % of a core
// at 20k–200k events/s for 31–39 µs p50 lateness; 200 µs takes 25–32 %
// (the old spinning pacer's share) for 100 µs p50 and a p99 3 to 13
// times lower than the old pacer's.
const DefaultQuantum = 200 * time.Microsecond

// NewPacer returns a pacer on clock c; Close releases it.
func NewPacer(c Clock) *Pacer {
	return &Pacer{clock: c, SpinFor: DefaultSpin, Quantum: DefaultQuantum, sleeper: newSleeper()}
}

// Until sleeps until clock time t, or at most maxWait, and returns the clock
// time it woke at: never before t unless maxWait ran out first. A caller that
// must notice other events waits in chunks. It may wake after t by up to
// Quantum when the last sleep aimed at less than Quantum before t.
func (p *Pacer) Until(t int64, maxWait time.Duration) int64 {
	now := p.clock.Now()
	if t <= now {
		return now
	}
	target := max(t, p.lastTarget+int64(p.Quantum))
	wait := time.Duration(target - now)
	if wait > maxWait {
		p.sleeper.sleep(maxWait)
		return p.clock.Now()
	}
	spin := p.SpinFor
	if time.Duration(target-p.lastTarget) < 8*spin {
		spin = 0 // not worth a spin: more than an eighth of the gap
	}
	p.lastTarget = target
	if wait > spin {
		p.sleeps++
		p.sleeper.sleep(wait - spin)
	}
	// The spin; without one, a guard: the kernel never wakes a timer early,
	// but a fallback sleep is only as good as its clock.
	for now = p.clock.Now(); now < target; now = p.clock.Now() {
	}
	return now
}

// Next sleeps until event k of s is due, or at most maxWait, and returns the
// index one past the last event due when it woke: events k … end-1 are due
// and the caller releases them together, each still stamped with its own due
// time (s.Due), so latency is measured from the schedule, not from the
// release. end == k when maxWait ran out first.
func (p *Pacer) Next(s Schedule, k uint64, maxWait time.Duration) (end uint64) {
	due := s.Due(k)
	now := p.Until(due, maxWait)
	if now < due {
		return k
	}
	return max(s.First(now+1), k+1)
}

// Close releases the pacer's timer.
func (p *Pacer) Close() { p.sleeper.close() }
