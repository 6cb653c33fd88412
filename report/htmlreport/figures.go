package htmlreport

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/wsbench/wsbench/profile"
	"github.com/wsbench/wsbench/report"
)

// A scenario's own figures and distributions, as its profile declares
// them, drawn beside the table that holds their numbers: consecutive
// figures of one format share a chart (reconnect's detections by how,
// its recovery at 50/99/100 %, its dial counts), each distribution gets
// a percentile spectrum (detection, reconnect handshake), and close
// codes a bar per code. Nothing here names a scenario.

// profileCharts are the charts of the group's declared own figures,
// distributions and close codes, in the order the profile declares them.
func profileCharts(first report.Record, cells []*cell) []chartView {
	p := report.ProfileOf(first)
	var out []chartView
	var run []profile.Column // consecutive own figures of one format
	flush := func() {
		if len(run) > 0 {
			out = append(out, figureChart(run, cells))
		}
		run = nil
	}
	for _, c := range p.ColumnsFor(first.Mode) {
		kind, name, own := profile.Own(c.Key)
		switch {
		case own && kind == "figure":
			if len(run) > 0 && run[0].Format != c.Format {
				flush()
			}
			run = append(run, c)
		case own && kind == "dist":
			flush()
			label := c.Label
			if label == "" {
				label = name
			}
			out = append(out, spectrumIn(midFrame, label+" · distribution (runs merged)", label, cells,
				func(r report.Record) report.Latency { return r.Distributions[name] }))
		case c.Key == "close_codes":
			flush()
			out = append(out, closeCodesChart(cells))
		default:
			flush()
		}
	}
	flush()
	return out
}

// figureLabel is how a declared figure is named on a chart.
func figureLabel(c profile.Column) string {
	if c.Label != "" {
		return c.Label
	}
	_, name, _ := profile.Own(c.Key)
	return name
}

// figureAxis is the axis and value format of a figure format.
func figureAxis(f profile.Format) (axisKind, string, func(float64) string) {
	switch f {
	case profile.Seconds:
		return kindSeconds, "seconds", func(v float64) string { return report.FormatFloat(v) + "s" }
	case profile.Micros:
		return kindUs, "latency", func(v float64) string { return report.FormatMicros(int64(v + 0.5)) }
	case profile.Rate:
		return kindRate, "per second", report.FormatRate
	case profile.Percent:
		return kindPercent, "share", func(v float64) string { return shortNum(100*v) + "%" }
	case profile.Bytes:
		return kindBytes, "bytes", report.FormatBytes
	}
	return kindRate, "count", func(v float64) string {
		if v >= 0 && v == math.Trunc(v) && v < 1e15 {
			return report.FormatCount(uint64(v))
		}
		return report.FormatFloat(v)
	}
}

// figureChart draws declared figures of one format side by side: a slot
// per figure, a bar per cell in its colour (median across usable runs,
// whisker min–max). A figure a cell does not have (recovery at 100 % when
// some connections never came back) is "n/a" on the chart, as "-" is in
// the table.
func figureChart(cols []profile.Column, cells []*cell) chartView {
	var labels []string
	var vals []func(report.Record) (float64, bool)
	for _, c := range cols {
		_, name, _ := profile.Own(c.Key)
		labels = append(labels, figureLabel(c))
		vals = append(vals, func(r report.Record) (float64, bool) {
			v, ok := r.Figures[name]
			return v, ok
		})
	}
	kind, ylabel, format := figureAxis(cols[0].Format)
	return groupedBarChart(strings.Join(labels, ", "), ylabel+" (median of runs)", kind, labels, vals, cells, format)
}

// closeCodesChart counts the close frames each server sent, by code; a
// cell without a code got none of them.
func closeCodesChart(cells []*cell) chartView {
	seen := map[string]bool{}
	for _, cl := range cells {
		for _, r := range cl.runs {
			for code := range r.CloseCodes {
				seen[code] = true
			}
		}
	}
	codes := report.SortedKeys(seen)
	var vals []func(report.Record) (float64, bool)
	for _, code := range codes {
		vals = append(vals, func(r report.Record) (float64, bool) { return float64(r.CloseCodes[code]), true })
	}
	_, _, format := figureAxis(profile.Count)
	c := groupedBarChart("close frames received, by code", "close frames (median of runs)", kindRate, codes, vals, cells, format)
	if len(codes) == 0 {
		c.Empty = "no close frame received from any server"
	}
	return c
}

// groupedBarChart draws a slot per category and in it a bar per cell.
func groupedBarChart(title, ylabel string, kind axisKind, categories []string, vals []func(report.Record) (float64, bool), cells []*cell, format func(float64) string) chartView {
	f := midFrame
	c := f.base("bar", title, "", ylabel, cells, 14)
	type stat struct {
		med, lo, hi float64
		n           int
	}
	stats := make([][]*stat, len(categories))
	top := 0.0
	for k := range categories {
		stats[k] = make([]*stat, len(cells))
		for i, cl := range cells {
			var vs []float64
			for _, r := range cl.runs {
				if v, ok := vals[k](r); ok && usable(r) && !math.IsNaN(v) && !math.IsInf(v, 0) {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				continue
			}
			slices.Sort(vs)
			s := &stat{med: report.Median(slices.Clone(vs)), lo: vs[0], hi: vs[len(vs)-1], n: len(vs)}
			stats[k][i] = s
			top = math.Max(top, s.hi)
		}
	}
	axisTop, ticks, label := linearAxis(kind, top)
	yf, yl := tickFractions(ticks, axisTop, label)
	f.yTicks(&c, yf, yl)
	if len(categories) == 0 {
		return c
	}
	slot := f.plotW() / float64(len(categories))
	bw := math.Min(slot*0.8/float64(max1(len(cells))), 40)
	for k, cat := range categories {
		center := f.left + slot*(float64(k)+0.5)
		for i, cl := range cells {
			cx := center + (float64(i)-float64(len(cells)-1)/2)*bw
			b := barView{CX: cx, X: cx - bw*0.45, W: bw * 0.9, Color: cl.color}
			if i == 0 {
				b.Label1, b.LabelX, b.LabelY1 = cat, center, f.top+f.plotH+16
			}
			s := stats[k][i]
			if s == nil {
				b.NA, b.Value, b.ValueY = true, report.NA, f.top+f.plotH-6
				b.Tip = fmt.Sprintf("%s · %s: n/a (not measured)", cl.label, cat)
				c.Bars = append(c.Bars, b)
				continue
			}
			y := f.yAt(s.med / axisTop)
			b.Y, b.H = y, f.top+f.plotH-y
			b.Tip = fmt.Sprintf("%s · %s: median %s over %d run(s)", cl.label, cat, format(s.med), s.n)
			if s.n > 1 {
				b.Whisker = true
				b.WY1, b.WY2 = f.yAt(s.lo/axisTop), f.yAt(s.hi/axisTop)
				b.CapX1, b.CapX2 = cx-3, cx+3
				b.Tip += fmt.Sprintf(" (min %s, max %s)", format(s.lo), format(s.hi))
			}
			// Values are in the tooltips; with several bars a slot, printed
			// values would overlap.
			if len(cells) <= 3 {
				b.Value = format(s.med)
				b.ValueY = math.Min(y-4, b.WY2-4)
				if !b.Whisker {
					b.ValueY = y - 4
				}
			}
			c.Bars = append(c.Bars, b)
		}
	}
	return c
}
