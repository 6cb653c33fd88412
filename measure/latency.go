package measure

import (
	"sync"
	"sync/atomic"
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

// SeriesSigFigs is the precision of the per-second histograms of a
// Recorder's series: two significant digits (1%) keep a second's histogram
// near 20 KiB, so an hour-long window costs tens of MiB, not hundreds.
const SeriesSigFigs = 2

// NewHistogram returns an empty latency histogram with wsbench's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestUs, HighestUs, SigFigs)
}

// Micros converts a duration to whole microseconds, rounded to the nearest
// (not truncated: 1.9 µs is 2 µs).
func Micros(d time.Duration) int64 {
	if d < 0 {
		return -((-d + 500) / 1000).Nanoseconds()
	}
	return ((d + 500) / 1000).Nanoseconds()
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
// flushed into the shared histogram under a lock.
//
// Every value is recorded with the clock time it was taken at. Once
// StartSeries has set an origin, values also go into a histogram per
// second since that origin (the second the value was taken in, whenever its
// batch is flushed), until EndSeries: the per-second series.
type Recorder struct {
	mu      sync.Mutex
	h       *hdrhistogram.Histogram
	clamped uint64
	seconds []*hdrhistogram.Histogram // by second since origin; nil where empty

	origin atomic.Int64 // clock ns of second 0; 0: no series
	end    atomic.Int64 // clock ns after which values belong to no second; 0: open

	highest int64 // the ceiling values are clamped to, in µs
}

// NewRecorder returns an empty recorder of latencies from 1 µs to 60 s.
func NewRecorder() *Recorder { return NewRecorderUpTo(HighestUs) }

// NewRecorderUpTo returns an empty recorder whose ceiling is highestUs
// instead of 60 s: for durations that can outlast a minute (the time from
// a fault until a connection is back), which the 60 s ceiling would clamp.
func NewRecorderUpTo(highestUs int64) *Recorder {
	highestUs = max(highestUs, 2*LowestUs)
	return &Recorder{h: hdrhistogram.New(LowestUs, highestUs, SigFigs), highest: highestUs}
}

const batchSize = 256

// noSecond is the slot of values outside the series (before it, after it,
// or with no series).
const noSecond = -1

// StartSeries makes clock time origin (> 0) the start of second 0.
func (r *Recorder) StartSeries(origin int64) { r.origin.Store(max(origin, 1)) }

// EndSeries makes clock time end the end of the series: values taken at or
// after it belong to no second (they still go into the main histogram).
func (r *Recorder) EndSeries(end int64) { r.end.Store(max(end, 1)) }

// slot is the second of the series a value taken at clock time t belongs to.
func (r *Recorder) slot(t int64) int {
	o := r.origin.Load()
	if o == 0 || t < o {
		return noSecond
	}
	if e := r.end.Load(); e != 0 && t >= e {
		return noSecond
	}
	return int((t - o) / int64(time.Second))
}

// Batch is one goroutine's buffer of latencies for a Recorder.
type Batch struct {
	r    *Recorder
	slot int
	vals []int64
}

// Batch returns a new buffer feeding r; it is for one goroutine only.
func (r *Recorder) Batch() *Batch {
	return &Batch{r: r, slot: noSecond, vals: make([]int64, 0, batchSize)}
}

// Record adds one latency d, taken at clock time at. A batch holds values
// of one second only: a value from another second flushes it first, so
// each value lands in its own second however late the batch is flushed.
func (b *Batch) Record(at int64, d time.Duration) {
	if s := b.r.slot(at); s != b.slot {
		b.Flush()
		b.slot = s
	}
	b.vals = append(b.vals, Micros(d))
	if len(b.vals) == cap(b.vals) {
		b.Flush()
	}
}

// Flush moves the buffered values into the recorder's histograms.
func (b *Batch) Flush() {
	if len(b.vals) == 0 {
		return
	}
	b.r.mu.Lock()
	sec := b.r.second(b.slot)
	for _, v := range b.vals {
		b.r.record(v, sec)
	}
	b.r.mu.Unlock()
	b.vals = b.vals[:0]
}

// Record adds one latency taken at clock time at directly, taking the
// lock; for rare events such as handshakes.
func (r *Recorder) Record(at int64, d time.Duration) {
	s := r.slot(at)
	r.mu.Lock()
	r.record(Micros(d), r.second(s))
	r.mu.Unlock()
}

// second returns the histogram of second s, creating it; nil for noSecond.
// Called with r.mu held.
func (r *Recorder) second(s int) *hdrhistogram.Histogram {
	if s < 0 {
		return nil
	}
	for len(r.seconds) <= s {
		r.seconds = append(r.seconds, nil)
	}
	if r.seconds[s] == nil {
		r.seconds[s] = hdrhistogram.New(LowestUs, r.highest, SeriesSigFigs)
	}
	return r.seconds[s]
}

// record clamps a value into the histogram's range and counts the clamping,
// so a value out of range is never silently dropped. Sub-microsecond values
// are counted as 1 µs without being reported as clamped.
func (r *Recorder) record(us int64, sec *hdrhistogram.Histogram) {
	switch {
	case us < LowestUs:
		us = LowestUs
	case us > r.highest:
		us = r.highest
		r.clamped++
	}
	_ = r.h.RecordValue(us) // cannot fail: us is within the bounds
	if sec != nil {
		_ = sec.RecordValue(us)
	}
}

// Snapshot returns a copy of the histogram so far and the number of values
// clamped to its upper bound.
func (r *Recorder) Snapshot() (*hdrhistogram.Histogram, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := hdrhistogram.New(LowestUs, r.highest, SigFigs)
	h.Merge(r.h)
	return h, r.clamped
}

// Second returns a copy of the histogram of the values taken in second s of
// the series (an empty one when there were none). Values still buffered in
// a Batch are not in it until the batch is flushed: read it once every
// recording goroutine has flushed.
func (r *Recorder) Second(s int) *hdrhistogram.Histogram {
	h := hdrhistogram.New(LowestUs, r.highest, SeriesSigFigs)
	r.mu.Lock()
	defer r.mu.Unlock()
	if s >= 0 && s < len(r.seconds) && r.seconds[s] != nil {
		h.Merge(r.seconds[s])
	}
	return h
}

// QuantileBeyond is the q-th percentile (0–100) of h's values together
// with beyond more values that never ended (connections never back),
// counted as infinitely large: false when there is nothing, or when more
// than (100−q)% are beyond, so the percentile is not known. A scenario's
// figure and the merge of its shards both read it here, so the merged
// figure is the one a single process with the same values would report.
func QuantileBeyond(h *hdrhistogram.Histogram, beyond uint64, q float64) (int64, bool) {
	n := uint64(h.TotalCount())
	all := n + beyond
	if all == 0 || float64(beyond) > (1-q/100)*float64(all) || n == 0 {
		return 0, false
	}
	rank := q / 100 * float64(all) / float64(n) * 100
	return h.ValueAtQuantile(min(rank, 100)), true
}
