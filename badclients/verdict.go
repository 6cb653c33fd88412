package badclients

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Figures are the good clients' numbers of one cell: plain numbers, so the
// verdict does not depend on the report's schema.
type Figures struct {
	// P99Us is the good clients' p99 latency in µs.
	P99Us float64
	// Throughput is the good clients' completed messages per second.
	Throughput float64
	// Completeness is the share of broadcast deliveries made (0–1);
	// negative when the scenario has none.
	Completeness float64
}

// BadCell is the bad cell of a pair: its good clients' figures and what
// became of the server.
type BadCell struct {
	Figures
	// Stalled: the good clients made no progress in some window of the
	// cell (the runner's per-second series says so).
	Stalled bool
	// Killed: the runner killed the server at its memory cap; Crashed: it
	// died on its own. Reason says how (exit status, RSS at the cap).
	Killed, Crashed bool
	Reason          string
}

// Class is the verdict on what the bad clients did to the good ones.
type Class string

// The verdict classes, from best to worst.
const (
	Unaffected Class = "unaffected"
	Degraded   Class = "degraded"
	Stalled    Class = "stalled"
	Killed     Class = "killed"
)

// Noise margins of the unaffected band. A bad cell's good clients are
// unaffected when each figure lies within what the clean cells showed:
// p99 at most the clean maximum × (1 + LatencyMargin), throughput at least
// the clean minimum × (1 − ThroughputMargin), and completeness at least
// the clean minimum − CompletenessSlack. The clean cells' own min–max is
// the noise of this machine and run; the margins allow for one more draw
// from it (with three clean runs the next often lands just outside).
// Completeness takes an absolute slack, as a delivery lost in a thousand
// matters where a p99 10% higher does not.
const (
	LatencyMargin     = 0.10
	ThroughputMargin  = 0.10
	CompletenessSlack = 0.001
)

// Verdict says what the bad clients did to the good ones of one library
// and kind.
type Verdict struct {
	Class Class `json:"class"`
	// Ratios of the bad cell's good-client figures to the clean cells'
	// median: above 1 is slower for P99Ratio, below 1 is less for
	// ThroughputRatio and CompletenessRatio. 0 when the clean median is 0
	// (or, for completeness, not measured).
	P99Ratio          float64 `json:"p99_ratio"`
	ThroughputRatio   float64 `json:"throughput_ratio"`
	CompletenessRatio float64 `json:"completeness_ratio,omitempty"`
	// Reason is one line a summary table can show beside the class.
	Reason string `json:"reason"`
}

// ServerVerdict classifies a bad cell against the clean cells paired with
// it: killed (or crashed) over stalled over degraded over unaffected.
// Stalled also covers a cell whose good clients completed nothing where
// the clean cells did. Degraded names every figure outside the band with
// its ratio to the clean median.
func ServerVerdict(clean []Figures, bad BadCell) (Verdict, error) {
	if len(clean) == 0 {
		return Verdict{}, errors.New("badclients: a verdict needs at least one clean cell")
	}
	p99s := collect(clean, func(f Figures) float64 { return f.P99Us })
	tps := collect(clean, func(f Figures) float64 { return f.Throughput })
	comps := collect(clean, func(f Figures) float64 { return f.Completeness })
	v := Verdict{
		P99Ratio:        ratio(bad.P99Us, median(p99s)),
		ThroughputRatio: ratio(bad.Throughput, median(tps)),
	}
	hasComp := bad.Completeness >= 0 && slices.Min(comps) >= 0
	if hasComp {
		v.CompletenessRatio = ratio(bad.Completeness, median(comps))
	}

	switch {
	case bad.Killed || bad.Crashed:
		v.Class = Killed
		what := "crashed"
		if bad.Killed {
			what = "killed at the memory cap"
		}
		v.Reason = strings.TrimSpace(what + " " + bad.Reason)
		return v, nil
	case bad.Stalled:
		v.Class, v.Reason = Stalled, "good clients made no progress in some window"
		return v, nil
	case bad.Throughput <= 0 && slices.Max(tps) > 0:
		v.Class, v.Reason = Stalled, "good clients completed nothing"
		return v, nil
	}

	var worse []string
	if bad.P99Us > slices.Max(p99s)*(1+LatencyMargin) {
		worse = append(worse, fmt.Sprintf("p99 ×%.2f", v.P99Ratio))
	}
	if bad.Throughput < slices.Min(tps)*(1-ThroughputMargin) {
		worse = append(worse, fmt.Sprintf("throughput ×%.2f", v.ThroughputRatio))
	}
	if hasComp && bad.Completeness < slices.Min(comps)-CompletenessSlack {
		worse = append(worse, fmt.Sprintf("completeness %.2f%% (clean %.2f%%)", 100*bad.Completeness, 100*median(comps)))
	}
	if len(worse) == 0 {
		v.Class, v.Reason = Unaffected, "within the clean cells' spread"
		return v, nil
	}
	v.Class, v.Reason = Degraded, strings.Join(worse, ", ")
	return v, nil
}

func collect(fs []Figures, get func(Figures) float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = get(f)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ratio(x, base float64) float64 {
	if base == 0 {
		return 0
	}
	return x / base
}
