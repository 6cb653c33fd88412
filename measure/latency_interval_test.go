package measure

import (
	"testing"
	"time"
)

const sec = int64(time.Second)

// TestSeriesPutsEveryValueInItsOwnSecond: a low-rate connection records one
// value every 1.5 s, far fewer than a batch holds; the values must still land
// in the seconds they were taken in, not in the second the batch happened to
// fill or be flushed.
func TestSeriesPutsEveryValueInItsOwnSecond(t *testing.T) {
	r := NewRecorder()
	origin := 10 * sec
	r.StartSeries(origin)
	b := r.Batch()
	b.Record(origin-sec/2, time.Millisecond) // before the series: no second
	b.Record(origin, time.Millisecond)
	if h := r.Second(0); h.TotalCount() != 0 {
		t.Fatalf("second 0 has %d values before anything was flushed; batches are flushed later", h.TotalCount())
	}
	for i := int64(1); i < 4; i++ {
		b.Record(origin+i*3*sec/2, time.Duration(i+1)*time.Millisecond) // at 1.5, 3, 4.5 s
	}
	b.Flush()
	want := map[int]int64{0: 1000, 1: 2000, 3: 3000, 4: 4000} // µs
	for s := range 6 {
		h := r.Second(s)
		if w, ok := want[s]; ok {
			if h.TotalCount() != 1 || h.Max() < w*99/100 || h.Max() > w*101/100 {
				t.Errorf("second %d: %d values, max %d µs; want one of %d µs", s, h.TotalCount(), h.Max(), w)
			}
		} else if h.TotalCount() != 0 {
			t.Errorf("second %d: %d values, want none", s, h.TotalCount())
		}
	}
	r.EndSeries(origin + 4*sec)
	b.Record(origin+4*sec+1, time.Millisecond) // after the end: no second
	b.Flush()
	if h := r.Second(4); h.TotalCount() != 1 {
		t.Fatalf("a value after EndSeries went into second 4 (%d values)", h.TotalCount())
	}
	if h, _ := r.Snapshot(); h.TotalCount() != 6 {
		t.Fatalf("the main histogram has %d values, want all 6", h.TotalCount())
	}
}

func TestRecorderRoundsAndClamps(t *testing.T) {
	r := NewRecorder()
	r.Record(0, 1900*time.Nanosecond) // 1.9 µs is 2 µs, not 1
	r.Record(0, 2*time.Minute)        // clamped to 60 s, counted
	h, clamped := r.Snapshot()
	if h.Min() != 2 || clamped != 1 || h.Max() < HighestUs*999/1000 {
		t.Fatalf("min %d max %d clamped %d; want 2 µs, 60 s and 1 clamped", h.Min(), h.Max(), clamped)
	}
	if Micros(1499*time.Nanosecond) != 1 || Micros(1500*time.Nanosecond) != 2 {
		t.Fatal("Micros does not round to the nearest microsecond")
	}
}

func TestSeriesConcurrentBatches(t *testing.T) {
	r := NewRecorder()
	r.StartSeries(1)
	const goroutines, each = 4, 1000
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			b := r.Batch()
			for i := range each {
				// Spread over seconds 0..3, interleaved across goroutines.
				b.Record(1+int64((i+g)%4)*sec, time.Duration(i+1)*time.Microsecond)
			}
			b.Flush()
			done <- struct{}{}
		}()
	}
	for range goroutines {
		<-done
	}
	var total int64
	for s := range 4 {
		n := r.Second(s).TotalCount()
		if n != goroutines*each/4 {
			t.Errorf("second %d: %d values, want %d", s, n, goroutines*each/4)
		}
		total += n
	}
	if total != goroutines*each {
		t.Fatalf("series holds %d values, want %d", total, goroutines*each)
	}
}
