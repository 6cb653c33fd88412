package measure

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestSchedProbeSeesAStarvedScheduler: with one P and a goroutine that never
// yields, goroutines made runnable wait for the hog's time slice (about
// 10 ms, then async preemption) before they run. The probe must see delays
// of milliseconds; after a Reset on an idle process, it must not.
func TestSchedProbeSeesAStarvedScheduler(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p := StartSchedProbe()

	stop := time.Now().Add(60 * time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the hog
		defer wg.Done()
		for time.Now().Before(stop) {
		}
	}()
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	h, clamped := p.Snapshot()
	t.Logf("starved: %d samples, p50 %d µs, p99 %d µs", h.TotalCount(), h.ValueAtQuantile(50), h.ValueAtQuantile(99))
	if h.TotalCount() == 0 || h.ValueAtQuantile(99) < 1000 {
		t.Fatalf("%d samples, p99 %d µs: a starved scheduler must show delays of milliseconds", h.TotalCount(), h.ValueAtQuantile(99))
	}
	if clamped != 0 {
		t.Fatalf("%d samples clamped", clamped)
	}

	p.Reset()
	if h, _ := p.Snapshot(); h.TotalCount() > 0 && h.ValueAtQuantile(99) >= 1000 {
		t.Fatalf("right after Reset: %d samples, p99 %d µs; the window must start empty", h.TotalCount(), h.ValueAtQuantile(99))
	}
}
