package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
)

// The flags of `wsbench run`, as given, and a preset over them.

// parseRunFlags reads the flags (and a preset) of `wsbench run`.
func parseRunFlags(args []string, stderr io.Writer) (runOptions, error) {
	var o runOptions
	fs := runFlagSet(&o)
	positional, err := parseFlagsHelp(fs, args, stderr, func(positional []string) { presetHelp(fs, positional) })
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
	bad                        badOptions
	target, format             string
	out, htmlOut, failOn       string
	thresholds                 listFlag
	// options are the values of the scenarios' declared options, by
	// name; given names every flag set on the command line or by a preset.
	options                map[string]func() string
	given                  map[string]bool
	shard, startAt, source string
	shards                 int
	ab, maxRegression      string
	alpha                  float64
	allowInsufficient      bool
	// wide shows every column of the terminal table.
	wide bool
	conn connOptions // headers, subprotocols, origin (connflags.go)
}

// runFlagSet declares the flags of `wsbench run` into o: the shared ones
// here, each scenario's own from its declarations (scenarioOptionFlags).
func runFlagSet(o *runOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
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
	o.bad.register(fs)
	fs.StringVar(&o.target, "target", "", "load-test this ws:// or wss:// URL instead of the reference servers")
	o.conn.register(fs)
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
	return fs
}

// presetHelp is `wsbench run PRESET --help`: the general help, then what
// the preset sets and its scenario's own options, as they will apply (the
// preset's values over the defaults, the command line's over both).
func presetHelp(fs *flag.FlagSet, positional []string) {
	if len(positional) != 1 {
		fs.Usage()
		return
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	name, fromPreset, err := applyPreset(fs, set, positional[0])
	if err != nil {
		fs.Usage()
		fmt.Fprintf(fs.Output(), "\n%v\n", err)
		return
	}
	if !set["scenario"] { // the scenario's options follow the preset's scenario
		_ = fs.Set("scenario", fs.Lookup("scenario").Value.String())
	}
	fs.Usage()
	var lines []string
	for flagName, ps := range fromPreset {
		lines = append(lines, fmt.Sprintf("  %s: %s (line %d)", flagName, fs.Lookup(flagName).Value, ps.line))
	}
	for flagName := range set {
		lines = append(lines, fmt.Sprintf("  %s: %s (command line)", flagName, fs.Lookup(flagName).Value))
	}
	slices.Sort(lines)
	fmt.Fprintf(fs.Output(), "\nThe run with %s (the command line overrides it):\n%s\n", name, strings.Join(lines, "\n"))
}
