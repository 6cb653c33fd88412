package report

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Threshold is a pass/fail criterion on one metric, as CI gates use:
//
//	[SCOPE:]METRIC OP VALUE[UNIT]
//
// SCOPE is "scenario" or "scenario/server" and limits the records the
// threshold applies to; without it the threshold applies to every record.
// OP is one of < <= > >= == !=. VALUE is a number whose unit must fit the
// metric (see ParseThreshold). Examples: "p99<3ms", "echo/gorilla:p99<=2.5ms",
// "broadcast:lost==0", "mem_per_conn<16KiB", "throughput>=20k".
type Threshold struct {
	// Raw is the threshold as written (surrounding space trimmed).
	Raw string
	// Scenario and Server are the scope; empty means any.
	Scenario, Server string
	Metric           Metric
	// Op is one of <, <=, >, >=, ==, !=.
	Op string
	// Value is the limit in the metric's own unit (µs for latency,
	// seconds for CPU, bytes for memory, a fraction for ratios).
	Value float64
}

// String returns the threshold as written.
func (t Threshold) String() string { return t.Raw }

var thresholdOps = []string{"<=", ">=", "==", "!=", "<", ">"}

// numberRE matches the number at the start of a threshold's value.
var numberRE = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?`)

// unitSuffix is one unit a threshold value may carry: the value is
// multiplied by num/den to reach the metric's own unit.
type unitSuffix struct {
	name     string
	num, den int64
}

// unitSpec says which suffixes a metric's unit takes and what a plain
// number means.
type unitSpec struct {
	what     string // "latency in microseconds"
	plain    string // what a number without a unit is
	suffixes []unitSuffix
	shown    []string // the suffixes named in error messages
}

func specFor(u Unit) unitSpec {
	switch u {
	case Microseconds:
		return unitSpec{what: "a latency", plain: "µs", shown: []string{"µs", "us", "ms", "s"},
			suffixes: []unitSuffix{{"µs", 1, 1}, {"μs", 1, 1}, {"us", 1, 1}, {"ms", 1000, 1}, {"s", 1_000_000, 1}}}
	case Seconds:
		return unitSpec{what: "a time in seconds", plain: "seconds", shown: []string{"µs", "us", "ms", "s"},
			suffixes: []unitSuffix{{"µs", 1, 1_000_000}, {"μs", 1, 1_000_000}, {"us", 1, 1_000_000}, {"ms", 1, 1000}, {"s", 1, 1}}}
	case Bytes:
		return unitSpec{what: "a size in bytes", plain: "bytes", shown: []string{"B", "KiB", "MiB", "GiB", "KB", "MB", "GB"},
			suffixes: []unitSuffix{{"B", 1, 1}, {"KiB", 1 << 10, 1}, {"MiB", 1 << 20, 1}, {"GiB", 1 << 30, 1},
				{"KB", 1 << 10, 1}, {"MB", 1 << 20, 1}, {"GB", 1 << 30, 1}}}
	case Ratio:
		return unitSpec{what: "a ratio", plain: "a fraction (0.9 = 90%)", shown: []string{"%"},
			suffixes: []unitSuffix{{"%", 1, 100}}}
	case PerSecond:
		return unitSpec{what: "a rate per second", plain: "per second", shown: []string{"k", "M"},
			suffixes: []unitSuffix{{"k", 1000, 1}, {"M", 1_000_000, 1}}}
	default: // Count
		return unitSpec{what: "a count", plain: "a count", shown: []string{"k", "M"},
			suffixes: []unitSuffix{{"k", 1000, 1}, {"M", 1_000_000, 1}}}
	}
}

// ParseThreshold parses `[SCOPE:]METRIC OP VALUE[UNIT]`.
//
// Units by metric: latency (p50, p99, handshake_p99, ...) takes µs, us,
// ms or s, a plain number being µs; CPU seconds take µs, us, ms or s, a
// plain number being seconds; memory takes B, KiB, MiB, GiB (KB, MB, GB
// are read as the same binary multiples), a plain number being bytes;
// ratios take %, a plain number being a fraction; rates and counts take a
// plain number with an optional k (×1000) or M (×1,000,000).
func ParseThreshold(s string) (Threshold, error) {
	raw := strings.TrimSpace(s)
	th := Threshold{Raw: raw}
	bad := func(format string, args ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("threshold %q: %s", s, fmt.Sprintf(format, args...))
	}
	if raw == "" {
		return bad("empty; want [scenario[/server]:]metric op value, e.g. echo:p99<3ms")
	}
	i := strings.IndexAny(raw, "<>=!")
	if i < 0 {
		return bad("no comparison operator; want one of %s", strings.Join(thresholdOps, " "))
	}
	rest := raw[i:]
	for _, op := range thresholdOps {
		if strings.HasPrefix(rest, op) {
			th.Op = op
			break
		}
	}
	if after := rest[len(th.Op):]; th.Op == "" || (after != "" && strings.ContainsRune("<>=!", rune(after[0]))) {
		end := len(rest)
		if j := strings.IndexFunc(rest, func(r rune) bool { return !strings.ContainsRune("<>=!", r) }); j >= 0 {
			end = j
		}
		return bad("bad operator %q; want one of %s", rest[:end], strings.Join(thresholdOps, " "))
	}
	left, right := strings.TrimSpace(raw[:i]), strings.TrimSpace(rest[len(th.Op):])

	// Scope and metric.
	name := left
	if strings.Count(left, ":") > 1 {
		return bad("more than one ':' before the metric; want scenario[/server]:metric")
	}
	if scope, m, ok := strings.Cut(left, ":"); ok {
		name = strings.TrimSpace(m)
		scope = strings.TrimSpace(scope)
		parts := strings.Split(scope, "/")
		switch {
		case scope == "":
			return bad("empty scope before ':'; want scenario or scenario/server")
		case len(parts) > 2:
			return bad("scope %q has too many '/'; want scenario or scenario/server", scope)
		}
		th.Scenario = strings.TrimSpace(parts[0])
		if th.Scenario == "" {
			return bad("scope %q has no scenario; want scenario or scenario/server", scope)
		}
		if len(parts) == 2 {
			th.Server = strings.TrimSpace(parts[1])
			if th.Server == "" {
				return bad("scope %q has no server after '/'; want scenario or scenario/server", scope)
			}
		}
		if strings.ContainsFunc(th.Scenario+th.Server, unicode.IsSpace) {
			return bad("scope %q contains spaces", scope)
		}
	}
	if name == "" {
		return bad("no metric before %q; known metrics: %s", th.Op, strings.Join(MetricNames(), ", "))
	}
	m, ok := LookupMetric(name)
	if !ok {
		return bad("unknown metric %q; known metrics: %s", name, strings.Join(MetricNames(), ", "))
	}
	th.Metric = m

	// Value and unit.
	if right == "" {
		return bad("no value after %q", th.Op)
	}
	num := numberRE.FindString(right)
	if num == "" {
		return bad("value %q is not a number", right)
	}
	unit := strings.TrimSpace(right[len(num):])
	spec := specFor(m.Unit)
	factor := big.NewRat(1, 1)
	if unit != "" {
		found := false
		for _, u := range spec.suffixes {
			if u.name == unit {
				factor, found = big.NewRat(u.num, u.den), true
				break
			}
		}
		if !found {
			return bad("unit %q does not fit %s, which is %s: use %s, or a plain number (%s)",
				unit, m.Name, spec.what, orList(spec.shown), spec.plain)
		}
	}
	// Exact decimal arithmetic, so 1.1ms is 1100 µs and 57% is 0.57, not
	// a neighbour off by one ulp that would flip an == or a boundary.
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad("value %q is not a number", num)
	}
	th.Value, _ = v.Mul(v, factor).Float64()
	if math.IsInf(th.Value, 0) {
		return bad("value %q is out of range", right)
	}
	return th, nil
}

func orList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// matches reports whether r is in the threshold's scope.
func (t Threshold) matches(r Record) bool {
	return (t.Scenario == "" || r.Scenario == t.Scenario) && (t.Server == "" || r.Server == t.Server)
}

func (t Threshold) holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	case "==":
		return v == t.Value
	case "!=":
		return v != t.Value
	}
	return false
}

// ThresholdResult is one threshold checked on one record.
type ThresholdResult struct {
	Threshold Threshold
	// Record is the record checked (it points into the slice given to
	// CheckThresholds).
	Record *Record
	// Value is the measured value in the metric's unit; meaningful only
	// when Has is set.
	Value float64
	// Has is false when the record has no value to check: it failed or
	// was interrupted, or did not measure the metric.
	Has bool
	// Pass is set when the value met the threshold. A result without a
	// value never passes: it cannot be shown to.
	Pass bool
}

// CheckThresholds checks every threshold on every record it matches.
// Results come in threshold order, then record order. A record that is not
// usable (ok or degraded), or lacks the metric, gives a failing result with Has unset. A
// threshold that matches no record is an error rather than a silent pass.
func CheckThresholds(ths []Threshold, records []Record) ([]ThresholdResult, error) {
	var out []ThresholdResult
	var unmatched []string
	for _, th := range ths {
		n := 0
		for i := range records {
			r := &records[i]
			if !th.matches(*r) {
				continue
			}
			n++
			res := ThresholdResult{Threshold: th, Record: r}
			if r.Usable() {
				res.Value, res.Has = th.Metric.Value(*r)
				res.Pass = res.Has && th.holds(res.Value)
			}
			out = append(out, res)
		}
		if n == 0 {
			unmatched = append(unmatched, strconv.Quote(th.Raw))
		}
	}
	if len(unmatched) > 0 {
		return nil, fmt.Errorf("threshold %s matches no record (records cover %s)",
			strings.Join(unmatched, ", "), describeScopes(records))
	}
	return out, nil
}

// describeScopes lists the scenario/server pairs present, for errors.
func describeScopes(records []Record) string {
	if len(records) == 0 {
		return "nothing: there are no records"
	}
	var list []string
	seen := map[string]bool{}
	for _, r := range records {
		k := r.Scenario + "/" + r.Server
		if !seen[k] {
			seen[k] = true
			list = append(list, k)
		}
	}
	return strings.Join(list, ", ")
}

// formatMetricValue shows v in the unit of m.
func formatMetricValue(u Unit, v float64) string {
	switch u {
	case Microseconds:
		return fmtUs(int64(math.Round(v)))
	case Seconds:
		return fmtUs(int64(math.Round(v * 1e6)))
	case Bytes:
		return fmtBytes(v)
	case Ratio:
		return trimFloat(v*100) + "%"
	case PerSecond:
		return fmtSignedCount(v) + "/s"
	default:
		return fmtSignedCount(v)
	}
}

func fmtSignedCount(v float64) string {
	if v < 0 {
		return "-" + fmtCount(uint64(-v+0.5))
	}
	return fmtCount(uint64(v + 0.5))
}

// RenderThresholds writes one line per result, ✓ or ✗, the threshold, the
// record it was checked on and the measured value, then a summary line,
// and returns how many failed.
func RenderThresholds(w io.Writer, results []ThresholdResult) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, res := range results {
		mark := "✓"
		if !res.Pass {
			mark = "✗"
			failed++
		}
		r := res.Record
		value := res.Threshold.Metric.Name + " = " + formatMetricValue(res.Threshold.Metric.Unit, res.Value)
		if !res.Has {
			switch {
			case !r.Usable():
				why := "cell " + r.Status
				if r.Reason != "" {
					why += ": " + r.Reason
				}
				value = "n/a (" + why + ")"
			default:
				value = "n/a (not measured)"
			}
		}
		fmt.Fprintf(tw, "%s %s\t%s/%s/%s\t%s conns\trun %d\t%s\n", mark, res.Threshold.Raw,
			r.Scenario, r.ServerLabel(), r.Driver, fmtCount(uint64(max(r.Conns, 0))), r.Run, oneLine(value))
	}
	tw.Flush()
	fmt.Fprintf(w, "thresholds: %d passed, %d failed\n", len(results)-failed, failed)
	return failed
}

// oneLine keeps a reason on one line and without tabs.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ParseSLO reads the objective of a capacity search: a latency threshold
// the headline latency must keep, written as a threshold (p99<10ms,
// p99<=10ms) or as PERCENTILE=LIMIT (p99=10ms, read as p99<=10ms). It is
// ParseThreshold with those two rules on top.
func ParseSLO(s string) (Threshold, error) {
	in := strings.TrimSpace(s)
	if name, limit, ok := strings.Cut(in, "="); ok && !strings.ContainsAny(name, "<>!=") && !strings.HasPrefix(limit, "=") {
		in = name + "<=" + limit
	}
	th, err := ParseThreshold(in)
	if err != nil {
		return Threshold{}, fmt.Errorf("--slo %q: want a latency objective such as p99<10ms or p99=10ms: %w", s, err)
	}
	if th.Metric.Unit != Microseconds || (th.Op != "<" && th.Op != "<=") || th.Scenario != "" || th.Value <= 0 {
		return Threshold{}, fmt.Errorf("--slo %q: want a latency objective such as p99<10ms or p99=10ms (latency metrics: p50, p90, p99, p999, max, handshake_p50, handshake_p99)", s)
	}
	return th, nil
}

// Objective is an SLO threshold as tables print it ("p99 ≤ 10ms").
func (t Threshold) Objective() string {
	op := map[string]string{"<": "<", "<=": "≤"}[t.Op]
	return fmt.Sprintf("%s %s %s", t.Metric.Name, op, time.Duration(t.Value*float64(time.Microsecond)))
}

// Holds reports whether v keeps the threshold.
func (t Threshold) Holds(v float64) bool { return t.holds(v) }
