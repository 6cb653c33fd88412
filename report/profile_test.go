package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/profile"
	// The built-in scenarios register their profiles.
	_ "github.com/wsbench/wsbench/scenarios"
)

// TestEveryProfileNamesKnownColumns: a typo in a scenario's declaration is
// caught here, not by a blank column.
func TestEveryProfileNamesKnownColumns(t *testing.T) {
	if len(profile.Names()) < 4 {
		t.Fatalf("profiles %v: the built-in scenarios did not register theirs", profile.Names())
	}
	for _, name := range profile.Names() {
		if err := CheckProfile(profile.Lookup(name)); err != nil {
			t.Error(err)
		}
	}
	if err := CheckProfile(profile.Profile{Scenario: "x", Columns: []profile.Column{{Key: "nope"}}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown key: %v", err)
	}
	// A figure shown without a merge rule would vanish from merged files.
	if err := CheckProfile(profile.Profile{Scenario: "x", Columns: []profile.Column{{Key: "figure.storms"}}}); err == nil || !strings.Contains(err.Error(), "figure.storms (no merge declared)") {
		t.Fatalf("undeclared merge: %v", err)
	}
	bad := profile.Profile{Scenario: "x", Figures: []profile.Figure{{Name: "p", Merge: profile.Recomputed, Dist: "d", Quantile: 50, Beyond: "lost"}}}
	if err := CheckProfile(bad); err == nil || !strings.Contains(err.Error(), "lost must be summed") {
		t.Fatalf("recomputed figure without a summed beyond: %v", err)
	}
}

// TestNoRendererNeedsTheScenarioName: a scenario the renderers never heard
// of renders from its declaration alone.
// The profile is registered once per process (-count=2 runs the test
// again) and is valid, as the test above holds every registered one to.
func TestNoRendererNeedsTheScenarioName(t *testing.T) {
	registerOnce(profile.Profile{Scenario: "test-storm", Title: "storm of {conns} conns · {window}",
		Throughput: profile.Throughput{Label: "storms/s", Source: "messages"},
		Latency:    profile.Latency{Source: "latency", Prefix: "storm ", What: "storm time"},
		Columns: []profile.Column{{Key: "throughput"}, {Key: "latency"}, {Key: "errors", Label: "faults"},
			{Key: "figure.recovered", Label: "recovered", Format: profile.Percent, HigherIsBetter: true},
			{Key: "dist.detect", Label: "detect"}},
		Figures: []profile.Figure{{Name: "recovered", Merge: profile.Maximum}}})
	r := Record{Scenario: "test-storm", Server: "s", Driver: "d", Conns: 7, Status: StatusOK, DurationS: 1, Messages: 10,
		ThroughputMsgsPerS: 10, Latency: Latency{Count: 10, P50: 100, P99: 200},
		Figures: map[string]float64{"recovered": 0.99}, Distributions: map[string]Latency{"detect": {Count: 3, P50: 1500, P99: 2500, Max: 3000}}}
	var b strings.Builder
	if err := RenderWith(&b, &Result{Records: []Record{r}}, Table, Options{Wide: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"storm of 7 conns", "storms/s", "storm p99", "faults", "recovered", "99.0%", "detect p99", "2.50ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	for name, want := range map[string]float64{"figure.recovered": 0.99, "dist.detect.p99": 2500, "dist.detect.max": 3000} {
		m, ok := LookupMetric(name)
		if got, has := m.Value(r); !ok || !has || got != want {
			t.Errorf("metric %s: %v (declared %v), want %v", name, got, ok, want)
		}
	}
	th, err := ParseThreshold("test-storm:figure.recovered>=95%")
	if err != nil || !th.Metric.HigherIsBetter {
		t.Fatalf("threshold on a scenario's own figure: %+v, %v", th, err)
	}
	if _, ok := LookupMetric("figure.undeclared"); ok {
		t.Error("an undeclared figure is a metric")
	}
	if v, ok := LookupMetric("throughput"); !ok {
		t.Fatal("no throughput metric")
	} else if got, _ := v.Value(r); got != 10 {
		t.Fatalf("throughput metric %v, want 10", got)
	}
}

func TestParseSLOIsAThreshold(t *testing.T) {
	for in, want := range map[string]string{"p99=10ms": "p99 ≤ 10ms", "p99<10ms": "p99 < 10ms", "p50<=500us": "p50 ≤ 500µs"} {
		th, err := ParseSLO(in)
		if err != nil || th.Objective() != want {
			t.Errorf("ParseSLO(%q) = %q, %v; want %q", in, th.Objective(), err, want)
		}
	}
	for _, bad := range []string{"p99>10ms", "throughput<5", "p99=fast", "echo:p99<1ms", ""} {
		if _, err := ParseSLO(bad); err == nil {
			t.Errorf("ParseSLO(%q) accepted", bad)
		}
	}
}

// registerOnce registers a test's profile unless an earlier run of the
// test in this process did.
func registerOnce(p profile.Profile) {
	if !slices.Contains(profile.Names(), p.Scenario) {
		profile.Register(p)
	}
}
