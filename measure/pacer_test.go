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

// TestPacerNextReleasesBatches: at a rate far above 1/Quantum, Next hands
// out the events in order, each one only once it is due, several to a wake,
// and the pacer sleeps at most once per Quantum of elapsed time however many
// events fall due.
func TestPacerNextReleasesBatches(t *testing.T) {
	c := NewClock()
	p := NewPacer(c)
	defer p.Close()
	s := Schedule{Start: c.Now() + int64(time.Millisecond), Rate: 1_000_000} // 1 µs apart
	const events = 20_000
	calls := 0
	for k := uint64(0); k < events; {
		end := p.Next(s, k, time.Second)
		now := c.Now()
		if end <= k {
			t.Fatalf("Next(%d) = %d: no event released within a second", k, end)
		}
		if due := s.Due(end - 1); due > now {
			t.Fatalf("event %d released %d ns before it was due", end-1, due-now)
		}
		k = end
		calls++
	}
	elapsed := time.Duration(c.Now() - s.Start)
	if limit := uint64(elapsed/p.Quantum) + 2; p.sleeps > limit {
		t.Errorf("%d sleeps in %v: more than one per %v quantum (%d)", p.sleeps, elapsed, p.Quantum, limit)
	}
	if calls >= events {
		t.Errorf("%d wakes for %d events: none released in a batch", calls, events)
	}
}

// TestPacerNextHonoursMaxWait: an event beyond maxWait is not released; Next
// returns k so the caller can look at its other conditions.
func TestPacerNextHonoursMaxWait(t *testing.T) {
	c := NewClock()
	p := NewPacer(c)
	defer p.Close()
	s := Schedule{Start: c.Now() + int64(time.Hour), Rate: 10}
	if end := p.Next(s, 0, time.Millisecond); end != 0 {
		t.Fatalf("Next released %d events due an hour from now", end)
	}
}
