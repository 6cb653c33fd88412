package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteRankSumTails enumerates every way of choosing which pooled values
// are y's: the definition rankSumTails must match, ties and infinities
// included.
func bruteRankSumTails(x, y []float64) (lo, hi float64) {
	pooled := append(append([]float64{}, x...), y...)
	n, ny := len(pooled), len(y)
	rank := make([]float64, n)
	for i, v := range pooled {
		less, equal := 0, 0
		for _, w := range pooled {
			switch {
			case w < v:
				less++
			case w == v:
				equal++
			}
		}
		rank[i] = float64(less) + float64(equal+1)/2
	}
	var s float64
	for i := len(x); i < n; i++ {
		s += rank[i]
	}
	var all float64
	for mask := 0; mask < 1<<n; mask++ {
		k, sum := 0, 0.0
		for i := range n {
			if mask&(1<<i) != 0 {
				k++
				sum += rank[i]
			}
		}
		if k != ny {
			continue
		}
		all++
		if sum <= s+1e-9 {
			lo++
		}
		if sum >= s-1e-9 {
			hi++
		}
	}
	return lo / all, hi / all
}

func TestRankSumTailsMatchEnumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		x, y := make([]float64, 1+rng.IntN(7)), make([]float64, 1+rng.IntN(7))
		for _, s := range [][]float64{x, y} {
			for i := range s {
				// Few distinct values, so ties are common; zeros on the
				// log scale are −Inf.
				s[i] = logScale(float64(rng.IntN(5)))
			}
		}
		lo, hi := rankSumTails(x, y)
		wlo, whi := bruteRankSumTails(x, y)
		if math.Abs(lo-wlo) > 1e-12 || math.Abs(hi-whi) > 1e-12 {
			t.Fatalf("trial %d: rankSumTails(%v, %v) = %v, %v; enumeration gives %v, %v", trial, x, y, lo, hi, wlo, whi)
		}
	}
}

func TestHolm(t *testing.T) {
	// Sorted 0.01, 0.02, 0.03, 0.5 times 4, 3, 2, 1: 0.04, 0.06, 0.06
	// (never below the one before), 0.5.
	got := holm([]float64{0.03, 0.5, 0.01, 0.02})
	want := []float64{0.06, 0.5, 0.04, 0.06}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("holm = %v, want %v", got, want)
		}
	}
	if got := holm([]float64{0.9, 0.9}); got[0] != 1 || got[1] != 1 {
		t.Errorf("holm caps at 1: %v", got)
	}
}

// Between identical builds a pair is as likely to be twice as slow as
// twice as fast. On the log scale these pairs balance (p = 1, no change);
// as relative changes, +100% against −50%, they would not.
func TestCompareABJudgesOnTheLogScale(t *testing.T) {
	ratios := []float64{2, 0.5, 1.5, 1 / 1.5, 1.25, 0.8, 3, 1.0 / 3}
	res := abResult(func(int) (float64, int64) { return 1000, 1000 },
		func(run int) (float64, int64) { return 1000, int64(math.Round(1000 * ratios[run-1])) }, len(ratios))
	c, err := CompareAB(res, CompareOptions{Metrics: []string{"p99"}})
	if err != nil {
		t.Fatal(err)
	}
	r := findRow(t, c, "p99")
	if r.P < 0.99 || r.Verdict != VerdictSame || math.Abs(r.DeltaPct) > 0.2 {
		t.Errorf("balanced ratios: %+v, want p = 1, ~, no change", r)
	}
	rel := make([]float64, len(ratios))
	for i, q := range ratios {
		rel[i] = q - 1
	}
	if lo, hi := signedRankTails(rel, false); hi >= lo {
		t.Errorf("relative changes of the same pairs lean %v up vs %v down: the skew this test is about is missing", hi, lo)
	}
}

// Where higher is better the allowance is a fall: throughput=5% allows
// B/A down to 0.95. Every pair exactly at it passes (a change at the
// allowance counts as within it); 6% below fails.
func TestCompareABAllowanceForAFall(t *testing.T) {
	for _, c := range []struct {
		ratio float64
		fail  bool
	}{{0.95, false}, {0.94, true}, {1.06, false}} {
		res := abResult(func(int) (float64, int64) { return 1000, 1000 },
			func(int) (float64, int64) { return 1000 * c.ratio, 1000 }, 10)
		cmp, err := CompareAB(res, CompareOptions{Metrics: []string{"throughput"}, MaxRegression: map[string]float64{"throughput": 0.05}})
		if err != nil {
			t.Fatal(err)
		}
		r := findRow(t, cmp, "throughput")
		if r.Fail != c.fail || math.Abs(r.DeltaPct-100*(c.ratio-1)) > 1e-9 {
			t.Errorf("B/A = %v: %+v, want fail %v and delta %+.0f%%", c.ratio, r, c.fail, 100*(c.ratio-1))
		}
	}
	// An allowance of 100% or more allows a fall to zero.
	res := abResult(func(int) (float64, int64) { return 1000, 1000 }, func(int) (float64, int64) { return 0, 1000 }, 10)
	cmp, _ := CompareAB(res, CompareOptions{Metrics: []string{"throughput"}, MaxRegression: map[string]float64{"throughput": 1}})
	if r := findRow(t, cmp, "throughput"); r.Fail || r.DeltaPct != -100 {
		t.Errorf("fall to zero with 100%% allowed: %+v, want -100%% and passing", r)
	}
}

// Zero has no logarithm: two zeros are a tie, a zero on one side a change
// beyond any allowance.
func TestCompareABZeros(t *testing.T) {
	errorsAB := func(a, b func(run int) uint64) *Result {
		res := abResult(func(int) (float64, int64) { return 1000, 1000 }, func(int) (float64, int64) { return 1000, 1000 }, 10)
		for i := range res.Records {
			r := &res.Records[i]
			f := a
			if r.Variant == "pr" {
				f = b
			}
			r.Errors = map[string]uint64{"read": f(r.Run)}
		}
		return res
	}
	zero := func(int) uint64 { return 0 }
	c, err := CompareAB(errorsAB(zero, zero), CompareOptions{Metrics: []string{"errors"}, MaxRegression: map[string]float64{"errors": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if r := findRow(t, c, "errors"); r.Verdict != VerdictSame || r.Fail || r.PBeyond != 1 || r.DeltaPct != 0 {
		t.Errorf("no errors on either side, 0%% allowed: %+v, want ~ (ten ties, within the allowance)", r)
	}
	c, _ = CompareAB(errorsAB(zero, func(run int) uint64 { return uint64(run) }), CompareOptions{Metrics: []string{"errors"}, MaxRegression: map[string]float64{"errors": 0.5}})
	if r := findRow(t, c, "errors"); !r.Fail || !math.IsInf(r.DeltaPct, 1) {
		t.Errorf("errors from none to some in every pair: %+v, want failing at +∞", r)
	}
	// One pair in ten from none to one: noise, not a regression.
	c, _ = CompareAB(errorsAB(zero, func(run int) uint64 { return uint64(run / 10) }), CompareOptions{Metrics: []string{"errors"}, MaxRegression: map[string]float64{"errors": 0}})
	if r := findRow(t, c, "errors"); r.Fail || r.Verdict != VerdictSame {
		t.Errorf("one pair with an error: %+v, want ~", r)
	}
}

// Holm over the rows: one row with p beyond 1/64 fails alone, but not as
// one of eight cells' rows where the other seven show nothing.
func TestCompareABHolmOverRows(t *testing.T) {
	res := abResult(func(int) (float64, int64) { return 1000, 1000 },
		func(int) (float64, int64) { return 1000, 1200 }, 6)
	c, err := CompareAB(res, CompareOptions{Metrics: []string{"p99"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := findRow(t, c, "p99"); !r.Fail || r.PBeyondHolm != 1.0/64 {
		t.Fatalf("one row, six pairs 20%% worse: %+v, want failing at 1/64", r)
	}
	for conns := 21; conns < 28; conns++ {
		same := abResult(func(int) (float64, int64) { return 1000, 1000 }, func(run int) (float64, int64) { return 1000, int64(990 + 5*run) }, 6)
		for _, r := range same.Records {
			r.Conns = conns
			res.Records = append(res.Records, r)
		}
	}
	c, _ = CompareAB(res, CompareOptions{Metrics: []string{"p99"}, AllowInsufficient: true})
	var worse CompareRow
	for _, r := range c.Rows {
		if r.Cell == findRow(t, c, "p99").Cell {
			worse = r
		}
	}
	if len(c.Rows) != 8 || worse.Fail || worse.PBeyond != 1.0/64 || worse.PBeyondHolm != 8.0/64 || c.Failed() {
		t.Errorf("the same row among 8: %+v, want p beyond 1/64, Holm 8/64, passing", worse)
	}
}

// Two files are judged by the same rule: a 12% rise in p99 is seen
// (worse), but with runs spread ±3% it is not shown beyond a 10%
// allowance, which the old rule (median beyond the allowance and
// significant) failed.
func TestCompareTestsTheAllowanceNotTheMedian(t *testing.T) {
	base := result(runs(10, []int64{1000, 1030, 970, 1015, 985, 1000}, flat(6, 5000)))
	next := result(runs(10, []int64{1120, 1150, 1090, 1135, 1105, 1120}, flat(6, 5000)))
	c := mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}, MaxRegression: map[string]float64{"p99": 0.10}})
	r := findRow(t, c, "p99")
	if r.Verdict != VerdictWorse || r.Fail || r.DeltaPct < 11 || r.PBeyond < 0.05 || r.P > 0.01 {
		t.Errorf("+12%% against 10%% allowed: %+v, want worse, not failing", r)
	}
	next = result(runs(10, []int64{1250, 1280, 1220, 1265, 1235, 1250}, flat(6, 5000)))
	c = mustCompare(t, base, next, CompareOptions{Metrics: []string{"p99"}, MaxRegression: map[string]float64{"p99": 0.10}})
	if r := findRow(t, c, "p99"); !r.Fail || r.PBeyondHolm != 1.0/924 {
		t.Errorf("+25%% against 10%% allowed: %+v, want failing at 1/C(12,6)", r)
	}
}
