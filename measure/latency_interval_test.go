package measure

import (
	"runtime"
	"testing"
	"time"
)

func TestRecorderTakeInterval(t *testing.T) {
	r := NewRecorder()
	if h := r.TakeInterval(); h.TotalCount() != 0 {
		t.Fatalf("first interval of an empty recorder has %d values", h.TotalCount())
	}
	b := r.Batch()
	for i := range 300 { // more than batchSize: one flush happens inside Record
		b.Record(time.Duration(i+1) * time.Millisecond)
	}
	b.Flush()
	r.Record(2 * time.Minute) // clamped to 60 s in both histograms
	first := r.TakeInterval()
	if first.TotalCount() != 301 {
		t.Fatalf("first interval: %d values, want 301", first.TotalCount())
	}
	if first.Max() < HighestUs*999/1000 {
		t.Fatalf("first interval max %d µs, want the clamped 60 s", first.Max())
	}

	b.Record(5 * time.Microsecond)
	r.Record(7 * time.Microsecond)
	if h, _ := r.Snapshot(); h.TotalCount() != 302 {
		t.Fatalf("Snapshot mid-interval: %d values, want 302", h.TotalCount())
	}
	b.Flush()
	second := r.TakeInterval()
	if second.TotalCount() != 2 || second.Min() != 5 || second.Max() != 7 {
		t.Fatalf("second interval: count %d min %d max %d, want 2 values 5 and 7 µs",
			second.TotalCount(), second.Min(), second.Max())
	}
	if first.TotalCount() != 301 {
		t.Fatal("taking an interval changed the histogram handed out before")
	}
	if h := r.TakeInterval(); h.TotalCount() != 0 {
		t.Fatalf("idle interval has %d values", h.TotalCount())
	}
	// The cumulative histogram keeps everything.
	h, clamped := r.Snapshot()
	if h.TotalCount() != 303 || clamped != 1 {
		t.Fatalf("Snapshot: %d values, %d clamped; want 303, 1", h.TotalCount(), clamped)
	}
}

func TestRecorderTakeIntervalConcurrent(t *testing.T) {
	r := NewRecorder()
	const goroutines, each = 4, 1000
	done := make(chan struct{})
	for range goroutines {
		go func() {
			b := r.Batch()
			for i := range each {
				b.Record(time.Duration(i+1) * time.Microsecond)
			}
			b.Flush()
			done <- struct{}{}
		}()
	}
	var total int64
	for range 20 { // a bounded number of intervals while the writers run
		total += r.TakeInterval().TotalCount()
		runtime.Gosched()
	}
	for range goroutines {
		<-done
	}
	total += r.TakeInterval().TotalCount()
	if total != goroutines*each {
		t.Fatalf("intervals hold %d values in all, want %d", total, goroutines*each)
	}
}
