package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

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

// Render writes res in format f; HTML is report/htmlreport's, which this
// package does not import.
func Render(w io.Writer, res *Result, f Format) error {
	switch f {
	case Table, Markdown:
		return renderTables(w, res, f == Markdown)
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
		key := groupTitle(r, "warmup "+trimFloat(r.WarmupS))
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

func renderTables(w io.Writer, res *Result, markdown bool) error {
	if len(res.Records) == 0 {
		_, err := fmt.Fprintln(w, "no records")
		return err
	}
	closedLoop := false
	for gi, g := range groups(res) {
		if gi > 0 {
			fmt.Fprintln(w)
		}
		if markdown {
			fmt.Fprintf(w, "### %s\n\n", g.title)
		} else {
			fmt.Fprintln(w, g.title)
		}
		multiRun := slices.ContainsFunc(g.records, func(r Record) bool { return r.Run > 1 })
		first := g.records[0]
		closedLoop = closedLoop || first.Mode == "closed-loop"
		main := append([]column{colStatus}, mainColumns(first)...)
		if first.Compression != nil {
			main = append([]column{colDeflate}, main...)
		}
		if err := writeColumns(w, markdown, multiRun, g.records, main); err != nil {
			return err
		}
		if markdown {
			fmt.Fprintln(w)
		}
		if err := writeColumns(w, markdown, multiRun, g.records, resourceColumns(first)); err != nil {
			return err
		}
		if multiRun {
			if markdown {
				fmt.Fprintln(w, "\nAcross runs, median [min–max]:")
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, "across runs: median [min–max]")
			}
			if err := writeSpread(w, markdown, g.records); err != nil {
				return err
			}
		}
		if notes := notes(g.records); len(notes) > 0 {
			fmt.Fprintln(w)
			for _, n := range notes {
				if markdown {
					fmt.Fprintf(w, "- %s\n", n)
				} else {
					fmt.Fprintf(w, "  %s\n", n)
				}
			}
		}
	}
	if err := renderCapacity(w, markdown, res.Records); err != nil {
		return err
	}
	slopes := res.MemorySlopes
	if len(slopes) == 0 {
		slopes = Slopes(res.Records)
	}
	if err := renderSlopes(w, markdown, slopes); err != nil {
		return err
	}
	if err := renderManifest(w, markdown, res); err != nil {
		return err
	}
	if line := clientBoundLine(res); line != "" {
		fmt.Fprintln(w)
		if markdown {
			line = "_" + line + "_"
		}
		fmt.Fprintln(w, line)
	}
	if closedLoop {
		fmt.Fprintln(w)
		line := "Closed loop: each connection waits for its echo before sending the next message, so latency and throughput are two views of one number (latency ≈ conns / throughput)."
		if markdown {
			line = "_" + line + "_"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// clientBoundLine tells the reader, in one line, what a client-bound flag
// means on this machine and how to rank servers when it is set: by server
// CPU per message, since throughput then is the load generator's ceiling.
// It is empty when no record is client-bound.
func clientBoundLine(res *Result) string {
	var bound int
	var client, server []float64
	for _, r := range res.Records {
		if r.Client == nil || !r.Client.Bound || !r.Usable() {
			continue
		}
		bound++
		if r.ClientCPUPerMillion > 0 && r.ServerCPUPerMillion != nil {
			client = append(client, r.ClientCPUPerMillion)
			server = append(server, *r.ServerCPUPerMillion)
		}
	}
	if bound == 0 {
		return ""
	}
	cores := ""
	if n := res.Environment.Cores; n > 0 {
		cores = fmt.Sprintf(" %d-core", n)
	}
	rows := "rows"
	if bound == 1 {
		rows = "row"
	}
	line := fmt.Sprintf("client-bound (%d %s): on this%s machine the load generator was saturated, so msgs/s is its ceiling, not the server's", bound, rows, cores)
	if len(client) > 0 {
		line += fmt.Sprintf(" (it spent %s CPU s per 1M msgs, the servers %s)", trimFloat(median(client)), trimFloat(median(server)))
		line += "; rank servers by CPU s / 1M msgs, and use --pin or a --rate below the ceiling for latency"
	} else {
		line += "; use --pin, or a --rate below the ceiling, to give it headroom"
	}
	return line + "."
}

// column is one column of a table: its header and how a record fills it.
type column struct {
	name string
	cell func(Record) string
	left bool
	// headline columns (throughput, latency, cost per message) show "-"
	// for a failed record: its numbers are not a result.
	headline bool
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
	return []column{
		pct(label+"p50", func(l Latency) int64 { return l.P50 }),
		pct(label+"p90", func(l Latency) int64 { return l.P90 }),
		pct(label+"p99", func(l Latency) int64 { return l.P99 }),
		pct(label+"p99.9", func(l Latency) int64 { return l.P999 }),
		pct(label+"max", func(l Latency) int64 { return l.Max }),
	}
}

func rate(v float64) string { return fmtCount(uint64(v + 0.5)) }

var (
	// colStatus is the verdict: whether the row's numbers can be used.
	colStatus    = column{name: "status", left: true, cell: func(r Record) string { return r.Status }}
	colErrors    = column{name: "errors", cell: func(r Record) string { return fmtCount(r.ErrorCount()) }}
	colIntegrity = column{name: "integrity", cell: integrityCell, left: true}
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
// million of its unit of work, if it has one.
func resourceColumns(first Record) []column {
	p := ProfileOf(first)
	cpu := column{name: "server CPU", cell: func(r Record) string {
		return fmtOptFloat(r.ServerCPUS, func(v float64) string { return trimFloat(v) + "s" })
	}}
	perMillion := column{name: "CPU s / 1M msgs", headline: true, cell: func(r Record) string {
		return fmtOptFloat(r.ServerCPUPerMillion, func(v float64) string { return trimFloat(v) + "s" })
	}}
	perMillion.name = "CPU s / 1M " + p.PerMillion
	cols := []column{cpu}
	if p.PerMillion != "" {
		cols = append(cols, perMillion)
	}
	cols = append(cols,
		column{name: "RSS peak", cell: func(r Record) string { return fmtOptBytes(r.ServerRSSPeakBytes) }},
		column{name: "mem/conn (ΔRSS÷conns)", cell: func(r Record) string { return fmtOptFloat(r.ServerMemPerConnBytes, fmtBytes) }},
		column{name: "heap/conn", cell: func(r Record) string { return fmtOptFloat(r.ServerHeapPerConnBytes, fmtBytes) }},
		column{name: "goroutines/conn", cell: func(r Record) string {
			return fmtOptFloat(r.ServerGoroutinesPerConn, func(v float64) string { return trimFloat(v) })
		}},
		column{name: "client CPU %", cell: func(r Record) string {
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
		column{name: "client-bound", cell: func(r Record) string {
			if r.Client != nil && r.Client.Bound {
				return "yes"
			}
			return "no"
		}},
		column{name: "client heap/conn", cell: func(r Record) string { return fmtBytes(r.ClientHeapPerConnBytes) }},
	)
	if p.ClientPerMillion {
		cols = append(cols, column{name: "client CPU s / 1M msgs", headline: true, cell: func(r Record) string { return trimFloat(r.ClientCPUPerMillion) + "s" }})
	}
	return cols
}

func writeColumns(w io.Writer, markdown, multiRun bool, rs []Record, cols []column) error {
	if rs[0].SLO != nil {
		cols = append(slices.Clone(cols), column{name: "SLO", left: true, cell: func(r Record) string {
			if r.SLO == nil {
				return "-"
			}
			if r.SLO.Pass {
				return "✓ " + fmtUs(r.SLO.ValueUs)
			}
			return "✗ " + r.SLO.Reason
		}})
	}
	lead := []column{
		{name: "server", left: true, cell: func(r Record) string {
			if r.Marked() {
				return r.ServerLabel() + " !"
			}
			return r.ServerLabel()
		}},
		{name: "driver", left: true, cell: func(r Record) string { return r.Driver }},
	}
	if slices.ContainsFunc(rs, func(r Record) bool { return r.File != "" }) {
		lead = append(lead, column{name: "file", left: true, cell: func(r Record) string { return r.File }})
	}
	if multiRun {
		lead = append(lead, column{name: "run", cell: func(r Record) string { return strconv.Itoa(r.Run) }})
	}
	cols = append(lead, cols...)
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
	return writeTable(w, markdown, header, align, rows)
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

// notes explains every marked record below its table.
func notes(rs []Record) []string {
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
		if c := r.Client; c != nil && c.Bound {
			what = append(what, "client-bound: "+strings.Join(c.Reasons, "; ")+
				": the load generator, not only the server, limited this run")
		}
		if ProfileOf(r).AbruptClosesMatter && r.Close.Abrupt > 0 {
			what = append(what, fmt.Sprintf("%s of %s closes were abrupt (no close handshake answered with 1000)",
				fmtCount(uint64(r.Close.Abrupt)), fmtCount(uint64(r.Close.Clean+r.Close.Abrupt))))
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
	"headline_per_s", "headline_unit", "figures", "file",
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
	for _, r := range res.Records {
		in := r.Integrity
		row := []string{
			r.Scenario, r.Mode, r.Server, r.Target, r.Driver, strconv.Itoa(r.Conns), strconv.Itoa(r.PayloadBytes),
			strconv.FormatBool(r.Text), r.CompressionText(), strconv.Itoa(r.Run), r.Status, r.Reason,
			f(r.DurationS), u(r.Messages), f(r.ThroughputMsgsPerS), f(r.ThroughputBytesPerS),
			i(r.Latency.P50), i(r.Latency.P90), i(r.Latency.P99), i(r.Latency.P999), i(r.Latency.Max), f(r.Latency.Mean),
			i(r.Handshake.P50), i(r.Handshake.P99), u(r.ErrorCount()),
			u(in.Sent), u(in.Received), u(in.Lost), u(in.Duplicated), u(in.Reordered), u(in.Corrupt),
			of(r.ServerCPUS), of(r.ServerCPUPerMillion), ou(r.ServerRSSPeakBytes), ou(r.ServerRSSMeanBytes),
			of(r.ServerMemPerConnBytes), f(r.ClientCPUS), f(r.ClientCPUUtil), f(r.ClientCPUPerMillion),
			u(r.DrainMessages), "", "", "", "", u(r.LatencyLowerBounds),
			"", ProfileOf(r).Throughput.Label, figuresCell(r), r.File,
		}
		if a := r.Accounting; a != nil {
			copy(row[len(row)-9:], []string{u(a.Due), u(a.AnsweredLate), u(a.NeverSent), u(a.NeverAnswered)})
		}
		if v, ok := Headline(r); ok {
			row[len(row)-4] = f(v)
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

// metric is one number of a record that is summarised across runs.
type metric struct {
	name   string
	val    func(Record) (float64, bool)
	format func(float64) string
}

// spreadMetrics are the headline numbers of each scenario.
func spreadMetrics(first Record) []metric {
	us := func(v float64) string { return fmtUs(int64(v + 0.5)) }
	lat := func(name string, get func(Record) Latency, f func(Latency) int64) metric {
		return metric{name: name, format: us, val: func(r Record) (float64, bool) {
			l := get(r)
			return float64(f(l)), l.Count > 0
		}}
	}
	p := ProfileOf(first)
	latency := HeadlineLatency
	throughput := metric{name: p.Throughput.Label, format: rate, val: Headline}
	ms := []metric{throughput,
		lat("p50", latency, func(l Latency) int64 { return l.P50 }),
		lat("p99", latency, func(l Latency) int64 { return l.P99 }),
		lat("p99.9", latency, func(l Latency) int64 { return l.P999 }),
	}
	if p.PerMillion != "" {
		ms = append(ms, metric{name: "server CPU s / 1M", format: func(v float64) string { return trimFloat(v) + "s" },
			val: func(r Record) (float64, bool) {
				if r.ServerCPUPerMillion == nil {
					return 0, false
				}
				return *r.ServerCPUPerMillion, true
			}})
	}
	return append(ms, metric{name: "mem/conn (ΔRSS÷conns)", format: fmtBytes, val: func(r Record) (float64, bool) {
		if r.ServerMemPerConnBytes == nil {
			return 0, false
		}
		return *r.ServerMemPerConnBytes, true
	}})
}

// writeSpread writes one row per server and driver: each headline metric's
// median across the runs that measured it, with its range. Runs that failed
// are left out and counted.
func writeSpread(w io.Writer, markdown bool, rs []Record) error {
	metrics := spreadMetrics(rs[0])
	header := []string{"server", "driver", "runs"}
	align := []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignRight}
	files := slices.ContainsFunc(rs, func(r Record) bool { return r.File != "" })
	if files {
		header = slices.Insert(header, 2, "file")
		align = slices.Insert(align, 2, tw.AlignLeft)
	}
	for _, m := range metrics {
		header = append(header, m.name)
		align = append(align, tw.AlignRight)
	}
	var order []string
	byCell := map[string][]Record{}
	for _, r := range rs {
		k := r.ServerLabel() + "\x00" + r.Driver + "\x00" + r.File
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
		row := []string{runs[0].ServerLabel(), runs[0].Driver, runsCell}
		if files {
			row = slices.Insert(row, 2, runs[0].File)
		}
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
	return writeTable(w, markdown, header, align, rows)
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
func renderCapacity(w io.Writer, markdown bool, rs []Record) error {
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
	title := "capacity · highest rate meeting " + by[order[0]].objective
	if markdown {
		fmt.Fprintf(w, "\n### %s\n\n", title)
	} else {
		fmt.Fprintf(w, "\n%s\n", title)
	}
	header := []string{"server", "driver", "capacity (msgs/s)", "latency there", "broke at", "why"}
	var rows [][]string
	for _, k := range order {
		s := by[k]
		row := []string{s.server, s.driver, "none", "-", "-", "-"}
		if s.best != nil {
			row[2], row[3] = rate(s.best.SLO.Rate), fmtUs(s.best.SLO.ValueUs)
		}
		if s.broke != nil {
			row[4], row[5] = rate(s.broke.SLO.Rate), s.broke.SLO.Reason
		} else {
			row[4] = "not reached"
		}
		rows = append(rows, row)
	}
	align := alignFor(header, 2)
	align[5] = tw.AlignLeft
	return writeTable(w, markdown, header, align, rows)
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
	out := strings.Join(cells, ", ") + " (heartbeat cells: from the ping interval and the connection count)"
	if others {
		out += ", " + v + " otherwise"
	}
	return out
}

// renderManifest writes the fairness manifest: the settings every reference
// server ran with, and per server what its library could not apply. Runs
// against a --target have neither and print nothing.
func renderManifest(w io.Writer, markdown bool, res *Result) error {
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
	if markdown {
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
	fmt.Fprintf(w, "fairness manifest (every server): %s\n", strings.Join(kv, ", "))
	if len(exc) == 0 {
		_, err := fmt.Fprintln(w, "every server applied every setting")
		return err
	}
	fmt.Fprintln(w, "not applied:")
	for _, e := range exc {
		fmt.Fprintf(w, "  %s\n", e)
	}
	return nil
}
