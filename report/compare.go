package report

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/perf/benchmath"
)

// CellKey identifies "the same cell" across result files: everything that
// defines what was measured (scenario, mode, server or target, driver,
// connections, payload, message kind, compression and the rates asked
// for), and nothing
// that varies from run to run (run number, times, measured figures).
// It reads like "echo/server=gorilla/driver=gobwas/conns=1000/payload=1024";
// the closed-loop mode, binary messages and unpaced connects are the
// defaults and are left out.
func (r Record) CellKey() string {
	return r.cellKey(true, true)
}

// cellKey is CellKey, with or without the variant of an A/B run and the
// bad clients of a --bad-clients pair.
func (r Record) cellKey(withVariant, withBad bool) string {
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	parts := []string{r.Scenario}
	if r.Mode != "" && r.Mode != "closed-loop" {
		parts = append(parts, r.Mode)
	}
	if r.Server != "" {
		parts = append(parts, "server="+r.Server)
	}
	if withVariant && r.Variant != "" {
		parts = append(parts, "variant="+r.Variant)
	}
	if r.Target != "" {
		parts = append(parts, "target="+r.Target)
	}
	parts = append(parts, "driver="+r.Driver, "conns="+strconv.Itoa(r.Conns), "payload="+strconv.Itoa(r.PayloadBytes))
	if r.Text {
		parts = append(parts, "text")
	}
	if r.Compression != nil && r.Compression.Offered {
		parts = append(parts, "deflate")
	}
	if r.OpenLoop != nil {
		parts = append(parts, "rate="+num(r.OpenLoop.TargetRate))
	}
	if b := r.Broadcast; b != nil {
		parts = append(parts, "publishers="+strconv.Itoa(b.Publishers), "rate="+num(b.TargetRate))
	}
	if h := r.Heartbeat; h != nil {
		parts = append(parts, "ping="+num(h.PingIntervalS)+"s")
	}
	if r.Connect.TargetRatePerS > 0 {
		parts = append(parts, "connect_rate="+num(r.Connect.TargetRatePerS))
	}
	if r.Fault != nil {
		parts = append(parts, "fault="+r.Fault.Kind)
	}
	if r.BadClients != nil && withBad {
		parts = append(parts, "bad_clients="+r.BadClients.Spec)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		parts = append(parts, k+"="+r.Labels[k])
	}
	return strings.Join(parts, "/")
}

// DefaultCompareMetrics are the metrics Compare looks at when
// CompareOptions.Metrics is empty.
var DefaultCompareMetrics = []string{"p50", "p99", "p999", "throughput", "server_cpu_per_million", "mem_per_conn", "errors"}

// Defaults of CompareOptions.
const (
	DefaultCompareAlpha  = 0.05
	DefaultMaxRegression = 0.05
)

// CompareOptions configures Compare.
type CompareOptions struct {
	// Metrics are the metric names to compare (see MetricNames); empty
	// means DefaultCompareMetrics. A metric named in MaxRegression but
	// not here is compared too, so a limit is never silently ignored.
	Metrics []string
	// Alpha is the family-wise significance level of each of the two
	// families, Holm over every row: the chance that identical builds fail
	// some row (beyond its allowance), and, separately, that some row is
	// wrongly called worse or better; 0 means DefaultCompareAlpha.
	Alpha float64
	// MaxRegression is the regression allowed per metric as a fraction
	// (p99: 0.10 allows p99 to grow by 10%); a metric not given is
	// allowed DefaultMaxRegression.
	MaxRegression map[string]float64
	// AllowInsufficient lets rows whose run counts could never fail on
	// their own (see CompareRow) pass instead of failing.
	AllowInsufficient bool
}

// Verdicts of a CompareRow.
const (
	VerdictSame         = "~"            // no significant change (Holm-adjusted p > alpha)
	VerdictBetter       = "better"       // significant change in the good direction
	VerdictWorse        = "worse"        // significant change in the bad direction, or beyond the allowance (Fail)
	VerdictInsufficient = "insufficient" // too few runs for the row ever to fail on its own
)

// CompareRow is one metric of one cell, base against new.
//
// Changes are judged on the log scale (see ranktest.go): P tests "no
// change" two-sided, PBeyond tests "worse than AllowedPct" one-sided, and
// both are Holm-adjusted over every row of the comparison (PHolm,
// PBeyondHolm), so the chance that any row of two identical builds is
// called worse or better, or fails, is at most Comparison.Alpha.
type CompareRow struct {
	Cell, Metric string
	// Old and New are the per-run values, in the files' record order.
	Old, New []float64
	// OldMedian and NewMedian are the medians of Old and New.
	OldMedian, NewMedian float64
	// DeltaPct is the change in percent (+12.3 means 12.3% higher):
	// NewMedian / OldMedian − 1 between two files, the median pair's
	// B/A − 1 for an A/B file; +Inf when it rose from zero.
	DeltaPct float64
	// P is the two-sided p-value that nothing changed: the exact rank-sum
	// (Mann–Whitney) test between two files, the exact signed-rank test of
	// log(B/A) for pairs. PHolm is P after Holm's adjustment; the row is
	// better or worse when PHolm ≤ Alpha.
	P, PHolm float64
	// PBeyond is the one-sided p-value that the change is worse than
	// AllowedPct: on the log scale, new shifted back by log(1+allowed)
	// (log(1−allowed) for a metric where higher is better) still on the
	// bad side of old. A pair exactly at the allowance counts as within
	// it. PBeyondHolm is PBeyond after Holm's adjustment; the row fails
	// when it is at most Alpha.
	PBeyond, PBeyondHolm float64
	// Verdict is one of VerdictSame, VerdictBetter, VerdictWorse and
	// VerdictInsufficient.
	Verdict string
	// Fail is set when the row is shown worse than AllowedPct (PBeyondHolm
	// ≤ Alpha), or insufficient without CompareOptions.AllowInsufficient:
	// its runs could not fail it on its own, because even the smallest
	// p beyond they can give (1/2ⁿ for n pairs, 1/C(n1+n2, n1) for two
	// files) is above Alpha over the number of rows (Holm's first step).
	Fail bool
	// AllowedPct is the regression allowed for this metric, in percent.
	AllowedPct float64
	// Paired rows come from an A/B run (CompareAB): Old[i] and New[i] are
	// one pair of runs, and DeltaLoPct–DeltaHiPct is the confidence
	// interval of DeltaPct (NaN when the pairs are too few for one).
	// Variant is the variant judged against Comparison.Base.
	Paired                 bool
	DeltaLoPct, DeltaHiPct float64
	Variant                string

	floor float64 // the smallest PBeyond the row's runs can give
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Rows []CompareRow
	// OnlyInBase and OnlyInNew are the cell keys present in one file only.
	OnlyInBase, OnlyInNew []string
	// Alpha is the significance level used.
	Alpha float64
	// Paired comparisons come from one A/B file (CompareAB); Base is the
	// variant the others are judged against, and Unpaired the cells one
	// side has no usable run of.
	Paired   bool
	Base     string
	Unpaired []string
}

// CompareCounts tallies the verdicts of a Comparison.
type CompareCounts struct {
	Worse        int // significantly worse rows
	Beyond       int // worse rows beyond their allowed regression (failing)
	Better       int
	Unchanged    int
	Insufficient int
	// InsufficientFailing are insufficient rows that fail (no AllowInsufficient).
	InsufficientFailing int
}

// Counts tallies the rows by verdict.
func (c *Comparison) Counts() CompareCounts {
	var n CompareCounts
	for _, r := range c.Rows {
		switch r.Verdict {
		case VerdictWorse:
			n.Worse++
			if r.Fail {
				n.Beyond++
			}
		case VerdictBetter:
			n.Better++
		case VerdictSame:
			n.Unchanged++
		case VerdictInsufficient:
			n.Insufficient++
			if r.Fail {
				n.InsufficientFailing++
			}
		}
	}
	return n
}

// Failed reports whether the comparison should fail a gate: a row failed,
// or nothing at all could be compared (no cell with a metric in both files).
func (c *Comparison) Failed() bool {
	if len(c.Rows) == 0 {
		return true
	}
	for _, r := range c.Rows {
		if r.Fail {
			return true
		}
	}
	return false
}

// compareMetrics resolves the metrics and the significance level of opt.
func compareMetrics(opt CompareOptions, defaults []string) ([]Metric, float64, error) {
	alpha := opt.Alpha
	if alpha == 0 {
		alpha = DefaultCompareAlpha
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, 0, fmt.Errorf("compare: alpha %v is not between 0 and 1", opt.Alpha)
	}
	names := opt.Metrics
	if len(names) == 0 {
		names = defaults
	}
	names = slices.Clone(names)
	var extra []string
	for name, v := range opt.MaxRegression {
		if _, ok := LookupMetric(name); !ok {
			return nil, 0, unknownMetric(name)
		}
		if v < 0 || math.IsNaN(v) {
			return nil, 0, fmt.Errorf("compare: allowed regression of %s is negative (%v)", name, v)
		}
		if !slices.Contains(names, name) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	names = append(names, extra...)
	var ms []Metric
	seen := map[string]bool{}
	for _, name := range names {
		m, ok := LookupMetric(name)
		if !ok {
			return nil, 0, unknownMetric(name)
		}
		if !seen[name] {
			seen[name] = true
			ms = append(ms, m)
		}
	}
	return ms, alpha, nil
}

// Compare compares the usable (ok or degraded) records of next against
// base, cell by cell (see CellKey) and metric by metric, treating each run
// as one sample, with the rule CompareAB uses for pairs: the medians give
// the change, the exact rank-sum (Mann–Whitney) test says whether it is
// significant and whether it is beyond its allowance on the log scale, and
// Holm's adjustment over every row holds the comparison's error rate at
// opt.Alpha.
func Compare(base, next *Result, opt CompareOptions) (*Comparison, error) {
	if base == nil || next == nil {
		return nil, errors.New("compare: missing result")
	}
	ms, alpha, err := compareMetrics(opt, DefaultCompareMetrics)
	if err != nil {
		return nil, err
	}

	baseOrder, baseCells := cellsOf(base)
	newOrder, newCells := cellsOf(next)
	c := &Comparison{Alpha: alpha}
	for _, k := range baseOrder {
		if _, ok := newCells[k]; !ok {
			c.OnlyInBase = append(c.OnlyInBase, k)
		}
	}
	for _, k := range newOrder {
		if _, ok := baseCells[k]; !ok {
			c.OnlyInNew = append(c.OnlyInNew, k)
		}
	}
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	for _, k := range baseOrder {
		nrs, ok := newCells[k]
		if !ok {
			continue
		}
		for _, m := range ms {
			old, nw := values(m, baseCells[k]), values(m, nrs)
			if len(old) == 0 || len(nw) == 0 {
				continue // the metric is not measured on both sides
			}
			allowed := allowance(m, opt)
			row := CompareRow{Cell: k, Metric: m.Name, Old: old, New: nw, AllowedPct: allowed * 100}
			row.OldMedian = benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(old), th), 0.95).Center
			row.NewMedian = benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(nw), th), 0.95).Center
			row.DeltaPct = 100 * relDelta(row.OldMedian, row.NewMedian)
			// Ranks do not change under the log, so P is the plain
			// rank-sum test; the allowance is a shift on the log scale.
			row.P = rankSumP(old, nw)
			row.PBeyond = rankSumBeyondP(m, allowed, old, nw)
			row.floor = minOneSidedP(false, len(old), len(nw))
			c.Rows = append(c.Rows, row)
		}
	}
	c.judge(opt.AllowInsufficient)
	return c, nil
}

// judge gives every row its verdict once all rows are known, since Holm's
// adjustment takes the whole family: fails (worse ✗) when the adjusted p
// beyond is at most Alpha; better when the adjusted two-sided p is at
// most Alpha in the good direction; else insufficient when its runs could
// never fail it on its own (its smallest possible p beyond is above Alpha
// over the number of rows); else worse when the adjusted two-sided p is
// at most Alpha, unchanged otherwise.
func (c *Comparison) judge(allowInsufficient bool) {
	ps, beyond := make([]float64, len(c.Rows)), make([]float64, len(c.Rows))
	for i, r := range c.Rows {
		ps[i], beyond[i] = r.P, r.PBeyond
	}
	ps, beyond = holm(ps), holm(beyond)
	firstStep := c.Alpha / float64(max(len(c.Rows), 1))
	for i := range c.Rows {
		r := &c.Rows[i]
		r.PHolm, r.PBeyondHolm = ps[i], beyond[i]
		m, _ := LookupMetric(r.Metric)
		r.Verdict, r.Fail = VerdictSame, false
		better := r.PHolm <= c.Alpha && r.DeltaPct != 0 && (r.DeltaPct > 0) == m.HigherIsBetter
		switch {
		case r.PBeyondHolm <= c.Alpha:
			r.Verdict, r.Fail = VerdictWorse, true
		case better: // shown better: no regression left to miss
			r.Verdict = VerdictBetter
		case r.floor > firstStep:
			r.Verdict, r.Fail = VerdictInsufficient, !allowInsufficient
		case r.PHolm > c.Alpha || r.DeltaPct == 0:
		default:
			r.Verdict = VerdictWorse
		}
	}
}

func unknownMetric(name string) error {
	return fmt.Errorf("unknown metric %q (known: %s)", name, strings.Join(MetricNames(), ", "))
}

// cellsOf groups the usable (ok or degraded) records of res by CellKey, keeping the order
// in which cells first appear.
func cellsOf(res *Result) ([]string, map[string][]Record) {
	var order []string
	cells := map[string][]Record{}
	for _, r := range res.Records {
		if !r.Usable() {
			continue
		}
		k := r.CellKey()
		if _, ok := cells[k]; !ok {
			order = append(order, k)
		}
		cells[k] = append(cells[k], r)
	}
	return order, cells
}

func values(m Metric, rs []Record) []float64 {
	var vs []float64
	for _, r := range rs {
		if v, ok := m.Value(r); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// relDelta is (new − old) / old, ±Inf when old is 0 and new is not.
func relDelta(old, new float64) float64 {
	switch {
	case old == new:
		return 0
	case old == 0:
		return math.Inf(int(math.Copysign(1, new)))
	}
	return (new - old) / math.Abs(old)
}

// RenderComparison writes c as a table (markdown or plain), then the cells
// found in only one file, a note when runs were too few to judge, how rows
// were judged, and a summary line. Each p-value is shown with its
// Holm-adjusted value in parentheses: the adjusted one decides.
func RenderComparison(w io.Writer, c *Comparison, markdown bool) error {
	header := []string{"cell", "metric", "old", "new", "delta", "p (Holm)", "allowed: p beyond (Holm)", "verdict", "n"}
	if c.Paired {
		header = []string{"cell", "metric", c.Base, "new", "delta [95% CI]", "p (Holm)", "allowed: p beyond (Holm)", "verdict", "pairs"}
		if v := soleVariant(c.Rows); v != "" {
			header[3] = v
		}
		header[4] = fmt.Sprintf("delta [%s%% CI]", strconv.FormatFloat(math.Round(1e4*(1-c.Alpha))/100, 'f', -1, 64))
	}
	var rows [][]string
	for _, r := range c.Rows {
		m, _ := LookupMetric(r.Metric)
		verdict := r.Verdict
		if r.Verdict == VerdictWorse && r.Fail {
			verdict = "worse ✗"
		}
		cell, n, delta := r.Cell, fmt.Sprintf("%d vs %d", len(r.Old), len(r.New)), fmtDeltaPct(r.DeltaPct)
		if r.Paired {
			n = strconv.Itoa(len(r.Old))
			if !math.IsNaN(r.DeltaLoPct) && !math.IsNaN(r.DeltaHiPct) {
				delta += fmt.Sprintf(" [%s, %s]", fmtDeltaPct(r.DeltaLoPct), fmtDeltaPct(r.DeltaHiPct))
			}
			if soleVariant(c.Rows) == "" {
				cell += " (" + r.Variant + ")"
			}
		}
		p := fmt.Sprintf("%.3f (%.3f)", r.P, r.PHolm)
		beyond := fmt.Sprintf("%s%%: %.3f (%.3f)", strconv.FormatFloat(r.AllowedPct, 'f', -1, 64), r.PBeyond, r.PBeyondHolm)
		rows = append(rows, []string{cell, r.Metric, formatMetric(m.Unit, r.OldMedian), formatMetric(m.Unit, r.NewMedian),
			delta, p, beyond, verdict, n})
	}
	if len(rows) > 0 {
		align := alignFor(header, 2)
		align[len(header)-2] = tw.AlignLeft // verdict: words, not numbers
		if err := writeTable(w, markdown, header, align, rows); err != nil {
			return err
		}
	}
	lines := comparisonNotes(c)
	sep := "\n"
	if markdown {
		sep = "\n\n" // separate paragraphs
	}
	_, err := io.WriteString(w, "\n"+strings.Join(lines, sep)+"\n")
	return err
}

// soleVariant is the variant every paired row judges, or "" when they
// judge several.
func soleVariant(rows []CompareRow) string {
	if len(rows) == 0 {
		return ""
	}
	for _, r := range rows[1:] {
		if r.Variant != rows[0].Variant {
			return ""
		}
	}
	return rows[0].Variant
}

// comparisonNotes are the lines under a comparison's table: what was not
// compared, runs too few to judge, how rows were judged, and a summary.
func comparisonNotes(c *Comparison) []string {
	var lines []string
	if len(c.Rows) == 0 {
		what := "in both files"
		if c.Paired {
			what = "by two variants"
		}
		lines = append(lines, "nothing to compare: no cell has a metric measured "+what)
	}
	for _, k := range c.OnlyInBase {
		lines = append(lines, "only in base (not compared): "+k)
	}
	for _, k := range c.OnlyInNew {
		lines = append(lines, "only in new (not compared): "+k)
	}
	for _, k := range c.Unpaired {
		lines = append(lines, "not compared: "+k)
	}
	alpha := strconv.FormatFloat(c.Alpha, 'f', -1, 64)
	rows := len(c.Rows)
	firstStep := strconv.FormatFloat(c.Alpha/float64(max(rows, 1)), 'g', 3, 64)
	type sizes struct{ n1, n2 int }
	var told []sizes
	for _, r := range c.Rows {
		s := sizes{len(r.Old), len(r.New)}
		if r.Verdict != VerdictInsufficient || slices.Contains(told, s) {
			continue
		}
		told = append(told, s)
		tail := "(--allow-insufficient to let this pass)"
		if !r.Fail {
			tail = "(allowed by --allow-insufficient)"
		}
		if r.Paired {
			lines = append(lines, fmt.Sprintf("%d pairs cannot fail a row on its own: over %d rows one must reach p beyond ≤ %s/%d = %s (Holm), and %d pairs give at best 1/2^%d; use --runs %d or more %s",
				s.n1, rows, alpha, rows, firstStep, s.n1, s.n1, MinPairs(c.Alpha, rows), tail))
			continue
		}
		lines = append(lines, fmt.Sprintf("%d vs %d runs cannot fail a row on its own: over %d rows one must reach p beyond ≤ %s/%d = %s (Holm), and a rank-sum test of %d vs %d runs gives at best 1/C(%d,%d); use --runs %d or more %s",
			s.n1, s.n2, rows, alpha, rows, firstStep, s.n1, s.n2, s.n1+s.n2, s.n1, MinRuns(c.Alpha, rows), tail))
	}
	n := c.Counts()
	test := "the exact rank-sum (Mann–Whitney) test of new against old"
	if c.Paired {
		lines = append(lines, fmt.Sprintf("paired: run i of each variant against run i of %s, in alternating order; delta is the median pair's change B/A (log scale)", c.Base))
		test = "the exact Wilcoxon signed-rank test of the pairs' log(B/A)"
	}
	lines = append(lines, fmt.Sprintf("p: %s, two-sided, against no change; p beyond: the one-sided test that the change is worse than allowed (new shifted back by the allowance on the log scale); in parentheses, both Holm-adjusted over these %d rows. A row is better or worse when its adjusted p ≤ %s, and fails (✗) when its adjusted p beyond ≤ %s, so identical builds fail some row with a chance of at most %s",
		test, rows, alpha, alpha, alpha))
	lines = append(lines, fmt.Sprintf("compare: %d worse (%d beyond allowed), %d better, %d unchanged, %d insufficient",
		n.Worse, n.Beyond, n.Better, n.Unchanged, n.Insufficient))
	return lines
}

// formatMetric renders a value in its metric's unit.
func formatMetric(u Unit, v float64) string {
	switch u {
	case Microseconds:
		return fmtUs(int64(math.Round(v)))
	case Bytes:
		return fmtBytes(v)
	case Seconds:
		return trimFloat(v) + "s"
	case Ratio:
		return trimFloat(v*100) + "%"
	default: // PerSecond, Count
		if v < 0 {
			return "-" + formatMetric(u, -v)
		}
		if v != math.Trunc(v) && v < 100 {
			return trimFloat(v) // a median between two small counts, say 2.5
		}
		return fmtCount(uint64(math.Round(v)))
	}
}

// fmtDeltaPct renders a percentage change with its sign: +12.3%, -4.0%.
func fmtDeltaPct(p float64) string {
	switch {
	case math.IsInf(p, 1):
		return "+∞"
	case math.IsInf(p, -1):
		return "-∞"
	case p == 0:
		return "0%"
	}
	return fmt.Sprintf("%+.1f%%", p)
}

// ParseMaxRegression parses allowed regressions per metric, as given to
// --max-regression: "p99=10%,throughput=5%" gives {p99: 0.10,
// throughput: 0.05}. Values must carry a % sign so 10 is never mistaken
// for 1000%.
func ParseMaxRegression(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("max regression %q: want metric=percent, e.g. p99=10%%", part)
		}
		if _, known := LookupMetric(name); !known {
			return nil, fmt.Errorf("max regression %q: %w", part, unknownMetric(name))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("max regression %q: %s is given twice", part, name)
		}
		num, isPct := strings.CutSuffix(val, "%")
		if !isPct {
			return nil, fmt.Errorf("max regression %q: give the allowed regression as a percentage, e.g. %s=10%%", part, name)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("max regression %q: %q is not a number", part, num)
		}
		if v < 0 {
			return nil, fmt.Errorf("max regression %q: the allowed regression cannot be negative", part)
		}
		out[name] = v / 100
	}
	return out, nil
}
