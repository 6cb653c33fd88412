// Package profile is the vocabulary between a scenario and the renderers: a
// scenario declares, next to its code, what it measures (its title, its
// headline throughput and latency, the columns of its table) and registers
// that declaration here; tables, markdown, CSV, HTML, benchfmt, thresholds
// and compare read it back by scenario name instead of comparing names.
//
// A declaration names figures by key. The keys are those of the report's
// column catalog (report.ColumnKeys lists them), so a scenario can show any
// figure the result schema carries without code in the report.
package profile

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/measure"
)

// Profile is what one scenario measures and how its records read.
type Profile struct {
	// Scenario is the scenario's command-line name.
	Scenario string
	// Title is the heading of a table of the scenario's records, with
	// {key} placeholders the report fills from the first record (the
	// catalog's title keys: {scenario}, {mode}, {conns}, {messages},
	// {window}, ...). SearchTitle, when set, is used for the steps of a
	// capacity search instead.
	Title, SearchTitle string
	// Throughput is the headline rate.
	Throughput Throughput
	// Latency is the headline latency distribution.
	Latency Latency
	// PerMillion names the unit of the server's "CPU seconds per million"
	// figure ("msgs", "deliveries"); empty when the scenario has none (its
	// work is not messages).
	PerMillion string
	// ClientPerMillion shows the load generator's CPU per million messages
	// beside the server's.
	ClientPerMillion bool
	// Columns are the scenario's own columns, between the row's name and
	// the resource columns, in order; ByMode replaces them for a mode
	// ("open-loop").
	Columns []Column
	ByMode  map[string][]Column
	// Charts are the scenario's timeline columns the HTML report draws,
	// one chart each, a line per server.
	Charts []Chart
	// AbruptClosesMatter marks records with abrupt closes: the close is
	// part of what the scenario measures (a connect storm).
	AbruptClosesMatter bool
	// Noun is what the scenario's integrity counts are of ("sent",
	// "deliveries expected"); Unit what its accounting counts ("messages",
	// "deliveries").
	Noun, Unit string
	// Figures says, for every figure the scenario reports
	// (Outcome.Figures), how the shards of a cell add up (wsbench merge).
	// A figure declared nowhere here cannot be merged: the merged record
	// leaves it out and names it, rather than show one shard's value.
	Figures []Figure
	// Timeline says the same for the columns of the scenario's timeline;
	// columns are added interval by interval of wall-clock time.
	Timeline []Figure
	// Rank names what "best" means for this scenario: the metric a
	// table's rows are ordered by (report.LookupMetric's names:
	// "throughput", "p99", "figure.recovered_99_s"), each metric's own
	// direction deciding which end is best. The first metric any usable
	// row of the table has is used, so a scenario can fall back (heartbeat
	// ranks a --target's rows, which have no server memory, by latency).
	// RankByMode replaces it for a mode ("open-loop": the rate is fixed,
	// so latency decides). A client-bound table is ranked by server CPU
	// per message instead, where the scenario has that figure.
	Rank       []string
	RankByMode map[string][]string
}

// Figure declares how one figure (or timeline column) of a scenario merges
// across shards.
type Figure struct {
	// Name is the figure's name; a name ending in "*" covers every figure
	// with that prefix ("failed_*": one figure per dial failure class).
	Name  string
	Merge Merge
	// Dist, Quantile, Beyond and Scale define a Recomputed figure: the
	// Quantile-th percentile (0–100) of the merged distribution Dist, with
	// the summed figure Beyond counting values that never ended (taken as
	// infinitely late; the percentile is unknown when too many are), times
	// Scale (1e-6 turns µs into seconds).
	Dist     string
	Quantile float64
	Beyond   string
	Scale    float64
	// AtMostConns marks a count of connections: never more than the
	// cell's connections, however the shards' intervals fall.
	AtMostConns bool
}

// Merge is how a figure of several shards becomes one.
type Merge string

// The ways a figure merges.
const (
	// Summed: a count; the shards' values are added.
	Summed Merge = "sum"
	// Maximum: the largest of the shards' values (a peak).
	Maximum Merge = "max"
	// Recomputed: read again from the merged distribution (Figure.Dist),
	// as one process with all the values would have read it.
	Recomputed Merge = "recompute"
	// NotMergeable: no exact merge exists (a percentile of per-interval
	// histograms that are not kept); the merged record leaves it out.
	NotMergeable Merge = "none"
)

// FigureMerge is the declaration covering the named figure; ok is false
// when there is none (the figure is then not mergeable).
func (p Profile) FigureMerge(name string) (Figure, bool) { return findFigure(p.Figures, name) }

// TimelineMerge is the declaration covering the named timeline column.
func (p Profile) TimelineMerge(name string) (Figure, bool) { return findFigure(p.Timeline, name) }

func findFigure(fs []Figure, name string) (Figure, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	for _, f := range fs {
		if prefix, ok := strings.CutSuffix(f.Name, "*"); ok && strings.HasPrefix(name, prefix) {
			return f, true
		}
	}
	return Figure{}, false
}

// Recomputed reads a Recomputed figure from its distribution h and the
// count of values beyond it; false when the figure is not known (nothing
// measured, or too many never ended). The scenario computes its own figure
// with it too, so a merge reproduces exactly what one process reports.
func (f Figure) Recomputed(h *hdrhistogram.Histogram, beyond uint64) (float64, bool) {
	v, ok := measure.QuantileBeyond(h, beyond, f.Quantile)
	if !ok {
		return 0, false
	}
	scale := f.Scale
	if scale == 0 {
		scale = 1
	}
	return float64(v) * scale, true
}

// RankFor returns the ranking metrics of the scenario in a mode.
func (p Profile) RankFor(mode string) []string {
	if r, ok := p.RankByMode[mode]; ok {
		return r
	}
	return p.Rank
}

// Chart is one timeline column drawn over time.
type Chart struct {
	Name, Title, Unit string
	// Format says how the values read on the axis: Count (the default),
	// Bytes or Percent (a fraction).
	Format Format
}

// Throughput says which rate is the scenario's headline.
type Throughput struct {
	Label string // "msgs/s", "deliveries/s", "pongs/s", "conns/s"
	// Source is "messages" (completed in the measured window) or
	// "connections" (established per second of the connect phase).
	Source string
}

// Latency says which distribution is the scenario's headline.
type Latency struct {
	// Source is "latency" (the record's main distribution) or
	// "handshake".
	Source string
	// Prefix goes before the percentile columns' names ("pong ").
	Prefix string
	// What names the distribution in charts ("round-trip latency").
	What string
}

// Column is one column of a scenario's table.
type Column struct {
	// Key names the figure in the report's column catalog, or one of the
	// scenario's own: "figure.NAME" (Outcome.Figures) or "dist.NAME"
	// (Outcome.Distributions: its p50, p99 and max).
	Key string
	// Label, when set, replaces the catalog's column name; a scenario's
	// own figure is headed by its Label, or its NAME.
	Label string
	// Format says how a scenario's own figure reads: Count (the default),
	// Seconds, Micros, Rate, Percent or Bytes.
	Format Format
	// HigherIsBetter is true for a figure where more is better (a rate);
	// compare and thresholds judge by it.
	HigherIsBetter bool
	// Secondary columns are detail: the terminal table shows them only
	// with --wide, so it fits 120 columns; markdown, CSV and HTML keep
	// every column.
	Secondary bool
}

// Format is how a scenario's own figure is shown.
type Format string

// The formats of a scenario's own figures.
const (
	Count   Format = "count"
	Seconds Format = "seconds"
	Micros  Format = "micros"
	Rate    Format = "rate"
	Percent Format = "percent" // a fraction, shown as a percentage
	Bytes   Format = "bytes"
)

// Own reports whether a column key names one of the scenario's own
// figures or distributions, and which.
func Own(key string) (kind, name string, ok bool) {
	for _, k := range []string{"figure", "dist"} {
		if n, found := strings.CutPrefix(key, k+"."); found && n != "" {
			return k, n, true
		}
	}
	return "", "", false
}

// FindColumn returns the column with the given key in any registered
// profile, for metrics named after a scenario's own figures.
func FindColumn(key string) (Column, bool) {
	mu.RLock()
	defer mu.RUnlock()
	for _, p := range known {
		for _, c := range p.Columns {
			if c.Key == key {
				return c, true
			}
		}
		for _, cs := range p.ByMode {
			for _, c := range cs {
				if c.Key == key {
					return c, true
				}
			}
		}
	}
	return Column{}, false
}

// ColumnsFor returns the scenario's columns in the given mode.
func (p Profile) ColumnsFor(mode string) []Column {
	if c, ok := p.ByMode[mode]; ok {
		return c
	}
	return p.Columns
}

// Keys lists every column key the profile uses, for checking them against
// the catalog.
func (p Profile) Keys() []string {
	var keys []string
	for _, c := range p.Columns {
		keys = append(keys, c.Key)
	}
	for _, cs := range p.ByMode {
		for _, c := range cs {
			keys = append(keys, c.Key)
		}
	}
	return keys
}

var (
	mu    sync.RWMutex
	known = map[string]Profile{}
)

// Register adds a scenario's profile; a second profile for one scenario is
// a programming error and panics at init.
func Register(p Profile) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := known[p.Scenario]; dup {
		panic(fmt.Sprintf("duplicate profile for scenario %q", p.Scenario))
	}
	known[p.Scenario] = p
}

// Lookup returns the scenario's profile. A scenario nobody declared (a
// file written by another build) reads as Generic.
func Lookup(scenario string) Profile {
	mu.RLock()
	defer mu.RUnlock()
	if p, ok := known[scenario]; ok {
		return p
	}
	g := Generic
	g.Scenario = scenario
	return g
}

// Names lists the scenarios with a profile, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Generic is how records of an undeclared scenario read: messages per
// second, the main latency, errors and integrity.
var Generic = Profile{
	Title:      "{scenario} · {mode} · {conns} conns · {messages} · {window}",
	Throughput: Throughput{Label: "msgs/s", Source: "messages"},
	Latency:    Latency{Source: "latency", What: "latency"},
	PerMillion: "msgs",
	Columns:    []Column{{Key: "throughput"}, {Key: "latency"}, {Key: "errors"}, {Key: "integrity"}},
	Noun:       "sent",
	Unit:       "messages",
	Rank:       []string{"throughput"},
}
