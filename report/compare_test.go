package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// cmpRecord is an echo record of one run with the given p99 and throughput;
// the other metrics are the same in every run.
func cmpRecord(conns, run int, p99 int64, throughput float64) Record {
	cpu, mem := 2.0, 30000.0
	return Record{
		Scenario: "echo", Mode: "closed-loop", Server: "gorilla", Driver: "gobwas", Conns: conns, PayloadBytes: 1024,
		Run: run, Status: StatusOK, DurationS: 10, ThroughputMsgsPerS: throughput, Errors: map[string]uint64{},
		Latency:             Latency{Count: 1000, P50: p99 / 2, P90: p99 * 3 / 4, P99: p99, P999: p99 * 2, Max: p99 * 3},
		ServerCPUPerMillion: &cpu, ServerMemPerConnBytes: &mem,
	}
}

// runs builds one record per value pair, numbering runs from 1.
func runs(conns int, p99s []int64, throughputs []float64) []Record {
	var rs []Record
	for i := range p99s {
		rs = append(rs, cmpRecord(conns, i+1, p99s[i], throughputs[i]))
	}
	return rs
}

func result(rs ...[]Record) *Result {
	res := &Result{Schema: Schema}
	for _, r := range rs {
		res.Records = append(res.Records, r...)
	}
	return res
}

func flat(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func findRow(t *testing.T, c *Comparison, metric string) CompareRow {
	t.Helper()
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row for %s in %+v", metric, c.Rows)
	return CompareRow{}
}

func mustCompare(t *testing.T, base, next *Result, opt CompareOptions) *Comparison {
	t.Helper()
	c, err := Compare(base, next, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	baseP99 = []int64{1000, 1010, 990, 1005, 995, 1002}
	slowP99 = []int64{1300, 1310, 1290, 1305, 1295, 1302} // +30%
)

func TestCompareRegressionBeyondAllowedFails(t *testing.T) {
	base := result(runs(1000, baseP99, flat(6, 5000)))
	next := result(runs(1000, slowP99, flat(6, 5000)))
	c := mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}, MaxRegression: map[string]float64{"p99": 0.10}})
	r := findRow(t, c, "p99")
	if r.Verdict != VerdictWorse || !r.Fail || !c.Failed() {
		t.Fatalf("verdict %q fail %v failed %v, want worse and failing", r.Verdict, r.Fail, c.Failed())
	}
	if math.Abs(r.DeltaPct-30) > 0.5 || r.AllowedPct != 10 {
		t.Errorf("delta %v%% allowed %v%%, want about +30%% and 10%%", r.DeltaPct, r.AllowedPct)
	}
	if r.OldMedian != 1001 || r.NewMedian != 1301 {
		t.Errorf("medians %v → %v, want 1001 → 1301", r.OldMedian, r.NewMedian)
	}
	if r.P > 0.01 || len(r.Old) != 6 || len(r.New) != 6 {
		t.Errorf("p %v n %d vs %d, want p ≈ 0.002 with 6 vs 6", r.P, len(r.Old), len(r.New))
	}
	if n := c.Counts(); n.Worse != 1 || n.Beyond != 1 {
		t.Errorf("counts %+v", n)
	}
}

func TestCompareRegressionWithinAllowedPasses(t *testing.T) {
	base := result(runs(1000, baseP99, flat(6, 5000)))
	next := result(runs(1000, slowP99, flat(6, 5000)))
	c := mustCompare(t, base, next, CompareOptions{MaxRegression: map[string]float64{"p99": 0.50}})
	r := findRow(t, c, "p99")
	if r.Verdict != VerdictWorse || r.Fail {
		t.Fatalf("verdict %q fail %v, want worse, not failing", r.Verdict, r.Fail)
	}
	// p50 and p999 follow p99 in cmpRecord and are allowed the default 5%.
	if p50 := findRow(t, c, "p50"); p50.Verdict != VerdictWorse || !p50.Fail {
		t.Errorf("p50 verdict %q fail %v, want worse beyond the default 5%%", p50.Verdict, p50.Fail)
	}
	// Identical figures in every run are unchanged, not a failure.
	for _, m := range []string{"throughput", "server_cpu_per_million", "mem_per_conn", "errors"} {
		if r := findRow(t, c, m); r.Verdict != VerdictSame || r.Fail {
			t.Errorf("%s: verdict %q fail %v, want ~", m, r.Verdict, r.Fail)
		}
	}
	c = mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}, MaxRegression: map[string]float64{"p99": 0.50}})
	if c.Failed() {
		t.Errorf("a 30%% regression with 50%% allowed failed")
	}
}

func TestCompareNoiseIsUnchanged(t *testing.T) {
	base := result(runs(1000, []int64{1000, 1040, 980, 1020, 960, 1010}, flat(6, 5000)))
	next := result(runs(1000, []int64{1030, 990, 1050, 970, 1005, 1015}, flat(6, 5000)))
	c := mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}, MaxRegression: map[string]float64{"p99": 0}})
	r := findRow(t, c, "p99")
	if r.Verdict != VerdictSame || r.Fail || c.Failed() {
		t.Fatalf("verdict %q p %v fail %v, want ~", r.Verdict, r.P, r.Fail)
	}
	if r.P <= 0.05 {
		t.Errorf("p %v for interleaved samples", r.P)
	}
}

func TestCompareThroughputDirection(t *testing.T) {
	p99 := flat6(1000)
	base := result(runs(10, p99, []float64{5000, 5010, 4990, 5005, 4995, 5002}))
	drop := result(runs(10, p99, []float64{4000, 4010, 3990, 4005, 3995, 4002}))
	rise := result(runs(10, p99, []float64{6000, 6010, 5990, 6005, 5995, 6002}))
	opt := CompareOptions{Metrics: []string{"throughput"}}
	if r := findRow(t, mustCompare(t, base, drop, opt), "throughput"); r.Verdict != VerdictWorse || !r.Fail || r.DeltaPct > -19 {
		t.Errorf("drop: verdict %q fail %v delta %v, want worse and failing", r.Verdict, r.Fail, r.DeltaPct)
	}
	c := mustCompare(t, base, rise, opt)
	if r := findRow(t, c, "throughput"); r.Verdict != VerdictBetter || r.Fail || r.DeltaPct < 19 {
		t.Errorf("rise: verdict %q fail %v delta %v, want better", r.Verdict, r.Fail, r.DeltaPct)
	}
	if c.Failed() || c.Counts().Better != 1 {
		t.Errorf("rise: failed %v counts %+v", c.Failed(), c.Counts())
	}
}

func flat6(v int64) []int64 { return []int64{v, v, v, v, v, v} }

// Three runs against three can fail one row alone (1/C(6,3) = 0.05), not
// one of two rows (Holm's first step asks 0.025).
func TestCompareTooFewRunsIsInsufficient(t *testing.T) {
	base := result(runs(10, []int64{1000, 1001, 1002}, flat(3, 5000)))
	next := result(runs(10, []int64{2000, 2001, 2002}, flat(3, 5000)))
	if r := findRow(t, mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}}), "p99"); r.Verdict != VerdictWorse || !r.Fail || r.PBeyond != 0.05 {
		t.Errorf("3 vs 3, one row: %+v, want failing at p beyond 1/20", r)
	}
	opt := CompareOptions{Metrics: []string{"p50", "p99"}}
	c := mustCompare(t, base, next, opt)
	r := findRow(t, c, "p99")
	if r.Verdict != VerdictInsufficient || !r.Fail || !c.Failed() {
		t.Fatalf("verdict %q fail %v failed %v, want insufficient and failing", r.Verdict, r.Fail, c.Failed())
	}
	if math.Abs(r.P-0.1) > 1e-9 {
		t.Errorf("p %v, want 0.1, the smallest two-sided p 3 vs 3 can give", r.P)
	}
	opt.AllowInsufficient = true
	c = mustCompare(t, base, next, opt)
	if r := findRow(t, c, "p99"); r.Verdict != VerdictInsufficient || r.Fail || c.Failed() {
		t.Errorf("allowed: verdict %q fail %v failed %v", r.Verdict, r.Fail, c.Failed())
	}
	var buf bytes.Buffer
	if err := RenderComparison(&buf, c, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "3 vs 3 runs cannot fail a row on its own: over 2 rows one must reach p beyond ≤ 0.05/2 = 0.025 (Holm), and a rank-sum test of 3 vs 3 runs gives at best 1/C(6,3); use --runs 4 or more") {
		t.Errorf("no explanation of the insufficient runs:\n%s", buf.String())
	}
}

func TestMinOneSidedPAndMinRuns(t *testing.T) {
	for _, tc := range []struct {
		n1, n2 int
		want   float64
	}{{3, 3, 1.0 / 20}, {4, 4, 1.0 / 70}, {5, 5, 1.0 / 252}, {1, 1, 0.5}, {3, 4, 1.0 / 35}} {
		if got := minOneSidedP(false, tc.n1, tc.n2); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("minOneSidedP(%d, %d) = %v, want %v", tc.n1, tc.n2, got, tc.want)
		}
		// It is what the test gives when every new run is beyond every old one.
		old, nw := make([]float64, tc.n1), make([]float64, tc.n2)
		for i := range old {
			old[i] = float64(1 + i)
		}
		for i := range nw {
			nw[i] = float64(100 + i)
		}
		if _, hi := rankSumTails(old, nw); math.Abs(hi-tc.want) > 1e-12 {
			t.Errorf("rank-sum test of %d vs %d separated runs: %v, want %v", tc.n1, tc.n2, hi, tc.want)
		}
	}
	for _, c := range []struct{ rows, want int }{{1, 3}, {2, 4}, {7, 5}, {35, 6}} {
		if got := MinRuns(0.05, c.rows); got != c.want {
			t.Errorf("MinRuns(0.05, %d) = %d, want %d", c.rows, got, c.want)
		}
	}
}

func TestCompareUnmatchedCells(t *testing.T) {
	p, th := flat6(1000), flat(6, 5000)
	base := result(runs(10, p, th), runs(100, p, th))
	next := result(runs(10, p, th), runs(1000, p, th))
	c := mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}})
	if len(c.Rows) != 1 || c.Rows[0].Cell != base.Records[0].CellKey() {
		t.Fatalf("rows %+v, want the conns=10 cell only", c.Rows)
	}
	if len(c.OnlyInBase) != 1 || !strings.Contains(c.OnlyInBase[0], "conns=100/") {
		t.Errorf("only in base %v", c.OnlyInBase)
	}
	if len(c.OnlyInNew) != 1 || !strings.Contains(c.OnlyInNew[0], "conns=1000/") {
		t.Errorf("only in new %v", c.OnlyInNew)
	}
	var buf bytes.Buffer
	if err := RenderComparison(&buf, c, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"only in base (not compared): " + c.OnlyInBase[0], "only in new (not compared): " + c.OnlyInNew[0]} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("missing %q in\n%s", want, buf.String())
		}
	}
}

func TestCompareSkipsMissingAndFailedRecords(t *testing.T) {
	base := result(runs(10, flat6(1000), flat(6, 5000)))
	next := result(runs(10, flat6(1000), flat(6, 5000)))
	for i := range next.Records {
		next.Records[i].ServerMemPerConnBytes = nil // a --target run, say
	}
	bad := cmpRecord(10, 7, 50000, 1)
	bad.Status = StatusFailed
	next.Records = append(next.Records, bad)
	c := mustCompare(t, base, next, CompareOptions{})
	for _, r := range c.Rows {
		if r.Metric == "mem_per_conn" {
			t.Errorf("mem_per_conn compared though missing in new")
		}
		if len(r.New) != 6 {
			t.Errorf("%s: %d new samples, want 6 (the failed run left out)", r.Metric, len(r.New))
		}
	}
	if c.Failed() {
		t.Errorf("identical runs failed: %+v", c.Rows)
	}
}

func TestCompareErrorsFromZero(t *testing.T) {
	base := result(runs(10, flat6(1000), flat(6, 5000)))
	next := result(runs(10, flat6(1000), flat(6, 5000)))
	for i := range next.Records {
		next.Records[i].Errors = map[string]uint64{"read": uint64(5 + i)}
	}
	c := mustCompare(t, base, next, CompareOptions{Metrics: []string{"errors"}})
	r := findRow(t, c, "errors")
	if r.Verdict != VerdictWorse || !r.Fail || !math.IsInf(r.DeltaPct, 1) {
		t.Errorf("verdict %q fail %v delta %v, want worse, failing, +Inf", r.Verdict, r.Fail, r.DeltaPct)
	}
}

func TestCompareOptionsChecked(t *testing.T) {
	res := result(runs(10, flat6(1000), flat(6, 5000)))
	if _, err := Compare(res, res, CompareOptions{Metrics: []string{"p98"}}); err == nil || !strings.Contains(err.Error(), "p99") {
		t.Errorf("unknown metric: %v, want an error listing the known ones", err)
	}
	if _, err := Compare(res, res, CompareOptions{Alpha: 2}); err == nil {
		t.Errorf("alpha 2 accepted")
	}
	// A limit on a metric outside the list adds it.
	c := mustCompare(t, res, res, CompareOptions{Metrics: []string{"p99"}, MaxRegression: map[string]float64{"p50": 0.2}})
	if r := findRow(t, c, "p50"); r.AllowedPct != 20 {
		t.Errorf("p50 allowed %v%%", r.AllowedPct)
	}
	if c.Alpha != 0.05 {
		t.Errorf("alpha %v, want the default 0.05", c.Alpha)
	}
	// Nothing in common: nothing was compared, which must not pass silently.
	other := result(runs(99, flat6(1000), flat(6, 5000)))
	if c := mustCompare(t, res, other, CompareOptions{}); !c.Failed() || len(c.Rows) != 0 {
		t.Errorf("no common cell: failed %v rows %d", c.Failed(), len(c.Rows))
	}
}

func TestCellKey(t *testing.T) {
	a, b := cmpRecord(1000, 1, 1000, 5000), cmpRecord(1000, 2, 2000, 6000)
	b.StartedAt = b.StartedAt.Add(3600e9)
	if a.CellKey() != b.CellKey() {
		t.Errorf("runs of one cell differ: %q vs %q", a.CellKey(), b.CellKey())
	}
	if want := "echo/server=gorilla/driver=gobwas/conns=1000/payload=1024"; a.CellKey() != want {
		t.Errorf("key %q, want %q", a.CellKey(), want)
	}
	differ := map[string]func(*Record){
		"conns":        func(r *Record) { r.Conns = 100 },
		"payload":      func(r *Record) { r.PayloadBytes = 64 },
		"text":         func(r *Record) { r.Text = true },
		"server":       func(r *Record) { r.Server = "coder" },
		"driver":       func(r *Record) { r.Driver = "gorilla" },
		"target":       func(r *Record) { r.Target = "ws://host:8080/echo" },
		"mode":         func(r *Record) { r.Mode = "open-loop"; r.OpenLoop = &OpenLoop{TargetRate: 5000} },
		"rate":         func(r *Record) { r.Mode = "open-loop"; r.OpenLoop = &OpenLoop{TargetRate: 6000} },
		"publishers":   func(r *Record) { r.Broadcast = &Broadcast{Publishers: 2, TargetRate: 100} },
		"ping":         func(r *Record) { r.Heartbeat = &Heartbeat{PingIntervalS: 0.5} },
		"connect_rate": func(r *Record) { r.Connect.TargetRatePerS = 500 },
		"compression":  func(r *Record) { r.Compression = &Compression{Offered: true} },
	}
	keys := map[string]string{a.CellKey(): "base"}
	for name, change := range differ {
		r := a
		change(&r)
		k := r.CellKey()
		if prev, dup := keys[k]; dup {
			t.Errorf("%s: key %q same as %s", name, k, prev)
		}
		keys[k] = name
	}
}

func TestParseMaxRegression(t *testing.T) {
	got, err := ParseMaxRegression("p99=10%, throughput=5%,mem_per_conn=12.5%")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"p99": 0.10, "throughput": 0.05, "mem_per_conn": 0.125}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got, err := ParseMaxRegression(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for in, wantErr := range map[string]string{
		"p99=10%,p98=5%": "p98=5%",     // names the bad part
		"p98=5%":         "throughput", // lists the known metrics
		"p99":            "metric=percent",
		"p99=10":         "percentage",
		"p99=ten%":       "not a number",
		"p99=-5%":        "negative",
		"p99=5%,p99=10%": "twice",
		"=5%":            "metric=percent",
	} {
		_, err := ParseMaxRegression(in)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want one containing %q", in, err, wantErr)
		}
	}
}

func TestRenderComparison(t *testing.T) {
	base := result(runs(1000, baseP99, []float64{5000, 5010, 4990, 5005, 4995, 5002}),
		runs(10, flat6(500), flat(6, 900)))
	next := result(runs(1000, slowP99, []float64{6000, 6010, 5990, 6005, 5995, 6002}),
		runs(20, flat6(500), flat(6, 900)))
	c := mustCompare(t, base, next, CompareOptions{Metrics: []string{"p50", "p99", "throughput", "mem_per_conn"},
		MaxRegression: map[string]float64{"p99": 0.10, "p50": 0.5}})
	for _, markdown := range []bool{false, true} {
		var buf bytes.Buffer
		if err := RenderComparison(&buf, c, markdown); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{
			"cell", "metric", "verdict",
			"1.00ms", "1.30ms", "+30.0%", "0.002", "6 vs 6", // p99: old, new, delta, p, n
			"worse ✗", "better", "~", "29.3 KiB", "5,001", "6,001",
			"only in base (not compared): echo/server=gorilla/driver=gobwas/conns=10/payload=1024",
			"compare: 2 worse (1 beyond allowed), 1 better, 1 unchanged, 0 insufficient",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("markdown=%v: missing %q in\n%s", markdown, want, out)
			}
		}
		if markdown && !strings.Contains(out, "|") {
			t.Errorf("markdown output has no table:\n%s", out)
		}
		t.Logf("markdown=%v:\n%s", markdown, out)
	}
}

// TestComparisonNoteReads: the note under a comparison names each test as a
// test, with the alpha it is judged at in full.
func TestComparisonNoteReads(t *testing.T) {
	for paired, want := range map[bool]string{
		true:  "p: the exact Wilcoxon signed-rank test of the pairs' log(B/A), two-sided, against no change; p beyond: the one-sided test",
		false: "p: the exact rank-sum (Mann–Whitney) test of new against old, two-sided, against no change; p beyond: the one-sided test",
	} {
		notes := strings.Join(comparisonNotes(&Comparison{Paired: paired, Base: "main", Alpha: 0.05}), "\n")
		if !strings.Contains(notes, want) || !strings.Contains(notes, "adjusted p beyond ≤ 0.05, so identical builds fail some row with a chance of at most 0.05") {
			t.Errorf("paired %v: notes\n%s\nwant %q", paired, notes, want)
		}
		if strings.Contains(notes, "test's") {
			t.Errorf("paired %v: garbled possessive in\n%s", paired, notes)
		}
	}
}
