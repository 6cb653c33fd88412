package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/profile"
)

// ProfileOf is the declaration of what r's scenario measures.
func ProfileOf(r Record) profile.Profile { return profile.Lookup(r.Scenario) }

// Headline reads a record's headline throughput, as its scenario declares
// it; ok is false when the record has none.
func Headline(r Record) (v float64, ok bool) {
	if ProfileOf(r).Throughput.Source == "connections" {
		return r.Connect.RatePerS, r.Connect.Established > 0
	}
	return r.ThroughputMsgsPerS, r.DurationS > 0 && r.Messages > 0
}

// HeadlineLatency is a record's headline latency distribution, as its
// scenario declares it.
func HeadlineLatency(r Record) Latency {
	if ProfileOf(r).Latency.Source == "handshake" {
		return r.Handshake
	}
	return r.Latency
}

// HeadlineIters is how many operations the headline figures describe:
// messages, or connections established.
func HeadlineIters(r Record) uint64 {
	if ProfileOf(r).Throughput.Source == "connections" {
		return uint64(max(r.Connect.Established, 0))
	}
	return r.Messages
}

// catalog holds every column a scenario may declare, by key; a key may
// stand for several columns (latency percentiles). p is the scenario's
// profile, for the labels it sets.
var catalog = map[string]func(p profile.Profile) []column{
	"throughput": func(p profile.Profile) []column {
		return []column{{name: p.Throughput.Label, headline: true, cell: func(r Record) string {
			v, _ := Headline(r)
			if p.Throughput.Source == "connections" && r.Connect.TargetRatePerS > 0 {
				return rate(v) + " of " + rate(r.Connect.TargetRatePerS)
			}
			return rate(v)
		}}}
	},
	"mb_per_s": one(column{name: "MB/s", headline: true, cell: func(r Record) string { return trimFloat(r.ThroughputBytesPerS / 1e6) }}),
	"latency": func(p profile.Profile) []column {
		return latencyColumns(p.Latency.Prefix, HeadlineLatency)
	},
	"handshake":       func(profile.Profile) []column { return colHandshake },
	"errors":          one(colErrors),
	"integrity":       one(colIntegrity),
	"never_sent":      one(colNeverSent),
	"never_answered":  one(colNeverAnswered),
	"sent_rate":       one(column{name: "sent/s", cell: func(r Record) string { return rate(ol(r).AchievedRate) + " of " + rate(ol(r).TargetRate) }}),
	"uncorrected_p99": one(column{name: "uncorrected p99", cell: func(r Record) string { return optLatency(r.ServiceTime, func(l Latency) int64 { return l.P99 }) }}),
	"send_late_p99":   one(column{name: "send late p99", cell: func(r Record) string { return optUs(ol(r).SendLateness.Count, ol(r).SendLateness.P99) }}),
	"behind_schedule": one(column{name: "behind schedule", cell: func(r Record) string { return fmtCount(ol(r).BehindSchedule) }}),
	"publish_rate":    one(column{name: "publish/s", cell: func(r Record) string { return rate(bc(r).AchievedRate) + " of " + rate(bc(r).TargetRate) }}),
	"publish_late_p99": one(column{name: "publish late p99", cell: func(r Record) string {
		return optUs(bc(r).SendLateness.Count, bc(r).SendLateness.P99)
	}}),
	"fanout": func(profile.Profile) []column {
		return []column{
			{name: "fan-out p50", headline: true, secondary: true, cell: func(r Record) string { return optUs(bc(r).Fanout.Count, bc(r).Fanout.P50) }},
			{name: "fan-out p99", headline: true, cell: func(r Record) string { return optUs(bc(r).Fanout.Count, bc(r).Fanout.P99) }},
		}
	},
	"complete": one(column{name: "complete", cell: func(r Record) string {
		if r.Integrity.Sent == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f%%", 100*float64(r.Integrity.Received)/float64(r.Integrity.Sent))
	}}),
	"slow_consumer_drops": one(column{name: "slow-consumer drops", cell: func(r Record) string {
		b := bc(r)
		if b.ServerDropped == nil {
			return na
		}
		return fmtCount(*b.ServerDropped + *b.ServerDisconnected)
	}}),
	"missed_pongs":     one(column{name: "missed pongs", cell: func(r Record) string { return fmtCount(hb(r).Missed) }}),
	"stayed_up":        one(column{name: "stayed up", cell: func(r Record) string { return fmtCount(uint64(hb(r).StayedUp)) }}),
	"closed_by_server": one(column{name: "closed by server", cell: func(r Record) string { return fmtCount(hb(r).ClosedByServer) }}),
	"established":      one(column{name: "established", cell: func(r Record) string { return fmtCount(uint64(r.Connect.Established)) }}),
	"failed":           one(column{name: "failed", cell: func(r Record) string { return fmtCount(uint64(r.Connect.Failed)) }}),
	"clean_closes":     one(column{name: "clean closes", cell: func(r Record) string { return fmtCount(uint64(r.Close.Clean)) }}),
	"abrupt_closes":    one(column{name: "abrupt", cell: func(r Record) string { return fmtCount(uint64(r.Close.Abrupt)) }}),
	"close_codes": one(column{name: "close codes", left: true, cell: func(r Record) string {
		if len(r.CloseCodes) == 0 {
			return "-"
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.CloseCodes)) {
			parts = append(parts, k+"×"+fmtCount(r.CloseCodes[k]))
		}
		return strings.Join(parts, " ")
	}}),
	"close_time": one(column{name: "close time", cell: func(r Record) string { return trimFloat(r.Connect.CloseDurationS) + "s" }}),
}

func one(c column) func(profile.Profile) []column {
	return func(profile.Profile) []column { return []column{c} }
}

// ColumnKeys lists the keys a scenario's profile may use, sorted.
func ColumnKeys() []string {
	keys := make([]string, 0, len(catalog))
	for k := range catalog {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CheckProfile reports the keys of p that name no column.
func CheckProfile(p profile.Profile) error {
	var bad []string
	for _, k := range p.Keys() {
		if _, ok := columnsFor(p, profile.Column{Key: k}); !ok {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("scenario %s declares unknown columns %s (known: %s)", p.Scenario, strings.Join(bad, ", "), strings.Join(ColumnKeys(), ", "))
	}
	return checkMerges(p)
}

// checkMerges: every figure a column shows says how it merges across
// shards, and every recomputed figure names its distribution, a quantile
// and, for values beyond it, a summed figure; otherwise a merged file
// would silently lose the column.
func checkMerges(p profile.Profile) error {
	var bad []string
	for _, k := range p.Keys() {
		if kind, name, ok := profile.Own(k); ok && kind == "figure" {
			if _, declared := p.FigureMerge(name); !declared {
				bad = append(bad, k+" (no merge declared)")
			}
		}
	}
	for _, f := range p.Figures {
		if f.Merge != profile.Recomputed {
			continue
		}
		if f.Dist == "" || f.Quantile <= 0 || f.Quantile > 100 {
			bad = append(bad, f.Name+" (recomputed: needs a distribution and a quantile in (0, 100])")
		}
		if b, ok := p.FigureMerge(f.Beyond); f.Beyond != "" && (!ok || b.Merge != profile.Summed) {
			bad = append(bad, f.Name+" (its beyond figure "+f.Beyond+" must be summed)")
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("scenario %s: %s", p.Scenario, strings.Join(bad, "; "))
	}
	return nil
}

// mainColumns are what a client sees: the scenario's declared columns for
// the record's mode.
func mainColumns(first Record) []column {
	p := ProfileOf(first)
	var cols []column
	for _, c := range p.ColumnsFor(first.Mode) {
		got, _ := columnsFor(p, c) // CheckProfile guards the registered profiles
		for _, col := range got {
			col.secondary = col.secondary || c.Secondary
			cols = append(cols, col)
		}
	}
	return cols
}

// columnsFor is the table columns of one declared column: from the
// catalog, or the scenario's own figure or distribution.
func columnsFor(p profile.Profile, c profile.Column) ([]column, bool) {
	if kind, name, ok := profile.Own(c.Key); ok {
		label := c.Label
		if label == "" {
			label = name
		}
		if kind == "dist" {
			get := func(r Record) Latency { return r.Distributions[name] }
			return []column{
				{name: label + " p50", cell: func(r Record) string { l := get(r); return optUs(l.Count, l.P50) }},
				{name: label + " p99", cell: func(r Record) string { l := get(r); return optUs(l.Count, l.P99) }},
				{name: label + " max", cell: func(r Record) string { l := get(r); return optUs(l.Count, l.Max) }},
			}, true
		}
		return []column{{name: label, cell: func(r Record) string {
			v, ok := r.Figures[name]
			if !ok {
				return "-"
			}
			return formatFigure(c.Format, v)
		}}}, true
	}
	mk, ok := catalog[c.Key]
	if !ok {
		return nil, false
	}
	got := mk(p)
	if c.Label != "" && len(got) == 1 {
		got = []column{got[0]}
		got[0].name = c.Label
	}
	return got, true
}

// formatFigure shows a scenario's own figure as its profile says.
func formatFigure(f profile.Format, v float64) string {
	switch f {
	case profile.Seconds:
		return trimFloat(v) + "s"
	case profile.Micros:
		return fmtUs(int64(v + 0.5))
	case profile.Rate:
		return rate(v)
	case profile.Percent:
		return fmt.Sprintf("%.1f%%", 100*v)
	case profile.Bytes:
		return fmtBytes(v)
	}
	if v >= 0 && v == float64(uint64(v)) {
		return fmtCount(uint64(v))
	}
	return trimFloat(v)
}

func ol(r Record) *OpenLoop {
	if r.OpenLoop == nil {
		return &OpenLoop{}
	}
	return r.OpenLoop
}

func bc(r Record) *Broadcast {
	if r.Broadcast == nil {
		return &Broadcast{}
	}
	return r.Broadcast
}

func hb(r Record) *Heartbeat {
	if r.Heartbeat == nil {
		return &Heartbeat{}
	}
	return r.Heartbeat
}

func optLatency(l *Latency, f func(Latency) int64) string {
	if l == nil {
		return "-"
	}
	return optUs(l.Count, f(*l))
}

// titleKeys fill a profile's title placeholders from a record.
var titleKeys = map[string]func(r Record, window string) string{
	"scenario": func(r Record, _ string) string { return r.Scenario },
	"conns":    func(r Record, _ string) string { return fmt.Sprint(r.Conns) },
	"window":   func(_ Record, w string) string { return w },
	"messages": func(r Record, _ string) string {
		kind := "binary"
		if r.Text {
			kind = "text"
		}
		msgs := fmt.Sprintf("%d B %s messages", r.PayloadBytes, kind)
		if r.Compression != nil {
			msgs += " (compressible filler, permessage-deflate offered)"
		}
		return msgs
	},
	"mode": func(r Record, _ string) string {
		mode := strings.ReplaceAll(r.Mode, "-", " ")
		if r.SLO != nil {
			mode += ", capacity search for " + r.SLO.Objective
		} else if r.OpenLoop != nil {
			mode += " at " + fmtCount(uint64(r.OpenLoop.TargetRate+0.5)) + " msgs/s (latency from the intended send time)"
		}
		return mode
	},
	"objective": func(r Record, _ string) string {
		if r.SLO == nil {
			return ""
		}
		return r.SLO.Objective
	},
	"publishers":    func(r Record, _ string) string { return fmt.Sprint(bc(r).Publishers) },
	"target_rate":   func(r Record, _ string) string { return trimFloat(bc(r).TargetRate) },
	"ping_interval": func(r Record, _ string) string { return trimFloat(hb(r).PingIntervalS) + "s" },
	"pong_timeout":  func(r Record, _ string) string { return trimFloat(hb(r).PongTimeoutS) + "s" },
	"idle_timeout": func(r Record, _ string) string {
		if hb(r).ServerIdleTimeoutS > 0 {
			return trimFloat(hb(r).ServerIdleTimeoutS) + "s"
		}
		return "unknown"
	},
	"connect_pace": func(r Record, _ string) string {
		if r.Connect.TargetRatePerS > 0 {
			return "at " + trimFloat(r.Connect.TargetRatePerS) + "/s"
		}
		return "as fast as possible (64 dials at a time)"
	},
	"fault": func(r Record, _ string) string {
		f := r.Fault
		if f == nil {
			return "none"
		}
		what := f.Kind
		if f.Cmd != "" {
			what = fmt.Sprintf("%q", f.Cmd)
		}
		if f.ForS > 0 {
			what += " for " + trimFloat(f.ForS) + "s"
		}
		// The plan, not the instant the clock gave each cell (2.00s in
		// one, 2.03s in the next): it is part of what groups cells.
		at := f.PlanAtS
		if at == 0 {
			at = f.AtS // a file written before plan_at_s
		}
		what += " at " + trimFloat(at) + "s"
		if f.Cmd != "" {
			// The command decided how long the target was down: what it
			// took, measured, over the table's rows (groups), and its bound.
			if f.ranS != "" {
				what += ", ran " + f.ranS
			}
			if f.CmdTimeoutS > 0 {
				what += " (bound " + trimFloat(f.CmdTimeoutS) + "s)"
			}
		}
		return what
	},
	"duration": func(r Record, _ string) string { return time.Duration(r.DurationS * float64(time.Second)).String() },
}

// groupTitle describes the parameters shared by the rows of one table,
// from the scenario's declared title; window is the measured window's
// description.
func groupTitle(r Record, window string) string {
	p := ProfileOf(r)
	t := p.Title
	if r.SLO != nil && p.SearchTitle != "" {
		t = p.SearchTitle
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(t[:i])
		key := t[i+1 : i+j]
		if f, ok := titleKeys[key]; ok {
			b.WriteString(f(r, window))
		} else if label, ok := strings.CutPrefix(key, "label."); ok {
			// {label.NAME|TEXT} writes TEXT, its %s the value, only for
			// a record with the label: an option shown when not default.
			name, text, cond := strings.Cut(label, "|")
			if v := r.Labels[name]; !cond {
				b.WriteString(v)
			} else if v != "" {
				b.WriteString(strings.ReplaceAll(text, "%s", v))
			}
		} else {
			b.WriteString("{" + key + "}")
		}
		t = t[i+j+1:]
	}
	b.WriteString(t)
	return b.String()
}
