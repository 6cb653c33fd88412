package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/wsbench/wsbench/profile"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/runner"
)

// progress shows the run on stderr: a live status line redrawn each second
// when stderr is a terminal, otherwise one line per phase, so logs stay
// readable. It never writes to stdout, which carries the table or JSON.
type progress struct {
	w      io.Writer
	tty    bool
	driver string
	// rateLabel names the live message rate in the scenario's words
	// ("pongs/s"); empty when the scenario's headline is not a message
	// rate (connect counts connections), so no rate is shown live.
	rateLabel string
	last      string // last phase announced, to print each once on non-terminals
	drawn     bool
}

func newProgress(w io.Writer, driver, scenario string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	p := &progress{w: w, tty: tty, driver: driver}
	if th := profile.Lookup(scenario).Throughput; th.Source == "messages" {
		p.rateLabel = th.Label
	}
	return p
}

func (p *progress) event(e runner.Event) {
	who := e.Cell.Describe(p.driver)
	if e.Record != nil {
		p.clear()
		fmt.Fprintf(p.w, "%s: %s\n", who, summary(e.Record))
		p.last = ""
		return
	}
	line := fmt.Sprintf("%s: %s", who, e.Phase)
	if e.Length > 0 {
		line += fmt.Sprintf(" %.0fs/%s", e.Elapsed.Seconds(), e.Length)
		if e.Rate > 0 && p.rateLabel != "" {
			line += fmt.Sprintf("  %s %s", groupDigits(uint64(e.Rate)), p.rateLabel)
		}
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if key := who + e.Phase; key != p.last {
		p.last = key
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progress) finish() { p.clear() }

// summary is the one-line outcome of a cell shown as it finishes: the
// headline its scenario declares (a connect storm's connections per second
// and handshake time, not a message rate it never had).
func summary(r *report.Record) string {
	if r.Status == report.StatusFailed {
		return "FAILED: " + r.Reason
	}
	p := report.ProfileOf(*r)
	rate, _ := report.Headline(*r)
	lat := report.HeadlineLatency(*r)
	parts := []string{
		fmt.Sprintf("%s %s", groupDigits(uint64(rate+0.5)), p.Throughput.Label),
		fmt.Sprintf("%sp50 %dµs p99 %dµs", p.Latency.Prefix, lat.P50, lat.P99),
	}
	if n := r.ErrorCount(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", n))
	}
	if f := r.Integrity.Faults(); f > 0 {
		parts = append(parts, fmt.Sprintf("%d integrity faults", f))
	}
	switch r.Status {
	case report.StatusInterrupted:
		parts = append(parts, r.Reason)
	case report.StatusDegraded:
		parts = append(parts, "DEGRADED: "+r.Reason)
	}
	return strings.Join(parts, ", ")
}

func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
