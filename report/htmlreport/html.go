// Package htmlreport owns the HTML report: one self-contained page of
// tables and charts for one or more result files, its page an embedded
// template (page.html.tmpl). It reads results and their scenarios'
// profiles through package report, which does not import it.
package htmlreport

// The HTML report is one self-contained page: no external scripts,
// stylesheets, fonts or images, nothing fetched over the network; its one
// inline script sorts the results tables (tables.go). Charts are
// inline SVG written by hand. A charting library would need JavaScript (or
// a large dependency) to draw what is here a handful of polylines, circles
// and rectangles; minimal SVG is simpler, prints, works offline and can be
// checked by a test that counts elements. Everything user-supplied (command
// lines, server names, file names, settings) goes through html/template.

import (
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/profile"
	"github.com/wsbench/wsbench/report"
)

// Render writes a self-contained HTML page with the results tables and
// charts for results.
// names label the results (usually their file names), one per result; a
// missing or empty name becomes "file N". With two or more results the
// charts show every (file, server) as its own series, side by side; with
// exactly two the page also carries the comparison of the second against
// the first (report.Compare with AllowInsufficient).
func Render(w io.Writer, results []*report.Result, names []string) error {
	if len(results) == 0 {
		return errors.New("html report: no results")
	}
	for i, r := range results {
		if r == nil {
			return fmt.Errorf("html report: result %d is missing", i+1)
		}
	}
	labels := make([]string, len(results))
	for i := range results {
		if i < len(names) && names[i] != "" {
			labels[i] = names[i]
		} else {
			labels[i] = fmt.Sprintf("file %d", i+1)
		}
	}
	page, err := buildPage(results, labels)
	if err != nil {
		return err
	}
	if err := htmlTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// palette is eight colours that stay apart on white and for the common
// colour-vision deficiencies (the Tableau/matplotlib "tab10" set without
// its grey and olive). The second and later files are drawn dashed too.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// --- view model -------------------------------------------------------

type htmlPage struct {
	Title   string
	Multi   bool
	Files   []fileView
	Compare *compareView
	Groups  []groupView
	Slopes  []slopeView
	Bad     *badView
}

// badView is the bad-clients verdict table (report.BadVerdictTable).
type badView struct {
	Title    string
	Head     []string
	Rows     [][]string
	Notes    []string
	Settings []string
}

type fileView struct {
	Name, Created, Command string
	Env                    [][2]string
	Libraries              [][2]string
	Settings               [][2]string
	Exceptions             [][2]string
}

type compareView struct {
	Base, New  string
	Err        string
	Rows       []compareRowView
	OnlyInBase []string
	OnlyInNew  []string
	Summary    string
}

type compareRowView struct {
	Cell, Metric, Old, New, Delta, P, Verdict, Class, N string
}

type slopeView struct {
	File, Scenario, Server, Driver, Conns         string
	RSS, RSSFixed, RSSR2, Heap, HeapFixed, HeapR2 string
}

type groupView struct {
	Title string
	// Tables are the results tables, every column, above the charts;
	// Ranked says what their rows are ranked by ("" when not ranked).
	Tables   []tableView
	Ranked   string
	Deflate  string // per server, whether permessage-deflate was negotiated
	Notes    []string
	Spectrum chartView
	// Figures are the scenario's own figures, distributions and close
	// codes, as its profile declares them.
	Figures []chartView
	Bars    []chartView
	Series  []chartView
	// Storm is the scenario's timeline charts (a reconnect storm).
	Storm    []chartView
	NoSeries bool
}

type chartView struct {
	Kind, Title, XLabel, YLabel string
	W, H                        int
	TitleX                      float64
	Plot                        rectView
	XLabelX, XLabelY            float64
	YLabelX, YLabelY            float64
	XTicks, YTicks              []tickView
	Lines                       []lineView
	Bars                        []barView
	Legend                      []legendView
	Empty                       string
	Notes                       []string
}

type rectView struct{ X, Y, W, H float64 }

type tickView struct {
	X1, Y1, X2, Y2 float64 // grid line
	TX, TY         float64 // label position
	Anchor, Label  string
}

type lineView struct {
	Class, Server, File, Label, Color, Dash string
	// Segments are the line's runs of points between gaps (missing
	// values), one polyline each.
	Segments []string
	Dots     []dotView
}

type dotView struct {
	X, Y float64
	Tip  string
}

type barView struct {
	X, Y, W, H       float64
	CX, WY1, WY2     float64
	LabelX           float64
	CapX1, CapX2     float64
	Whisker, NA      bool
	ValueY           float64
	Color, Tip       string
	Value            string
	Label1, Label2   string
	LabelY1, LabelY2 float64
}

type legendView struct {
	X, Y, X2, LY, TX float64
	Color, Dash      string
	Label, Server    string
}

// --- building the page ------------------------------------------------

// cell is one series of a group's charts: one (file, server, driver) with
// its runs in run order.
type cell struct {
	file           int
	fileName       string
	server, driver string
	label          string
	color, dash    string
	// showDriver and showFile say whether the label names the driver
	// (several in the group) and the file (several files).
	showDriver, showFile bool
	runs                 []report.Record
}

type seriesKey struct {
	file           int
	server, driver string
}

func buildPage(results []*report.Result, labels []string) (*htmlPage, error) {
	multi := len(results) > 1
	p := &htmlPage{Title: "wsbench report · " + strings.Join(labels, " vs "), Multi: multi}
	for i, res := range results {
		p.Files = append(p.Files, fileSection(res, labels[i]))
	}
	if len(results) == 2 {
		p.Compare = comparison(results[0], results[1], labels[0], labels[1])
	}

	// Group like groups() does, file by file, and put the groups of later
	// files with the same title next to the first file's.
	type pgroup struct {
		title   string
		records []report.Record
		rows    []fileRecord
		cells   []*cell
		byKey   map[seriesKey]*cell
	}
	var order []*pgroup
	byTitle := map[string]*pgroup{}
	colours := map[seriesKey]int{}
	for fi, res := range results {
		for _, g := range report.Groups(res) {
			pg := byTitle[g.Title]
			if pg == nil {
				pg = &pgroup{title: g.Title, byKey: map[seriesKey]*cell{}}
				byTitle[g.Title] = pg
				order = append(order, pg)
			}
			pg.records = append(pg.records, g.Records...)
			for _, r := range g.Records {
				pg.rows = append(pg.rows, fileRecord{file: fi, name: labels[fi], r: r})
				server := r.ServerLabel()
				if server == "" {
					server = r.Target
				}
				k := seriesKey{fi, server, r.Driver}
				c := pg.byKey[k]
				if c == nil {
					c = &cell{file: fi, fileName: labels[fi], server: server, driver: r.Driver}
					pg.byKey[k] = c
					pg.cells = append(pg.cells, c)
				}
				c.runs = append(c.runs, r)
			}
		}
	}
	for _, pg := range order {
		// Side by side: the same server from each file next to each other.
		slices.SortStableFunc(pg.cells, func(a, b *cell) int {
			if c := strings.Compare(a.server+"\x00"+a.driver, b.server+"\x00"+b.driver); c != 0 {
				return c
			}
			return a.file - b.file
		})
		drivers := map[string]bool{}
		for _, c := range pg.cells {
			drivers[c.driver] = true
		}
		for _, c := range pg.cells {
			c.label = c.server
			c.showDriver, c.showFile = len(drivers) > 1, multi
			if c.showDriver {
				c.label += " / " + c.driver
			}
			if c.showFile {
				c.label += " · " + c.fileName
			}
			k := seriesKey{c.file, c.server, c.driver}
			if _, ok := colours[k]; !ok {
				colours[k] = len(colours)
			}
			c.color = palette[colours[k]%len(palette)]
			if c.file > 0 {
				c.dash = "6 3"
			}
		}
		g := buildGroup(pg.title, pg.records, pg.cells)
		g.Tables, g.Ranked = resultTables(pg.rows, multi)
		p.Groups = append(p.Groups, g)
	}

	var all []report.Record
	for _, res := range results {
		all = append(all, res.Records...)
	}
	if title, head, rows, reasons := report.BadVerdictTable(all); rows != nil {
		p.Bad = &badView{Title: title, Head: head, Rows: rows, Notes: reasons}
		for _, res := range results {
			if line, exc := report.BadSettings(res); line != "" {
				p.Bad.Settings = append(append(p.Bad.Settings, line), exc...)
				break
			}
		}
	}
	for i, res := range results {
		slopes := res.MemorySlopes
		if len(slopes) == 0 {
			slopes = report.Slopes(res.Records)
		}
		for _, s := range slopes {
			var counts []string
			for _, c := range s.Conns {
				counts = append(counts, report.FormatCount(uint64(c)))
			}
			p.Slopes = append(p.Slopes, slopeView{File: labels[i], Scenario: s.Scenario, Server: s.Server, Driver: s.Driver,
				Conns: strings.Join(counts, ", "),
				RSS:   report.FormatBytes(s.RSS.Slope), RSSFixed: report.FormatBytes(s.RSS.Intercept), RSSR2: fmt.Sprintf("%.3f", s.RSS.R2),
				Heap: report.FormatBytes(s.Heap.Slope), HeapFixed: report.FormatBytes(s.Heap.Intercept), HeapR2: fmt.Sprintf("%.3f", s.Heap.R2)})
		}
	}
	return p, nil
}

func fileSection(res *report.Result, name string) fileView {
	f := fileView{Name: name, Command: shellJoin(res.Command)}
	if !res.CreatedAt.IsZero() {
		f.Created = res.CreatedAt.UTC().Format(time.RFC3339)
	} else {
		f.Created = "unknown"
	}
	e := res.Environment
	add := func(k, v string) {
		if v != "" {
			f.Env = append(f.Env, [2]string{k, v})
		}
	}
	add("Go version", e.GoVersion)
	if e.GOOS != "" || e.GOARCH != "" {
		add("OS / arch", e.GOOS+"/"+e.GOARCH)
	}
	add("CPU", e.CPUModel)
	if e.Cores > 0 {
		add("cores", strconv.Itoa(e.Cores))
	}
	if e.GOMAXPROCS > 0 {
		add("GOMAXPROCS (load generator)", strconv.Itoa(e.GOMAXPROCS))
	}
	add("kernel", e.Kernel)
	if e.OpenFileLimit > 0 {
		add("open file limit", report.FormatCount(e.OpenFileLimit))
	}
	add("wsbench version", e.WsbenchVersion)
	add("wsbench commit", e.WsbenchCommit)
	if pin := res.Pinning; pin != nil {
		add("server CPUs", fmt.Sprintf("%s (GOMAXPROCS %d)", pin.ServerCPUs, pin.ServerGOMAXPROCS))
		add("client CPUs", fmt.Sprintf("%s (GOMAXPROCS %d)", pin.ClientCPUs, pin.ClientGOMAXPROCS))
	}
	for _, k := range report.SortedKeys(e.Libraries) {
		f.Libraries = append(f.Libraries, [2]string{k, e.Libraries[k]})
	}
	for _, k := range report.SortedKeys(res.ServerSettings) {
		f.Settings = append(f.Settings, [2]string{k, report.ManifestValue(res, k)})
	}
	for _, k := range report.SortedKeys(res.ServerExceptions) {
		// A server with nothing to report is in the map with no list: not a row.
		if len(res.ServerExceptions[k]) > 0 {
			f.Exceptions = append(f.Exceptions, [2]string{k, strings.Join(res.ServerExceptions[k], "; ")})
		}
	}
	return f
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,@%+^-]+$`)

// shellJoin writes args as a command a POSIX shell would run unchanged.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if shellSafe.MatchString(a) {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func comparison(base, next *report.Result, baseName, newName string) *compareView {
	v := &compareView{Base: baseName, New: newName}
	c, err := report.Compare(base, next, report.CompareOptions{AllowInsufficient: true})
	if err != nil {
		v.Err = err.Error()
		return v
	}
	for _, r := range c.Rows {
		m, _ := report.LookupMetric(r.Metric)
		verdict, class := r.Verdict, "same"
		switch r.Verdict {
		case report.VerdictBetter:
			class = "better"
		case report.VerdictWorse:
			class = "worse"
			if r.Fail {
				verdict = "worse ✗"
			}
		case report.VerdictInsufficient:
			class = "insufficient"
		}
		v.Rows = append(v.Rows, compareRowView{Cell: r.Cell, Metric: r.Metric,
			Old: report.FormatMetric(m.Unit, r.OldMedian), New: report.FormatMetric(m.Unit, r.NewMedian),
			Delta: report.FormatDeltaPct(r.DeltaPct), P: strconv.FormatFloat(r.P, 'f', 3, 64),
			Verdict: verdict, Class: class, N: fmt.Sprintf("%d vs %d", len(r.Old), len(r.New))})
	}
	v.OnlyInBase, v.OnlyInNew = c.OnlyInBase, c.OnlyInNew
	n := c.Counts()
	v.Summary = fmt.Sprintf("%d worse (%d beyond allowed), %d better, %d unchanged, %d insufficient (too few runs for a row to fail on its own at p ≤ %s over %d rows, Holm; %d or more runs per cell can)",
		n.Worse, n.Beyond, n.Better, n.Unchanged, n.Insufficient, strconv.FormatFloat(c.Alpha, 'f', -1, 64), len(c.Rows), report.MinRuns(c.Alpha, len(c.Rows)))
	return v
}

func buildGroup(title string, records []report.Record, cells []*cell) groupView {
	g := groupView{Title: title, Notes: report.Notes(records)}
	first := records[0]
	if first.Compression != nil {
		var per []string
		seen := map[string]bool{}
		for _, r := range records {
			key := r.ServerLabel() + "/" + r.Driver
			if r.Target != "" {
				key = r.Target
			}
			if !seen[key] {
				seen[key] = true
				per = append(per, key+" "+r.CompressionText())
			}
		}
		g.Deflate = strings.Join(per, ", ")
	}
	what := report.ProfileOf(first).Latency.What
	g.Spectrum = spectrumChart("latency percentile spectrum · "+what+" (runs of a cell merged)", what, cells, report.HeadlineLatency)
	g.Figures = profileCharts(first, cells)

	p := report.ProfileOf(first)
	unit := p.Throughput.Label
	g.Bars = append(g.Bars, barChart("throughput · median across runs, whisker min–max", unit, kindRate, cells,
		report.Headline, func(v float64) string { return report.FormatRate(v) + " " + unit }))
	if per := p.PerMillion; per != "" {
		g.Bars = append(g.Bars, barChart("server CPU per million "+per, "CPU seconds / 1M "+per, kindSeconds, cells,
			func(r report.Record) (float64, bool) { return report.OptFloat(r.ServerCPUPerMillion) },
			func(v float64) string { return report.FormatFloat(v) + " s" }))
	}
	g.Bars = append(g.Bars, barChart("server memory per connection (ΔRSS ÷ conns)", "bytes per connection", kindBytes, cells,
		func(r report.Record) (float64, bool) { return report.OptFloat(r.ServerMemPerConnBytes) }, report.FormatBytes))

	for _, ch := range p.Charts {
		g.Storm = append(g.Storm, timelineChart(ch, cells))
	}
	has := false
	for _, c := range cells {
		if firstWithSeries(c) != nil {
			has = true
		}
	}
	if !has {
		g.NoSeries = true
		return g
	}
	g.Series = append(g.Series,
		timeChart("throughput per second", unit, kindRate, cells, func(s report.Second) (float64, bool) { return s.MsgsPerS, true },
			func(v float64) string { return report.FormatRate(v) + " " + unit }),
		timeChart("p99 latency per second", "latency", kindUs, cells, func(s report.Second) (float64, bool) { return float64(s.P99Us), s.Messages > 0 },
			func(v float64) string { return report.FormatMicros(int64(v)) }),
		timeChart("server RSS", "resident memory", kindBytes, cells, func(s report.Second) (float64, bool) {
			// No RSS is a second without a sample (a killed server; files
			// before runner skipped them wrote 0, which no live process has).
			if s.ServerRSSBytes == nil || *s.ServerRSSBytes == 0 {
				return 0, false
			}
			return float64(*s.ServerRSSBytes), true
		}, report.FormatBytes))
	return g
}

// usable reports whether a run's figures count: it finished, or was
// interrupted and its numbers cover what ran.
func usable(r report.Record) bool { return r.Usable() || r.Status == report.StatusInterrupted }

func firstWithSeries(c *cell) *report.Record {
	for i := range c.runs {
		if len(c.runs[i].Series) > 0 {
			return &c.runs[i]
		}
	}
	return nil
}

// --- chart geometry ---------------------------------------------------

type frame struct {
	w, left, right, top, plotH float64
	legendCols                 int
}

var (
	bigFrame   = frame{w: 760, left: 78, right: 36, top: 30, plotH: 240, legendCols: 3}
	smallFrame = frame{w: 372, left: 66, right: 16, top: 30, plotH: 140, legendCols: 2}
	midFrame   = frame{w: 500, left: 70, right: 16, top: 30, plotH: 180, legendCols: 3}
)

func (f frame) plotW() float64 { return f.w - f.left - f.right }

// base lays out an empty chart with its title, axis labels and legend.
func (f frame) base(kind, title, xlabel, ylabel string, cells []*cell, extraBelow float64) chartView {
	c := chartView{Kind: kind, Title: title, XLabel: xlabel, YLabel: ylabel}
	c.Plot = rectView{X: f.left, Y: f.top, W: f.plotW(), H: f.plotH}
	c.TitleX = f.w / 2
	bottom := f.top + f.plotH + extraBelow
	c.XLabelX, c.XLabelY = f.left+f.plotW()/2, bottom+34
	c.YLabelX, c.YLabelY = 14, f.top+f.plotH/2
	legendTop := bottom + 54
	colW := f.plotW() / float64(f.legendCols)
	for i, cl := range cells {
		row, col := i/f.legendCols, i%f.legendCols
		x, y := f.left+float64(col)*colW, legendTop+float64(row)*18
		c.Legend = append(c.Legend, legendView{X: x, Y: y, X2: x + 22, LY: y - 4, TX: x + 28,
			Color: cl.color, Dash: cl.dash, Label: cl.label, Server: cl.server})
	}
	rows := (len(cells) + f.legendCols - 1) / f.legendCols
	c.W = int(f.w)
	c.H = int(legendTop + float64(rows)*18 + 4)
	return c
}

func (f frame) xAt(frac float64) float64 { return f.left + frac*f.plotW() }
func (f frame) yAt(frac float64) float64 { return f.top + (1-frac)*f.plotH }

func (f frame) xTicks(c *chartView, fracs []float64, labels []string) {
	for i, fr := range fracs {
		x := f.xAt(fr)
		c.XTicks = append(c.XTicks, tickView{X1: x, Y1: f.top, X2: x, Y2: f.top + f.plotH,
			TX: x, TY: f.top + f.plotH + 16, Anchor: "middle", Label: labels[i]})
	}
}

func (f frame) yTicks(c *chartView, fracs []float64, labels []string) {
	for i, fr := range fracs {
		y := f.yAt(fr)
		c.YTicks = append(c.YTicks, tickView{X1: f.left, Y1: y, X2: f.left + f.plotW(), Y2: y,
			TX: f.left - 6, TY: y + 4, Anchor: "end", Label: labels[i]})
	}
}

type axisKind int

const (
	kindRate axisKind = iota
	kindBytes
	kindSeconds
	kindUs
	kindPercent // a fraction, labelled as a percentage
)

// linearAxis picks round ticks from 0 to at least max, in units a reader
// knows (binary multiples for bytes), and how to label them.
func linearAxis(kind axisKind, max float64) (top float64, ticks []float64, label func(float64) string) {
	scale, suffix := 1.0, ""
	switch kind {
	case kindBytes:
		suffix = " B"
		for _, u := range []string{" KiB", " MiB", " GiB"} {
			if max/scale < 1024 {
				break
			}
			scale *= 1024
			suffix = u
		}
		label = func(v float64) string { return shortNum(v/scale) + suffix }
	case kindRate:
		label = func(v float64) string {
			switch {
			case v >= 1e6:
				return shortNum(v/1e6) + "M"
			case v >= 1e3:
				return shortNum(v/1e3) + "k"
			}
			return shortNum(v)
		}
	case kindSeconds:
		label = func(v float64) string { return shortNum(v) + "s" }
	case kindUs:
		label = axisUs
	case kindPercent:
		label = func(v float64) string { return shortNum(100*v) + "%" }
	}
	m := max / scale
	if !(m > 0) {
		m = 1
	}
	step := niceStep(m / 5)
	n := math.Ceil(m/step - 1e-9)
	for i := 0.0; i <= n; i++ {
		ticks = append(ticks, i*step*scale)
	}
	return n * step * scale, ticks, label
}

func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// shortNum gives at most three significant digits and no trailing zeros.
func shortNum(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func axisUs(us float64) string {
	switch {
	case us < 1000:
		return shortNum(us) + "µs"
	case us < 1e6:
		return shortNum(us/1e3) + "ms"
	}
	return shortNum(us/1e6) + "s"
}

func pts(xs, ys []float64) string {
	var b strings.Builder
	for i := range xs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", xs[i], ys[i])
	}
	return b.String()
}

// --- the charts -------------------------------------------------------

// spectrumQuantiles are the x positions of the spectrum: 60 points evenly
// spaced in log10(1/(1−q)) from q = 0 to q = 99.999%.
var spectrumQuantiles = func() []float64 {
	const n, decades = 60, 5.0
	qs := make([]float64, n)
	for i := range qs {
		qs[i] = 100 * (1 - math.Pow(10, -decades*float64(i)/(n-1)))
	}
	qs[n-1] = 99.999
	return qs
}()

var spectrumTicks = []struct {
	q     float64
	label string
}{{0, "0%"}, {90, "90%"}, {99, "99%"}, {99.9, "99.9%"}, {99.99, "99.99%"}, {99.999, "99.999%"}}

// spectrumX places percentile q (0–100) on [0, 1]: log10(1/(1−q)) over 5 decades.
func spectrumX(q float64) float64 {
	return math.Log10(1/(1-math.Min(q, 99.999)/100)) / 5
}

// mergedHistogram merges the latency histograms of every usable run of c:
// percentiles of repeated runs are combined through their histograms,
// never averaged.
func mergedHistogram(c *cell, get func(report.Record) report.Latency) (h *hdrhistogram.Histogram, runs int, problems []string) {
	for _, r := range c.runs {
		l := get(r)
		if !usable(r) || l.Count == 0 || l.Hist == "" {
			continue
		}
		d, err := l.Histogram()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s run %d: %v", c.label, r.Run, err))
			continue
		}
		runs++
		if h == nil {
			h = d
			continue
		}
		if dropped := h.Merge(d); dropped > 0 {
			problems = append(problems, fmt.Sprintf("%s run %d: %d values out of range when merging", c.label, r.Run, dropped))
		}
	}
	return h, runs, problems
}

// spectrumChart draws, per cell, the distribution get reads from its runs
// (merged through their histograms) as percentiles on a log scale.
func spectrumChart(title, what string, cells []*cell, get func(report.Record) report.Latency) chartView {
	return spectrumIn(bigFrame, title, what, cells, get)
}

// spectrumIn draws a spectrum chart in frame f.
func spectrumIn(f frame, title, what string, cells []*cell, get func(report.Record) report.Latency) chartView {
	c := f.base("spectrum", title, "percentile (log scale of 1/(1−q))", what+" (log scale; µs, ms, s)", cells, 0)
	type data struct {
		cell *cell
		h    *hdrhistogram.Histogram
		runs int
		vals []float64
	}
	var ds []data
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, cl := range cells {
		h, runs, problems := mergedHistogram(cl, get)
		c.Notes = append(c.Notes, problems...)
		if h == nil || h.TotalCount() == 0 {
			c.Notes = append(c.Notes, cl.label+": no latency recorded")
			continue
		}
		d := data{cell: cl, h: h, runs: runs}
		for _, q := range spectrumQuantiles {
			v := math.Max(float64(h.ValueAtQuantile(q)), 1)
			d.vals = append(d.vals, v)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		ds = append(ds, d)
	}
	var tx []float64
	var tl []string
	for _, t := range spectrumTicks {
		tx = append(tx, spectrumX(t.q))
		tl = append(tl, t.label)
	}
	f.xTicks(&c, tx, tl)
	if len(ds) == 0 {
		c.Empty = "no latency recorded"
		return c
	}
	// Log y axis from the decade below the fastest to the decade above the slowest.
	dLo := math.Floor(math.Log10(lo))
	dHi := math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	yFrac := func(v float64) float64 { return (math.Log10(v) - dLo) / (dHi - dLo) }
	var yf []float64
	var yl []string
	for d := dLo; d <= dHi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if (m != 1 && dHi-dLo > 2) || v > math.Pow(10, dHi) {
				continue
			}
			yf = append(yf, yFrac(v))
			yl = append(yl, axisUs(v))
		}
	}
	f.yTicks(&c, yf, yl)
	for _, d := range ds {
		xs := make([]float64, len(d.vals))
		ys := make([]float64, len(d.vals))
		for i, v := range d.vals {
			xs[i] = f.xAt(spectrumX(spectrumQuantiles[i]))
			ys[i] = f.yAt(yFrac(v))
		}
		l := lineView{Class: "series", Server: d.cell.server, File: d.cell.fileName, Label: d.cell.label,
			Color: d.cell.color, Dash: d.cell.dash, Segments: []string{pts(xs, ys)}}
		for _, t := range spectrumTicks {
			v := math.Max(float64(d.h.ValueAtQuantile(t.q)), 1)
			l.Dots = append(l.Dots, dotView{X: f.xAt(spectrumX(t.q)), Y: f.yAt(yFrac(v)),
				Tip: fmt.Sprintf("%s · p%s = %s (%s samples from %d run(s))", d.cell.label, strings.TrimSuffix(t.label, "%"),
					report.FormatMicros(int64(v)), report.FormatCount(uint64(d.h.TotalCount())), d.runs)})
		}
		c.Lines = append(c.Lines, l)
	}
	return c
}

// barChart draws one bar per cell: the median of val across its usable
// runs, with a whisker from the smallest to the largest run. A cell with
// no value (a --target's server-side figures) gets "n/a" instead of a bar.
func barChart(title, ylabel string, kind axisKind, cells []*cell, val func(report.Record) (float64, bool), format func(float64) string) chartView {
	f := bigFrame
	c := f.base("bar", title, "server", ylabel, cells, 14)
	type stat struct {
		med, lo, hi float64
		n           int
		ok          bool
	}
	stats := make([]stat, len(cells))
	max := 0.0
	for i, cl := range cells {
		var vals []float64
		for _, r := range cl.runs {
			if v, ok := val(r); ok && usable(r) && !math.IsNaN(v) && !math.IsInf(v, 0) {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		slices.Sort(vals)
		s := stat{med: report.Median(vals), lo: vals[0], hi: vals[len(vals)-1], n: len(vals), ok: true}
		stats[i] = s
		max = math.Max(max, s.hi)
	}
	top, ticks, label := linearAxis(kind, max)
	yf, yl := tickFractions(ticks, top, label)
	f.yTicks(&c, yf, yl)
	slot := f.plotW() / float64(max1(len(cells)))
	bw := math.Min(slot*0.6, 90)
	anyValue := false
	for i, cl := range cells {
		cx := f.left + slot*(float64(i)+0.5)
		b := barView{CX: cx, LabelX: cx, X: cx - bw/2, W: bw, Color: cl.color, Label1: cl.server,
			LabelY1: f.top + f.plotH + 16, LabelY2: f.top + f.plotH + 29}
		if cl.showDriver {
			b.Label1 += " / " + cl.driver
		}
		if cl.showFile {
			b.Label2 = cl.fileName
		}
		s := stats[i]
		if !s.ok {
			b.NA = true
			b.Value = report.NA
			b.ValueY = f.top + f.plotH - 6
			b.Tip = cl.label + ": n/a (not measured, e.g. an external --target)"
			c.Bars = append(c.Bars, b)
			continue
		}
		anyValue = true
		y := f.yAt(s.med / top)
		b.Y, b.H = y, f.top+f.plotH-y
		b.Value = format(s.med)
		b.ValueY = y - 4
		b.Tip = fmt.Sprintf("%s: median %s over %d run(s)", cl.label, format(s.med), s.n)
		if s.n > 1 {
			b.Whisker = true
			b.WY1, b.WY2 = f.yAt(s.lo/top), f.yAt(s.hi/top)
			b.CapX1, b.CapX2 = cx-6, cx+6
			b.ValueY = math.Min(b.ValueY, b.WY2-4)
			b.Tip += fmt.Sprintf(" (min %s, max %s)", format(s.lo), format(s.hi))
		}
		c.Bars = append(c.Bars, b)
	}
	if !anyValue {
		c.Notes = append(c.Notes, "no value measured for any server")
	}
	return c
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// timeChart draws one line per cell over the measured window, from the
// first run of the cell that recorded a per-second series. A second val
// has no value for (no sample, no latency) is a gap in the line.
func timeChart(title, ylabel string, kind axisKind, cells []*cell, val func(report.Second) (float64, bool), format func(float64) string) chartView {
	return lineChart(title, ylabel, kind, cells, func(r report.Record) (ts, vs []float64) {
		for _, s := range r.Series {
			v, ok := val(s)
			if !ok {
				v = math.NaN()
			}
			ts, vs = append(ts, s.T), append(vs, v)
		}
		return ts, vs
	}, format)
}

// timelineChart draws one column of the scenario's timeline over the
// window, a line per cell. An interval's value is drawn at its end (the
// count of the interval, the state after it), as per-second points are;
// a missing interval is a gap.
func timelineChart(ch profile.Chart, cells []*cell) chartView {
	kind, format := kindRate, func(v float64) string { return report.FormatFloat(v) + " " + ch.Unit }
	switch ch.Format {
	case profile.Bytes:
		kind, format = kindBytes, report.FormatBytes
	case profile.Percent:
		kind, format = kindPercent, func(v float64) string { return shortNum(100*v) + "% " + ch.Unit }
	}
	return lineChart(ch.Title, ch.Unit, kind, cells, func(r report.Record) (ts, vs []float64) {
		col := r.Timeline.Column(ch.Name)
		for i, v := range col {
			t := float64(i+1) * r.Timeline.IntervalS
			if r.DurationS > 0 {
				t = math.Min(t, r.DurationS)
			}
			ts, vs = append(ts, t), append(vs, v)
		}
		return ts, vs
	}, format)
}

// lineChart draws, per cell, the line of its first run that has one. The
// time axis ends at the measured window (the longest drawn run's); a
// value that is NaN or infinite is a gap: the line stops and starts again.
func lineChart(title, ylabel string, kind axisKind, cells []*cell, line func(report.Record) (ts, vs []float64), format func(float64) string) chartView {
	f := smallFrame
	c := f.base("timeseries", title, "time in measured window (s)", ylabel, cells, 0)
	type drawn struct {
		cl   *cell
		run  int
		t, v []float64 // v is NaN where there is no value
	}
	var lines []drawn
	window, maxT, maxV := 0.0, 0.0, 0.0
	for _, cl := range cells {
		for _, r := range cl.runs {
			ts, vs := line(r)
			l := drawn{cl: cl, run: r.Run}
			values := 0
			for i, v := range vs {
				if math.IsInf(v, 0) {
					v = math.NaN()
				}
				l.t, l.v = append(l.t, ts[i]), append(l.v, v)
				maxT = math.Max(maxT, ts[i])
				if !math.IsNaN(v) {
					values++
					maxV = math.Max(maxV, v)
				}
			}
			if values == 0 {
				continue
			}
			lines = append(lines, l)
			window = math.Max(window, r.DurationS)
			break
		}
	}
	if window <= 0 {
		window = maxT
	}
	if window <= 0 {
		window = 1
	}
	xt := windowTicks(window)
	xf, xl := tickFractions(xt, window, shortNum)
	f.xTicks(&c, xf, xl)
	if len(lines) == 0 {
		c.Empty = "n/a (not measured, e.g. an external --target)"
		return c
	}
	top, ticks, label := linearAxis(kind, maxV)
	yf, yl := tickFractions(ticks, top, label)
	f.yTicks(&c, yf, yl)
	for _, l := range lines {
		lv := lineView{Class: "timeseries", Server: l.cl.server, File: l.cl.fileName, Label: l.cl.label,
			Color: l.cl.color, Dash: l.cl.dash}
		var xs, ys []float64
		flush := func() {
			if len(xs) > 0 {
				lv.Segments = append(lv.Segments, pts(xs, ys))
			}
			xs, ys = nil, nil
		}
		// A point with a tooltip per value, thinned to about 120 per line.
		step := (len(l.t) + 119) / 120
		for i := range l.t {
			if math.IsNaN(l.v[i]) {
				flush()
				continue
			}
			x, y := f.xAt(math.Min(l.t[i], window)/window), f.yAt(l.v[i]/top)
			xs, ys = append(xs, x), append(ys, y)
			if i%step == 0 {
				lv.Dots = append(lv.Dots, dotView{X: x, Y: y,
					Tip: fmt.Sprintf("%s (run %d) · t = %ss: %s", l.cl.label, l.run, shortNum(l.t[i]), format(l.v[i]))})
			}
		}
		flush()
		c.Lines = append(c.Lines, lv)
	}
	return c
}

// windowTicks are round times from 0 up to the window, never beyond it:
// the axis ends where the measurement did.
func windowTicks(window float64) []float64 {
	step := niceStep(window / 5)
	var ticks []float64
	for i := 0.0; i*step <= window*(1+1e-9); i++ {
		ticks = append(ticks, i*step)
	}
	return ticks
}

// --- the template -----------------------------------------------------

// page.html.tmpl is the page; the Go code only builds what it shows.
//
//go:embed page.html.tmpl
var pageTemplate string

var htmlTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"f": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}).Parse(pageTemplate))

// tickFractions places axis ticks as fractions of the axis top and labels them.
func tickFractions(ticks []float64, top float64, label func(float64) string) ([]float64, []string) {
	fracs := make([]float64, 0, len(ticks))
	labels := make([]string, 0, len(ticks))
	for _, t := range ticks {
		fracs = append(fracs, t/top)
		labels = append(labels, label(t))
	}
	return fracs, labels
}
