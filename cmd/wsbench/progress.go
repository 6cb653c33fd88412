package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

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
	last   string // last phase announced, to print each once on non-terminals
	drawn  bool
}

func newProgress(w io.Writer, driver string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, driver: driver}
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
		if e.Rate > 0 {
			line += fmt.Sprintf("  %s msgs/s", groupDigits(uint64(e.Rate)))
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

// summary is the one-line outcome of a cell shown as it finishes.
func summary(r *report.Record) string {
	if r.Status == report.StatusFailed {
		return "FAILED: " + r.Reason
	}
	parts := []string{
		fmt.Sprintf("%s msgs/s", groupDigits(uint64(r.ThroughputMsgsPerS+0.5))),
		fmt.Sprintf("p50 %dµs p99 %dµs", r.Latency.P50, r.Latency.P99),
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
