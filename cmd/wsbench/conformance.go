package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/conformance"
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/bytesize"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/servers"
)

// conformanceOptions are the flags of `wsbench conformance`.
type conformanceOptions struct {
	servers, drivers, groups, cases string
	target                          string
	allowRemote                     bool
	format, htmlOut, out            string
	failOn, baseline                string
	memoryCap                       int64
	childDriver                     string
}

func conformanceFlags(o *conformanceOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.StringVar(&o.servers, "servers", "", "reference servers to play the cases against, comma-separated, or none (default: every one; none with --target)")
	fs.StringVar(&o.drivers, "drivers", "", "client drivers to play the cases against, comma-separated, or none (default: every one; none with --target)")
	fs.StringVar(&o.groups, "groups", "", "case groups, comma-separated: "+strings.Join(conformance.Groups, ", ")+" (default: all)")
	fs.StringVar(&o.cases, "cases", "", "case ids or id prefixes, comma-separated (utf8.12, close): only these")
	fs.StringVar(&o.target, "target", "", "ws:// URL of a running echo server to play the server-side cases against (no reference server is started)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "let --target be beyond loopback (the cases send malformed traffic)")
	fs.StringVar(&o.format, "format", "text", "stdout: text, markdown or json")
	fs.StringVar(&o.htmlOut, "html", "", "also write the self-contained HTML report here")
	fs.StringVar(&o.out, "out", "", "result file (default results/conformance-YYYYMMDD-HHMMSS.json)")
	fs.StringVar(&o.failOn, "fail-on", "none", "outcomes that make the exit code 99, comma-separated: fail, timeout, non-strict; or none")
	fs.StringVar(&o.baseline, "baseline", "", "an earlier conformance result: --fail-on then counts only outcomes that differ from it (new ones)")
	fs.StringVar(&o.childDriver, "child-driver", "", "(internal) play --cases against this driver in this process, one JSON result per line")
	bytesize.Var(fs, &o.memoryCap, "memory-cap", "stop a case whose server RSS (or, for a driver, this process's heap) passes this size, such as 1GiB")
	return fs
}

func conformanceCmd(args []string, stdout, stderr io.Writer) (int, error) {
	o := conformanceOptions{memoryCap: 1 << 30}
	fs := conformanceFlags(&o)
	pos, err := parseFlags(fs, args, stderr)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("unexpected argument %q", pos[0])
	}
	if o.childDriver != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		opts := conformance.Options{IDs: splitList(o.cases), MemoryCap: uint64(o.memoryCap)}
		return exitOK, conformance.RunDriverChild(ctx, o.childDriver, opts, stdout)
	}
	plan, err := o.plan()
	if err != nil {
		return exitUsage, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	settings := conformanceServerSettings()
	dial := conformance.DriverDialOptions()
	res := &conformance.Result{
		Schema: conformance.Schema, Started: started, Command: append([]string{"wsbench", "conformance"}, args...),
		Environment:    runner.Environment(plan.modules),
		ServerSettings: settings,
		DriverSettings: conformance.DriverSettings{ReadLimit: dial.ReadLimit, HandshakeTimeoutNs: int64(dial.HandshakeTimeout), Compression: dial.Compression},
	}
	for _, c := range plan.catalogue {
		res.Cases = append(res.Cases, c.Info())
	}
	opts := conformance.Options{Groups: plan.groups, IDs: plan.ids, MemoryCap: uint64(o.memoryCap), AllowRemote: o.allowRemote}
	var runErr error
	for _, sub := range plan.servers {
		opts := opts
		if sub.URL == "" {
			opts.ReadLimit = settings.ReadLimit
		}
		s, err := conformance.RunServer(ctx, sub, opts)
		res.Subjects = append(res.Subjects, s)
		fmt.Fprintf(stderr, "conformance: %s: %d cases in %.1fs%s\n", s.Label(), len(s.Cases), s.DurationS, subjectNote(s))
		if err != nil {
			runErr = err
			break
		}
	}
	for _, d := range plan.drivers {
		if runErr != nil {
			break
		}
		s, err := conformance.RunDriverProcess(ctx, d.Name(), opts, conformanceChild)
		res.Subjects = append(res.Subjects, s)
		fmt.Fprintf(stderr, "conformance: %s: %d cases in %.1fs%s\n", s.Label(), len(s.Cases), s.DurationS, subjectNote(s))
		if err != nil {
			runErr = err
		}
	}
	res.DurationS = time.Since(started).Seconds()
	out := o.out
	if out == "" {
		out = filepath.Join("results", "conformance-"+started.Format("20060102-150405")+".json")
	}
	if err := conformance.Save(out, res); err != nil {
		return exitRunFailed, err
	}
	fmt.Fprintf(stderr, "results: %s\n", out)
	if o.htmlOut != "" {
		if err := writeConformanceHTML(o.htmlOut, res); err != nil {
			return exitRunFailed, err
		}
		fmt.Fprintf(stderr, "html: %s\n", o.htmlOut)
	}
	switch o.format {
	case "markdown":
		err = conformance.RenderMarkdown(stdout, res)
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	default:
		err = conformance.RenderText(stdout, res)
	}
	if err != nil {
		return exitRunFailed, err
	}
	if errors.Is(runErr, context.Canceled) {
		return exitInterrupted, nil
	}
	if runErr != nil {
		return exitRunFailed, runErr
	}
	if breaches := conformance.Gate(res, plan.failOn, plan.baseline); len(breaches) > 0 {
		fmt.Fprintf(stderr, "✗ --fail-on %s: %d case(s)\n", o.failOn, len(breaches))
		for _, b := range breaches {
			was := ""
			if b.Was != "" {
				was = " (was " + string(b.Was) + ")"
			}
			fmt.Fprintf(stderr, "  %s %s: %s%s — %s\n", b.Subject, b.Case.ID, b.Case.Outcome, was, b.Case.Reason)
		}
		return exitThresholds, nil
	}
	return exitOK, nil
}

func subjectNote(s conformance.Subject) string {
	switch {
	case s.Error != "":
		return " (not played: " + s.Error + ")"
	case s.Restarts > 0 && s.Side == "client":
		return fmt.Sprintf(" (driver process restarted %d times)", s.Restarts)
	case s.Restarts > 0:
		return fmt.Sprintf(" (server restarted %d times)", s.Restarts)
	}
	return ""
}

// conformanceServerSettings are the fairness settings with compression
// accepted, so the deflate group can negotiate; the read limit is the one
// the limit cases are judged against.
func conformanceServerSettings() servers.Settings {
	s := servers.DefaultSettings()
	s.Compression = true
	return s
}

// conformancePlan is the checked command line.
type conformancePlan struct {
	servers     []conformance.ServerSubject
	drivers     []drivers.Driver
	groups, ids []string
	modules     []string
	catalogue   []conformance.Case // the selected cases, either side
	failOn      []conformance.Outcome
	baseline    *conformance.Result
}

func (o conformanceOptions) plan() (conformancePlan, error) {
	var p conformancePlan
	p.groups, p.ids = splitList(o.groups), splitList(o.cases)
	cat, err := conformance.Select(p.groups, p.ids, conformance.BothSides)
	if err != nil {
		return p, usagef("--groups: %v", err)
	}
	if len(cat) == 0 {
		return p, usagef("--cases %s: no case matches", o.cases)
	}
	p.catalogue = cat
	switch o.format {
	case "text", "markdown", "json":
	default:
		return p, usagef("--format %q: want text, markdown or json", o.format)
	}
	for _, f := range splitList(o.failOn) {
		if f == "none" {
			continue
		}
		out, err := conformance.ParseOutcome(f)
		if err != nil || out == conformance.Pass || out == conformance.Unsupported {
			return p, usagef("--fail-on %q: want fail, timeout, non-strict or none", f)
		}
		p.failOn = append(p.failOn, out)
	}
	if o.baseline != "" {
		b, err := conformance.Load(o.baseline)
		if err != nil {
			return p, usagef("--baseline: %v", err)
		}
		p.baseline = b
	}
	serverNames, driverNames := servers.Names(), drivers.Names()
	if o.target != "" {
		if !strings.HasPrefix(o.target, "ws://") {
			return p, usagef("--target %q: want a ws:// URL (the raw client does not speak TLS)", o.target)
		}
		serverNames, driverNames = nil, nil
		p.servers = append(p.servers, conformance.ServerSubject{Name: o.target, URL: o.target})
	}
	if o.servers != "" {
		serverNames = nil
		if o.servers != "none" {
			serverNames = splitList(o.servers)
		}
	}
	if o.drivers != "" {
		driverNames = nil
		if o.drivers != "none" {
			driverNames = splitList(o.drivers)
		}
	}
	for _, n := range serverNames {
		sub, err := conformance.ReferenceServer(n, conformanceServerSettings(), nil)
		if err != nil {
			return p, usagef("--servers: %v", err)
		}
		p.servers = append(p.servers, sub)
		p.modules = append(p.modules, sub.Module)
	}
	for _, n := range driverNames {
		d, err := drivers.Lookup(n)
		if err != nil {
			return p, usagef("--drivers: %v", err)
		}
		p.drivers = append(p.drivers, d)
		p.modules = append(p.modules, d.Module())
	}
	if len(p.servers) == 0 && len(p.drivers) == 0 {
		return p, usagef("nothing to play: no server, driver or --target")
	}
	return p, nil
}

// conformanceChild runs `wsbench conformance` args in a child process of
// this binary: drivers are played there, so a library that panics in its
// own goroutine fails its case instead of ending the run.
func conformanceChild(args []string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, append([]string{"conformance"}, args...)...)
}

func writeConformanceHTML(path string, r *conformance.Result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("html: %w", err)
	}
	if err := conformance.RenderHTML(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
