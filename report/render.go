package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

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
)

// Formats lists every format Render accepts.
var Formats = []Format{Table, Markdown, CSV, JSON}

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

// Render writes res in format f.
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
	}
	return fmt.Errorf("unknown format %q", f)
}

// group is the records that belong in one table: same scenario, mode,
// connection count and payload.
type group struct {
	title   string
	records []Record
}

func groups(res *Result) []group {
	var out []group
	index := map[string]int{}
	for _, r := range res.Records {
		kind := "binary"
		if r.Text {
			kind = "text"
		}
		title := fmt.Sprintf("%s · %s · %d conns · %d B %s messages · %s measured after %s warmup",
			r.Scenario, strings.ReplaceAll(r.Mode, "-", " "), r.Conns, r.PayloadBytes, kind,
			trimFloat(r.DurationS)+"s", trimFloat(r.WarmupS)+"s")
		key := fmt.Sprintf("%s|%s|%d|%d|%v", r.Scenario, r.Mode, r.Conns, r.PayloadBytes, r.Text)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, group{title: title})
		}
		out[i].records = append(out[i].records, r)
	}
	for _, g := range out {
		slices.SortStableFunc(g.records, func(a, b Record) int {
			return strings.Compare(a.Server+"\x00"+a.Driver+"\x00"+fmt.Sprintf("%06d", a.Run),
				b.Server+"\x00"+b.Driver+"\x00"+fmt.Sprintf("%06d", b.Run))
		})
	}
	return out
}

func renderTables(w io.Writer, res *Result, markdown bool) error {
	if len(res.Records) == 0 {
		_, err := fmt.Fprintln(w, "no records")
		return err
	}
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
		if err := writeTable(w, markdown, latencyHeader(multiRun), latencyRows(g.records, multiRun)); err != nil {
			return err
		}
		if markdown {
			fmt.Fprintln(w)
		}
		if err := writeTable(w, markdown, resourceHeader(multiRun), resourceRows(g.records, multiRun)); err != nil {
			return err
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
	if g := groups(res); len(g) > 0 && g[0].records[0].Mode == "closed-loop" {
		fmt.Fprintln(w)
		line := "Closed loop: each connection waits for its echo before sending the next message, so latency and throughput are two views of one number (latency ≈ conns / throughput)."
		if markdown {
			line = "_" + line + "_"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

func cellName(r Record, multiRun bool) []string {
	name := r.Server
	if r.Marked() {
		name += " !"
	}
	cells := []string{name, r.Driver}
	if multiRun {
		cells = append(cells, strconv.Itoa(r.Run))
	}
	return cells
}

func nameHeader(multiRun bool) []string {
	h := []string{"server", "driver"}
	if multiRun {
		h = append(h, "run")
	}
	return h
}

func latencyHeader(multiRun bool) []string {
	return append(nameHeader(multiRun), "msgs/s", "MB/s", "p50", "p90", "p99", "p99.9", "max",
		"handshake p50", "handshake p99", "errors", "integrity")
}

func latencyRows(rs []Record, multiRun bool) [][]string {
	var rows [][]string
	for _, r := range rs {
		row := cellName(r, multiRun)
		if r.Latency.Count == 0 {
			row = append(row, "-", "-", "-", "-", "-", "-", "-")
		} else {
			row = append(row,
				fmtCount(uint64(r.ThroughputMsgsPerS+0.5)),
				trimFloat(r.ThroughputBytesPerS/1e6),
				fmtUs(r.Latency.P50), fmtUs(r.Latency.P90), fmtUs(r.Latency.P99),
				fmtUs(r.Latency.P999), fmtUs(r.Latency.Max))
		}
		if r.Handshake.Count == 0 {
			row = append(row, "-", "-")
		} else {
			row = append(row, fmtUs(r.Handshake.P50), fmtUs(r.Handshake.P99))
		}
		row = append(row, fmtCount(r.ErrorCount()), integrityCell(r))
		rows = append(rows, row)
	}
	return rows
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

func resourceHeader(multiRun bool) []string {
	return append(nameHeader(multiRun), "server CPU", "CPU s / 1M msgs", "RSS peak", "RSS mean",
		"mem/conn (ΔRSS÷conns)", "goroutines", "client CPU", "client CPU %", "client CPU s / 1M msgs")
}

func resourceRows(rs []Record, multiRun bool) [][]string {
	var rows [][]string
	for _, r := range rs {
		row := cellName(r, multiRun)
		gor := na
		if r.ServerStats != nil {
			gor = fmtCount(uint64(r.ServerStats.Goroutines))
		}
		row = append(row,
			fmtOptFloat(r.ServerCPUS, func(v float64) string { return trimFloat(v) + "s" }),
			fmtOptFloat(r.ServerCPUPerMillion, func(v float64) string { return trimFloat(v) + "s" }),
			fmtOptBytes(r.ServerRSSPeakBytes),
			fmtOptBytes(r.ServerRSSMeanBytes),
			fmtOptFloat(r.ServerMemPerConnBytes, fmtBytes),
			gor,
			trimFloat(r.ClientCPUS)+"s",
			fmt.Sprintf("%.0f%%", r.ClientCPUUtil*100),
			trimFloat(r.ClientCPUPerMillion)+"s",
		)
		rows = append(rows, row)
	}
	return rows
}

// notes explains every marked record below its table.
func notes(rs []Record) []string {
	var out []string
	for _, r := range rs {
		if !r.Marked() {
			continue
		}
		who := fmt.Sprintf("! %s/%s run %d:", r.Server, r.Driver, r.Run)
		var what []string
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
			what = append(what, "integrity: "+integrityCell(r)+fmt.Sprintf(" of %s sent", fmtCount(r.Integrity.Sent)))
		}
		out = append(out, who+" "+strings.Join(what, "; "))
	}
	return out
}

func writeTable(w io.Writer, markdown bool, header []string, rows [][]string) error {
	align := make([]tw.Align, len(header))
	for i, h := range header {
		align[i] = tw.AlignRight
		if h == "server" || h == "driver" || h == "integrity" {
			align[i] = tw.AlignLeft
		}
	}
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
	"scenario", "mode", "server", "target", "driver", "conns", "payload_bytes", "text", "run", "status", "reason",
	"duration_s", "messages", "throughput_msgs_per_s", "throughput_bytes_per_s",
	"p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
	"handshake_p50_us", "handshake_p99_us", "errors",
	"sent", "received", "lost", "duplicated", "reordered", "corrupt",
	"server_cpu_s", "server_cpu_s_per_million_msgs", "server_rss_peak_bytes", "server_rss_mean_bytes",
	"server_mem_per_conn_bytes", "client_cpu_s", "client_cpu_util", "client_cpu_s_per_million_msgs",
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
			strconv.FormatBool(r.Text), strconv.Itoa(r.Run), r.Status, r.Reason,
			f(r.DurationS), u(r.Messages), f(r.ThroughputMsgsPerS), f(r.ThroughputBytesPerS),
			i(r.Latency.P50), i(r.Latency.P90), i(r.Latency.P99), i(r.Latency.P999), i(r.Latency.Max), f(r.Latency.Mean),
			i(r.Handshake.P50), i(r.Handshake.P99), u(r.ErrorCount()),
			u(in.Sent), u(in.Received), u(in.Lost), u(in.Duplicated), u(in.Reordered), u(in.Corrupt),
			of(r.ServerCPUS), of(r.ServerCPUPerMillion), ou(r.ServerRSSPeakBytes), ou(r.ServerRSSMeanBytes),
			of(r.ServerMemPerConnBytes), f(r.ClientCPUS), f(r.ClientCPUUtil), f(r.ClientCPUPerMillion),
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
