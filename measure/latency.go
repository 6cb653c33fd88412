package measure

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies in microseconds from 1 µs to 60 s with three
// significant digits.
const (
	LowestUs  = 1
	HighestUs = 60_000_000
	SigFigs   = 3
)

// NewHistogram returns an empty latency histogram with wsbench's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestUs, HighestUs, SigFigs)
}

// Clock reads the load generator's monotonic clock as nanoseconds since it was
// started; send times in message headers use it.
type Clock struct{ start time.Time }

// NewClock starts a clock.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now is the time since the clock started.
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }

// Recorder merges latencies from many goroutines into one histogram. A
// histogram is not goroutine-safe and is too large (about 100 KiB) to keep
// one per connection, so each goroutine records into a small Batch that is
// flushed into the shared histogram under a lock every batchSize values.
//
// Every value also goes into an interval histogram that TakeInterval hands
// out and replaces, for per-second time series; Snapshot is unaffected by it.
type Recorder struct {
	mu       sync.Mutex
	h        *hdrhistogram.Histogram
	interval *hdrhistogram.Histogram // values since the last TakeInterval
	clamped  uint64
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{h: NewHistogram(), interval: NewHistogram()} }

const batchSize = 256

// Batch is one goroutine's buffer of latencies for a Recorder.
type Batch struct {
	r    *Recorder
	vals []int64
}

// Batch returns a new buffer feeding r; it is for one goroutine only.
func (r *Recorder) Batch() *Batch {
	return &Batch{r: r, vals: make([]int64, 0, batchSize)}
}

// Record adds one latency.
func (b *Batch) Record(d time.Duration) {
	b.vals = append(b.vals, d.Microseconds())
	if len(b.vals) == cap(b.vals) {
		b.Flush()
	}
}

// Flush moves the buffered values into the recorder's histogram.
func (b *Batch) Flush() {
	if len(b.vals) == 0 {
		return
	}
	b.r.mu.Lock()
	for _, v := range b.vals {
		b.r.record(v)
	}
	b.r.mu.Unlock()
	b.vals = b.vals[:0]
}

// Record adds one latency directly, taking the lock; for rare events such as
// handshakes.
func (r *Recorder) Record(d time.Duration) {
	r.mu.Lock()
	r.record(d.Microseconds())
	r.mu.Unlock()
}

// record clamps a value into the histogram's range and counts the clamping,
// so a value out of range is never silently dropped. Sub-microsecond values
// are counted as 1 µs without being reported as clamped.
func (r *Recorder) record(us int64) {
	switch {
	case us < LowestUs:
		us = LowestUs
	case us > HighestUs:
		us = HighestUs
		r.clamped++
	}
	_ = r.h.RecordValue(us) // cannot fail: us is within the bounds
	_ = r.interval.RecordValue(us)
}

// Snapshot returns a copy of the histogram so far and the number of values
// clamped to its upper bound.
func (r *Recorder) Snapshot() (*hdrhistogram.Histogram, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := NewHistogram()
	h.Merge(r.h)
	return h, r.clamped
}

// TakeInterval returns the histogram of the values recorded since the
// previous call (or since the recorder was made) and starts a new interval.
// The caller owns the returned histogram. Values still buffered in a Batch
// belong to the interval in which they are flushed, so an interval's edges
// are as sharp as the batches are small: up to batchSize values per
// goroutine may land one interval late. The replacement histogram is
// allocated outside the lock, so recording goroutines wait only for a
// pointer swap.
func (r *Recorder) TakeInterval() *hdrhistogram.Histogram {
	fresh := NewHistogram()
	r.mu.Lock()
	h := r.interval
	r.interval = fresh
	r.mu.Unlock()
	return h
}
