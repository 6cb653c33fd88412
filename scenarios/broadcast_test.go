package scenarios

import (
	"testing"

	"github.com/wsbench/wsbench/measure"
)

// TestFanoutCountsIncompleteMessagesPastTheRing: 10,000 measured publishes
// that never reach every subscriber are 10,000 incomplete fan-outs, not
// the last 4096.
func TestFanoutCountsIncompleteMessagesPastTheRing(t *testing.T) {
	var w measure.Span
	w.Open(1)
	f := newFanout(1, 2, &w)
	for seq := range uint64(10_000) {
		f.publish(0, seq, 10+int64(seq))
		f.deliver(0, seq, 20+int64(seq)) // one of two subscribers
	}
	w.Close(1 << 40)
	if _, _, incomplete := f.result(); incomplete != 10_000 {
		t.Fatalf("%d incomplete fan-outs, want 10000", incomplete)
	}
}
