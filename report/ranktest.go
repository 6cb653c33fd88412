package report

import (
	"math"
	"slices"
	"sort"
)

// The statistics Compare and CompareAB judge with: changes on the log
// scale, the exact Wilcoxon signed-rank test for pairs, the exact
// Wilcoxon–Mann–Whitney rank-sum test for two independent samples, and
// Holm's step-down adjustment over every row of one comparison.
//
// Why the log scale: the ratio of two runs of one build is as likely to be
// 1/r as r, so log(B/A) is symmetric about zero, which the signed-rank test
// assumes; the relative change (B−A)/A is not (a run twice as slow is
// +100%, one twice as fast only −50%), and a signed-rank test on it calls
// identical builds "worse" too often and "better" too rarely, more so the
// more pairs it has. The rank-sum test is unchanged by any monotone
// transform, but its test against an allowance (new shifted by
// log(1+allowance)) is a shift on the log scale, the same one the paired
// test makes.
//
// Benchmath has neither a paired test nor one-sided ones, so both tests
// are written here, exact (no normal approximation), and checked against
// full enumeration in their tests.

// logScale maps a metric value onto the scale changes are judged on. The
// metrics judged are rates, times, counts and sizes; zero (and anything
// below it) has no logarithm and maps to −Inf, below every positive value
// and tied with the others there. mem_per_conn, a difference of two RSS
// readings over the connections, can read zero or less over a few dozen
// connections (RSS moves in pages): such a run against a positive one is
// an infinite change, so judge that metric only on cells large enough
// for it to be positive (the A/B defaults leave it out for this reason).
func logScale(v float64) float64 {
	if v > 0 {
		return math.Log(v)
	}
	return math.Inf(-1)
}

// logRatio is log(b/a) on that scale: 0 when both sides are equal (two
// zeros included, so a count that stayed at zero is a tie), ±Inf when
// only one side is zero: a change beyond any allowance in its direction
// (errors from 0 to 5), ranked above every finite change.
func logRatio(a, b float64) float64 {
	x, y := logScale(a), logScale(b)
	if x == y {
		return 0
	}
	return y - x
}

// logAllowance is the allowance on the log scale, in the metric's bad
// direction: log(1+a) for a metric that must not grow by more than a
// (p99=10%: B/A up to 1.1), −log(1−a) for one that must not fall by more
// than a (throughput=5%: B/A down to 0.95), so a change shown as −5.0% is
// exactly at a 5% allowance either way. A higher-is-better metric allowed
// to fall by 100% or more can fall to zero: +Inf, nothing is beyond it.
func logAllowance(m Metric, allowed float64) float64 {
	if !m.HigherIsBetter {
		return math.Log1p(allowed)
	}
	if allowed >= 1 {
		return math.Inf(1)
	}
	return -math.Log1p(-allowed)
}

// beyondAllowance turns log changes d (B against A) into excesses over the
// allowance in the bad direction: positive when the change is worse than
// allowed. A change exactly at the allowance (a tie when the allowance is
// 0) gives 0, which the one-sided tests count as within it.
func beyondAllowance(m Metric, allowed float64, d []float64) []float64 {
	shift := logAllowance(m, allowed)
	e := make([]float64, len(d))
	for i, v := range d {
		if m.HigherIsBetter {
			v = -v
		}
		if math.IsInf(shift, 1) {
			e[i] = -1 // nothing, not even a fall to zero, is beyond an allowance of 100% or more
		} else {
			e[i] = v - shift
		}
	}
	return e
}

// signedRankP is the exact two-sided p-value of the Wilcoxon signed-rank
// test that the differences d are symmetric about zero. Zero differences
// are dropped (Wilcoxon's rule: a pair that did not change says nothing
// about the direction of a change) and tied magnitudes share their mean
// rank.
func signedRankP(d []float64) float64 {
	lo, hi := signedRankTails(d, false)
	return math.Min(1, 2*math.Min(lo, hi))
}

// signedRankTails are the exact one-sided p-values of the signed-rank
// test: lo = P(W+ ≤ w), evidence that d lies below zero, and hi =
// P(W+ ≥ w), evidence that it lies above. With keepZeros, zero differences
// are not dropped: they take the smallest ranks and count as negative.
// That is how the test against an allowance treats a change exactly at the
// allowance: as within it. The p-value can only grow by it (the test stays
// valid, a little conservative), and no pair is ever dropped, so the
// smallest p-value n pairs can give is always 1/2ⁿ and a tied pair cannot
// quietly take a row below the pairs it needs.
//
// The null distribution of W+ (the rank sum of the positive differences)
// is built exactly by dynamic programming over the 2ⁿ equally likely sign
// assignments, on doubled ranks so mean ranks stay integers.
func signedRankTails(d []float64, keepZeros bool) (lo, hi float64) {
	var nz []float64
	for _, v := range d {
		if math.IsNaN(v) || (v == 0 && !keepZeros) {
			continue
		}
		nz = append(nz, v)
	}
	n := len(nz)
	if n == 0 {
		return 1, 1
	}
	rank2 := midRanks2(nz, math.Abs)
	total, wplus := 0, 0
	for i, v := range nz {
		total += rank2[i]
		if v > 0 {
			wplus += rank2[i]
		}
	}
	dist := make([]float64, total+1) // dist[s] = P(doubled W+ = s)
	dist[0] = 1
	for _, r := range rank2 {
		for s := total; s >= r; s-- {
			dist[s] = 0.5*dist[s] + 0.5*dist[s-r]
		}
		for s := min(r, total+1) - 1; s >= 0; s-- {
			dist[s] *= 0.5
		}
	}
	for s, p := range dist {
		if s <= wplus {
			lo += p
		}
		if s >= wplus {
			hi += p
		}
	}
	return math.Min(1, lo), math.Min(1, hi)
}

// midRanks2 ranks the values by key (ascending, from 1), tied keys sharing
// their mean rank, and returns twice each rank so the ranks stay integers.
func midRanks2(v []float64, key func(float64) float64) []int {
	n := len(v)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return key(v[order[i]]) < key(v[order[j]]) })
	rank2 := make([]int, n)
	for i := 0; i < n; {
		j := i
		for j+1 < n && key(v[order[j+1]]) == key(v[order[i]]) {
			j++
		}
		for k := i; k <= j; k++ {
			rank2[order[k]] = i + j + 2 // ranks i+1 … j+1, doubled mean
		}
		i = j + 1
	}
	return rank2
}

// rankSumTails are the exact one-sided p-values of the Wilcoxon–Mann–
// Whitney rank-sum test of y against x: lo = P(S ≤ s), evidence that y
// lies below x, and hi = P(S ≥ s), evidence that it lies above, where S is
// the sum of y's mid-ranks in the pooled sample, under the null that all
// C(n, len(y)) ways of choosing which pooled values are y's are equally
// likely (the permutation distribution, exact with ties). NaN values are
// dropped; ±Inf values rank like any other.
func rankSumTails(x, y []float64) (lo, hi float64) {
	x, y = dropNaN(x), dropNaN(y)
	nx, ny := len(x), len(y)
	if nx == 0 || ny == 0 {
		return 1, 1
	}
	pooled := append(slices.Clone(x), y...)
	rank2 := midRanks2(pooled, func(v float64) float64 { return v })
	s := 0
	for _, r := range rank2[nx:] {
		s += r
	}
	total := 0
	for _, r := range rank2 {
		total += r
	}
	// ways[k][t]: the number of ways to choose k of the values seen so far
	// with doubled rank sum t. Counts reach C(n, k); float64 holds them to
	// 15 digits, which is all a p-value needs.
	ways := make([][]float64, ny+1)
	for k := range ways {
		ways[k] = make([]float64, total+1)
	}
	ways[0][0] = 1
	for _, r := range rank2 {
		for k := ny; k >= 1; k-- {
			for t := total; t >= r; t-- {
				ways[k][t] += ways[k-1][t-r]
			}
		}
	}
	var all float64
	for t, w := range ways[ny] {
		all += w
		if t <= s {
			lo += w
		}
		if t >= s {
			hi += w
		}
	}
	return math.Min(1, lo/all), math.Min(1, hi/all)
}

// rankSumBeyondP is the one-sided p-value of the rank-sum test that the
// new runs are worse than the old ones by more than the allowance: on the
// log scale, new shifted back by the allowance still lies on the bad side
// of old.
func rankSumBeyondP(m Metric, allowed float64, old, new []float64) float64 {
	shift := logAllowance(m, allowed)
	if math.IsInf(shift, 1) {
		return 1
	}
	sign := 1.0 // bad is up
	if m.HigherIsBetter {
		sign = -1
	}
	x, y := make([]float64, len(old)), make([]float64, len(new))
	for i, v := range old {
		x[i] = sign * logScale(v)
	}
	for i, v := range new {
		y[i] = sign*logScale(v) - shift
	}
	_, hi := rankSumTails(x, y)
	return hi
}

// rankSumP is the exact two-sided p-value of the rank-sum test.
func rankSumP(x, y []float64) float64 {
	lo, hi := rankSumTails(x, y)
	return math.Min(1, 2*math.Min(lo, hi))
}

func dropNaN(v []float64) []float64 {
	var out []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// holm adjusts the p-values of one family of tests by Holm's step-down
// method: sorted ascending, the i-th (from 0) is multiplied by m−i, and
// each adjusted value is at least the one before it. Rejecting every
// hypothesis whose adjusted p is at most alpha keeps the chance of any
// false rejection in the family at most alpha, whatever the dependence
// between the tests (metrics of one run move together), which is why it
// is used over a Bonferroni split (never more powerful) or a method that
// assumes independence or positive dependence.
func holm(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return p[order[i]] < p[order[j]] })
	adj := make([]float64, m)
	running := 0.0
	for i, k := range order {
		running = math.Max(running, math.Min(1, float64(m-i)*p[k]))
		adj[k] = running
	}
	return adj
}

// minOneSidedP is the smallest p-value the one-sided test against the
// allowance can give: 1/2ⁿ for n pairs (every pair beyond), 1/C(n1+n2, n1)
// for two independent samples (every new run beyond every old one).
func minOneSidedP(paired bool, n1, n2 int) float64 {
	if paired {
		return math.Pow(2, -float64(n1))
	}
	// 1/C(n1+n2, n1), in logs so large samples do not overflow.
	lg := func(n int) float64 { v, _ := math.Lgamma(float64(n) + 1); return v }
	return math.Exp(lg(n1) + lg(n2) - lg(n1+n2))
}

// MinPairs is the fewest pairs (runs per variant) with which one row of an
// A/B comparison of `rows` rows can fail on its own: Holm's first step
// asks p beyond ≤ alpha/rows, and n pairs give at best 1/2ⁿ (5 for one row
// at 0.05, 7 for 5 rows, 10 for 35).
func MinPairs(alpha float64, rows int) int {
	return minRuns(alpha, rows, func(n int) float64 { return minOneSidedP(true, n, 0) })
}

// MinRuns is the fewest runs per file with which one row of a two-file
// comparison of `rows` rows can fail on its own: the rank-sum test gives
// at best 1/C(2n, n), which must reach alpha/rows (3 for one row at 0.05,
// 5 for 7 rows).
func MinRuns(alpha float64, rows int) int {
	return minRuns(alpha, rows, func(n int) float64 { return minOneSidedP(false, n, n) })
}

func minRuns(alpha float64, rows int, floor func(int) float64) int {
	rows = max(rows, 1)
	n := 1
	for floor(n) > alpha/float64(rows) && n < 64 {
		n++
	}
	return n
}
