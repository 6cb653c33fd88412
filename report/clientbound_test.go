package report

import (
	"strings"
	"testing"
)

// boundRecord is an echo row whose load generator ran at util of 2 CPUs
// with a scheduling-delay p99 of schedUs, judged as the runner judges it.
func boundRecord(t *testing.T, server string, run int, util float64, schedUs int64) Record {
	r := sampleRecord(t, server, run)
	server1, client1 := 13.0, 12.0
	r.ServerCPUPerMillion, r.ClientCPUPerMillion = &server1, client1
	r.Client = &ClientGuard{CPUs: 2, CPUUtil: util, SchedDelay: Latency{Count: 1000, P99: schedUs}}
	r.Client.Judge(r.Latency)
	return r
}

// footer is the client-bound paragraph under the table, unwrapped.
func footer(t *testing.T, res *Result) string {
	t.Helper()
	out := renderText(t, res, Markdown, true)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "_client-bound") {
			return line
		}
	}
	return ""
}

func TestClientBoundJudgeNamesTheRule(t *testing.T) {
	lat := Latency{Count: 100, P99: 400}
	for _, c := range []struct {
		util  float64
		sched int64
		want  []BoundRule
	}{
		{0.95, 50, []BoundRule{RuleSaturated}},
		{0.46, 230, []BoundRule{RuleSchedule}}, // 230µs ≥ half of 400µs
		{0.46, 190, nil},                       // at least half, but under the 200µs floor
		{0.95, 300, []BoundRule{RuleSaturated, RuleSchedule}},
		{0.89, 199, nil},
	} {
		g := ClientGuard{CPUs: 2, CPUUtil: c.util, SchedDelay: Latency{Count: 10, P99: c.sched}}
		g.Judge(lat)
		got := g.Rules(lat)
		if len(got) != len(c.want) || g.Bound != (len(c.want) > 0) || len(g.Reasons) != len(c.want) {
			t.Errorf("util %.2f sched %dµs: rules %v bound %v reasons %q, want %v", c.util, c.sched, got, g.Bound, g.Reasons, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("util %.2f sched %dµs: rules %v, want %v", c.util, c.sched, got, c.want)
			}
		}
	}
}

// TestClientBoundSaysWhichRuleFired: each rule's message names it with its
// figures and what it means for the scenario's numbers.
func TestClientBoundSaysWhichRuleFired(t *testing.T) {
	sat := boundRecord(t, "nbio", 1, 0.95, 50)
	other := sampleRecord(t, "gorilla", 1)
	other.ServerCPUPerMillion = sat.ServerCPUPerMillion
	f := footer(t, &Result{Environment: Environment{Cores: 2}, Records: []Record{sat, other}})
	for _, want := range []string{
		"client-bound: 1 of 2 rows (nbio): on this 2-core machine",
		"CPU saturation (1 row): the generator used 95% of its 2 CPUs (the rule: 90% or more), so msgs/s is its ceiling, not the server's",
		"(it spent 12.0 CPU s per 1M msgs, the servers 13.0)",
		"ranked by CPU s / 1M msgs",
		"--pin",
		"an open-loop --rate it can keep",
		"--inflight 8 for capacity",
	} {
		if !strings.Contains(f, want) {
			t.Errorf("saturation footer lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(f, "Scheduling delay") {
		t.Errorf("saturation footer blames scheduling delay:\n%s", f)
	}
	// Already pipelined: --inflight 8 is no advice.
	piped := boundRecord(t, "nbio", 1, 0.95, 50)
	piped.Labels = map[string]string{"inflight": "8"}
	if f := footer(t, &Result{Environment: Environment{Cores: 2}, Records: []Record{piped}}); strings.Contains(f, "--inflight") || !strings.Contains(f, "an open-loop --rate") {
		t.Errorf("a pipelined row's footer advises --inflight, or lost the --rate advice:\n%s", f)
	}

	sched := boundRecord(t, "nbio", 1, 0.46, 600)
	f = footer(t, &Result{Records: []Record{sched}})
	for _, want := range []string{
		"Scheduling delay (1 row): the generator's goroutines waited p99 600µs for a CPU, against a round-trip latency p99 of 990µs",
		"with its CPU at 46% of 2: not saturated",
		"and msgs/s with it (closed loop)",
	} {
		if !strings.Contains(f, want) {
			t.Errorf("scheduling-delay footer lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(f, "saturation") || strings.Contains(f, "ceiling") {
		t.Errorf("scheduling-delay footer says the generator was saturated:\n%s", f)
	}
	table := renderText(t, &Result{Records: []Record{sched}}, Table, true)
	if !strings.Contains(table, "│ sched ") || !strings.Contains(table, "client-bound: load generator scheduling delay p99 600µs is at least half the latency p99 990µs") {
		t.Errorf("the row does not name its rule:\n%s", table)
	}
}

// TestClientBoundAdviceFitsTheScenarioAndTheRun: no --pin to a pinned run;
// no CPU-per-message advice where the table has no such column; no --rate
// where the scenario takes none.
func TestClientBoundAdviceFitsTheScenarioAndTheRun(t *testing.T) {
	r := boundRecord(t, "nbio", 1, 0.95, 50)
	f := footer(t, &Result{Pinning: &Pinning{ServerCPUs: "0", ClientCPUs: "1"}, Records: []Record{r}})
	if strings.Contains(f, "--pin") || !strings.Contains(f, "it was pinned to CPU 1: --client-cpus") {
		t.Errorf("advice to a pinned run:\n%s", f)
	}

	rec := Record{Scenario: "reconnect", Mode: "reconnect", Server: "gorilla", Driver: "gobwas", Conns: 20, Run: 1, Status: StatusOK,
		DurationS: 6, Messages: 100, Errors: map[string]uint64{}, Latency: Latency{Count: 100, P99: 300},
		Figures: map[string]float64{"recovered_50_s": 2, "recovered_99_s": 3},
		Client:  &ClientGuard{CPUs: 2, CPUUtil: 0.07, SchedDelay: Latency{Count: 100, P99: 250}}}
	rec.Client.Judge(rec.Latency)
	other := rec
	other.Server, other.Client = "nbio", nil
	res := &Result{Records: []Record{rec, other}}
	f = footer(t, res)
	for _, want := range []string{"Scheduling delay", "ping→pong latency p99 of 300µs", "CPU at 7% of 2",
		"no per-message CPU figure, so the rows stay ranked by recover 99%", "fewer --conns"} {
		if !strings.Contains(f, want) {
			t.Errorf("reconnect footer lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(f, "CPU s / 1M") || strings.Contains(f, "--rate") {
		t.Errorf("reconnect footer gives advice its table cannot follow:\n%s", f)
	}
	if table := renderText(t, res, Table, false); strings.Contains(table, "CPU s / 1M") {
		t.Errorf("reconnect table grew a CPU-per-message column:\n%s", table)
	}
}

// TestClientBoundAcrossRunsIsCounted: a cell flagged in some of its runs
// reads "k of n runs".
func TestClientBoundAcrossRunsIsCounted(t *testing.T) {
	recs := []Record{
		boundRecord(t, "nbio", 1, 0.95, 50), boundRecord(t, "nbio", 2, 0.5, 50), boundRecord(t, "nbio", 3, 0.93, 50),
		boundRecord(t, "gorilla", 1, 0.5, 50), boundRecord(t, "gorilla", 2, 0.5, 50), boundRecord(t, "gorilla", 3, 0.91, 50),
	}
	f := footer(t, &Result{Records: recs})
	if !strings.Contains(f, "client-bound: gorilla in 1 of 3 runs, nbio in 2 of 3 runs:") || !strings.Contains(f, "CPU saturation (3 runs): the generator used 91–95%") {
		t.Errorf("footer does not count each cell's flagged runs:\n%s", f)
	}
	none := []Record{boundRecord(t, "nbio", 1, 0.5, 50), boundRecord(t, "nbio", 2, 0.5, 50)}
	if f := footer(t, &Result{Records: none}); f != "" {
		t.Errorf("client-bound footer with no client-bound row: %s", f)
	}
}

// TestClientBoundFromAnOlderRule: a file flagged by a rule this build does
// not apply keeps its recorded reason.
func TestClientBoundFromAnOlderRule(t *testing.T) {
	r := sampleRecord(t, "nbio", 1)
	r.Client = &ClientGuard{CPUs: 2, CPUUtil: 0.5, Bound: true, Reasons: []string{"an old rule"}}
	out := renderText(t, &Result{Records: []Record{r}}, Table, false)
	if !strings.Contains(out, "client-bound: an old rule") || !strings.Contains(out, "│ yes ") || !strings.Contains(out, "a rule this build does not apply keep the reasons recorded") {
		t.Errorf("older flag lost its reason:\n%s", out)
	}
}
