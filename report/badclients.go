package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter/tw"

	"github.com/wsbench/wsbench/badclients"
)

// BadClients is what the misbehaving connections of a cell (run
// --bad-clients) did and cost. The clean cell of a pair carries one too,
// with Spec "none", so the two are told apart and paired; the record's
// headline figures are the good clients' in both.
type BadClients struct {
	// Spec is the canonical --bad-clients value ("non-reader=10"), or
	// "none" for the clean cell of the pair.
	Spec string `json:"spec"`
	// Kinds are the bad clients of each kind and how the server dealt
	// with them.
	Kinds []BadKind `json:"kinds,omitempty"`
	// Server is the reference server's footprint before the bad clients
	// connected and once they all had begun misbehaving (nil for a
	// --target, whose process wsbench cannot see).
	Server *BadFootprint `json:"server,omitempty"`
	// Killed says the runner killed the server at --server-mem-cap;
	// KilledAtBytes is the RSS it read then.
	Killed        bool   `json:"killed_at_cap,omitempty"`
	KilledAtBytes uint64 `json:"killed_at_bytes,omitempty"`
	// CapBytes is the server memory cap in force.
	CapBytes uint64 `json:"cap_bytes,omitempty"`
	// Error is why the bad clients could not start, if they could not.
	Error string `json:"error,omitempty"`
}

// Clean reports whether b is the clean cell of a pair.
func (b *BadClients) Clean() bool { return b != nil && b.Spec == "none" }

// BadKind is one kind's clients in a cell.
type BadKind struct {
	Kind string `json:"kind"`
	Arg  string `json:"arg,omitempty"`
	// Clients of this kind were started; Failed never got to misbehave
	// (refused at the door, say).
	Clients int `json:"clients"`
	Failed  int `json:"failed,omitempty"`
	// How the server ended the others: a close frame by code, a reset, an
	// EOF without a close frame; Open were still connected when the cell
	// ended; SeenAtEnd of the dropped were only found dropped then (no
	// drop time: a non-reader's FIN waits behind the data it never read).
	ClosedByCode map[string]int `json:"closed_by_code,omitempty"`
	Reset        int            `json:"reset"`
	EOF          int            `json:"eof"`
	Open         int            `json:"open"`
	SeenAtEnd    int            `json:"seen_at_end,omitempty"`
	// DropTime is, for each client the server dropped while it watched,
	// the time from its misbehaviour starting to the drop.
	DropTime *Latency `json:"drop_time_us,omitempty"`
	// Sent and Received are the bad clients' bytes (or pings) written
	// and read.
	Sent     uint64         `json:"sent,omitempty"`
	Received uint64         `json:"received,omitempty"`
	Errors   map[string]int `json:"errors,omitempty"`
}

// Dropped are the clients of k the server ended, by any means.
func (k BadKind) Dropped() int {
	n := k.Reset + k.EOF
	for _, c := range k.ClosedByCode {
		n += c
	}
	return n
}

// BadFootprint is the server before and with the bad clients, and the
// difference per bad client.
type BadFootprint struct {
	Before ServerFootprint `json:"before"`
	With   ServerFootprint `json:"with"`
	// PerClient is (With − Before) / the bad clients started.
	PerClient FootprintDelta `json:"per_bad_client"`
}

// ServerFootprint is what a server process holds at one moment.
type ServerFootprint struct {
	RSSBytes   uint64 `json:"rss_bytes"`
	HeapBytes  uint64 `json:"heap_alloc_bytes"`
	Goroutines int    `json:"goroutines"`
	OpenFiles  int    `json:"open_files"`
}

// FootprintDelta is a footprint's growth per bad client.
type FootprintDelta struct {
	RSSBytes   float64 `json:"rss_bytes"`
	HeapBytes  float64 `json:"heap_alloc_bytes"`
	Goroutines float64 `json:"goroutines"`
	OpenFiles  float64 `json:"open_files"`
}

// Growth is with − before, per client.
func Growth(before, with ServerFootprint, clients int) FootprintDelta {
	if clients <= 0 {
		return FootprintDelta{}
	}
	n := float64(clients)
	return FootprintDelta{
		RSSBytes:   (float64(with.RSSBytes) - float64(before.RSSBytes)) / n,
		HeapBytes:  (float64(with.HeapBytes) - float64(before.HeapBytes)) / n,
		Goroutines: float64(with.Goroutines-before.Goroutines) / n,
		OpenFiles:  float64(with.OpenFiles-before.OpenFiles) / n,
	}
}

// BadVerdict is the verdict on one server (or target) and one bad-clients
// spec: the bad cells against the clean cells of their pairs.
type BadVerdict struct {
	Server, Driver, Spec string
	Clean, Bad           int // cells of each
	Verdict              badclients.Verdict
	// Drop summarises how the bad clients were dropped, over the bad
	// cells: "close 1009 ×10 in 2 ms p50", "never (10 open)".
	Drop string
	// PerClient is the server's growth per bad client, median over the
	// bad cells (nil for a --target).
	PerClient *FootprintDelta
}

// BadVerdicts pairs every bad cell in rs with the clean cells of the same
// server, driver and scenario parameters and judges each (server, spec)
// with badclients.ServerVerdict. Cells that failed on their own (not by
// the server's death) are left out of the figures.
func BadVerdicts(rs []Record) []BadVerdict {
	type key struct{ cell, spec string }
	clean := map[string][]badclients.Figures{}
	cleanStalls := map[string]bool{} // a clean cell with an empty second: seconds without messages are normal there
	bad := map[key][]Record{}
	var order []key
	for _, r := range rs {
		if r.BadClients == nil {
			continue
		}
		cell := r.cellKey(true, false)
		if r.BadClients.Clean() {
			if r.Usable() {
				clean[cell] = append(clean[cell], goodFigures(r))
				cleanStalls[cell] = cleanStalls[cell] || stalled(r)
			}
			continue
		}
		k := key{cell, r.BadClients.Spec}
		if _, seen := bad[k]; !seen {
			order = append(order, k)
		}
		bad[k] = append(bad[k], r)
	}
	var out []BadVerdict
	for _, k := range order {
		cells := bad[k]
		first := cells[0]
		server := first.Server
		if first.Variant != "" {
			server += "@" + first.Variant
		}
		v := BadVerdict{Server: server, Driver: first.Driver, Spec: k.spec, Clean: len(clean[k.cell]), Bad: len(cells)}
		if v.Server == "" {
			v.Server = first.Target
		}
		// The worst bad cell speaks for the pair: a stall in one run of
		// three is a stall.
		var worst badclients.Verdict
		var unmeasured []string
		for _, r := range cells {
			if why := noMisbehaviour(r.BadClients); why != "" && !r.BadClients.Killed {
				unmeasured = append(unmeasured, why)
				continue // a clean cell by another name: it judges nothing
			}
			cell := badclients.BadCell{Figures: goodFigures(r), Stalled: stalled(r) && !cleanStalls[k.cell]}
			if r.BadClients.Killed {
				cell.Killed, cell.Reason = true, fmt.Sprintf("killed at the %s memory cap (RSS %s)", fmtBytes(float64(r.BadClients.CapBytes)), fmtBytes(float64(r.BadClients.KilledAtBytes)))
			} else if r.Status == StatusFailed && strings.Contains(r.Reason, "server") {
				cell.Crashed, cell.Reason = true, r.Reason
			}
			got, err := badclients.ServerVerdict(clean[k.cell], cell)
			if err != nil {
				got = badclients.Verdict{Class: "no clean cell", Reason: err.Error()}
			}
			if worse(got.Class, worst.Class) {
				worst = got
			}
		}
		if worst.Class == "" && len(unmeasured) > 0 {
			worst = badclients.Verdict{Class: NotMeasured, Reason: unmeasured[0]}
		}
		v.Verdict = worst
		v.Drop = dropSummary(cells)
		v.PerClient = medianGrowth(cells)
		out = append(out, v)
	}
	return out
}

// NotMeasured is the verdict of a pair whose bad clients never got to
// misbehave: the "bad" cells ran with good clients only.
const NotMeasured badclients.Class = "not measured"

// noMisbehaviour says why no bad client of b got to misbehave (it could
// not start, or every one failed to connect); "" when some did.
func noMisbehaviour(b *BadClients) string {
	if b.Error != "" {
		return "the bad clients did not start: " + b.Error
	}
	started := 0
	var errs []string
	for _, k := range b.Kinds {
		started += k.Clients - k.Failed
		for e := range k.Errors {
			errs = append(errs, k.Kind+": "+e)
		}
	}
	if started > 0 {
		return ""
	}
	slices.Sort(errs)
	if len(errs) == 0 {
		return "no bad client got to misbehave"
	}
	return "no bad client got to misbehave (" + strings.Join(errs, "; ") + ")"
}

// classOrder ranks the classes from best to worst.
var classOrder = []badclients.Class{"", badclients.Unaffected, badclients.Degraded, badclients.Stalled, badclients.Killed}

func worse(a, b badclients.Class) bool {
	ia, ib := slices.Index(classOrder, a), slices.Index(classOrder, b)
	if ia < 0 {
		ia = len(classOrder) // "no clean cell": worst, it judged nothing
	}
	if ib < 0 {
		ib = len(classOrder)
	}
	return ia > ib
}

// goodFigures are a record's good-client figures for the verdict.
func goodFigures(r Record) badclients.Figures {
	f := badclients.Figures{P99Us: float64(r.Latency.P99), Throughput: r.ThroughputMsgsPerS, Completeness: -1}
	if r.Broadcast != nil && r.Integrity.Sent > 0 {
		f.Completeness = float64(r.Integrity.Received) / float64(r.Integrity.Sent)
	}
	return f
}

// stalled reports whether the good clients of r made no progress for a
// whole second of the window while connected: a per-second point of the
// series with no message in it.
func stalled(r Record) bool {
	if len(r.Series) < 2 {
		return r.Messages == 0 && r.DurationS > 0
	}
	for _, p := range r.Series {
		if p.Messages == 0 {
			return true
		}
	}
	return false
}

// dropSummary says how the bad clients of cells ended, summed over the
// cells: by close code, reset, EOF, or open; with the p50 drop time of the
// first cell that timed any.
func dropSummary(cells []Record) string {
	counts := map[string]int{}
	var p50 string
	for _, r := range cells {
		for _, k := range r.BadClients.Kinds {
			for code, n := range k.ClosedByCode {
				counts["close "+code] += n
			}
			counts["reset"] += k.Reset
			counts["EOF"] += k.EOF
			counts["open"] += k.Open
			counts["failed"] += k.Failed
			if p50 == "" && k.DropTime != nil && k.DropTime.Count > 0 {
				p50 = fmtUs(k.DropTime.P50)
			}
		}
	}
	var parts []string
	for _, name := range sortedKeys(counts) {
		if counts[name] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, counts[name]))
		}
	}
	s := strings.Join(parts, ", ")
	if p50 != "" {
		s += "; p50 " + p50
	}
	return s
}

// medianGrowth is the median per-client growth over cells that measured
// it.
func medianGrowth(cells []Record) *FootprintDelta {
	var ds []FootprintDelta
	for _, r := range cells {
		if s := r.BadClients.Server; s != nil {
			ds = append(ds, s.PerClient)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	med := func(f func(FootprintDelta) float64) float64 {
		v := make([]float64, len(ds))
		for i, d := range ds {
			v[i] = f(d)
		}
		return median(v)
	}
	return &FootprintDelta{
		RSSBytes:   med(func(d FootprintDelta) float64 { return d.RSSBytes }),
		HeapBytes:  med(func(d FootprintDelta) float64 { return d.HeapBytes }),
		Goroutines: med(func(d FootprintDelta) float64 { return d.Goroutines }),
		OpenFiles:  med(func(d FootprintDelta) float64 { return d.OpenFiles }),
	}
}

// BadVerdictTable is the verdict table of the bad-clients cells of rs:
// one row per server and spec, and a line per verdict worth a reason;
// nil rows when no record has bad clients. When every row has the same
// spec (one run's), the title names it and the table has no column for
// it, so it fits a terminal. Text, markdown and the HTML report show the
// same rows.
func BadVerdictTable(rs []Record) (title string, header []string, rows [][]string, reasons []string) {
	vs := BadVerdicts(rs)
	if len(vs) == 0 {
		return "", nil, nil, nil
	}
	oneSpec := !slices.ContainsFunc(vs, func(v BadVerdict) bool { return v.Spec != vs[0].Spec })
	title = "bad clients: what they did to the good clients (each bad cell against the clean cells of its pair)"
	header = []string{"server", "bad clients", "verdict", "good p99", "good msgs/s", "dropped by the server", "server per bad client"}
	if oneSpec {
		title = "bad clients " + vs[0].Spec + ": what they did to the good clients (each bad cell against the clean cells of its pair)"
		header = slices.Delete(header, 1, 2)
	}
	for _, v := range vs {
		per := na
		if g := v.PerClient; g != nil {
			per = fmt.Sprintf("%s RSS, %s goroutines, %s fds", fmtBytesSigned(g.RSSBytes), trimFloat(g.Goroutines), trimFloat(g.OpenFiles))
		}
		p99, tput := "-", "-"
		if v.Verdict.P99Ratio > 0 {
			p99 = fmt.Sprintf("×%.2f", v.Verdict.P99Ratio)
		}
		if v.Verdict.ThroughputRatio > 0 || v.Verdict.Class == badclients.Stalled {
			tput = fmt.Sprintf("×%.2f", v.Verdict.ThroughputRatio)
		}
		row := []string{v.Server, v.Spec, string(v.Verdict.Class), p99, tput, v.Drop, per}
		if oneSpec {
			row = slices.Delete(row, 1, 2)
		}
		rows = append(rows, row)
		reason := ""
		if v.Verdict.Reason != "" && v.Verdict.Class != badclients.Unaffected {
			reason = v.Verdict.Reason
		}
		if v.Clean < 3 {
			reason = strings.TrimPrefix(reason+fmt.Sprintf("; judged against %d clean cell(s), too few to know this machine's noise (--runs 3 or more)", v.Clean), "; ")
		}
		if reason != "" {
			who := v.Server
			if !oneSpec {
				who += " · " + v.Spec
			}
			reasons = append(reasons, who+": "+reason)
		}
	}
	return title, header, rows, reasons
}

// BadSettings is the line of the fairness manifest's settings that bear
// on bad clients, and a line per server that could not apply some ("" and
// nil for a --target).
func BadSettings(res *Result) (string, []string) {
	s := res.ServerSettings
	if len(s) == 0 {
		return "", nil
	}
	var parts []string
	for _, k := range []string{"read_limit_bytes", "handshake_timeout_ns", "write_timeout_ns", "idle_timeout_ns", "broadcast_queue", "slow_consumer"} {
		if _, ok := s[k]; ok {
			parts = append(parts, k+"="+manifestValue(res, k))
		}
	}
	var exc []string
	for _, name := range sortedKeys(res.ServerExceptions) {
		if ex := res.ServerExceptions[name]; len(ex) > 0 {
			exc = append(exc, fmt.Sprintf("%s cannot apply: %s", name, strings.Join(ex, "; ")))
		}
	}
	return "the servers' settings that bear on bad clients (fairness manifest): " + strings.Join(parts, ", "), exc
}

// RenderBadVerdicts writes the verdict table of the bad-clients cells of
// res with the servers' relevant fairness settings beside it, laid out as
// the result tables are (wrapped to the terminal, or markdown); nothing
// when no record has bad clients.
func RenderBadVerdicts(w io.Writer, res *Result, markdown bool) error {
	title, header, rows, reasons := BadVerdictTable(res.Records)
	if rows == nil {
		return nil
	}
	l := layout{markdown: markdown}
	fmt.Fprintln(w)
	l.prose(w, title, false)
	if markdown {
		fmt.Fprintln(w)
	}
	align := make([]tw.Align, len(header))
	for i, h := range header {
		align[i] = tw.AlignLeft
		if strings.HasPrefix(h, "good ") {
			align[i] = tw.AlignRight
		}
	}
	if err := writeTable(w, markdown, header, align, rows); err != nil {
		return err
	}
	if markdown {
		fmt.Fprintln(w)
	}
	for _, r := range reasons {
		l.item(w, r)
	}
	if line, exc := BadSettings(res); line != "" {
		l.item(w, line)
		for _, e := range exc {
			l.item(w, e)
		}
	}
	return nil
}

// fmtBytesSigned is a byte count that may be negative (a server that
// freed memory as the bad clients came).
func fmtBytesSigned(b float64) string {
	if b < 0 {
		return "-" + fmtBytes(-b)
	}
	return fmtBytes(b)
}

// mergeBadClients adds the bad clients of a cell's shards: each shard ran
// its share of every kind (the cell's spec is the whole's), so the kinds'
// counts add and their drop times merge through their histograms. The
// server's footprint is of one server read by each shard at its own
// moment: no sum of them is exact, so it is left out (named in dropped).
func mergeBadClients(rs []Record) (b *BadClients, dropped []string, err error) {
	for _, r := range rs {
		x := r.BadClients
		if x == nil {
			continue
		}
		if b == nil {
			b = &BadClients{Spec: x.Spec, CapBytes: x.CapBytes}
		}
		if x.Spec != b.Spec {
			return nil, nil, fmt.Errorf("shards of one cell with different bad clients: %s and %s", b.Spec, x.Spec)
		}
		if x.Server != nil && !slices.Contains(dropped, "bad_clients.server") {
			dropped = append(dropped, "bad_clients.server")
		}
		b.Killed = b.Killed || x.Killed
		b.KilledAtBytes = max(b.KilledAtBytes, x.KilledAtBytes)
		if x.Error != "" {
			b.Error = strings.TrimPrefix(b.Error+"; "+fmt.Sprintf("shard %d: %s", r.Shard.Index, x.Error), "; ")
		}
		for _, k := range x.Kinds {
			i := slices.IndexFunc(b.Kinds, func(m BadKind) bool { return m.Kind == k.Kind })
			if i < 0 {
				b.Kinds = append(b.Kinds, BadKind{Kind: k.Kind, Arg: k.Arg})
				i = len(b.Kinds) - 1
			}
			if err := addBadKind(&b.Kinds[i], k); err != nil {
				return nil, nil, fmt.Errorf("bad clients %s: %w", k.Kind, err)
			}
		}
	}
	return b, dropped, nil
}

// addBadKind adds one shard's clients of a kind into m.
func addBadKind(m *BadKind, k BadKind) error {
	m.Clients += k.Clients
	m.Failed += k.Failed
	m.Reset += k.Reset
	m.EOF += k.EOF
	m.Open += k.Open
	m.SeenAtEnd += k.SeenAtEnd
	m.Sent += k.Sent
	m.Received += k.Received
	for code, n := range k.ClosedByCode {
		if m.ClosedByCode == nil {
			m.ClosedByCode = map[string]int{}
		}
		m.ClosedByCode[code] += n
	}
	for e, n := range k.Errors {
		if m.Errors == nil {
			m.Errors = map[string]int{}
		}
		m.Errors[e] += n
	}
	var err error
	m.DropTime, err = addLatencyPtr(m.DropTime, k.DropTime)
	return err
}
