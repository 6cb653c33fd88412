package report

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The simulation of identical builds behind the README's table of the A/B
// gate's false alarms. `go test ./report -run TestABSimulation -v -args
// -sim.n=20000` prints the full table; without the flag the test runs a
// small fixed-seed version and checks the gate's error rate.
var simN = flag.Int("sim.n", 0, "invocations (and p99 rows) per setting for TestABSimulation's full table; 0 runs the quick check")

// simNoise is the run-to-run noise of one setting: the standard deviation
// of log(value) of each metric between two runs of one build.
type simNoise struct{ p99, cpu float64 }

// simServers, the cells of one simulated invocation: the seven reference
// servers of an echo run.
const simServers = 7

// simAllowed are the allowances of the README's A/B command (p99=10%,
// server_cpu_per_million=5%, the rest at the default 5%).
var simAllowed = map[string]float64{"p99": 0.10, "server_cpu_per_million": 0.05}

// simInvocation draws one A/B file of two identical builds: every server,
// `pairs` runs of each variant. Within one run the metrics move together
// (a slow moment raises p50 and p99 and lowers throughput), as they do on
// a machine; the two variants are independent draws of the same law.
func simInvocation(rng *rand.Rand, noise simNoise, pairs int) *Result {
	res := &Result{Schema: Schema, Environment: Environment{Variants: []Variant{{Name: "a"}, {Name: "b"}}}}
	servers := []string{"gorilla", "gobwas", "coder", "gws", "nbio", "fasthttp", "gobwas-epoll"}
	for run := 1; run <= pairs; run++ {
		for s := range simServers {
			for _, v := range []string{"a", "b"} {
				z := rng.NormFloat64() // the moment's shared slowness
				mix := func(share, sigma float64) float64 {
					return math.Exp(sigma * (share*z + math.Sqrt(1-share*share)*rng.NormFloat64()))
				}
				cpu := 4.3 * mix(0.3, noise.cpu)
				tput := 20000 / mix(0.6, 0.04)
				var errs uint64
				if rng.IntN(10) == 0 { // now and then a connection error or two
					errs = 1 + uint64(rng.IntN(3))
				}
				res.Records = append(res.Records, Record{Scenario: "echo", Mode: "closed-loop", Server: servers[s], Variant: v,
					Driver: "gobwas", Conns: 20, PayloadBytes: 1024, Run: run, Status: StatusOK, DurationS: 1,
					ThroughputMsgsPerS: tput, Messages: uint64(tput), Errors: map[string]uint64{"read": errs},
					Latency:             Latency{Count: 20000, P50: int64(math.Round(400 * mix(0.6, 0.05))), P99: int64(math.Round(2000 * mix(0.5, noise.p99)))},
					ServerCPUPerMillion: &cpu})
			}
		}
	}
	return res
}

// oldRuleFails is the gate this package had before: per row, the exact
// signed-rank test on the relative changes (B−A)/A, "worse" at p ≤ alpha
// with the median change in the bad direction, failing when also the
// one-sided test of (change − allowance) > 0 is at most alpha, each row
// on its own.
func oldRuleFails(res *Result, alpha float64) bool {
	rows := map[string][2][]float64{}
	var keys []string
	for _, r := range res.Records {
		for _, name := range DefaultABMetrics {
			m, _ := LookupMetric(name)
			v, _ := m.Value(r)
			k := r.Server + "/" + name
			side := rows[k]
			if r.Variant == "a" {
				side[0] = append(side[0], v)
			} else {
				side[1] = append(side[1], v)
			}
			if _, seen := rows[k]; !seen {
				keys = append(keys, k)
			}
			rows[k] = side
		}
	}
	for _, k := range keys {
		m, _ := LookupMetric(k[strings.LastIndex(k, "/")+1:])
		allowed, ok := simAllowed[m.Name]
		if !ok {
			allowed = DefaultMaxRegression
		}
		a, b := rows[k][0], rows[k][1]
		rel := make([]float64, len(a))
		for i := range a {
			rel[i] = relDelta(a[i], b[i])
		}
		if oldRowWorse(rel, m.HigherIsBetter, alpha) {
			worse := make([]float64, len(rel))
			for i, d := range rel {
				if m.HigherIsBetter {
					d = -d
				}
				worse[i] = d - allowed
			}
			if _, hi := signedRankTails(worse, false); hi <= alpha {
				return true
			}
		}
	}
	return false
}

// oldRowWorse: significant at alpha two-sided, median in the bad direction.
func oldRowWorse(d []float64, higherIsBetter bool, alpha float64) bool {
	return rowDirection(d, alpha) == map[bool]int{false: 1, true: -1}[higherIsBetter]
}

// rowDirection is +1 when d is significantly above zero at alpha
// (two-sided, exact signed-rank), −1 when below, 0 otherwise.
func rowDirection(d []float64, alpha float64) int {
	if signedRankP(d) > alpha {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	switch med := (s[(len(s)-1)/2] + s[len(s)/2]) / 2; {
	case med > 0:
		return 1
	case med < 0:
		return -1
	}
	return 0
}

// simFalseAlarms runs n invocations of identical builds and gives the
// share the new rule (CompareAB) flags at the README's allowances, the
// share it flags with every allowance at 0% (the test of no change at all,
// where only Holm's adjustment holds the rate), and the share the old rule
// flags at the README's allowances.
func simFalseAlarms(t *testing.T, rng *rand.Rand, noise simNoise, pairs, n int) (newRate, newZeroRate, oldRate float64) {
	t.Helper()
	zero := map[string]float64{}
	for _, m := range DefaultABMetrics {
		zero[m] = 0
	}
	var flagged [3]int
	for range n {
		res := simInvocation(rng, noise, pairs)
		for i, allowed := range []map[string]float64{simAllowed, zero} {
			c, err := CompareAB(res, CompareOptions{MaxRegression: allowed})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Rows) != simServers*len(DefaultABMetrics) {
				t.Fatalf("%d rows, want %d", len(c.Rows), simServers*len(DefaultABMetrics))
			}
			if c.Failed() {
				flagged[i]++
			}
		}
		if oldRuleFails(res, DefaultCompareAlpha) {
			flagged[2]++
		}
	}
	f := float64(n)
	return float64(flagged[0]) / f, float64(flagged[1]) / f, float64(flagged[2]) / f
}

// simRowRates draws n p99 rows of identical builds and gives how often
// the two-sided test at 0.05 calls them worse and better (nominally 2.5%
// each), on the relative changes (old) and on log(B/A) (new).
func simRowRates(rng *rand.Rand, sigma float64, pairs, n int) (oldWorse, oldBetter, newWorse, newBetter float64) {
	rel, lg := make([]float64, pairs), make([]float64, pairs)
	for range n {
		for i := range pairs {
			a := math.Round(2000 * math.Exp(sigma*rng.NormFloat64()))
			b := math.Round(2000 * math.Exp(sigma*rng.NormFloat64()))
			rel[i], lg[i] = relDelta(a, b), logRatio(a, b)
		}
		switch rowDirection(rel, 0.05) {
		case 1:
			oldWorse++
		case -1:
			oldBetter++
		}
		switch rowDirection(lg, 0.05) {
		case 1:
			newWorse++
		case -1:
			newBetter++
		}
	}
	f := float64(n)
	return oldWorse / f, oldBetter / f, newWorse / f, newBetter / f
}

// TestABSimulation: over every row of an invocation of two identical
// builds (7 servers × the default metrics, 35 rows, at the noise of this
// machine's p99 and CPU per message), the gate must flag at most 5% of
// invocations at 10 pairs, and it does better than the rule it replaced;
// per row, the test on log(B/A) calls identical builds worse and better
// alike, as the one on (B−A)/A did not.
func TestABSimulation(t *testing.T) {
	n, rows := *simN, 10**simN
	settings := []simNoise{{0.20, 0.02}, {0.30, 0.03}}
	pairCounts := []int{10, 20}
	if n == 0 { // the quick check: a few seconds under -race
		n, rows = 40, 3000
		settings, pairCounts = settings[1:], pairCounts[:1]
	}
	rng := rand.New(rand.NewPCG(21, 2026))
	var table strings.Builder
	fmt.Fprintf(&table, "| p99 noise | CPU/msg noise | pairs | flagged, old rule | flagged, new rule | flagged, new rule, every allowance 0%% |\n|---|---|---|---|---|---|\n")
	for _, pairs := range pairCounts {
		for _, noise := range settings {
			newRate, zeroRate, oldRate := simFalseAlarms(t, rng, noise, pairs, n)
			fmt.Fprintf(&table, "| %.0f%% | %.0f%% | %d | %.1f%% | %.1f%% | %.1f%% |\n", 100*noise.p99, 100*noise.cpu, pairs, 100*oldRate, 100*newRate, 100*zeroRate)
			if pairs == 10 && newRate > 0.05 {
				t.Errorf("p99 noise %.0f%%, %d pairs: the gate flagged %.1f%% of %d invocations of identical builds, more than 5%%", 100*noise.p99, pairs, 100*newRate, n)
			}
			if pairs == 10 && noise.p99 == 0.30 && !(oldRate > newRate) {
				t.Errorf("p99 noise 30%%: the old rule flagged %.1f%%, the new %.1f%%; the simulation does not show what the new rule fixes", 100*oldRate, 100*newRate)
			}
		}
	}
	fmt.Fprintf(&table, "\n| p99 noise | pairs | worse, (B−A)/A | better, (B−A)/A | worse, log(B/A) | better, log(B/A) |\n|---|---|---|---|---|---|\n")
	rowPairs := []int{20, 40}
	if *simN == 0 {
		rowPairs = rowPairs[:1]
	}
	for _, pairs := range rowPairs {
		ow, ob, nw, nb := simRowRates(rng, 0.25, pairs, rows)
		fmt.Fprintf(&table, "| 25%% | %d | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", pairs, 100*ow, 100*ob, 100*nw, 100*nb)
		if nw > 0.035 || nb > 0.035 || nw < 0.015 || nb < 0.015 {
			t.Errorf("%d pairs on log(B/A): worse %.1f%%, better %.1f%% of %d rows, want both near 2.5%%", pairs, 100*nw, 100*nb, rows)
		}
		if !(ow > nw+0.01 && ob < nb) {
			t.Errorf("%d pairs on (B−A)/A: worse %.1f%%, better %.1f%%; the skew the log scale removes does not show", pairs, 100*ow, 100*ob)
		}
	}
	t.Logf("identical builds, %d invocations of %d rows and %d p99 rows per line:\n%s", n, simServers*len(DefaultABMetrics), rows, table.String())
}
