package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/badclients"
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/secret"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/report/htmlreport"
	"github.com/wsbench/wsbench/runner"
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
func runCmd(args []string, stdout, stderr io.Writer) (code int, err error) {
	o, err := parseRunFlags(args, stderr)
	if err != nil {
		return exitUsage, err
	}
	if o.bad.spec == "help" {
		fmt.Fprint(stdout, badclients.Help())
		return exitOK, nil
	}
	plan, format, err := o.plan()
	if err != nil {
		return exitUsage, err
	}
	// From here nothing written or returned shows a secret value: a dial
	// error may quote the target's token, a fault command may print one.
	stdout, stderr = plan.Secrets.Writer(stdout), plan.Secrets.Writer(stderr)
	defer func() {
		if err != nil && !plan.Secrets.Empty() {
			err = redactedError{err, plan.Secrets}
		}
	}()
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
	ctx, stop := interruptible()
	defer stop()
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

// interruptible is a context Ctrl-C (or SIGTERM) cancels; a second
// Ctrl-C kills at once.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// redactedError is err with the secret values redacted from its text;
// errors.Is and As still see err.
type redactedError struct {
	err     error
	secrets *secret.Set
}

func (e redactedError) Error() string { return e.secrets.Redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

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
		Command:     append([]string{"wsbench", "run"}, redactArgs(args)...),
		Environment: runner.Environment(modules()),
		Pinning:     inv.pinning,
	}
	plan.Secrets.Scrub(res) // the command line's --target
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
