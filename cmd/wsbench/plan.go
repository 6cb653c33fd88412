package main

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/secret"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// Plan building: the flags of `wsbench run`, checked one by one, become a
// runner.Plan; every refusal names the flag at fault.

// shardParams reads --shard, --shards and --start-at.
func (o runOptions) shardParams(plan *runner.Plan) error {
	var s runner.Shard
	switch {
	case o.shard != "" && o.shards != 0:
		return usagef("--shard and --shards exclude each other: --shard I/N, or --shards N with $JOB_COMPLETION_INDEX")
	case o.shard != "":
		if _, err := fmt.Sscanf(o.shard, "%d/%d", &s.Index, &s.Count); err != nil || fmt.Sprintf("%d/%d", s.Index, s.Count) != o.shard {
			return usagef("--shard %q: want I/N such as 3/8 (I from 0 to N-1)", o.shard)
		}
	case o.shards != 0:
		s.Count = o.shards
		idx := os.Getenv("JOB_COMPLETION_INDEX")
		if _, err := fmt.Sscanf(idx, "%d", &s.Index); err != nil || strconv.Itoa(s.Index) != idx {
			return usagef("--shards %d: $JOB_COMPLETION_INDEX is %q, want the shard's index (a Kubernetes Indexed Job sets it)", o.shards, idx)
		}
	}
	if s.Count != 0 {
		if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
			return usagef("shard %d of %d: want 0 ≤ index < count", s.Index, s.Count)
		}
		if o.target == "" {
			return usagef("shards are load generators against one --target (start it with wsbench serve), not reference servers each starts itself")
		}
		if u, ok := plan.Scenario.(scenarios.Unshardable); ok {
			return usagef("--scenario %s cannot be sharded: %s", o.scenario, u.Unshardable())
		}
		plan.Shard = s
	}
	if o.source != "" {
		ips, err := parseSources(o.source)
		if err != nil {
			return err
		}
		if err := checkSources(ips); err != nil {
			return err
		}
		plan.Sources = ips
	}
	if o.startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, o.startAt)
		if err != nil {
			return usagef("--start-at %q: want an RFC 3339 instant such as 2026-12-01T10:00:00Z", o.startAt)
		}
		if time.Until(t) > 24*time.Hour {
			return usagef("--start-at %s is more than a day away", o.startAt)
		}
		plan.StartAt = t
	}
	return nil
}

// rateHint says, after a refused --rate, what leaving --rate out does for
// the scenario: the closed loop, or the scenario's default rate.
func rateHint(sc scenarios.Scenario) string {
	if d, ok := sc.(scenarios.DefaultRater); ok {
		return fmt.Sprintf("; without --rate, %s runs at %s msgs/s", sc.Name(), d.DefaultRate())
	}
	return "; for the closed loop leave --rate out"
}

// parseSources reads --source: addresses separated by commas, each an IP or
// an IPv4 range A-B on the last byte.
func parseSources(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a := net.ParseIP(from)
		if a == nil {
			return nil, usagef("--source %q: %q is not an IP address", s, from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b := net.ParseIP(to)
		a4, b4 := a.To4(), b.To4()
		if a4 == nil || b4 == nil || !slices.Equal(a4[:3], b4[:3]) || b4[3] < a4[3] {
			return nil, usagef("--source %q: a range is A-B of IPv4 addresses differing in the last byte, A ≤ B", s)
		}
		for i := int(a4[3]); i <= int(b4[3]); i++ {
			out = append(out, net.IPv4(a4[0], a4[1], a4[2], byte(i)))
		}
	}
	return out, nil
}

// scenarioParams applies the scenarios' declared options to p: the
// flags' values (defaults where not given), then the scenario's own
// checks between them.
func (o runOptions) scenarioParams(sc scenarios.Scenario, p *scenarios.Params) error {
	values := map[string]string{}
	for name, v := range o.options {
		values[name] = v()
	}
	c := scenarios.OptionContext{Target: o.target != "", Given: o.given}
	if err := scenarios.ApplyOptions(sc, p, values, c); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// plan turns the flags into a plan, checking each one and naming the flag at
// fault.
func (o runOptions) plan() (runner.Plan, report.Format, error) {
	var plan runner.Plan
	format, err := report.ParseFormat(o.format)
	if err != nil {
		return plan, "", usagef("--format: %v", err)
	}
	if format == report.HTML {
		return plan, "", usagef("--format html: use --html FILE to write the HTML report beside the table")
	}
	if plan.Scenario, err = scenarios.Lookup(o.scenario); err != nil {
		return plan, "", usagef("--scenario: %v", err)
	}
	if plan.Driver, err = drivers.Lookup(o.driver); err != nil {
		return plan, "", usagef("--driver: %v", err)
	}
	counts, err := parseConns(o.conns)
	if err != nil {
		return plan, "", err
	}
	if len(counts) > 1 {
		plan.ConnsList = counts
	}
	if o.runs < 1 {
		return plan, "", usagef("--runs %d: must be at least 1", o.runs)
	}
	p := scenarios.Params{Conns: counts[0], Text: o.text, Compression: o.compression}
	if p.Duration, err = parseDuration("duration", o.duration, false); err != nil {
		return plan, "", err
	}
	if p.Warmup, err = parseDuration("warmup", o.warmup, true); err != nil {
		return plan, "", err
	}
	if p.Payload, err = parseSize("payload", o.payload); err != nil {
		return plan, "", err
	}
	if p.ConnectRate, err = parseConnectRate(o.connectRate); err != nil {
		return plan, "", err
	}
	if err := o.rateParams(&plan, &p); err != nil {
		return plan, "", err
	}
	if err := o.scenarioParams(plan.Scenario, &p); err != nil {
		return plan, "", err
	}
	if err := o.shardParams(&plan); err != nil {
		return plan, "", err
	}
	if err := checkOpenFiles(counts, plan.Shard, o.target != ""); err != nil {
		return plan, "", err
	}
	if err := o.conn.apply(&plan, o.target != ""); err != nil {
		return plan, "", err
	}
	plan.Params, plan.Runs = p, o.runs
	if err := plan.Validate(); err != nil {
		return plan, "", usagef("%v", err)
	}
	plan.Settings = servers.DefaultSettings()
	plan.Settings.ReadLimit = max(plan.Settings.ReadLimit, int64(p.Payload))
	plan.Settings.Compression = p.Compression
	if err := o.placeLoad(&plan); err != nil {
		return plan, "", err
	}
	if err := o.bad.apply(&plan, counts, p.Compression, o.target); err != nil {
		return plan, "", err
	}
	return plan, format, nil
}

// parseConns reads --conns: one count or a comma-separated list, each within
// what one process can hold.
func parseConns(s string) ([]int, error) {
	var out []int
	for _, part := range splitList(s) {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, usagef("--conns %q: want a number of connections, or a list such as 2000,5000,10000", s)
		}
		if n < 1 {
			return nil, usagef("--conns %d: must be at least 1", n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, usagef("--conns: give a number of connections")
	}
	return out, nil
}

// pinning splits the CPUs this process may use between the servers and the
// load generator, or takes the lists given.
func (o runOptions) pinning() (server, client []int, err error) {
	if !o.pin && o.serverCPUs == "" && o.clientCPUs == "" {
		return nil, nil, nil
	}
	allowed, err := measure.AllowedCPUs(0)
	if err != nil {
		return nil, nil, fmt.Errorf("--pin: %w", err)
	}
	if len(allowed) < 2 && (o.serverCPUs == "" || o.clientCPUs == "") {
		return nil, nil, usagef("--pin needs at least 2 CPUs to split; this process may use %d", len(allowed))
	}
	half := len(allowed) / 2
	server, client = allowed[:half], allowed[half:]
	for _, f := range []struct {
		name, val string
		dst       *[]int
	}{{"server-cpus", o.serverCPUs, &server}, {"client-cpus", o.clientCPUs, &client}} {
		if f.val == "" {
			continue
		}
		cpus, err := measure.ParseCPUList(f.val)
		if err != nil {
			return nil, nil, usagef("--%s: %v", f.name, err)
		}
		for _, c := range cpus {
			if !slices.Contains(allowed, c) {
				return nil, nil, usagef("--%s %s: CPU %d is not one this process may use (%s)", f.name, f.val, c, measure.FormatCPUList(allowed))
			}
		}
		*f.dst = cpus
	}
	return server, client, nil
}

// parseRateSteps reads START:END:STEP into the rates to try.
func parseRateSteps(s string) ([]float64, error) {
	parts := strings.Split(s, ":")
	bad := usagef("--rate %q: want START:END:STEP, such as 5000:40000:5000", s)
	if len(parts) != 3 {
		return nil, bad
	}
	var v [3]float64
	for i, part := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad
		}
		if f <= 0 {
			return nil, usagef("--rate %q: START, END and STEP must each be more than zero", s)
		}
		v[i] = f
	}
	if v[1] < v[0] {
		return nil, usagef("--rate %q: END must not be below START", s)
	}
	var steps []float64
	for r := v[0]; r <= v[1]*(1+1e-9); r += v[2] {
		steps = append(steps, r)
		if len(steps) > 100 {
			return nil, usagef("--rate %q: more than 100 steps; take a larger STEP", s)
		}
	}
	return steps, nil
}

// rateParams reads --rate and --slo: the closed loop (no rate), one rate,
// or a capacity search over START:END:STEP against an objective.
func (o runOptions) rateParams(plan *runner.Plan, p *scenarios.Params) error {
	var err error
	rateFlag := o.rate
	if d, ok := plan.Scenario.(scenarios.DefaultRater); ok && rateFlag == "" {
		rateFlag = d.DefaultRate()
	}
	if rateFlag == "" {
		// Closed loop: Rate stays 0.
		if o.slo != "" {
			return usagef("--slo applies to a capacity search: give --rate as START:END:STEP, e.g. 5000:40000:5000")
		}
	} else if strings.Contains(rateFlag, ":") {
		if plan.RateSteps, err = parseRateSteps(rateFlag); err != nil {
			return err
		}
		if o.slo == "" {
			return usagef("--rate %s searches for capacity and needs an objective: add --slo p99=10ms (or p50, p90, p999, max)", rateFlag)
		}
		slo, err := report.ParseSLO(o.slo)
		if err != nil {
			return usagef("%v", err)
		}
		plan.SLO = &slo
		if !scenarios.OpenLoop(plan.Scenario) {
			return usagef("--rate %s: a capacity search steps the rate of an open-loop scenario (%s), not %s", rateFlag, strings.Join(openLoopScenarios(), ", "), o.scenario)
		}
	} else if p.Rate, err = parseOpenLoopRate(rateFlag, rateHint(plan.Scenario)); err != nil {
		return err
	} else if o.slo != "" {
		return usagef("--slo applies to a capacity search: give --rate as START:END:STEP, e.g. 5000:40000:5000")
	}
	return nil
}

// placeLoad points the plan at the --target, or at the reference
// servers named by --servers.
func (o runOptions) placeLoad(plan *runner.Plan) error {
	if o.target != "" {
		if o.serversSet {
			return usagef("--target and --servers exclude each other: a target run measures only the target")
		}
		u, err := url.Parse(o.target)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return usagef("--target %q: want a ws:// or wss:// URL such as ws://127.0.0.1:8080/echo", o.target)
		}
		plan.Target = o.target
		_, hidden := secret.URL(o.target)
		for _, v := range hidden {
			secrets(plan).Add(v)
		}
		if u.Scheme == "wss" {
			plan.TLS = &tls.Config{InsecureSkipVerify: o.insecure}
		}
		return nil
	}
	if o.insecure {
		return usagef("--insecure only applies to a wss:// --target")
	}
	names := splitList(o.servers)
	if o.servers == "all" {
		names = servers.Names()
	}
	if len(names) == 0 {
		return usagef("--servers: name at least one of %s", strings.Join(servers.Names(), ", "))
	}
	for _, n := range names {
		if _, err := servers.Lookup(n); err != nil {
			return usagef("--servers: %v", err)
		}
	}
	plan.Servers = names
	return nil
}
