package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"golang.org/x/perf/benchmath"
)

// An A/B run (wsbench run --ab) measures two or more builds of the
// reference servers in one invocation, alternating them run by run with
// the order reversed every other run (A B, B A, A B, …) so that drift of
// the machine falls on both alike and cancels within a pair. CompareAB
// then treats run i of A and run i of B as a pair: it judges the change
// from the per-pair changes log(B/A), not from two independent samples.
// On a noisy machine this is what separates a 5% regression from the
// machine: a slow minute slows both halves of a pair, and the difference
// survives while the level does not.
//
// The tests are the exact Wilcoxon signed-rank test of log(B/A) (see
// ranktest.go): two-sided against zero for "better" or "worse", and
// one-sided against the allowance for failing; every p-value is
// Holm-adjusted over all rows of the comparison (Comparison.judge).
// benchmath still gives the median change and its confidence interval
// (AssumeNothing.Summary over the per-pair log changes).

// DefaultABMetrics are the metrics CompareAB judges when
// CompareOptions.Metrics is empty: Compare's less p999 and mem_per_conn.
// Over the short windows an A/B gate runs, p999 rests on a few hundred
// samples and moved by ±10–30% between two runs of one build here (and was
// "significantly" 9% better once in ten pairs of identical builds), and
// memory per connection at a few dozen connections is a page or two of
// RSS, quantized by 3 KiB steps. Name either in --max-regression (or
// --metrics) to judge it all the same.
var DefaultABMetrics = []string{"p50", "p99", "throughput", "server_cpu_per_million", "errors"}

// CompareAB judges every variant of an A/B result against the first one
// (Environment.Variants order, else the order records name them), cell by
// cell and metric by metric, pairing the runs with the same number. The
// rows of all cells, metrics and variants are one family for Holm's
// adjustment: the chance that identical builds fail any row is at most
// the comparison's Alpha.
func CompareAB(res *Result, opt CompareOptions) (*Comparison, error) {
	if res == nil {
		return nil, errors.New("compare: missing result")
	}
	variants := variantNames(res)
	if len(variants) < 2 {
		return nil, fmt.Errorf("compare: not an A/B result: its records name %d variant(s); an A/B run (wsbench run --ab A=BIN,B=BIN) names two or more", len(variants))
	}
	ms, alpha, err := compareMetrics(opt, DefaultABMetrics)
	if err != nil {
		return nil, err
	}
	type cell struct {
		key  string
		runs map[string]map[int]Record // variant → run → record
	}
	var cells []*cell
	index := map[string]*cell{}
	for _, r := range res.Records {
		if !r.Usable() || r.Variant == "" {
			continue
		}
		k := r.cellKey(false, true)
		c, ok := index[k]
		if !ok {
			c = &cell{key: k, runs: map[string]map[int]Record{}}
			index[k] = c
			cells = append(cells, c)
		}
		if c.runs[r.Variant] == nil {
			c.runs[r.Variant] = map[int]Record{}
		}
		if _, dup := c.runs[r.Variant][r.Run]; !dup {
			c.runs[r.Variant][r.Run] = r
		}
	}
	cmp := &Comparison{Alpha: alpha, Paired: true, Base: variants[0]}
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	for _, c := range cells {
		base := c.runs[variants[0]]
		for _, v := range variants[1:] {
			other := c.runs[v]
			if len(base) == 0 || len(other) == 0 {
				missing := variants[0]
				if len(base) > 0 {
					missing = v
				}
				cmp.Unpaired = append(cmp.Unpaired, fmt.Sprintf("%s (no usable run of %s)", c.key, missing))
				continue
			}
			var runs []int
			for run := range base {
				if _, ok := other[run]; ok {
					runs = append(runs, run)
				}
			}
			sort.Ints(runs)
			for _, m := range ms {
				row, ok := pairedRow(m, base, other, runs, opt, alpha, th)
				if !ok {
					continue
				}
				row.Cell, row.Variant = c.key, v
				cmp.Rows = append(cmp.Rows, row)
			}
		}
	}
	cmp.judge(opt.AllowInsufficient)
	return cmp, nil
}

// pairedRow measures metric m over the runs both sides have: the per-pair
// log changes, their median and interval, the two-sided test of no change
// and the one-sided test against the allowance. Comparison.judge gives the
// verdict once every row of the comparison is known.
func pairedRow(m Metric, a, b map[int]Record, runs []int, opt CompareOptions, alpha float64, th *benchmath.Thresholds) (CompareRow, bool) {
	var old, nw, d []float64
	for _, run := range runs {
		x, ok1 := m.Value(a[run])
		y, ok2 := m.Value(b[run])
		if !ok1 || !ok2 {
			continue
		}
		old, nw = append(old, x), append(nw, y)
		d = append(d, logRatio(x, y))
	}
	if len(d) == 0 {
		return CompareRow{}, false
	}
	allowed := allowance(m, opt)
	row := CompareRow{Metric: m.Name, Old: old, New: nw, AllowedPct: allowed * 100, Paired: true}
	row.OldMedian = benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(old), th), 0.95).Center
	row.NewMedian = benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(nw), th), 0.95).Center
	// The change shown is the median pair's ratio, B/A − 1, and its
	// interval the median's, both read on the log scale and carried back:
	// the order statistics that bound the median of d bound the median
	// ratio the same way.
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(d), th), 1-alpha)
	row.DeltaPct = 100 * math.Expm1(medianLog(d))
	row.DeltaLoPct, row.DeltaHiPct = 100*math.Expm1(s.Lo), 100*math.Expm1(s.Hi)
	if math.IsNaN(s.Lo) || math.IsNaN(s.Hi) || s.Warnings != nil {
		row.DeltaLoPct, row.DeltaHiPct = math.NaN(), math.NaN()
	}
	row.P = signedRankP(d)
	// Failing asks more than a change: the pairs must show it *beyond the
	// allowance*, a one-sided signed-rank test of log(B/A) − log(1+allowed)
	// > 0 in the bad direction. Between two identical builds p99's ten pair
	// changes once had a median of +13.8%, significantly above zero, with
	// its interval reaching down to +1.7%: noise, which a "median beyond
	// the allowance" rule failed.
	_, row.PBeyond = signedRankTails(beyondAllowance(m, allowed, d), true)
	row.floor = minOneSidedP(true, len(d), 0)
	return row, true
}

// medianLog is the median of log changes d, with infinite changes (a side at zero) in
// their place: the mean of the middle two when their count is even, 0 when
// those are −Inf and +Inf (as many pairs fell to zero as rose from it).
func medianLog(d []float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	a, b := s[n/2-1], s[n/2]
	if a == b {
		return a // both ±Inf alike, or a tie
	}
	if m := a/2 + b/2; !math.IsNaN(m) {
		return m
	}
	return 0
}

// allowance is the regression opt allows metric m, as a fraction.
func allowance(m Metric, opt CompareOptions) float64 {
	if a, ok := opt.MaxRegression[m.Name]; ok {
		return a
	}
	return DefaultMaxRegression
}

// variantNames lists the variants of an A/B result, base first.
func variantNames(res *Result) []string {
	var names []string
	for _, v := range res.Environment.Variants {
		names = append(names, v.Name)
	}
	for _, r := range res.Records {
		if r.Variant != "" && !slices.Contains(names, r.Variant) {
			names = append(names, r.Variant)
		}
	}
	return names
}

// IsAB reports whether res is the file of an A/B run.
func IsAB(res *Result) bool { return len(variantNames(res)) >= 2 }

// ABMetrics are the names of the metrics CompareAB judges under opt (its
// Metrics, else DefaultABMetrics, plus any named in MaxRegression): what
// an A/B run needs to count its rows before it starts.
func ABMetrics(opt CompareOptions) ([]string, error) {
	ms, _, err := compareMetrics(opt, DefaultABMetrics)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names, nil
}
