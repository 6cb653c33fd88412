package measure

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// gcPauseMetric is the runtime's histogram of GC stop-the-world pauses, each
// from deciding to stop the world until it is started again.
const gcPauseMetric = "/sched/pauses/total/gc:seconds"

var gcPause = struct {
	sync.Mutex
	s []metrics.Sample // reused: Read recycles a histogram's memory
}{s: []metrics.Sample{{Name: gcPauseMetric}}}

// GCPauseTotal is the total time this process has spent stopped by the
// garbage collector so far. Subtract two readings to get the pause time of a
// phase; it grows by the pause time the load generator's own latencies may
// include. It is read from runtime/metrics, which does not stop the world
// as runtime.ReadMemStats does, but records pauses in a histogram, not as a
// sum: each pause counts as the midpoint of its bucket, whose width is a
// quarter to an eighth of its value, so the total is an estimate within
// about ±12%. It never decreases. On a runtime without the metric it falls
// back to runtime.MemStats.PauseTotalNs.
func GCPauseTotal() time.Duration {
	gcPause.Lock()
	defer gcPause.Unlock()
	metrics.Read(gcPause.s)
	v := gcPause.s[0].Value
	if v.Kind() != metrics.KindFloat64Histogram {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return time.Duration(ms.PauseTotalNs)
	}
	h := v.Float64Histogram()
	var secs float64
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		var mid float64
		switch {
		case math.IsInf(lo, -1):
			mid = hi
		case math.IsInf(hi, 1):
			mid = lo
		default:
			mid = (lo + hi) / 2
		}
		secs += float64(n) * mid
	}
	return time.Duration(secs * float64(time.Second))
}
