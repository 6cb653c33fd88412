package suite

import (
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	_ "github.com/wsbench/wsbench/scenarios" // registers the scenarios' profiles, whose figures are metrics
)

func TestBuiltinSuiteParsesAndCoversEveryQuestion(t *testing.T) {
	s, err := Parse(Builtin())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"throughput per CPU", "tail latency under a fixed load", "memory per idle connection", "fan-out",
		"recovery", "behaviour with bad clients", "conformance", "compression", "connect storm"} {
		found := false
		for _, have := range s.Questions() {
			found = found || have == q
		}
		if !found {
			t.Errorf("the built-in suite asks no %q", q)
		}
		if notes[q] == "" {
			t.Errorf("no note says what the %q numbers mean", q)
		}
	}
	for _, p := range s.Parts {
		for _, m := range p.Metrics {
			if _, ok := report.LookupMetric(m); !ok {
				t.Errorf("part %s: unknown metric %q", p.Name, m)
			}
		}
	}
}

func TestParseRefusesByName(t *testing.T) {
	for body, want := range map[string]string{
		"parts: []\n": "no parts",
		"parts:\n  - {name: a, question: q, command: bench}\n":                                         `command "bench"`,
		"parts:\n  - {name: a b, question: q, command: run}\n":                                         `name "a b"`,
		"parts:\n  - {name: a, question: q, command: run}\n  - {name: a, question: q, command: run}\n": `name "a"`,
		"parts:\n  - {name: a, command: run}\n":                                                        "no question",
		"parts:\n  - {name: a, question: q, command: run, argz: []}\n":                                 "argz",
	} {
		if _, err := Parse([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func TestQuickArgsComeLastSoTheyWin(t *testing.T) {
	p := Part{Args: []string{"--runs", "5"}, Quick: []string{"--runs", "1"}}
	if got := strings.Join(p.ArgsFor(true), " "); got != "--runs 5 --runs 1" {
		t.Errorf("quick args %q", got)
	}
	if got := strings.Join(p.ArgsFor(false), " "); got != "--runs 5" {
		t.Errorf("full args %q", got)
	}
}

// TestWinnerOnlyWhereTheSpreadAllows: a winner needs 3 runs each and no
// overlap with the runner-up.
func TestWinnerOnlyWhereTheSpreadAllows(t *testing.T) {
	m, _ := report.LookupMetric("p99")
	per := func(a, b []float64) map[string]*series {
		return map[string]*series{"a": {server: "a", values: a}, "b": {server: "b", values: b}}
	}
	for _, c := range []struct {
		a, b []float64
		want string
	}{
		{[]float64{100, 110, 105}, []float64{200, 210, 190}, "Winner on p99: **a**"},
		{[]float64{100, 210, 105}, []float64{200, 210, 190}, "No winner: a and b overlap"},
		{[]float64{100, 110}, []float64{200, 210}, "No winner named: 2 run(s) each"},
	} {
		if got := winner(m, []string{"a", "b"}, per(c.a, c.b)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v vs %v: %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestRemainingScalesByThePartsDone(t *testing.T) {
	parts := []PartRecord{{Status: StatusNotRun}, {Status: StatusMissing}, {Status: StatusNotRun}}
	est := []time.Duration{time.Minute, time.Hour, time.Minute}
	if got := remaining(est, parts, 0, 0); got != 2*time.Minute {
		t.Errorf("before any part: %s", got)
	}
	if got := remaining(est, parts, 3*time.Minute, 2*time.Minute); got != 3*time.Minute {
		t.Errorf("parts ran 1.5× their estimate: %s, want 3m", got)
	}
}
