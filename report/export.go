package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The helpers below are shared by this package's renderers and the HTML
// report (report/htmlreport), so a figure reads the same in every format.

// FormatMicros shows a latency in µs with its unit ("850µs", "1.25ms").
func FormatMicros(us int64) string { return fmtUs(us) }

// FormatRate shows a per-second rate as a whole count with separators.
func FormatRate(v float64) string { return rate(v) }

// FormatFloat shows v with as few digits as it needs.
func FormatFloat(v float64) string { return trimFloat(v) }

// FormatBytes shows a size in binary units.
func FormatBytes(b float64) string { return fmtBytes(b) }

// FormatCount shows a count with thousands separators.
func FormatCount(n uint64) string { return fmtCount(n) }

// OptFloat reads an optional figure; ok is false when it is unknown.
func OptFloat(p *float64) (float64, bool) { return optFloat(p) }

// Median is the middle of vals (the mean of the middle two for an even
// count); it sorts vals.
func Median(vals []float64) float64 { return median(vals) }

// SortedKeys are m's keys in order.
func SortedKeys[V any](m map[string]V) []string { return sortedKeys(m) }

// SettingValue formats a fairness-manifest setting for reading.
func SettingValue(key string, v any) string { return settingValue(key, v) }

// GroupTitle describes the parameters shared by records of one table, from
// their scenario's profile; window describes the measured window.
func GroupTitle(r Record, window string) string { return groupTitle(r, window) }

func median(vals []float64) float64 {
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// settingValue formats a manifest setting for reading: durations (keys
// ending _ns) and sizes (_bytes) in units, zero limits as "none".
func settingValue(key string, v any) string {
	if f, ok := v.(float64); ok {
		switch {
		case key == "gomaxprocs" && f == 0:
			return "Go default"
		case strings.HasSuffix(key, "_ns"):
			if f <= 0 {
				return "none"
			}
			return time.Duration(f).String()
		case strings.HasSuffix(key, "_bytes"):
			if f <= 0 {
				return "none"
			}
			return fmtBytes(f)
		}
	}
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// Group is the records that belong in one table, and its title.
type Group struct {
	Title   string
	Records []Record
}

// Groups puts res's records with the same parameters in one table each, as
// the table renderer does.
func Groups(res *Result) []Group {
	var out []Group
	for _, g := range groups(res) {
		out = append(out, Group{Title: g.title, Records: g.records})
	}
	return out
}

// ManifestValue is a fairness-manifest setting as the cells ran with it.
func ManifestValue(res *Result, key string) string { return manifestValue(res, key) }

// FormatMetric shows a value in unit u.
func FormatMetric(u Unit, v float64) string { return formatMetric(u, v) }

// FormatDeltaPct shows a relative change as a signed percentage.
func FormatDeltaPct(d float64) string { return fmtDeltaPct(d) }

// Notes explains every marked record of rs, one line each, as under a
// table.
func Notes(rs []Record) []string { return notes(rs, true) }

// NA is what a figure unknown for a record (a --target's server side) reads.
const NA = na

// Ranking is how the rows of one table are ranked (by its scenario's
// headline, or server CPU per message where a row was client-bound; ties
// where the runs' ranges overlap): the one ranking every format shows.
type Ranking struct {
	rk  *ranking
	pos map[string]int
}

// Rank ranks the records of one table (a Group's); nil when the table is
// not ranked: one cell alone, a capacity search's steps, no row with the
// figure.
func Rank(rs []Record) *Ranking {
	rk := rank(rs)
	if rk == nil {
		return nil
	}
	pos := map[string]int{}
	for i, k := range rk.order {
		pos[k] = i
	}
	return &Ranking{rk: rk, pos: pos}
}

// Place is r's rank as the tables show it: "1", "=2" for a shared rank,
// "-" for none.
func (k *Ranking) Place(r Record) string { return k.rk.cell(r) }

// Compare orders two records of the table as the ranked table lists
// them: cells best first, each cell's runs in run order.
func (k *Ranking) Compare(a, b Record) int {
	return cmp.Or(cmp.Compare(k.pos[cellKey(a)], k.pos[cellKey(b)]), cmp.Compare(a.Run, b.Run))
}

// Line says what the rows are ranked by and how a tie reads, as under
// the terminal table's title.
func (k *Ranking) Line(first Record) string { return k.rk.line(first) }

// Label is the header of the column the rows are ranked by.
func (k *Ranking) Label() string { return k.rk.label }

// RankedColumns are a ranked table's two column lists as the terminal
// shows them: the first gains the column the rows are ranked by (after
// the status) when only the second had it, so it answers "who is best"
// on its own.
func RankedColumns(first Record, k *Ranking) (seen, cost []TableColumn) {
	seen, cost = TableColumns(first)
	if k == nil || slices.ContainsFunc(seen, func(c TableColumn) bool { return c.Name == k.rk.label }) {
		return seen, cost
	}
	if i := slices.IndexFunc(cost, func(c TableColumn) bool { return c.Name == k.rk.label }); i >= 0 {
		at := slices.IndexFunc(seen, func(c TableColumn) bool { return c.c.name == colStatus.name }) + 1
		seen = slices.Insert(seen, at, cost[i])
	}
	return seen, cost
}
