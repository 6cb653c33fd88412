package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/report/htmlreport"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// Defaults of `wsbench run`: a comparison that finishes in well under a
// minute on a laptop and still measures a few hundred thousand round trips.
const (
	defaultServers  = "all"
	defaultConns    = 100
	defaultDuration = 5 * time.Second
	defaultWarmup   = 2 * time.Second
	defaultPayload  = "1024"
	// fdReserve is the open files a process keeps for itself (listener,
	// /proc reads, pipes, the stats client) besides its connections.
	fdReserve = 100
)

// runCmd is `wsbench run`: flags to plan, checks before any connection
// opens, the run, the table and the file, and the exit code.
func runCmd(args []string, stdout, stderr io.Writer) (int, error) {
	o, err := parseRunFlags(args, stderr)
	if err != nil {
		return exitUsage, err
	}
	plan, format, err := o.plan()
	if err != nil {
		return exitUsage, err
	}
	abOpt, err := o.abOptions()
	if err != nil {
		return exitUsage, err
	}
	if err := o.abParams(context.Background(), &plan); err != nil {
		return exitUsage, err
	}
	inv, err := o.prepare(&plan)
	if err != nil {
		if errors.Is(err, errPin) {
			return exitRunFailed, err
		}
		return exitUsage, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	if plan.Target != "" {
		if err := preflight(ctx, plan); err != nil {
			return exitUsage, err
		}
	}
	res, records, saveErr := inv.run(ctx, plan, args, stderr)
	if len(records) == 0 {
		fmt.Fprintln(stderr, "wsbench run: interrupted before the first cell finished; nothing was measured")
		return exitInterrupted, nil
	}
	// The table comes first, so a file that could not be written does not
	// lose the run.
	if err := report.RenderWith(stdout, res, format, report.Options{Wide: o.wide}); err != nil {
		return exitRunFailed, err
	}
	if saveErr != nil {
		return exitRunFailed, saveErr
	}
	fmt.Fprintf(stderr, "\nresults: %s\n", inv.outPath)
	if inv.htmlOut != "" {
		if err := writeOutput(inv.htmlOut, stdout, func(w io.Writer) error {
			return htmlreport.Render(w, []*report.Result{res}, []string{filepath.Base(inv.outPath)})
		}); err != nil {
			return exitRunFailed, err
		}
		fmt.Fprintf(stderr, "report: %s\n", inv.htmlOut)
	}
	if len(plan.Variants) > 0 {
		if inv.regressed, err = abVerdict(stdout, res, abOpt); err != nil {
			inv.abProblem = err.Error()
		}
	}
	return inv.exitCode(ctx, records, stderr), nil
}

// parseRunFlags reads the flags (and a preset) of `wsbench run`.
func parseRunFlags(args []string, stderr io.Writer) (runOptions, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o runOptions
	fs.StringVar(&o.scenario, "scenario", "echo", "scenario to run: "+strings.Join(scenarios.Names(), ", "))
	fs.StringVar(&o.servers, "servers", defaultServers, "reference servers to compare, comma-separated, or 'all'")
	fs.StringVar(&o.driver, "driver", drivers.Default, "client library of the load generator: "+strings.Join(drivers.Names(), ", "))
	fs.StringVar(&o.conns, "conns", strconv.Itoa(defaultConns), "concurrent connections; a list (2000,5000,10000) runs each count and fits memory per connection")
	fs.StringVar(&o.duration, "duration", defaultDuration.String(), "length of the measured window")
	fs.StringVar(&o.warmup, "warmup", defaultWarmup.String(), "traffic before measuring, not recorded")
	fs.StringVar(&o.payload, "payload", defaultPayload, "message size in bytes, header included (e.g. 1024, 4KiB)")
	fs.BoolVar(&o.text, "text", false, "send text messages instead of binary")
	fs.BoolVar(&o.compression, "compression", false, "offer permessage-deflate from every connection and have the servers accept it; messages get a compressible filler")
	fs.IntVar(&o.runs, "runs", 1, "repeat every cell this many times, interleaved across servers")
	fs.StringVar(&o.connectRate, "connect-rate", "0", "connections opened per second in the connect phase (0: as fast as possible)")
	fs.StringVar(&o.rate, "rate", "", rateUsage())
	fs.StringVar(&o.slo, "slo", "", strings.Join(openLoopScenarios(), ", ")+": capacity search objective with --rate START:END:STEP: a latency threshold such as p99<10ms, or p99=10ms (p50, p90, p99, p999, max)")
	o.options = scenarioOptionFlags(fs)
	fs.StringVar(&o.shard, "shard", "", "be shard I of N (I/N, from 0) of identical load generators against one --target: an exact share of --conns and --rate, schedules interleaved")
	fs.IntVar(&o.shards, "shards", 0, "with a Kubernetes Indexed Job: be one of N shards, the index from $JOB_COMPLETION_INDEX")
	fs.StringVar(&o.source, "source", "", "source addresses of the connections, round-robin: a list (127.0.0.2,127.0.0.3) or a range (127.0.0.2-127.0.0.9); one address has about 28,000 ephemeral ports per server")
	fs.StringVar(&o.startAt, "start-at", "", "open the measured window at this instant (RFC 3339, e.g. 2026-12-01T10:00:00Z) on every shard")
	fs.BoolVar(&o.pin, "pin", false, "pin reference servers and the load generator to separate halves of the CPUs (GOMAXPROCS to match)")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "pin reference servers to these CPUs, e.g. 0 or 0-1 (implies --pin)")
	fs.StringVar(&o.clientCPUs, "client-cpus", "", "pin the load generator to these CPUs, e.g. 1 (implies --pin)")
	fs.StringVar(&o.target, "target", "", "load-test this ws:// or wss:// URL instead of the reference servers")
	fs.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate verification for wss:// targets")
	fs.Var(&o.thresholds, "threshold", "fail (exit 99) unless every matching record meets this, e.g. 'p99<5ms', 'echo/gorilla:errors==0' (repeatable)")
	fs.StringVar(&o.out, "out", "", "result file (default results/YYYYMMDD-HHMMSS-SCENARIO.json)")
	fs.StringVar(&o.format, "format", "table", "output format: table, markdown, csv, json, benchfmt, hgrm")
	fs.BoolVar(&o.wide, "wide", false, "table: every column (by default a scenario's secondary columns are left out so the table fits 120 columns; markdown and csv keep every column)")
	fs.StringVar(&o.htmlOut, "html", "", "also write a self-contained HTML report with charts to this file")
	fs.StringVar(&o.ab, "ab", "", "A/B: start the servers from each of these wsbench builds in turn, NAME=BINARY[:SERVE-ARGS],NAME=BINARY (e.g. main=./wsbench-main,pr=./wsbench-pr or gogc400=./wsbench:--gogc=400), then judge every variant against the first, pair by pair (exit 98 on a regression)")
	fs.StringVar(&o.maxRegression, "max-regression", "", "with --ab: regression allowed per metric, e.g. p99=10%,server_cpu_per_million=5% (default 5% for each)")
	fs.Float64Var(&o.alpha, "alpha", report.DefaultCompareAlpha, "with --ab: family-wise significance level of the paired verdict (Wilcoxon signed-rank tests, Holm over every row)")
	fs.BoolVar(&o.allowInsufficient, "allow-insufficient", false, "with --ab: let cells with too few runs to judge pass")
	fs.StringVar(&o.failOn, "fail-on", "degraded", "which cell verdicts set the exit code: degraded (exit 3, failed exit 1), failed (exit 1 only), none")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench run [PRESET|FILE.yaml] [flags]\n\n"+
			"A preset (built in: %s) or preset file sets flag values; flags given\n"+
			"on the command line override it.\n\nFlags:\n", strings.Join(scenarios.PresetNames(), ", "))
		fs.PrintDefaults()
		scenarioSet := false
		fs.Visit(func(f *flag.Flag) { scenarioSet = scenarioSet || f.Name == "scenario" })
		if scenarioSet {
			scenarioHelp(fs.Output(), o.scenario)
		} else {
			fmt.Fprintln(fs.Output(), "\nwsbench run --scenario NAME --help lists that scenario's own options.")
		}
	}
	positional, err := parseFlags(fs, args, stderr)
	if err != nil {
		return o, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var presetName string
	var fromPreset map[string]presetSetting
	switch len(positional) {
	case 0:
	case 1:
		if presetName, fromPreset, err = applyPreset(fs, set, positional[0]); err != nil {
			return o, err
		}
	default:
		return o, usagef("one preset at a time, got %s", strings.Join(positional, " "))
	}
	o.serversSet = set["servers"] || fromPreset["servers"] != (presetSetting{})
	o.durationSet = set["duration"] || fromPreset["duration"] != (presetSetting{})
	o.given = map[string]bool{}
	for name := range set {
		o.given[name] = true
	}
	for name := range fromPreset {
		o.given[name] = true
	}
	if err := checkScenarioFlags(o.scenario, set, presetName, fromPreset, func(name string) {
		_ = fs.Set(name, fs.Lookup(name).DefValue)
	}, stderr); err != nil {
		return o, err
	}
	if !slices.Contains([]string{"degraded", "failed", "none"}, o.failOn) {
		return o, usagef("--fail-on %q: want degraded, failed or none", o.failOn)
	}
	return o, nil
}

// errPin marks a failure to pin the load generator: the machine's, not the
// command line's.
var errPin = errors.New("pin the load generator")

// invocation is what a run needs besides its plan, checked before any
// connection opens.
type invocation struct {
	thresholds       []report.Threshold
	pinning          *report.Pinning
	outPath, htmlOut string
	failOn           string
	// regressed is set when an A/B run's verdict found a variant worse
	// than the first beyond its allowance; abProblem says why an A/B run
	// could give no verdict at all.
	regressed bool
	abProblem string
}

// prepare checks thresholds, pins the processes, and checks that the
// results fit where they go and the run in memory.
func (o runOptions) prepare(plan *runner.Plan) (*invocation, error) {
	inv := &invocation{htmlOut: o.htmlOut, failOn: o.failOn}
	for _, t := range o.thresholds {
		th, err := report.ParseThreshold(t)
		if err != nil {
			return nil, usagef("--threshold: %v", err)
		}
		inv.thresholds = append(inv.thresholds, th)
	}
	serverCPUs, clientCPUs, err := o.pinning()
	if err != nil {
		return nil, err
	}
	if len(serverCPUs) > 0 {
		if err := measure.PinProcess(os.Getpid(), clientCPUs); err != nil {
			return nil, fmt.Errorf("%w: %w", errPin, err)
		}
		runtime.GOMAXPROCS(len(clientCPUs))
		plan.ServerCPUs = serverCPUs
		plan.Settings.GOMAXPROCS = len(serverCPUs)
		inv.pinning = &report.Pinning{ServerCPUs: measure.FormatCPUList(serverCPUs), ClientCPUs: measure.FormatCPUList(clientCPUs),
			ServerGOMAXPROCS: len(serverCPUs), ClientGOMAXPROCS: len(clientCPUs)}
	}
	inv.outPath = o.out
	if inv.outPath == "" {
		// The default folder is created; a folder named by --out is not.
		if err := os.MkdirAll("results", 0o755); err != nil {
			return nil, usagef("create the default results folder: %v (or give --out)", err)
		}
		inv.outPath = filepath.Join("results", time.Now().Format("20060102-150405")+"-"+plan.Scenario.Name()+".json")
	}
	if err := checkWritable("out", inv.outPath); err != nil {
		return nil, err
	}
	if o.htmlOut != "" {
		if err := checkWritable("html", o.htmlOut); err != nil {
			return nil, err
		}
	}
	var counts []int
	for _, n := range plan.ConnsList {
		counts = append(counts, plan.Shard.Share(n))
	}
	if len(counts) == 0 {
		counts = []int{plan.Shard.Share(plan.Params.Conns)}
	}
	mem := estimateMemory(plan.Params, counts, plan.Target != "", plan.Settings.ReadBufferSize, plan.Settings.WriteBufferSize)
	if err := mem.check(availableMemory()); err != nil {
		return nil, err
	}
	return inv, nil
}

// run measures the plan, saving the result file after every cell so a
// crash or kill keeps what was measured.
func (inv *invocation) run(ctx context.Context, plan runner.Plan, args []string, stderr io.Writer) (*report.Result, []report.Record, error) {
	res := &report.Result{
		Schema:      report.Schema,
		CreatedAt:   time.Now().UTC(),
		Command:     append([]string{"wsbench", "run"}, args...),
		Environment: runner.Environment(modules()),
		Pinning:     inv.pinning,
	}
	res.Environment.Variants = plan.Variants
	if plan.Target == "" {
		res.ServerSettings = settingsMap(plan.Settings)
		res.ServerExceptions = map[string][]string{}
		for _, name := range plan.Servers {
			srv, _ := servers.Lookup(name)
			res.ServerExceptions[name] = srv.Exceptions()
		}
	}
	prog := newProgress(stderr, plan.Driver.Name(), plan.Scenario.Name())
	var saveErr error
	records := runner.Run(ctx, plan, func(e runner.Event) {
		prog.event(e)
		if e.Record != nil {
			res.Records = append(res.Records, *e.Record)
			saveErr = report.Save(inv.outPath, res)
		}
	})
	prog.finish()
	res.MemorySlopes = report.Slopes(res.Records)
	if len(res.MemorySlopes) > 0 {
		saveErr = errors.Join(saveErr, report.Save(inv.outPath, res))
	}
	return res, records, saveErr
}

// exitCode checks the thresholds and says how the run ended: interrupted,
// failed cells, broken thresholds, degraded cells, or ok.
func (inv *invocation) exitCode(ctx context.Context, records []report.Record, stderr io.Writer) int {
	thresholdsFailed := false
	if len(inv.thresholds) > 0 {
		results, err := report.CheckThresholds(inv.thresholds, records)
		if err != nil {
			fmt.Fprintf(stderr, "wsbench run: %v\n", err)
			return exitThresholds
		}
		fmt.Fprintln(stderr)
		thresholdsFailed = report.RenderThresholds(stderr, results) > 0
	}
	failed, degraded := verdicts(records)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "wsbench run: interrupted; the results above cover what was measured")
		return exitInterrupted
	case failed > 0 && inv.failOn != "none":
		fmt.Fprintf(stderr, "wsbench run: %d of %d cells failed: their numbers are not results (see the notes under the table)\n", failed, len(records))
		return exitRunFailed
	case inv.abProblem != "":
		fmt.Fprintf(stderr, "wsbench run: A/B: %s\n", inv.abProblem)
		return exitRunFailed
	case thresholdsFailed:
		return exitThresholds
	case inv.regressed:
		fmt.Fprintln(stderr, "wsbench run: A/B: a variant is significantly worse than allowed (see the comparison above)")
		return exitRegression
	case degraded > 0 && inv.failOn == "degraded":
		fmt.Fprintf(stderr, "wsbench run: %d of %d cells degraded: their numbers stand beside their faults (see the notes under the table)\n", degraded, len(records))
		return exitDegraded
	}
	return exitOK
}

// verdicts counts the failed and degraded cells that decide the exit code.
// In a capacity search a step that breaks is what the search looks for, so
// a failed step counts only for a server none of whose steps passed.
func verdicts(records []report.Record) (failed, degraded int) {
	passed := map[string]bool{}
	for _, r := range records {
		if r.SLO != nil && r.SLO.Pass {
			passed[r.ServerLabel()] = true
		}
	}
	for _, r := range records {
		if r.SLO != nil && (passed[r.ServerLabel()] || !r.SLO.Pass && r.Status != report.StatusFailed) {
			continue
		}
		switch r.Status {
		case report.StatusFailed:
			failed++
		case report.StatusDegraded:
			degraded++
		}
	}
	return failed, degraded
}

// runOptions are the flags of `wsbench run` as given.
type runOptions struct {
	scenario, servers, driver  string
	conns                      string
	runs                       int
	pin                        bool
	serverCPUs, clientCPUs     string
	duration, warmup, payload  string
	connectRate, rate, slo     string
	text, insecure, serversSet bool
	compression                bool
	target, format             string
	out, htmlOut, failOn       string
	thresholds                 listFlag
	durationSet                bool
	// options are the values of the scenarios' declared options, by
	// name; given names every flag set on the command line or by a preset.
	options                map[string]*string
	given                  map[string]bool
	shard, startAt, source string
	shards                 int
	ab, maxRegression      string
	alpha                  float64
	allowInsufficient      bool
	// wide shows every column of the terminal table.
	wide bool
}

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
		values[name] = *v
	}
	c := scenarios.OptionContext{Target: o.target != "", Given: o.given, DurationSet: o.durationSet}
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
	rateFlag := o.rate
	if d, ok := plan.Scenario.(scenarios.DefaultRater); ok && rateFlag == "" {
		rateFlag = d.DefaultRate()
	}
	if rateFlag == "" {
		// Closed loop: Rate stays 0.
		if o.slo != "" {
			return plan, "", usagef("--slo applies to a capacity search: give --rate as START:END:STEP, e.g. 5000:40000:5000")
		}
	} else if strings.Contains(rateFlag, ":") {
		if plan.RateSteps, err = parseRateSteps(rateFlag); err != nil {
			return plan, "", err
		}
		if o.slo == "" {
			return plan, "", usagef("--rate %s searches for capacity and needs an objective: add --slo p99=10ms (or p50, p90, p999, max)", rateFlag)
		}
		slo, err := report.ParseSLO(o.slo)
		if err != nil {
			return plan, "", usagef("%v", err)
		}
		plan.SLO = &slo
		if plan.Scenario.Mode(scenarios.Params{Rate: plan.RateSteps[0]}) != "open-loop" {
			return plan, "", usagef("--rate %s: a capacity search steps the rate of an open-loop scenario (%s), not %s", rateFlag, strings.Join(openLoopScenarios(), ", "), o.scenario)
		}
	} else if p.Rate, err = parseOpenLoopRate(rateFlag, rateHint(plan.Scenario)); err != nil {
		return plan, "", err
	} else if o.slo != "" {
		return plan, "", usagef("--slo applies to a capacity search: give --rate as START:END:STEP, e.g. 5000:40000:5000")
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
	plan.Params, plan.Runs = p, o.runs
	if err := plan.Validate(); err != nil {
		return plan, "", usagef("%v", err)
	}
	plan.Settings = servers.DefaultSettings()
	plan.Settings.ReadLimit = max(plan.Settings.ReadLimit, int64(p.Payload))
	plan.Settings.Compression = p.Compression

	if o.target != "" {
		if o.serversSet {
			return plan, "", usagef("--target and --servers exclude each other: a target run measures only the target")
		}
		u, err := url.Parse(o.target)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return plan, "", usagef("--target %q: want a ws:// or wss:// URL such as ws://127.0.0.1:8080/echo", o.target)
		}
		plan.Target = o.target
		if u.Scheme == "wss" {
			plan.TLS = &tls.Config{InsecureSkipVerify: o.insecure}
		}
		return plan, format, nil
	}
	if o.insecure {
		return plan, "", usagef("--insecure only applies to a wss:// --target")
	}
	names := splitList(o.servers)
	if o.servers == "all" {
		names = servers.Names()
	}
	if len(names) == 0 {
		return plan, "", usagef("--servers: name at least one of %s", strings.Join(servers.Names(), ", "))
	}
	for _, n := range names {
		if _, err := servers.Lookup(n); err != nil {
			return plan, "", usagef("--servers: %v", err)
		}
	}
	plan.Servers = names
	return plan, format, nil
}

// preflight dials the target once so an unreachable one gets one clear line
// instead of a table of failures.
func preflight(ctx context.Context, plan runner.Plan) error {
	s := servers.DefaultSettings()
	ctx, cancel := context.WithTimeout(ctx, s.HandshakeTimeout)
	defer cancel()
	opts := drivers.DialOptions{
		TLSConfig: plan.TLS, HandshakeTimeout: s.HandshakeTimeout, ReadLimit: plan.Settings.ReadLimit,
		ReadBufferSize: s.ReadBufferSize, WriteBufferSize: s.WriteBufferSize,
	}
	if len(plan.Sources) > 0 {
		opts.LocalAddr = plan.Sources[0]
	}
	c, err := plan.Driver.Dial(ctx, plan.Target, opts)
	var hs *drivers.HandshakeStatusError
	switch {
	case errors.As(err, &hs):
		// The server is up and speaks HTTP; it just does not upgrade here.
		return usagef("target %s answered HTTP %d (want 101 Switching Protocols): a web server, but no WebSocket endpoint at this URL", plan.Target, hs.Status)
	case err != nil:
		return usagef("target %s unreachable (%s): %v", plan.Target, drivers.DialErrorClass(err), err)
	}
	_, _ = c.Close(time.Second)
	return nil
}

func openFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Max
}

// modules lists the library modules of every registered server and driver.
func modules() []string {
	var mods []string
	for _, n := range servers.Names() {
		s, _ := servers.Lookup(n)
		mods = append(mods, s.Module())
	}
	for _, n := range drivers.Names() {
		d, _ := drivers.Lookup(n)
		mods = append(mods, d.Module())
	}
	slices.Sort(mods)
	return slices.Compact(mods)
}

// settingsMap records the fairness settings in the result, by their JSON
// names.
func settingsMap(s servers.Settings) map[string]any {
	m := map[string]any{}
	data, _ := json.Marshal(s) // plain struct of numbers: cannot fail
	_ = json.Unmarshal(data, &m)
	return m
}

// checkOpenFiles refuses a connection count (this shard's share of it) that
// one process cannot hold under the open-file limit.
func checkOpenFiles(counts []int, shard runner.Shard, target bool) error {
	limit := openFileLimit()
	if limit == 0 {
		return nil
	}
	for _, n := range counts {
		share := shard.Share(n)
		if uint64(share)+fdReserve <= limit {
			continue
		}
		what := "and each reference server is one process too"
		if target {
			what = "split the load with --shard I/N over several processes (and a target that holds them all: wsbench serve --reuse-port)"
		}
		if shard.Count > 1 {
			return usagef("--conns %d over %d shards is %d for this one, more than one process can hold here: the open-file limit (RLIMIT_NOFILE) is %d, "+
				"so at most %d connections per process; %s", n, shard.Count, share, limit, limit-fdReserve, what)
		}
		return usagef("--conns %d is more than one process can hold here: the open-file limit (RLIMIT_NOFILE) is %d, "+
			"so at most %d connections per process; %s", n, limit, limit-fdReserve, what)
	}
	return nil
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
