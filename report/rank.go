package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/wsbench/wsbench/profile"
)

// ranking orders the rows of one table by what its scenario measures, so
// the table answers "who is best at this": the metric its profile declares
// (Profile.Rank), or server CPU per message when the load generator was the
// limit. A cell (server, driver, file) measured in several runs is placed
// by its median and ties with the cell it cannot be told from: their ranges
// across the runs overlap.
type ranking struct {
	// metric ranks the rows; label is the name its column has in the
	// table ("msgs/s", "CPU s / 1M msgs").
	metric Metric
	label  string
	// byCPU is set when the table is ranked by server CPU per message
	// because a row was client-bound; instead then names what it would
	// have been ranked by.
	byCPU   bool
	instead string
	// spread is set when some cell has more than one usable run: ties
	// are then judged by the runs' ranges.
	spread bool
	// places holds each cell's place, by cellKey; cells with no value
	// (failed in every run) have none.
	places map[string]place
	// order lists the cells best first, unranked ones last.
	order []string
}

// place is a cell's rank: competition ranking (1, 1, 3), tie set when it
// shares its rank with another cell.
type place struct {
	rank int
	tie  bool
}

// cellKey names a cell: every run of one server, driver and file.
func cellKey(r Record) string { return r.ServerLabel() + "\x00" + r.Driver + "\x00" + r.File }

// rankMetric picks what a table's rows are ranked by: server CPU per
// message when a usable row was client-bound and the scenario counts
// that figure; otherwise the first of the profile's ranking metrics that
// every usable row has, or failing that the first any row has. declared
// is the latter in either case.
func rankMetric(rs []Record) (m, declared Metric, byCPU, ok bool) {
	first := rs[0]
	p := ProfileOf(first)
	usable := slices.DeleteFunc(slices.Clone(rs), func(r Record) bool { return !r.Usable() })
	has := func(m Metric, all bool) bool {
		n := 0
		for _, r := range usable {
			if _, ok := m.Value(r); ok {
				n++
			}
		}
		return n > 0 && (!all || n == len(usable))
	}
	for _, all := range []bool{true, false} {
		for _, name := range p.RankFor(first.Mode) {
			if m, found := LookupMetric(name); found && has(m, all) && !ok {
				declared, ok = m, true
			}
		}
	}
	if p.PerMillion != "" && slices.ContainsFunc(usable, func(r Record) bool { return r.Client != nil && r.Client.Bound }) {
		if cpu, found := LookupMetric("server_cpu_per_million"); found && has(cpu, true) {
			return cpu, declared, true, true
		}
	}
	return declared, declared, false, ok
}

// rankLabel is the column name a ranking metric has in r's table.
func rankLabel(m Metric, r Record) string {
	p := ProfileOf(r)
	switch m.Name {
	case "throughput":
		return p.Throughput.Label
	case "p50", "p90", "p99", "max":
		return p.Latency.Prefix + m.Name
	case "p999":
		return p.Latency.Prefix + "p99.9"
	case "handshake_p50", "handshake_p99":
		return strings.ReplaceAll(m.Name, "_", " ")
	case "server_cpu_per_million":
		return "CPU s / 1M " + p.PerMillion
	case "mem_per_conn":
		return "mem/conn (ΔRSS÷conns)"
	case "heap_per_conn":
		return "heap/conn"
	case "rss_peak":
		return "RSS peak"
	}
	if c, ok := findDeclared(p.ColumnsFor(r.Mode), m.Name); ok && c.Label != "" {
		return c.Label
	}
	return m.Name
}

// rank orders the cells of one table's records. It returns nil when
// nothing can be ranked: one cell alone, a capacity search's steps (the
// capacity table ranks those), or no row with the metric.
func rank(rs []Record) *ranking {
	if rs[0].SLO != nil || !slices.ContainsFunc(rs, func(r Record) bool { return cellKey(r) != cellKey(rs[0]) }) {
		return nil
	}
	m, declared, byCPU, ok := rankMetric(rs)
	if !ok {
		return nil
	}
	rk := &ranking{metric: m, label: rankLabel(m, rs[0]), byCPU: byCPU, instead: rankLabel(declared, rs[0]), places: map[string]place{}}
	type cell struct {
		key         string
		med, lo, hi float64
		ranked      bool
	}
	var cells []*cell
	byKey := map[string]*cell{}
	vals := map[string][]float64{}
	for _, r := range rs {
		k := cellKey(r)
		c, seen := byKey[k]
		if !seen {
			c = &cell{key: k}
			byKey[k] = c
			cells = append(cells, c)
		}
		if v, ok := m.Value(r); ok && r.Usable() {
			vals[k] = append(vals[k], v)
		}
	}
	for _, c := range cells {
		v := vals[c.key]
		if len(v) == 0 {
			continue
		}
		rk.spread = rk.spread || len(v) > 1
		c.med, c.lo, c.hi, c.ranked = median(v), v[0], v[len(v)-1], true // median sorts v
	}
	// better reports whether a is better than b.
	better := func(a, b float64) int {
		if m.HigherIsBetter {
			return cmp.Compare(b, a)
		}
		return cmp.Compare(a, b)
	}
	slices.SortStableFunc(cells, func(a, b *cell) int {
		if a.ranked != b.ranked {
			if a.ranked {
				return -1
			}
			return 1
		}
		if c := better(a.med, b.med); a.ranked && c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	var leader *cell
	for i, c := range cells {
		rk.order = append(rk.order, c.key)
		if !c.ranked {
			continue
		}
		// A cell ties with the first of its group when their ranges
		// overlap: a group does not chain on, so a tie always means
		// "cannot be told from that cell".
		if leader != nil && c.lo <= leader.hi && leader.lo <= c.hi {
			p := rk.places[leader.key]
			p.tie = true
			rk.places[leader.key] = p
			rk.places[c.key] = place{rank: p.rank, tie: true}
			continue
		}
		leader = c
		rk.places[c.key] = place{rank: i + 1}
	}
	return rk
}

// cell is a record's rank as the table shows it: "1", "=2" for a shared
// rank, "-" for no rank.
func (rk *ranking) cell(r Record) string {
	p, ok := rk.places[cellKey(r)]
	if !ok {
		return "-"
	}
	if p.tie {
		return fmt.Sprintf("=%d", p.rank)
	}
	return fmt.Sprint(p.rank)
}

// sort puts rs in ranked order, each cell's runs in run order.
func (rk *ranking) sort(rs []Record) {
	pos := map[string]int{}
	for i, k := range rk.order {
		pos[k] = i
	}
	slices.SortStableFunc(rs, func(a, b Record) int {
		return cmp.Or(cmp.Compare(pos[cellKey(a)], pos[cellKey(b)]), cmp.Compare(a.Run, b.Run))
	})
}

// line says under a table's title what its rows are ranked by and how a
// tie reads.
func (rk *ranking) line(first Record) string {
	dir := "lowest first"
	if rk.metric.HigherIsBetter {
		dir = "highest first"
	}
	p := ProfileOf(first)
	what := rk.label
	if rk.metric.Unit == Microseconds && !strings.Contains(rk.label, "handshake") {
		what += " " + p.Latency.What
	}
	s := fmt.Sprintf("ranked by %s, %s", what, dir)
	if rk.byCPU {
		s += fmt.Sprintf(" (server CPU per %s, since the load generator was the limit: see client-bound below)", singular(p.PerMillion))
	}
	if rk.spread {
		return s + "; =N: a tie, the runs' ranges [min–max] overlap"
	}
	return s + "; one run each, so no spread to judge ties by (--runs 3 or more shows which differences hold)"
}

// singular names one of a scenario's units of work.
func singular(unit string) string {
	switch unit {
	case "msgs":
		return "message"
	case "deliveries":
		return "delivery"
	}
	return strings.TrimSuffix(unit, "s")
}

// findDeclared finds the declared column with the given key.
func findDeclared(cols []profile.Column, key string) (profile.Column, bool) {
	for _, c := range cols {
		if c.Key == key {
			return c, true
		}
	}
	return profile.Column{}, false
}
