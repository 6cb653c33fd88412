package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
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
	// MaxClampedShare is the share of a latency histogram's values that may
	// sit clamped at its ceiling (60 s; an hour for fault→back) in an ok cell: 0.1%, so p99.9 and
	// every percentile below it is a measured value. A clamped value is a
	// lower bound, like a message never answered, so past
	// MaxMessageFaultShare (p99 itself a lower bound) the cell is failed.
	MaxClampedShare = 0.001
	// MaxNotBackShare is the share of the connections lost to a fault that
	// may still be reconnecting when a reconnect window closes in an ok
	// cell: 1%, room for the last few in a jittered backoff. Beyond it the
	// cell is degraded; with none back it is failed (no recovery figure
	// is known).
	MaxNotBackShare = 0.01
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
var verdictChecks = []verdictCheck{checkCompleted, checkFault, checkMessageFaults, checkMissing, checkMissedPongs,
	checkClamped, checkNotBack, checkErrors, checkBroken}

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

// checkMissedPongs counts, in a heartbeat, the pings whose pong did not come
// within the pong timeout against the message bound: a missed pong is a
// message never answered (its latency a lower bound), judged as
// checkMissing judges those. Reconnect records none: there a missed pong
// is how a connection detects the fault.
func checkMissedPongs(r Record) (string, string) {
	h := r.Heartbeat
	if h == nil || h.Missed == 0 {
		return "", ""
	}
	s := share(h.Missed, h.Pings)
	timeout := time.Duration(h.PongTimeoutS * float64(time.Second))
	return bounded(s, MaxMessageFaultShare), fmt.Sprintf("%s of %s pings got no pong within %s (missed pongs %s; bound %s)",
		fmtCount(h.Missed), fmtCount(h.Pings), timeout, pct(s), pct(MaxMessageFaultShare))
}

// checkClamped looks at every latency histogram of the record (the main
// one, the open-loop service time, a scenario's distributions) for values
// clamped at the histogram's ceiling: up to MaxClampedShare they are a tail the
// table's percentiles do not reach; beyond it the cell is degraded, and
// beyond MaxMessageFaultShare failed, since its p99 is then the ceiling.
func checkClamped(r Record) (string, string) {
	type named struct {
		name string
		l    Latency
	}
	all := []named{{"latency", r.Latency}}
	if r.ServiceTime != nil {
		all = append(all, named{"service time", *r.ServiceTime})
	}
	for _, name := range slices.Sorted(maps.Keys(r.Distributions)) {
		all = append(all, named{name + " distribution", r.Distributions[name]})
	}
	status := ""
	var lines []string
	for _, h := range all {
		if h.l.Clamped == 0 {
			continue
		}
		s := share(h.l.Clamped, uint64(h.l.Count))
		if s <= MaxClampedShare {
			continue
		}
		if st := bounded(s, MaxMessageFaultShare); status != StatusFailed {
			status = st
		}
		lines = append(lines, fmt.Sprintf("%s: %s of %s values clamped at the histogram's %s (%s; bound %s)",
			h.name, fmtCount(h.l.Clamped), fmtCount(uint64(h.l.Count)), ceiling(h.l), pct(s), pct(MaxClampedShare)))
	}
	return status, strings.Join(lines, "; ")
}

// checkNotBack counts, in a reconnect cell, the connections lost to the
// fault that were not back when the window closed (figure never_recovered,
// of lost_after_fault).
func checkNotBack(r Record) (string, string) {
	never, lost := r.Figures["never_recovered"], r.Figures["lost_after_fault"]
	if never <= 0 || lost <= 0 {
		return "", ""
	}
	s := never / lost
	if s <= MaxNotBackShare {
		return "", ""
	}
	status := StatusDegraded
	if never >= lost {
		status = StatusFailed
	}
	return status, fmt.Sprintf("%s of %s connections lost to the fault not back when the window closed (never recovered %s; bound %s)",
		fmtCount(uint64(never)), fmtCount(uint64(lost)), pct(s), pct(MaxNotBackShare))
}

// checkFault fails a cell whose fault could not be played as asked: the
// runner could not act on the server (Fault.Error), or the user's
// --fault-cmd exited non-zero, so the fault may never have happened and
// the figures describe an unknown event.
func checkFault(r Record) (string, string) {
	f := r.Fault
	switch {
	case f == nil:
		return "", ""
	case f.Error != "":
		return StatusFailed, "fault " + f.Kind + " not played: " + f.Error
	case f.CmdExit != nil && *f.CmdExit != 0:
		line := fmt.Sprintf("fault not played: --fault-cmd exited with %d (bound: exit 0)", *f.CmdExit)
		if f.CmdOutput != "" {
			line += ": " + f.CmdOutput
		}
		return StatusFailed, line
	}
	return "", ""
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
	label := r.Server
	if r.Variant != "" {
		label += "@" + r.Variant
	}
	if b := r.BadClients; b != nil && label != "" {
		label += " +" + b.Spec // "gorilla +none", "gorilla +non-reader=10"
	}
	return label
}

// Usable reports whether a record's numbers may be shown as results:
// ok, or degraded (shown beside its faults).
func (r Record) Usable() bool { return r.Status == StatusOK || r.Status == StatusDegraded }

// ceiling names the largest value l's histogram holds ("60 s ceiling";
// fault→back goes to an hour), read from the histogram itself.
func ceiling(l Latency) string {
	h, err := l.Histogram()
	if err != nil || h == nil {
		return "ceiling"
	}
	return fmt.Sprintf("%g s ceiling", (time.Duration(h.HighestTrackableValue()) * time.Microsecond).Seconds())
}
