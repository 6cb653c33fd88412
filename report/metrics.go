package report

import (
	"sort"
	"strings"

	"github.com/wsbench/wsbench/profile"
)

// Unit says what a metric's numbers are, so thresholds can take units
// (ms, KiB, %) and renderers can format them.
type Unit int

// The units of metrics.
const (
	Microseconds Unit = iota // latency; thresholds accept µs, us, ms, s
	PerSecond                // rates; plain numbers
	Count                    // counts; plain numbers
	Bytes                    // memory; thresholds accept B, KiB, MiB, GiB
	Seconds                  // CPU time; thresholds accept µs, ms, s
	Ratio                    // fractions; thresholds accept % (50% = 0.5)
)

// Metric is one number that can be read off every record, by name. It is
// the vocabulary shared by thresholds (`p99<5ms`), compare and benchfmt.
type Metric struct {
	Name string
	Unit Unit
	// HigherIsBetter is true for throughput-like metrics, false for
	// latency, errors, CPU and memory.
	HigherIsBetter bool
	// Doc is one line for help text and the README.
	Doc string
	// Value reads the metric from a record; ok is false when the record
	// does not have it (a server-side figure of a --target run, say).
	Value func(Record) (v float64, ok bool)
}

func latencyMetric(name, doc string, get func(Record) Latency, pick func(Latency) int64) Metric {
	return Metric{Name: name, Unit: Microseconds, Doc: doc, Value: func(r Record) (float64, bool) {
		l := get(r)
		return float64(pick(l)), l.Count > 0
	}}
}

func optFloat(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

var metrics = func() map[string]Metric {
	lat := HeadlineLatency
	hs := func(r Record) Latency { return r.Handshake }
	list := []Metric{
		latencyMetric("p50", "median latency (round trip, publish→receipt, ping→pong)", lat, func(l Latency) int64 { return l.P50 }),
		latencyMetric("p90", "90th percentile latency", lat, func(l Latency) int64 { return l.P90 }),
		latencyMetric("p99", "99th percentile latency", lat, func(l Latency) int64 { return l.P99 }),
		latencyMetric("p999", "99.9th percentile latency", lat, func(l Latency) int64 { return l.P999 }),
		latencyMetric("max", "largest latency", lat, func(l Latency) int64 { return l.Max }),
		latencyMetric("handshake_p50", "median handshake (TCP + upgrade)", hs, func(l Latency) int64 { return l.P50 }),
		latencyMetric("handshake_p99", "99th percentile handshake", hs, func(l Latency) int64 { return l.P99 }),
		{Name: "throughput", Unit: PerSecond, HigherIsBetter: true, Doc: "messages per second (deliveries for broadcast, pongs for heartbeat, connections for connect)",
			Value: func(r Record) (float64, bool) {
				v, _ := Headline(r)
				return v, r.DurationS > 0 || r.Connect.Established > 0
			}},
		{Name: "errors", Unit: Count, Doc: "errors of every class",
			Value: func(r Record) (float64, bool) { return float64(r.ErrorCount()), true }},
		{Name: "lost", Unit: Count, Doc: "lost messages (missing deliveries for broadcast)",
			Value: func(r Record) (float64, bool) { return float64(r.Integrity.Lost), true }},
		{Name: "integrity_faults", Unit: Count, Doc: "lost + duplicated + reordered + corrupt",
			Value: func(r Record) (float64, bool) { return float64(r.Integrity.Faults()), true }},
		{Name: "missed_pongs", Unit: Count, Doc: "heartbeat pings without a pong in time",
			Value: func(r Record) (float64, bool) {
				if r.Heartbeat == nil {
					return 0, false
				}
				return float64(r.Heartbeat.Missed), true
			}},
		{Name: "server_cpu", Unit: Seconds, Doc: "server CPU seconds in the measured window",
			Value: func(r Record) (float64, bool) { return optFloat(r.ServerCPUS) }},
		{Name: "server_cpu_per_million", Unit: Seconds, Doc: "server CPU seconds per million messages",
			Value: func(r Record) (float64, bool) { return optFloat(serverCPUPerM(r)) }},
		{Name: "mem_per_conn", Unit: Bytes, Doc: "server RSS per connection (ΔRSS÷conns)",
			Value: func(r Record) (float64, bool) { return optFloat(r.ServerMemPerConnBytes) }},
		{Name: "heap_per_conn", Unit: Bytes, Doc: "server Go heap per connection at steady state",
			Value: func(r Record) (float64, bool) { return optFloat(r.ServerHeapPerConnBytes) }},
		{Name: "rss_peak", Unit: Bytes, Doc: "server peak RSS in the measured window",
			Value: func(r Record) (float64, bool) {
				if r.ServerRSSPeakBytes == nil {
					return 0, false
				}
				return float64(*r.ServerRSSPeakBytes), true
			}},
		{Name: "client_cpu_util", Unit: Ratio, Doc: "load generator CPU as a share of the CPUs it may use",
			Value: func(r Record) (float64, bool) {
				if r.Client == nil {
					return 0, false
				}
				return r.Client.CPUUtil, true
			}},
	}
	m := map[string]Metric{}
	for _, x := range list {
		m[x.Name] = x
	}
	return m
}()

// LookupMetric returns the named metric: one of MetricNames, or a
// scenario's own figure as "figure.NAME" or distribution percentile as
// "dist.NAME.p99" (p50, p99, max), when a registered profile declares it.
func LookupMetric(name string) (Metric, bool) {
	if m, ok := metrics[name]; ok {
		return m, true
	}
	if rest, ok := strings.CutPrefix(name, "dist."); ok {
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return Metric{}, false
		}
		dist, pct := rest[:i], rest[i+1:]
		pick, known := map[string]func(Latency) int64{"p50": func(l Latency) int64 { return l.P50 },
			"p99": func(l Latency) int64 { return l.P99 }, "max": func(l Latency) int64 { return l.Max }}[pct]
		if _, declared := profile.FindColumn("dist." + dist); !known || !declared {
			return Metric{}, false
		}
		return latencyMetric(name, "the scenario's own distribution "+dist, func(r Record) Latency {
			return r.Distributions[dist]
		}, pick), true
	}
	fig, own := strings.CutPrefix(name, "figure.")
	c, declared := profile.FindColumn(name)
	if !own || !declared {
		return Metric{}, false
	}
	unit, ok := map[profile.Format]Unit{profile.Seconds: Seconds, profile.Micros: Microseconds, profile.Rate: PerSecond,
		profile.Percent: Ratio, profile.Bytes: Bytes}[c.Format]
	if !ok {
		unit = Count
	}
	return Metric{Name: name, Unit: unit, HigherIsBetter: c.HigherIsBetter, Doc: "the scenario's own figure " + fig,
		Value: func(r Record) (float64, bool) { v, ok := r.Figures[fig]; return v, ok }}, true
}

// MetricNames lists every metric name, sorted.
func MetricNames() []string {
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
