package report

import (
	"fmt"
	"strings"
)

// The bounds of a verdict. A cell with any fault is at least degraded; one
// whose faults pass a bound below is failed, because its headline figures
// then describe a broken exchange rather than the server.
const (
	// MaxMessageFaultShare is the share of messages (of Integrity.Sent, or
	// of Messages when nothing was counted as sent) that may be lost,
	// duplicated, reordered or corrupt in a degraded cell: 1%.
	MaxMessageFaultShare = 0.01
	// MaxErrorShare is how many errors (failed dials, read and write
	// failures) a degraded cell may have, as a share of the connections
	// attempted: 5%.
	MaxErrorShare = 0.05
	// MaxBrokenShare is the share of the measured window's
	// connection-seconds (Series[].BrokenConn summed ÷ established
	// connections × seconds) a degraded cell may have lost to broken
	// connections: 10%. A server killed halfway through loses about half.
	MaxBrokenShare = 0.10
)

// Verdict is whether a cell's numbers can be used, and why not.
type Verdict struct {
	// Status is StatusOK, StatusDegraded or StatusFailed.
	Status string
	// Reasons name each fault found, with its share and bound.
	Reasons []string
}

// verdictCheck looks at one kind of fault: failed reports it beyond its
// bound, degraded within it; a check with nothing to say returns "".
type verdictCheck func(r Record) (status, reason string)

// verdictChecks are applied in order; the worst status wins. Add a check
// here to make another kind of fault count.
var verdictChecks = []verdictCheck{checkCompleted, checkMessageFaults, checkMissing, checkErrors, checkBroken}

// Judge classifies a record measured to the end from its counts. A record
// already failed or interrupted keeps its status; Judge only looks at
// records the runner left ok (or degraded, when judging again).
func Judge(r Record) Verdict {
	if r.Status != StatusOK && r.Status != StatusDegraded && r.Status != "" {
		return Verdict{Status: r.Status, Reasons: nonEmpty(r.Reason)}
	}
	v := Verdict{Status: StatusOK}
	var within []string // faults within their bounds, listed after those past them
	for _, check := range verdictChecks {
		status, reason := check(r)
		if reason == "" {
			continue
		}
		if status == StatusFailed {
			v.Status = StatusFailed
			v.Reasons = append(v.Reasons, reason)
			continue
		}
		within = append(within, reason)
		if v.Status == StatusOK {
			v.Status = status
		}
	}
	v.Reasons = append(v.Reasons, within...)
	return v
}

// ApplyVerdict sets the record's Status and Reason from Judge.
func ApplyVerdict(r *Record) {
	v := Judge(*r)
	if v.Status == r.Status && (v.Status != StatusOK && v.Status != StatusDegraded) {
		return // failed or interrupted by the runner: its reason stands
	}
	r.Status = v.Status
	r.Reason = strings.Join(v.Reasons, "; ")
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func share(n, of uint64) float64 {
	if of == 0 {
		return 1
	}
	return float64(n) / float64(of)
}

func pct(f float64) string {
	switch {
	case f >= 0.1:
		return fmt.Sprintf("%.0f%%", 100*f)
	case f >= 0.001:
		return fmt.Sprintf("%.1f%%", 100*f)
	}
	return fmt.Sprintf("%.3f%%", 100*f)
}

// bounded says failed or degraded for a fault share against its bound.
func bounded(s, bound float64) string {
	if s > bound {
		return StatusFailed
	}
	return StatusDegraded
}

func checkCompleted(r Record) (string, string) {
	if ProfileOf(r).Throughput.Source == "connections" {
		if r.Connect.Established == 0 {
			return StatusFailed, "no connection was established"
		}
		return "", ""
	}
	if r.Messages == 0 || r.Latency.Count == 0 {
		return StatusFailed, "nothing completed in the measured window"
	}
	return "", ""
}

func checkMessageFaults(r Record) (string, string) {
	in := r.Integrity
	n := in.Faults()
	if n == 0 {
		return "", ""
	}
	of := in.Sent
	if of == 0 {
		of = r.Messages
	}
	s := share(n, of)
	return bounded(s, MaxMessageFaultShare), fmt.Sprintf("%s of %s messages lost, duplicated, reordered or corrupt (%s; bound %s)",
		fmtCount(n), fmtCount(of), pct(s), pct(MaxMessageFaultShare))
}

// checkMissing counts the messages due in the window that were never sent
// or never answered (Accounting) against the same bound as message faults:
// their latencies are lower bounds, so past it the percentiles say little.
func checkMissing(r Record) (string, string) {
	a := r.Accounting
	n := a.Missing()
	if n == 0 {
		return "", ""
	}
	s := share(n, a.Due)
	return bounded(s, MaxMessageFaultShare), fmt.Sprintf("%s of %s due in the window never sent or never answered (%s; bound %s)",
		fmtCount(n), fmtCount(a.Due), pct(s), pct(MaxMessageFaultShare))
}

func checkErrors(r Record) (string, string) {
	n := r.ErrorCount()
	if n == 0 {
		return "", ""
	}
	of := uint64(max(r.Connect.Attempted, r.Conns))
	s := share(n, of)
	return bounded(s, MaxErrorShare), fmt.Sprintf("%s errors over %s connections (%s; bound %s)",
		fmtCount(n), fmtCount(of), pct(s), pct(MaxErrorShare))
}

func checkBroken(r Record) (string, string) {
	if len(r.Series) == 0 || r.Connect.Established == 0 {
		return "", ""
	}
	var broken uint64
	for _, sec := range r.Series {
		broken += uint64(sec.BrokenConn)
	}
	if broken == 0 {
		return "", ""
	}
	s := share(broken, uint64(r.Connect.Established)*uint64(len(r.Series)))
	return bounded(s, MaxBrokenShare), fmt.Sprintf("connections broken for %s of the measured window's connection-seconds (bound %s)",
		pct(s), pct(MaxBrokenShare))
}

// ServerLabel names the record's server for a reader: "gorilla", or
// "gorilla@pr" for variant pr of an A/B run.
func (r Record) ServerLabel() string {
	if r.Variant != "" {
		return r.Server + "@" + r.Variant
	}
	return r.Server
}

// Usable reports whether a record's numbers may be shown as results:
// ok, or degraded (shown beside its faults).
func (r Record) Usable() bool { return r.Status == StatusOK || r.Status == StatusDegraded }
