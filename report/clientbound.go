package report

import (
	"fmt"
	"slices"
	"strings"
)

// The client-bound rules. The load generator limited a cell when either
// holds:
//
//   - saturation: its CPU time over the window reached ClientSaturatedCPU
//     of the CPUs it may run on;
//   - scheduling delay: its goroutines' wait for a CPU had a p99 of at least
//     ClientSchedFloorUs and at least ClientSchedShare of the latency p99,
//     so the measured tail is largely the generator's. The delay is held
//     against the p99, not the p50: any busy machine has a scheduling tail
//     above a fast server's median, but only when it rivals the measured
//     tail does that tail stop describing the server.
const (
	ClientSaturatedCPU = 0.9
	ClientSchedFloorUs = 200
	ClientSchedShare   = 0.5
)

// BoundRule names a client-bound rule.
type BoundRule string

// The rules.
const (
	RuleSaturated BoundRule = "CPU"
	RuleSchedule  BoundRule = "sched"
)

// Rules returns the rules that hold for the generator against the latency
// it measured.
func (g ClientGuard) Rules(lat Latency) []BoundRule {
	var rules []BoundRule
	if g.CPUUtil >= ClientSaturatedCPU {
		rules = append(rules, RuleSaturated)
	}
	if d := g.SchedDelay; d.Count > 0 && lat.Count > 0 && d.P99 >= ClientSchedFloorUs && float64(d.P99) >= ClientSchedShare*float64(lat.P99) {
		rules = append(rules, RuleSchedule)
	}
	return rules
}

// Judge sets Bound and Reasons by the rules: the runner's verdict on the
// generator, made once when the cell ends.
func (g *ClientGuard) Judge(lat Latency) {
	g.Reasons = nil
	for _, rule := range g.Rules(lat) {
		g.Reasons = append(g.Reasons, g.reason(rule, lat))
	}
	g.Bound = len(g.Reasons) > 0
}

// reason says, with its figures, why one rule holds.
func (g ClientGuard) reason(rule BoundRule, lat Latency) string {
	if rule == RuleSaturated {
		return fmt.Sprintf("load generator CPU at %.0f%% of its %s (saturated: %.0f%% or more)", 100*g.CPUUtil, cpuCount(g.CPUs), 100*ClientSaturatedCPU)
	}
	return fmt.Sprintf("load generator scheduling delay p99 %s is at least half the latency p99 %s (its CPU at %.0f%% of %d: not saturated)",
		fmtUs(g.SchedDelay.P99), fmtUs(lat.P99), 100*g.CPUUtil, g.CPUs)
}

// boundRules are the rules that flagged r: judged again from its figures,
// so a file names the rule even when written before rules had names; nil
// when r is not client-bound.
//
// A merged record's rules are those that held for its shards, each judged
// against its own generator and latency: the merged figures (the busiest
// generator's CPU, every generator's delays pooled, every shard's latency)
// belong to no one generator the rules could be held against.
func boundRules(r Record) []BoundRule {
	if r.Client == nil || !r.Client.Bound {
		return nil
	}
	if m := r.Merged; m != nil && len(m.Clients) > 0 {
		var rules []BoundRule
		for _, rule := range []BoundRule{RuleSaturated, RuleSchedule} {
			if slices.ContainsFunc(m.Clients, func(c ShardClient) bool { return slices.Contains(c.Rules, rule) }) {
				rules = append(rules, rule)
			}
		}
		return rules
	}
	return r.Client.Rules(r.Latency)
}

// boundShards names the shards of a merged record whose generator was
// client-bound ("shard 1", "shards 0, 2", "all 3 shards"); "" for a
// record that is not merged.
func boundShards(r Record) string {
	m := r.Merged
	if m == nil || len(m.Clients) == 0 {
		return ""
	}
	var idx []string
	for _, c := range m.Clients {
		if c.Bound {
			idx = append(idx, fmt.Sprint(c.Index))
		}
	}
	switch {
	case len(idx) == 0:
		return ""
	case len(idx) == m.Shards && m.Shards > 1:
		return fmt.Sprintf("all %d shards", m.Shards)
	case len(idx) == 1:
		return "shard " + idx[0]
	}
	return "shards " + strings.Join(idx, ", ")
}

// boundCell is the client-bound column: which rule flagged the row.
func boundCell(r Record) string {
	if r.Client == nil || !r.Client.Bound {
		return "no"
	}
	rules := boundRules(r)
	if len(rules) == 0 {
		return "yes" // flagged by a rule this build no longer has
	}
	names := make([]string, len(rules))
	for i, x := range rules {
		names[i] = string(x)
	}
	if who := boundShards(r); who != "" {
		return strings.Join(names, "+") + " (" + who + ")"
	}
	return strings.Join(names, "+")
}

// boundNote is the line under a table for one client-bound row.
func boundNote(r Record) string {
	c := r.Client
	if r.Merged != nil && len(c.Reasons) > 0 {
		// Each names its shard and that generator's own figures.
		return "client-bound: " + strings.Join(c.Reasons, "; ")
	}
	var reasons []string
	for _, rule := range boundRules(r) {
		reasons = append(reasons, c.reason(rule, r.Latency))
	}
	if len(reasons) == 0 {
		reasons = c.Reasons
	}
	return "client-bound: " + strings.Join(reasons, "; ")
}

// clientBoundFooter explains a table's client-bound rows: which rule
// flagged them, with the figures; what that means for the scenario's
// numbers; how the table is ranked because of it; and what would give the
// generator headroom, fitting the scenario and the run (no --pin advice to
// a pinned run). With repeated runs each cell's flag is counted, "k of n
// runs". It returns no lines when no usable row is client-bound.
func clientBoundFooter(rs []Record, rk *ranking, pinning *Pinning, cores int) []string {
	var bound []Record
	for _, r := range rs {
		if r.Usable() && r.Client != nil && r.Client.Bound {
			bound = append(bound, r)
		}
	}
	if len(bound) == 0 {
		return nil
	}
	first := rs[0]
	p := ProfileOf(first)
	multiRun := slices.ContainsFunc(rs, func(r Record) bool { return r.Run > 1 })

	// Who: rows, or each cell's runs.
	var who string
	usable := 0
	for _, r := range rs {
		if r.Usable() {
			usable++
		}
	}
	switch {
	case len(bound) == usable && multiRun:
		who = fmt.Sprintf("every run of every row (%d)", usable)
	case len(bound) == usable:
		who = fmt.Sprintf("every row (%d)", usable)
	case multiRun:
		var order []string
		runs, flagged := map[string]int{}, map[string]int{}
		names := map[string]string{}
		for _, r := range rs {
			if !r.Usable() {
				continue
			}
			k := cellKey(r)
			if _, ok := runs[k]; !ok {
				order = append(order, k)
				names[k] = rowLabel(r)
			}
			runs[k]++
			if r.Client != nil && r.Client.Bound {
				flagged[k]++
			}
		}
		var parts []string
		for _, k := range order {
			if flagged[k] > 0 {
				parts = append(parts, fmt.Sprintf("%s in %d of %d runs", names[k], flagged[k], runs[k]))
			}
		}
		who = strings.Join(parts, ", ")
	default:
		var names []string
		for _, r := range bound {
			names = append(names, rowLabel(r))
		}
		who = fmt.Sprintf("%d of %d rows (%s)", len(bound), usable, strings.Join(names, ", "))
	}
	machine := "this machine"
	if cores > 0 {
		machine = fmt.Sprintf("this %d-core machine", cores)
	}
	lines := []string{fmt.Sprintf("client-bound: %s: on %s the load generator, not only the server, limited these numbers.", who, machine)}

	// Which rule, with its figures, and what it means here.
	var sat, sched []Record
	for _, r := range bound {
		rules := boundRules(r)
		if slices.Contains(rules, RuleSaturated) {
			sat = append(sat, r)
		}
		if slices.Contains(rules, RuleSchedule) {
			sched = append(sched, r)
		}
	}
	if len(sat) > 0 {
		util := rangeOf(sat, func(r Record) float64 { return 100 * r.Client.CPUUtil }, func(v float64) string { return fmt.Sprintf("%.0f", v) })
		s := fmt.Sprintf("CPU saturation (%s): the generator used %s%% of its %s (the rule: %.0f%% or more)",
			countRows(len(sat), multiRun), util, cpuCount(sat[0].Client.CPUs), 100*ClientSaturatedCPU)
		switch first.Mode {
		case "closed-loop":
			s += fmt.Sprintf(", so %s is its ceiling, not the server's", p.Throughput.Label)
		case "open-loop":
			s += fmt.Sprintf(", so it sent and read late and the %s includes its own queueing", p.Latency.What)
		default:
			s += fmt.Sprintf(", so the %s and the times measured include its own delays", p.Latency.What)
		}
		var client, server []float64
		for _, r := range sat {
			if perM := serverCPUPerM(r); r.ClientCPUPerMillion > 0 && perM != nil {
				client = append(client, r.ClientCPUPerMillion)
				server = append(server, *perM)
			}
		}
		if p.ClientPerMillion && len(client) > 0 {
			s += fmt.Sprintf(" (it spent %s CPU s per 1M %s, the servers %s)", trimFloat(median(client)), p.PerMillion, trimFloat(median(server)))
		}
		lines = append(lines, s+".")
	}
	if len(sched) > 0 {
		delay := rangeOf(sched, func(r Record) float64 { return float64(r.Client.SchedDelay.P99) }, func(v float64) string { return fmtUs(int64(v)) })
		lat := rangeOf(sched, func(r Record) float64 { return float64(r.Latency.P99) }, func(v float64) string { return fmtUs(int64(v)) })
		util := rangeOf(sched, func(r Record) float64 { return 100 * r.Client.CPUUtil }, func(v float64) string { return fmt.Sprintf("%.0f", v) })
		s := fmt.Sprintf("Scheduling delay (%s): the generator's goroutines waited p99 %s for a CPU, against a %s p99 of %s "+
			"(the rule: at least half, and %s or more), with its CPU at %s%% of %d: not saturated, but the latency tail is largely its own waiting",
			countRows(len(sched), multiRun), delay, p.Latency.What, lat, fmtUs(ClientSchedFloorUs), util, sched[0].Client.CPUs)
		if first.Mode == "closed-loop" {
			s += fmt.Sprintf(", and %s with it (closed loop)", p.Throughput.Label)
		}
		lines = append(lines, s+".")
	}
	if len(sat)+len(sched) < len(bound) {
		lines = append(lines, "Rows flagged by a rule this build does not apply keep the reasons recorded with them, in the notes above.")
	}

	// The ranking.
	switch {
	case rk != nil && rk.byCPU:
		lines = append(lines, fmt.Sprintf("The rows are ranked by %s (what the server spent per %s, which the generator's limit does not change), not by %s.",
			rk.label, singular(p.PerMillion), rk.instead))
	case rk != nil && p.PerMillion == "":
		lines = append(lines, fmt.Sprintf("This scenario has no per-message CPU figure, so the rows stay ranked by %s: read close ranks as ties.", rk.label))
	case rk != nil && slices.ContainsFunc(rs, func(r Record) bool { return serverCPUPerM(r) != nil }):
		lines = append(lines, fmt.Sprintf("Some rows have no server CPU figure, so the rows stay ranked by %s: read close ranks as ties.", rk.label))
	case rk != nil:
		lines = append(lines, fmt.Sprintf("Server CPU is unknown here (a --target), so the rows stay ranked by %s: read close ranks as ties.", rk.label))
	}

	// Headroom.
	var fixes []string
	if pinning == nil {
		fixes = append(fixes, "--pin (separate CPUs for the servers and the generator)")
	} else {
		fixes = append(fixes, fmt.Sprintf("more CPUs for the generator (it was pinned to %s %s: --client-cpus)", map[bool]string{false: "CPU", true: "CPUs"}[strings.ContainsAny(pinning.ClientCPUs, ",-")], pinning.ClientCPUs))
	}
	switch first.Mode {
	case "closed-loop":
		if first.Scenario == "echo" && first.Labels["inflight"] == "" {
			// One in flight: every message costs the generator a wake-up,
			// a read and a write, as much as it costs the server.
			fixes = append(fixes, "--inflight 8 for capacity (8 messages outstanding per connection: the generator then needs about half the server's CPU per message)")
		}
		fixes = append(fixes, "an open-loop --rate it can keep, for latency")
	case "open-loop":
		fixes = append(fixes, "a lower --rate")
	default:
		fixes = append(fixes, "fewer --conns")
	}
	lines = append(lines, "For headroom: "+strings.Join(fixes, ", or ")+".")
	return lines
}

// rowLabel names a row in the client-bound footer.
func rowLabel(r Record) string {
	s := r.ServerLabel()
	if r.File != "" {
		s = r.File + ": " + s
	}
	return s
}

// countRows says how many rows a rule flagged: rows, or runs when the
// cells were repeated.
func countRows(n int, runs bool) string {
	unit := "row"
	if runs {
		unit = "run"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// rangeOf is "v" or "lo–hi" of a figure over records.
func rangeOf(rs []Record, get func(Record) float64, format func(float64) string) string {
	lo, hi := get(rs[0]), get(rs[0])
	for _, r := range rs[1:] {
		lo, hi = min(lo, get(r)), max(hi, get(r))
	}
	if format(lo) == format(hi) {
		return format(lo)
	}
	return format(lo) + "–" + format(hi)
}

// cpuCount is "1 CPU" or "N CPUs".
func cpuCount(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "CPU", "CPUs")) }

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
