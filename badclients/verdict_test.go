package badclients

import (
	"math"
	"strings"
	"testing"
)

func TestServerVerdict(t *testing.T) {
	clean := []Figures{
		{P99Us: 1000, Throughput: 10000, Completeness: 1},
		{P99Us: 1100, Throughput: 9500, Completeness: 1},
		{P99Us: 950, Throughput: 10200, Completeness: 0.9995},
	}
	for _, c := range []struct {
		name   string
		bad    BadCell
		class  Class
		reason string
		p99    float64 // expected P99Ratio
		tp     float64 // expected ThroughputRatio
	}{
		{"identical", BadCell{Figures: clean[0]}, Unaffected, "within", 1, 1},
		{"slightly worse, within noise", BadCell{Figures: Figures{P99Us: 1200, Throughput: 8600, Completeness: 0.999}}, Unaffected, "within", 1.2, 0.86},
		{"p99 just past the band", BadCell{Figures: Figures{P99Us: 1211, Throughput: 10000, Completeness: 1}}, Degraded, "p99 ×1.21", 1.211, 1},
		{"2x worse", BadCell{Figures: Figures{P99Us: 2000, Throughput: 5000, Completeness: 1}}, Degraded, "p99 ×2.00, throughput ×0.50", 2, 0.5},
		{"deliveries lost", BadCell{Figures: Figures{P99Us: 1000, Throughput: 10000, Completeness: 0.99}}, Degraded, "completeness 99.00%", 1, 1},
		{"zero throughput", BadCell{Figures: Figures{P99Us: 0, Throughput: 0, Completeness: 0}}, Stalled, "completed nothing", 0, 0},
		{"stalled window", BadCell{Figures: clean[1], Stalled: true}, Stalled, "no progress", 1.1, 0.95},
		{"killed", BadCell{Figures: clean[0], Killed: true, Reason: "(RSS 2.0 GiB)"}, Killed, "killed at the memory cap (RSS 2.0 GiB)", 1, 1},
		{"crashed beats stalled", BadCell{Stalled: true, Crashed: true, Reason: "exit status 2"}, Killed, "crashed exit status 2", 0, 0},
	} {
		v, err := ServerVerdict(clean, c.bad)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v.Class != c.class || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("%s: %s (%s), want %s (%s)", c.name, v.Class, v.Reason, c.class, c.reason)
		}
		if math.Abs(v.P99Ratio-c.p99) > 1e-9 || math.Abs(v.ThroughputRatio-c.tp) > 1e-9 {
			t.Errorf("%s: ratios p99 %v throughput %v, want %v %v", c.name, v.P99Ratio, v.ThroughputRatio, c.p99, c.tp)
		}
	}
}

func TestServerVerdictEdges(t *testing.T) {
	if _, err := ServerVerdict(nil, BadCell{}); err == nil {
		t.Error("no clean cells: want an error")
	}
	// Echo has no completeness: negative figures are not judged.
	clean := []Figures{{P99Us: 50, Throughput: 100, Completeness: -1}}
	v, _ := ServerVerdict(clean, BadCell{Figures: Figures{P99Us: 50, Throughput: 100, Completeness: -1}})
	if v.Class != Unaffected || v.CompletenessRatio != 0 {
		t.Errorf("no completeness: %+v", v)
	}
	// A clean cell that completed nothing either: zero is not a stall, and
	// ratios to a zero median are 0, not Inf.
	clean = []Figures{{P99Us: 0, Throughput: 0, Completeness: -1}}
	v, _ = ServerVerdict(clean, BadCell{Figures: Figures{Throughput: 0, Completeness: -1}})
	if v.Class != Unaffected || v.ThroughputRatio != 0 || v.P99Ratio != 0 {
		t.Errorf("both zero: %+v", v)
	}
	// Even count of clean cells: the median is the mean of the middle two.
	clean = []Figures{{P99Us: 100, Throughput: 10}, {P99Us: 300, Throughput: 30}}
	v, _ = ServerVerdict(clean, BadCell{Figures: Figures{P99Us: 400, Throughput: 20}})
	if v.Class != Degraded || v.P99Ratio != 2 || v.ThroughputRatio != 1 {
		t.Errorf("even clean set: %+v", v)
	}
}
