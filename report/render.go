package report

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format names an output format of Render.
type Format string

// The output formats.
const (
	Table    Format = "table"
	Markdown Format = "markdown"
	CSV      Format = "csv"
	JSON     Format = "json"
	// Benchfmt is the Go benchmark format, for benchstat.
	Benchfmt Format = "benchfmt"
	// Hgrm is HdrHistogram's percentile-distribution text, for its plotters.
	Hgrm Format = "hgrm"
	// HTML is a self-contained page with charts.
	HTML Format = "html"
)

// Formats lists every format Render accepts.
var Formats = []Format{Table, Markdown, CSV, JSON, Benchfmt, Hgrm, HTML}

// ParseFormat checks a format name from the command line.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (known: %s)", s, strings.Join(names, ", "))
}

// Options say how Render lays a result out.
type Options struct {
	// Wide shows every column in the terminal table. Without it a
	// scenario's secondary columns are left out, so the table fits a
	// terminal of TableWidth columns; markdown and CSV always keep every
	// column.
	Wide bool
}

// TableWidth is the terminal width the default table fits.
const TableWidth = 120

// Render writes res in format f with the default options; HTML is
// report/htmlreport's, which this package does not import.
func Render(w io.Writer, res *Result, f Format) error { return RenderWith(w, res, f, Options{}) }

// RenderWith writes res in format f.
func RenderWith(w io.Writer, res *Result, f Format, opt Options) error {
	switch f {
	case Table, Markdown:
		if err := renderTables(w, res, layout{markdown: f == Markdown, wide: opt.Wide || f == Markdown}); err != nil {
			return err
		}
		return RenderBadVerdicts(w, res, f == Markdown)
	case CSV:
		return renderCSV(w, res)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case Benchfmt:
		return renderBenchfmt(w, res)
	case Hgrm:
		return renderHgrm(w, res)
	case HTML:
		return fmt.Errorf("format %q: the HTML report is rendered by package report/htmlreport", f)
	}
	return fmt.Errorf("unknown format %q", f)
}

// group is the records that belong in one table: same scenario, mode,
// connection count, payload and parameters.
type group struct {
	title   string
	records []Record
}

// groups puts records with the same parameters in one table. The measured
// window's length is not a parameter: it is what the clock gave (5.00 s in
// one cell, 5.01 s in the next), so the title shows its range instead.
func groups(res *Result) []group {
	var out []group
	index := map[string]int{}
	for _, r := range res.Records {
		key := groupKey(r)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, group{})
		}
		out[i].records = append(out[i].records, r)
	}
	for i, g := range out {
		lo, hi := g.records[0].DurationS, g.records[0].DurationS
		for _, r := range g.records {
			lo, hi = min(lo, r.DurationS), max(hi, r.DurationS)
		}
		window := fmt.Sprintf("%ss", trimFloat(lo))
		if trimFloat(lo) != trimFloat(hi) {
			window = fmt.Sprintf("%s–%ss", trimFloat(lo), trimFloat(hi))
		}
		out[i].title = groupTitle(withCmdRun(g.records), fmt.Sprintf("%s measured after %ss warmup", window, trimFloat(g.records[0].WarmupS)))
		slices.SortStableFunc(g.records, func(a, b Record) int {
			return strings.Compare(a.ServerLabel()+"\x00"+a.Driver+"\x00"+a.File+"\x00"+fmt.Sprintf("%06d", a.Run),
				b.ServerLabel()+"\x00"+b.Driver+"\x00"+b.File+"\x00"+fmt.Sprintf("%06d", b.Run))
		})
	}
	return out
}

// withCmdRun is the first of rs, its --fault-cmd (if any) carrying how
// long the command ran across rs, for the title: like the window, a
// measured figure shown as a range rather than a parameter that splits
// the table.
func withCmdRun(rs []Record) Record {
	r := rs[0]
	if r.Fault == nil || r.Fault.Cmd == "" {
		return r
	}
	lo, hi := -1.0, -1.0
	for _, x := range rs {
		if f := x.Fault; f != nil && f.DownS > 0 {
			if lo < 0 {
				lo, hi = f.DownS, f.DownS
			}
			lo, hi = min(lo, f.DownS), max(hi, f.DownS)
		}
	}
	if lo < 0 {
		return r
	}
	f := *r.Fault
	f.ranS = trimFloat(lo) + "s"
	if trimFloat(lo) != trimFloat(hi) {
		f.ranS = trimFloat(lo) + "–" + trimFloat(hi) + "s"
	}
	r.Fault = &f
	return r
}

// layout is how the tables are drawn: markdown or the terminal's boxes,
// and whether the terminal table keeps every column.
type layout struct {
	markdown, wide bool
}

// heading writes a table's title: a markdown heading, or a line wrapped
// to the terminal's width.
func (l layout) heading(w io.Writer, title string) {
	if l.markdown {
		fmt.Fprintf(w, "### %s\n\n", title)
		return
	}
	fmt.Fprintln(w, wrap(title, TableWidth, "  "))
}

// prose writes a line of text under a table: in markdown as it is (in
// italics when emphasised), in the terminal wrapped to its width.
func (l layout) prose(w io.Writer, line string, emphasis bool) {
	if l.markdown {
		if emphasis {
			line = "_" + line + "_"
		}
		fmt.Fprintln(w, line)
		return
	}
	fmt.Fprintln(w, wrap(line, TableWidth, "  "))
}

// item writes one of a list of lines under a table.
func (l layout) item(w io.Writer, line string) {
	if l.markdown {
		fmt.Fprintf(w, "- %s\n", line)
		return
	}
	fmt.Fprintln(w, wrap("  "+line, TableWidth, "    "))
}

// groupKey names the table a record belongs in.
func groupKey(r Record) string { return groupTitle(r, "warmup "+trimFloat(r.WarmupS)) }

func renderTables(w io.Writer, res *Result, l layout) error {
	if len(res.Records) == 0 {
		_, err := fmt.Fprintln(w, "no records")
		return err
	}
	closedLoop, hidden := false, false
	for gi, g := range groups(res) {
		if gi > 0 {
			fmt.Fprintln(w)
		}
		rs := g.records
		rk := rank(rs)
		if rk != nil {
			rk.sort(rs)
		}
		t := table{layout: l, rank: rk, multiRun: slices.ContainsFunc(rs, func(r Record) bool { return r.Run > 1 }),
			files:   slices.ContainsFunc(rs, func(r Record) bool { return r.File != "" }),
			drivers: !l.wide && !slices.ContainsFunc(rs, func(r Record) bool { return r.Driver != rs[0].Driver })}
		title := g.title
		if t.drivers {
			title += " · driver " + rs[0].Driver
		}
		l.heading(w, title)
		if rk != nil {
			l.prose(w, rk.line(rs[0]), false)
			if l.markdown {
				fmt.Fprintln(w)
			}
		}
		first := rs[0]
		closedLoop = closedLoop || first.Mode == "closed-loop"
		main := append([]column{colStatus}, mainColumns(first)...)
		if first.Compression != nil {
			main = append([]column{colDeflate}, main...)
		}
		resource := resourceColumns(first)
		if rk != nil && !slices.ContainsFunc(main, func(c column) bool { return c.name == rk.label }) {
			// The first table answers "who is best" on its own: it
			// shows the figure its rows are ranked by.
			if i := slices.IndexFunc(resource, func(c column) bool { return c.name == rk.label }); i >= 0 {
				c := resource[i]
				c.secondary = false
				at := slices.IndexFunc(main, func(c column) bool { return c.name == colStatus.name }) + 1
				main = slices.Insert(main, at, c) // after the status, as RankedColumns puts it
			}
		}
		h, err := t.write(w, rs, main)
		if err != nil {
			return err
		}
		hidden = hidden || h
		if l.markdown {
			fmt.Fprintln(w)
		}
		if h, err = t.write(w, rs, resource); err != nil {
			return err
		}
		hidden = hidden || h
		if t.multiRun {
			if l.markdown {
				fmt.Fprintln(w, "\nAcross runs, median [min–max]:")
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, "across runs: median [min–max]")
			}
			if h, err = t.writeSpread(w, rs); err != nil {
				return err
			}
			hidden = hidden || h
		}
		if notes := notes(rs, l.wide); len(notes) > 0 {
			fmt.Fprintln(w)
			for _, n := range notes {
				l.item(w, n)
			}
		}
		if paras, items := shardLines(rs); len(paras) > 0 {
			for _, p := range paras {
				fmt.Fprintln(w)
				l.prose(w, p, false)
			}
			for _, it := range items {
				l.item(w, it)
			}
		}
		if lines := clientBoundFooter(rs, rk, res.Pinning, res.Environment.Cores); len(lines) > 0 {
			fmt.Fprintln(w)
			l.prose(w, strings.Join(lines, " "), true)
		}
	}
	if err := renderCapacity(w, l, res.Records); err != nil {
		return err
	}
	slopes := res.MemorySlopes
	if len(slopes) == 0 {
		slopes = Slopes(res.Records)
	}
	if err := renderSlopes(w, l, slopes); err != nil {
		return err
	}
	if err := renderManifest(w, l, res); err != nil {
		return err
	}
	if closedLoop {
		fmt.Fprintln(w)
		l.prose(w, "Closed loop: each connection waits for its echo before sending the next message, so latency and throughput are two views of one number (latency ≈ conns / throughput).", true)
	}
	if hidden {
		fmt.Fprintln(w)
		l.prose(w, "More columns: --wide (or --format markdown or csv, which keep every column).", false)
	}
	return nil
}

// column is one column of a table: its header and how a record fills it.
type column struct {
	name string
	cell func(Record) string
	left bool
	// headline columns (throughput, latency, cost per message) show "-"
	// for a failed record: its numbers are not a result.
	headline bool
	// secondary columns are detail the terminal table shows only with
	// --wide. Where a table is still too wide for the terminal (long
	// server names, a run column), columns go from the right until it
	// fits, except those marked keep: what names and judges a row.
	secondary, keep bool
}

func latencyColumns(label string, get func(Record) Latency) []column {
	pct := func(name string, f func(Latency) int64) column {
		return column{name: name, headline: true, cell: func(r Record) string {
			if l := get(r); l.Count > 0 {
				return fmtUs(f(l))
			}
			return "-"
		}}
	}
	// p50, p99 and max fit a terminal; p90 and p99.9 are --wide's.
	p90 := pct(label+"p90", func(l Latency) int64 { return l.P90 })
	p999 := pct(label+"p99.9", func(l Latency) int64 { return l.P999 })
	p90.secondary, p999.secondary = true, true
	p99 := pct(label+"p99", func(l Latency) int64 { return l.P99 })
	p99.keep = true
	return []column{
		pct(label+"p50", func(l Latency) int64 { return l.P50 }),
		p90,
		p99,
		p999,
		pct(label+"max", func(l Latency) int64 { return l.Max }),
	}
}

func rate(v float64) string { return fmtCount(uint64(v + 0.5)) }

var (
	// colStatus is the verdict: whether the row's numbers can be used.
	colStatus    = column{name: "status", left: true, keep: true, cell: func(r Record) string { return r.Status }}
	colErrors    = column{name: "errors", keep: true, cell: func(r Record) string { return fmtCount(r.ErrorCount()) }}
	colIntegrity = column{name: "integrity", cell: integrityCell, left: true, keep: true}
	// colNeverSent and colNeverAnswered are the messages due in the window
	// that never completed (see Accounting).
	colNeverSent = column{name: "never sent", cell: func(r Record) string {
		if r.Accounting == nil {
			return "-"
		}
		return fmtCount(r.Accounting.NeverSent)
	}}
	colNeverAnswered = column{name: "never answered", cell: func(r Record) string {
		if r.Accounting == nil {
			return "-"
		}
		return fmtCount(r.Accounting.NeverAnswered)
	}}
	// colDeflate says whether the handshakes negotiated permessage-deflate.
	colDeflate   = column{name: "deflate", cell: func(r Record) string { return r.CompressionText() }, left: true}
	colHandshake = []column{
		{name: "handshake p50", cell: func(r Record) string { return optUs(r.Handshake.Count, r.Handshake.P50) }},
		{name: "handshake p99", cell: func(r Record) string { return optUs(r.Handshake.Count, r.Handshake.P99) }},
	}
)

func optUs(count, v int64) string {
	if count == 0 {
		return "-"
	}
	return fmtUs(v)
}

// resourceColumns are what it cost, as the scenario declares: CPU per
// million of its unit of work, if it has one. The terminal table keeps
// the cost per unit, memory per connection and the load generator's
// verdict; the rest is --wide's.
func resourceColumns(first Record) []column {
	p := ProfileOf(first)
	// A shard's server CPU is the whole server's, serving every shard: its
	// table shows it so named, in place of a cost per message this shard
	// alone cannot divide it by (the merge can).
	cpu := column{name: "server CPU", secondary: p.PerMillion != "", cell: func(r Record) string {
		return fmtOptFloat(r.ServerCPUS, func(v float64) string { return trimFloat(v) + "s" })
	}}
	if first.Sharded() {
		cpu.name, cpu.secondary, cpu.keep = "server CPU (whole server)", false, true
	}
	cols := []column{cpu}
	if p.PerMillion != "" {
		cols = append(cols, column{name: "CPU s / 1M " + p.PerMillion, headline: true, cell: func(r Record) string {
			if r.Sharded() {
				return "after merge"
			}
			return fmtOptFloat(serverCPUPerM(r), func(v float64) string { return trimFloat(v) + "s" })
		}})
	}
	cols = append(cols,
		column{name: "RSS peak", cell: func(r Record) string { return fmtOptBytes(r.ServerRSSPeakBytes) }},
		column{name: "mem/conn (ΔRSS÷conns)", cell: func(r Record) string { return fmtOptFloat(r.ServerMemPerConnBytes, fmtBytes) }},
		column{name: "heap/conn", cell: func(r Record) string { return fmtOptFloat(r.ServerHeapPerConnBytes, fmtBytes) }},
		column{name: "goroutines/conn", secondary: true, cell: func(r Record) string {
			return fmtOptFloat(r.ServerGoroutinesPerConn, func(v float64) string { return trimFloat(v) })
		}},
		column{name: "client CPU %", cell: func(r Record) string {
			if m := r.Merged; m != nil && len(m.Clients) > 1 && r.Client != nil {
				// Shares of N machines' CPUs do not add up: the busiest
				// one's, so labelled (each shard's is under the table).
				return fmt.Sprintf("%.0f%% of %d, busiest of %d", r.Client.CPUUtil*100, r.Client.CPUs, len(m.Clients))
			}
			if r.Client != nil && r.Client.CPUs > 0 {
				return fmt.Sprintf("%.0f%% of %d", r.Client.CPUUtil*100, r.Client.CPUs)
			}
			return fmt.Sprintf("%.0f%%", r.ClientCPUUtil*100)
		}},
		column{name: "client sched p99", cell: func(r Record) string {
			if r.Client == nil {
				return "-"
			}
			return optUs(r.Client.SchedDelay.Count, r.Client.SchedDelay.P99)
		}},
		// client-bound names the rule that fired (CPU, sched): the
		// footer under the table says what each means here.
		column{name: "client-bound", left: true, keep: true, cell: boundCell},
		column{name: "client heap/conn", secondary: true, cell: func(r Record) string { return fmtBytes(r.ClientHeapPerConnBytes) }},
	)
	if p.ClientPerMillion {
		cols = append(cols, column{name: "client CPU s / 1M " + p.PerMillion, headline: true, secondary: true,
			cell: func(r Record) string { return trimFloat(r.ClientCPUPerMillion) + "s" }})
	}
	return cols
}

// table draws the tables of one group of records.
type table struct {
	layout
	rank *ranking
	// multiRun adds a run column, files a file column; drivers leaves
	// the driver column out (every row has the same, named in the title).
	multiRun, files, drivers bool
}

// lead is the columns that name a row: its rank, server, driver, file
// and run.
func (t table) lead() []column {
	var lead []column
	if t.rank != nil {
		lead = append(lead, column{name: "#", cell: t.rank.cell})
	}
	lead = append(lead, column{name: "server", left: true, cell: func(r Record) string {
		if r.Marked() {
			return r.ServerLabel() + " !"
		}
		return r.ServerLabel()
	}})
	if !t.drivers {
		lead = append(lead, column{name: "driver", left: true, cell: func(r Record) string { return r.Driver }})
	}
	if t.files {
		lead = append(lead, column{name: "file", left: true, cell: func(r Record) string { return r.File }})
	}
	if t.multiRun {
		lead = append(lead, column{name: "run", cell: func(r Record) string { return strconv.Itoa(r.Run) }})
	}
	return lead
}

// write draws one table of rs, leaving secondary columns out unless the
// layout is wide; hidden reports whether it left any out.
func (t table) write(w io.Writer, rs []Record, cols []column) (hidden bool, err error) {
	if rs[0].SLO != nil {
		cols = append(slices.Clone(cols), column{name: "SLO", left: true, keep: true, cell: func(r Record) string {
			if r.SLO == nil {
				return "-"
			}
			if r.SLO.Pass {
				return "✓ " + fmtUs(r.SLO.ValueUs)
			}
			return "✗ " + r.SLO.Reason
		}})
	}
	lead := t.lead()
	for i := range lead {
		lead[i].keep = true
	}
	cols = append(lead, cols...)
	if !t.wide {
		n := len(cols)
		cols = slices.DeleteFunc(cols, func(c column) bool { return c.secondary })
		hidden = len(cols) < n
	}
	header := make([]string, len(cols))
	align := make([]tw.Align, len(cols))
	for i, c := range cols {
		header[i] = c.name
		align[i] = tw.AlignRight
		if c.left {
			align[i] = tw.AlignLeft
		}
	}
	rows := make([][]string, len(rs))
	for i, r := range rs {
		for _, c := range cols {
			if c.headline && r.Status == StatusFailed {
				rows[i] = append(rows[i], "-")
				continue
			}
			rows[i] = append(rows[i], c.cell(r))
		}
	}
	if !t.wide {
		keep := make([]bool, len(cols))
		for i, c := range cols {
			keep[i] = c.keep || (t.rank != nil && c.name == t.rank.label)
		}
		var dropped bool
		header, align, rows, dropped = fit(foldHeaders(header, rows), align, rows, keep)
		hidden = hidden || dropped
	}
	return hidden, writeTable(w, t.markdown, header, align, rows)
}

// fit drops columns from the right, keep excepted, until the table is at
// most TableWidth wide; dropped reports whether it dropped any.
func fit(header []string, align []tw.Align, rows [][]string, keep []bool) (_ []string, _ []tw.Align, _ [][]string, dropped bool) {
	width := func() int {
		total := 1
		for i, h := range header {
			w := 0
			for _, line := range strings.Split(h, "\n") {
				w = max(w, utf8.RuneCountInString(line))
			}
			for _, row := range rows {
				w = max(w, utf8.RuneCountInString(row[i]))
			}
			total += w + 3
		}
		return total
	}
	for width() > TableWidth {
		i := len(header) - 1
		for i >= 0 && keep[i] {
			i--
		}
		if i < 0 {
			break
		}
		header, align, keep = slices.Delete(header, i, i+1), slices.Delete(align, i, i+1), slices.Delete(keep, i, i+1)
		for j := range rows {
			rows[j] = slices.Delete(rows[j], i, i+1)
		}
		dropped = true
	}
	return header, align, rows, dropped
}

func integrityCell(r Record) string {
	in := r.Integrity
	if in.Faults() == 0 {
		return "ok"
	}
	var parts []string
	for _, p := range []struct {
		name string
		n    uint64
	}{{"lost", in.Lost}, {"dup", in.Duplicated}, {"reord", in.Reordered}, {"corrupt", in.Corrupt}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", p.name, fmtCount(p.n)))
		}
	}
	return strings.Join(parts, ", ")
}

// rowName names a record in the notes under a table: server, driver, and
// what tells it from its neighbours (the file it came from, its capacity
// step, its run).
func rowName(r Record) string {
	s := r.ServerLabel() + "/" + r.Driver
	if r.File != "" {
		s = r.File + ": " + s
	}
	if r.SLO != nil {
		return s + " at " + rate(r.SLO.Rate) + " msgs/s"
	}
	return fmt.Sprintf("%s run %d", s, r.Run)
}

// notes explains every marked record below its table. Without every, a
// row marked only for being client-bound gets no line of its own: the
// paragraph under the table gives the rule and its figures, and a narrow
// table would otherwise repeat one line for every row of a small machine.
func notes(rs []Record, every bool) []string {
	var out []string
	for _, r := range rs {
		if !r.Marked() {
			continue
		}
		who := "! " + rowName(r) + ":"
		var what []string
		if r.SLO != nil && !r.SLO.Pass {
			what = append(what, "broke "+r.SLO.Objective+": "+r.SLO.Reason)
		}
		if r.Status != StatusOK {
			s := r.Status
			if r.Reason != "" {
				s += ": " + r.Reason
			}
			what = append(what, s)
		}
		if n := r.ErrorCount(); n > 0 {
			keys := make([]string, 0, len(r.Errors))
			for k := range r.Errors {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s %s", k, fmtCount(r.Errors[k])))
			}
			what = append(what, "errors: "+strings.Join(parts, ", "))
		}
		if r.Integrity.Faults() > 0 {
			what = append(what, "integrity: "+integrityCell(r)+fmt.Sprintf(" of %s %s", fmtCount(r.Integrity.Sent), ProfileOf(r).Noun))
		}
		if b := r.Broadcast; b != nil {
			if b.IncompleteFanouts > 0 {
				what = append(what, fmt.Sprintf("%s of %s measured publishes did not reach every subscriber",
					fmtCount(b.IncompleteFanouts), fmtCount(b.MeasuredPublishes)))
			}
			if b.ServerDropped != nil && *b.ServerDropped+*b.ServerDisconnected > 0 {
				what = append(what, fmt.Sprintf("server's slow-consumer policy (%s): %s messages dropped, %s subscribers disconnected",
					b.SlowConsumer, fmtCount(*b.ServerDropped), fmtCount(*b.ServerDisconnected)))
			}
			if b.LateSends > 0 {
				what = append(what, fmt.Sprintf("%s publishes finished more than 1ms after they were due (publisher behind schedule)", fmtCount(b.LateSends)))
			}
		}
		if a := r.Accounting; a != nil && a.Missing() > 0 {
			unit := ProfileOf(r).Unit
			what = append(what, fmt.Sprintf("of %s %s due in the window, %s were never sent and %s never answered "+
				"(%s more were answered only after the window)",
				fmtCount(a.Due), unit, fmtCount(a.NeverSent), fmtCount(a.NeverAnswered), fmtCount(a.AnsweredLate)))
		}
		if n := r.LatencyLowerBounds; n > 0 {
			when := "when the cell gave up on them"
			if a := r.Accounting; a != nil && r.Heartbeat == nil {
				when = fmt.Sprintf("when the cell gave up on them, %ss after the window", trimFloat(a.GaveUpAfterS))
			} else if r.Heartbeat != nil {
				when = "the pong timeout"
			}
			what = append(what, fmt.Sprintf("latency percentiles are lower bounds: %s of %s values are the age of a message never answered (%s)",
				fmtCount(n), fmtCount(uint64(r.Latency.Count)), when))
		}
		if n, batches, many := r.stalledBatches(); many {
			what = append(what, fmt.Sprintf("%s of about %s batch waits were cut short by the load generator with replies unread: the server did not answer "+
				"a batch without more messages (it holds replies for more, drops or shortens them), so those replies' latency includes the generator's wait; "+
				"--driver gorilla reads every reply as it lands", fmtCount(uint64(n)), fmtCount(uint64(batches))))
		}
		if r.ConnectShortfall() {
			what = append(what, fmt.Sprintf("connected at %s/s of the %s/s asked: handshake latency counts the wait from each connection's scheduled time",
				rate(r.Connect.RatePerS), rate(r.Connect.TargetRatePerS)))
		}
		if h := r.Heartbeat; h != nil && h.Missed+h.ClosedByServer > 0 {
			what = append(what, fmt.Sprintf("%s of %s pings got no pong within %ss; %s connections closed by the server",
				fmtCount(h.Missed), fmtCount(h.Pings), trimFloat(h.PongTimeoutS), fmtCount(h.ClosedByServer)))
		}
		// A fault not played is in the status's reason (checkFault).
		if s := r.Shard; s != nil && s.LateS > 0.01 {
			what = append(what, fmt.Sprintf("shard %d of %d opened its window %.3fs after --start-at %s (it connected too late)",
				s.Index, s.Count, s.LateS, s.StartAt.Format(time.RFC3339)))
		}
		if m := r.Merged; m != nil && m.LateS > 0.01 {
			what = append(what, fmt.Sprintf("of the %d shards merged, %s after --start-at (they connected too late)", m.Shards, strings.Join(m.Late, ", ")))
		}
		if m := r.Merged; m != nil && len(m.Dropped) > 0 && r.Status == StatusOK {
			what = append(what, "not merged (no exact merge across shards): "+strings.Join(m.Dropped, ", "))
		}
		if ProfileOf(r).AbruptClosesMatter && r.Close.Abrupt > 0 {
			what = append(what, fmt.Sprintf("%s of %s closes were abrupt (no close handshake answered with 1000)",
				fmtCount(uint64(r.Close.Abrupt)), fmtCount(uint64(r.Close.Clean+r.Close.Abrupt))))
		}
		if c := r.Client; c != nil && c.Bound && (every || len(what) > 0 || len(boundRules(r)) == 0) {
			what = append(what, boundNote(r))
		}
		if len(what) == 0 {
			continue
		}
		out = append(out, who+" "+strings.Join(what, "; "))
	}
	return out
}

func writeTable(w io.Writer, markdown bool, header []string, align []tw.Align, rows [][]string) error {
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithHeaderAlignment(tw.AlignCenter),
	}
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	hdr := make([]any, len(header))
	for i, h := range header {
		hdr[i] = h
	}
	t.Header(hdr...)
	for _, row := range rows {
		if err := t.Append(row); err != nil {
			return fmt.Errorf("render table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}

// csvHeader names the CSV columns: one row per record, numbers in base
// units (microseconds, bytes, seconds) so spreadsheets need no parsing.
var csvHeader = []string{
	"scenario", "mode", "server", "target", "driver", "conns", "payload_bytes", "text", "deflate", "run", "status", "reason",
	"duration_s", "messages", "throughput_msgs_per_s", "throughput_bytes_per_s",
	"p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
	"handshake_p50_us", "handshake_p99_us", "errors",
	"sent", "received", "lost", "duplicated", "reordered", "corrupt",
	"server_cpu_s", "server_cpu_s_per_million_msgs", "server_rss_peak_bytes", "server_rss_mean_bytes",
	"server_mem_per_conn_bytes", "client_cpu_s", "client_cpu_util", "client_cpu_s_per_million_msgs",
	"drain_messages", "due", "answered_late", "never_sent", "never_answered", "latency_lower_bounds",
	"headline_per_s", "headline_unit", "figures",
	// rank is the row's place in its table as the table shows it ("=2":
	// a tie), ranked_by the metric; client_bound names the rules that
	// flagged the load generator ("CPU", "sched", "CPU+sched", or "no"; in
	// a merged record with the shards it held for: "CPU (shard 1)").
	"rank", "ranked_by", "client_bound",
	"file",
}

func renderCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	of := func(p *float64) string {
		if p == nil {
			return ""
		}
		return f(*p)
	}
	ou := func(p *uint64) string {
		if p == nil {
			return ""
		}
		return u(*p)
	}
	// Each record's rank in its table, by table and cell.
	type placed struct{ rank, by string }
	places := map[string]placed{}
	for _, g := range groups(res) {
		if rk := rank(g.records); rk != nil {
			for _, r := range g.records {
				places[groupKey(r)+"\x00"+cellKey(r)] = placed{rk.cell(r), rk.metric.Name}
			}
		}
	}
	for _, r := range res.Records {
		in := r.Integrity
		p := places[groupKey(r)+"\x00"+cellKey(r)]
		row := []string{
			r.Scenario, r.Mode, r.Server, r.Target, r.Driver, strconv.Itoa(r.Conns), strconv.Itoa(r.PayloadBytes),
			strconv.FormatBool(r.Text), r.CompressionText(), strconv.Itoa(r.Run), r.Status, r.Reason,
			f(r.DurationS), u(r.Messages), f(r.ThroughputMsgsPerS), f(r.ThroughputBytesPerS),
			i(r.Latency.P50), i(r.Latency.P90), i(r.Latency.P99), i(r.Latency.P999), i(r.Latency.Max), f(r.Latency.Mean),
			i(r.Handshake.P50), i(r.Handshake.P99), u(r.ErrorCount()),
			u(in.Sent), u(in.Received), u(in.Lost), u(in.Duplicated), u(in.Reordered), u(in.Corrupt),
			of(r.ServerCPUS), of(serverCPUPerM(r)), ou(r.ServerRSSPeakBytes), ou(r.ServerRSSMeanBytes),
			of(r.ServerMemPerConnBytes), f(r.ClientCPUS), f(r.ClientCPUUtil), f(r.ClientCPUPerMillion),
			u(r.DrainMessages), "", "", "", "", u(r.LatencyLowerBounds),
			"", ProfileOf(r).Throughput.Label, figuresCell(r), p.rank, p.by, boundCell(r), r.File,
		}
		if a := r.Accounting; a != nil {
			copy(row[len(row)-12:], []string{u(a.Due), u(a.AnsweredLate), u(a.NeverSent), u(a.NeverAnswered)})
		}
		if v, ok := Headline(r); ok {
			row[len(row)-7] = f(v)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// figuresCell is a record's own figures as name=value pairs, sorted.
func figuresCell(r Record) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Figures)) {
		parts = append(parts, k+"="+strconv.FormatFloat(r.Figures[k], 'f', -1, 64))
	}
	return strings.Join(parts, ";")
}

// metric is one number of a record that is summarised across runs; key
// is its Metric's name.
type metric struct {
	name, key string
	val       func(Record) (float64, bool)
	format    func(float64) string
	secondary bool
}

// spreadMetrics are the headline numbers of each scenario.
func spreadMetrics(first Record) []metric {
	us := func(v float64) string { return fmtUs(int64(v + 0.5)) }
	p := ProfileOf(first)
	lat := func(name, key string, f func(Latency) int64, secondary bool) metric {
		return metric{name: name, key: key, format: us, secondary: secondary, val: func(r Record) (float64, bool) {
			l := HeadlineLatency(r)
			return float64(f(l)), l.Count > 0
		}}
	}
	ms := []metric{{name: p.Throughput.Label, key: "throughput", format: rate, val: Headline},
		lat("p50", "p50", func(l Latency) int64 { return l.P50 }, true),
		lat("p99", "p99", func(l Latency) int64 { return l.P99 }, false),
		lat("p99.9", "p999", func(l Latency) int64 { return l.P999 }, true),
	}
	if p.Latency.Source == "handshake" {
		for i := 1; i < len(ms); i++ {
			ms[i].key = "handshake_" + ms[i].key
		}
	}
	if p.PerMillion != "" {
		ms = append(ms, metric{name: "server CPU s / 1M", key: "server_cpu_per_million", format: func(v float64) string { return trimFloat(v) + "s" },
			val: func(r Record) (float64, bool) { return optFloat(serverCPUPerM(r)) }})
	}
	return append(ms, metric{name: "mem/conn (ΔRSS÷conns)", key: "mem_per_conn", format: fmtBytes, secondary: true,
		val: func(r Record) (float64, bool) { return optFloat(r.ServerMemPerConnBytes) }})
}

// writeSpread writes one row per cell (server, driver, file), in ranked
// order: each headline metric's median across the runs that measured it,
// with its range, so a tie can be seen as overlapping ranges. Runs that
// failed are left out and counted.
func (t table) writeSpread(w io.Writer, rs []Record) (hidden bool, err error) {
	metrics := spreadMetrics(rs[0])
	if rk := t.rank; rk != nil {
		i := slices.IndexFunc(metrics, func(m metric) bool { return m.key == rk.metric.Name })
		if i < 0 {
			metrics = slices.Insert(metrics, 0, metric{name: rk.label, key: rk.metric.Name, val: rk.metric.Value,
				format: func(v float64) string { return formatMetric(rk.metric.Unit, v) }})
		} else {
			metrics[i].secondary = false
		}
	}
	if !t.wide {
		n := len(metrics)
		metrics = slices.DeleteFunc(metrics, func(m metric) bool { return m.secondary })
		hidden = len(metrics) < n
	}
	var header []string
	var align []tw.Align
	var keep []bool
	add := func(name string, a tw.Align, k bool) {
		header, align, keep = append(header, name), append(align, a), append(keep, k)
	}
	if t.rank != nil {
		add("#", tw.AlignRight, true)
	}
	add("server", tw.AlignLeft, true)
	if !t.drivers {
		add("driver", tw.AlignLeft, true)
	}
	if t.files {
		add("file", tw.AlignLeft, true)
	}
	add("runs", tw.AlignRight, true)
	for _, m := range metrics {
		add(m.name, tw.AlignRight, m.key == "p99" || (t.rank != nil && m.key == t.rank.metric.Name))
	}
	var order []string
	byCell := map[string][]Record{}
	for _, r := range rs {
		k := cellKey(r)
		if _, ok := byCell[k]; !ok {
			order = append(order, k)
		}
		byCell[k] = append(byCell[k], r)
	}
	var rows [][]string
	for _, k := range order {
		runs := byCell[k]
		ok := 0
		for _, r := range runs {
			if r.Usable() {
				ok++
			}
		}
		runsCell := strconv.Itoa(ok)
		if ok != len(runs) {
			runsCell = fmt.Sprintf("%d of %d", ok, len(runs))
		}
		var row []string
		if t.rank != nil {
			row = append(row, t.rank.cell(runs[0]))
		}
		row = append(row, runs[0].ServerLabel())
		if !t.drivers {
			row = append(row, runs[0].Driver)
		}
		if t.files {
			row = append(row, runs[0].File)
		}
		row = append(row, runsCell)
		for _, m := range metrics {
			var vals []float64
			for _, r := range runs {
				if v, has := m.val(r); has && r.Usable() {
					vals = append(vals, v)
				}
			}
			row = append(row, spreadCell(vals, m.format))
		}
		rows = append(rows, row)
	}
	if !t.wide {
		var dropped bool
		header, align, rows, dropped = fit(foldHeaders(header, rows), align, rows, keep)
		hidden = hidden || dropped
	}
	return hidden, writeTable(w, t.markdown, header, align, rows)
}

// spreadCell is "median [min–max]" of vals.
func spreadCell(vals []float64, format func(float64) string) string {
	if len(vals) == 0 {
		return "-"
	}
	med := median(vals) // sorts vals
	if len(vals) == 1 {
		return format(med)
	}
	return fmt.Sprintf("%s [%s–%s]", format(med), format(vals[0]), format(vals[len(vals)-1]))
}

// writer is where renderers write.
type writer = io.Writer

// alignFor left-aligns the first left columns and right-aligns the rest.
func alignFor(header []string, left int) []tw.Align {
	a := make([]tw.Align, len(header))
	for i := range a {
		a[i] = tw.AlignRight
		if i < left {
			a[i] = tw.AlignLeft
		}
	}
	return a
}

// renderCapacity summarises a capacity search: per server, the highest step
// that met the SLO and the step that broke it.
func renderCapacity(w io.Writer, l layout, rs []Record) error {
	type summary struct {
		server, driver, objective string
		best                      *Record
		broke                     *Record
	}
	var order []string
	by := map[string]*summary{}
	for i := range rs {
		r := &rs[i]
		if r.SLO == nil {
			continue
		}
		k := r.Scenario + "\x00" + r.ServerLabel() + "\x00" + r.Driver
		s, ok := by[k]
		if !ok {
			s = &summary{server: r.ServerLabel(), driver: r.Driver, objective: r.SLO.Objective}
			by[k] = s
			order = append(order, k)
		}
		if r.SLO.Pass && (s.best == nil || r.SLO.Rate > s.best.SLO.Rate) {
			s.best = r
		}
		if !r.SLO.Pass && (s.broke == nil || r.SLO.Rate < s.broke.SLO.Rate) {
			s.broke = r
		}
	}
	if len(order) == 0 {
		return nil
	}
	// Ranked: the highest capacity first; equal capacities (the same
	// step) share a rank.
	capacity := func(s *summary) float64 {
		if s.best == nil {
			return -1
		}
		return s.best.SLO.Rate
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(capacity(by[b]), capacity(by[a])) })
	fmt.Fprintln(w)
	l.heading(w, "capacity · highest rate meeting "+by[order[0]].objective+" · ranked, highest first")
	header := []string{"#", "server", "driver", "capacity (msgs/s)", "latency there", "broke at", "why"}
	var rows [][]string
	for i, k := range order {
		s := by[k]
		place := "-"
		if s.best != nil {
			n := i
			for n > 0 && capacity(by[order[n-1]]) == capacity(s) {
				n--
			}
			place = strconv.Itoa(n + 1)
			if (i > 0 && capacity(by[order[i-1]]) == capacity(s)) || (i+1 < len(order) && capacity(by[order[i+1]]) == capacity(s)) {
				place = "=" + place
			}
		}
		row := []string{place, s.server, s.driver, "none", "-", "-", "-"}
		if s.best != nil {
			row[3], row[4] = rate(s.best.SLO.Rate), fmtUs(s.best.SLO.ValueUs)
		}
		if s.broke != nil {
			row[5], row[6] = rate(s.broke.SLO.Rate), s.broke.SLO.Reason
		} else {
			row[5] = "not reached"
		}
		rows = append(rows, row)
	}
	align := alignFor(header, 3)
	align[0] = tw.AlignRight
	align[6] = tw.AlignLeft
	if !l.wide {
		header = foldHeaders(header, rows)
	}
	return writeTable(w, l.markdown, header, align, rows)
}

// manifestValue is a manifest setting as the cells ran with it. The
// heartbeat scenario gives its servers an idle timeout of its own (three
// ping intervals plus an allowance per connection), which its records
// carry; the manifest says so instead of showing a default no heartbeat
// cell used.
func manifestValue(res *Result, key string) string {
	v := settingValue(key, res.ServerSettings[key])
	if key != "idle_timeout_ns" {
		return v
	}
	var cells []string
	others := false
	for _, r := range res.Records {
		if r.Heartbeat == nil || r.Heartbeat.ServerIdleTimeoutS <= 0 {
			others = true
			continue
		}
		d := time.Duration(r.Heartbeat.ServerIdleTimeoutS * float64(time.Second)).String()
		if !slices.Contains(cells, d) {
			cells = append(cells, d)
		}
	}
	if len(cells) == 0 {
		return v
	}
	out := strings.Join(cells, ", ") + " (heartbeat cells: set for their ping interval)"
	if others {
		out += ", " + v + " otherwise"
	}
	return out
}

// renderManifest writes the fairness manifest: the settings every reference
// server ran with, and per server what its library could not apply. Runs
// against a --target have neither and print nothing.
func renderManifest(w io.Writer, l layout, res *Result) error {
	if len(res.ServerSettings) == 0 {
		return nil
	}
	var kv []string
	for _, k := range sortedKeys(res.ServerSettings) {
		kv = append(kv, k+"="+manifestValue(res, k))
	}
	var exc []string
	for _, name := range sortedKeys(res.ServerExceptions) {
		for _, e := range res.ServerExceptions[name] {
			exc = append(exc, name+": "+e)
		}
	}
	fmt.Fprintln(w)
	if l.markdown {
		fmt.Fprintf(w, "**Fairness manifest** (every server): %s\n\n", strings.Join(kv, ", "))
		if len(exc) == 0 {
			fmt.Fprintln(w, "Every server applied every setting.")
		} else {
			fmt.Fprintln(w, "Settings a server's library could not apply:")
			fmt.Fprintln(w)
			for _, e := range exc {
				fmt.Fprintf(w, "- %s\n", e)
			}
		}
		return nil
	}
	l.prose(w, "fairness manifest (every server): "+strings.Join(kv, ", "), false)
	if len(exc) == 0 {
		_, err := fmt.Fprintln(w, "every server applied every setting")
		return err
	}
	fmt.Fprintln(w, "not applied:")
	for _, e := range exc {
		l.item(w, e)
	}
	return nil
}

// wrap breaks s at spaces into lines of at most width characters (runes:
// the tables' symbols are one column wide each), continuing lines with
// indent. A word longer than a line stays whole.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := utf8.RuneCountInString(word)
		switch {
		case i == 0:
			lead := len(s) - len(strings.TrimLeft(s, " "))
			b.WriteString(s[:lead])
			line = lead
		case line+1+n > width:
			b.WriteString("\n" + indent)
			line = utf8.RuneCountInString(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

// foldHeaders breaks a terminal table's header in two lines where it is
// wider than every cell below it ("never recovered" over counts), at the
// space that makes it narrowest: the column then takes its data's width.
func foldHeaders(header []string, rows [][]string) []string {
	out := slices.Clone(header)
	for i, h := range header {
		widest := 0
		for _, row := range rows {
			if i < len(row) {
				widest = max(widest, utf8.RuneCountInString(row[i]))
			}
		}
		best := utf8.RuneCountInString(h)
		if best <= widest {
			continue
		}
		for j, c := range h {
			if c != ' ' {
				continue
			}
			if wide := max(utf8.RuneCountInString(h[:j]), utf8.RuneCountInString(h[j+1:])); wide < best {
				best, out[i] = wide, h[:j]+"\n"+h[j+1:]
			}
		}
	}
	return out
}
