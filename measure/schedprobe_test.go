package measure

import (
	"testing"
	"time"
)

func TestSchedProbe(t *testing.T) {
	const interval = time.Millisecond
	p := StartSchedProbe(interval)
	defer p.Stop()
	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	p.Stop()
	elapsed := time.Since(start)

	h, clamped := p.Snapshot()
	n := h.TotalCount()
	t.Logf("%d samples in %v, p50 %d µs, max %d µs", n, elapsed, h.ValueAtQuantile(50), h.Max())
	// Every sample takes at least one interval, so the count is bounded
	// above exactly; below, allow for a machine busy with other work.
	if limit := int64(elapsed / interval); n > limit {
		t.Fatalf("%d samples in %v: more than one per %v", n, elapsed, interval)
	}
	if n < 15 {
		t.Fatalf("%d samples in %v, want about 30 to 50", n, elapsed)
	}
	if p50 := h.ValueAtQuantile(50); p50 < 0 {
		t.Fatalf("p50 = %d µs, want ≥ 0", p50)
	}
	if clamped != 0 {
		t.Fatalf("%d samples clamped at 60 s", clamped)
	}

	// Nothing arrives after Stop, and Stop is idempotent.
	time.Sleep(3 * interval)
	p.Stop()
	if h2, _ := p.Snapshot(); h2.TotalCount() != n {
		t.Fatalf("%d samples after Stop, then %d", n, h2.TotalCount())
	}

	p.Reset()
	if h3, _ := p.Snapshot(); h3.TotalCount() != 0 {
		t.Fatalf("%d samples after Reset, want 0", h3.TotalCount())
	}
}

func TestSchedProbeResetWhileRunning(t *testing.T) {
	p := StartSchedProbe(time.Millisecond)
	defer p.Stop()
	// Reset and Snapshot race with the probe goroutine on purpose (run
	// with -race); the probe keeps recording into the new window.
	for range 5 {
		time.Sleep(2 * time.Millisecond)
		p.Reset()
		p.Snapshot()
	}
	deadline := time.Now().Add(time.Second)
	for {
		if h, _ := p.Snapshot(); h.TotalCount() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no samples in the window after Reset")
		}
		time.Sleep(time.Millisecond)
	}
}
