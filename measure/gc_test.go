package measure

import (
	"runtime"
	"testing"
	"time"
)

func TestGCPauseTotal(t *testing.T) {
	before := GCPauseTotal()
	if before < 0 {
		t.Fatalf("GCPauseTotal = %v", before)
	}
	runtime.GC()
	runtime.GC()
	after := GCPauseTotal()
	if after <= 0 || after < before {
		t.Fatalf("GCPauseTotal went from %v to %v over two GCs, want > 0 and non-decreasing", before, after)
	}
	runtime.GC()
	again := GCPauseTotal()
	if again < after {
		t.Fatalf("GCPauseTotal decreased from %v to %v", after, again)
	}
	// Each GC cycle stops the world twice; pauses in a small test heap are
	// well under 100 ms each.
	if again > time.Second {
		t.Fatalf("GCPauseTotal = %v: implausibly large", again)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("GCPauseTotal %v; MemStats.PauseTotalNs %v over %d GCs", again, time.Duration(ms.PauseTotalNs), ms.NumGC)
}
