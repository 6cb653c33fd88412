package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/report/htmlreport"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/suite"
)

// cellOverhead is what a cell costs besides its warmup and window, for
// the suite's estimate: a server started, connections opened and closed.
const cellOverhead = 3 * time.Second

// suiteCmd is `wsbench suite`: the standard comparison into an edition.
func suiteCmd(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "the same matrix with fewer runs and shorter windows: a few minutes")
	out := fs.String("out", "", "the edition's folder (default results/DATE-NCPUcpu, e.g. results/2026-12-10-2cpu)")
	file := fs.String("file", "", "run this suite file instead of the built-in one (see --print)")
	printSuite := fs.Bool("print", false, "print the built-in suite file, to copy and edit, and exit")
	dry := fs.Bool("dry-run", false, "list the parts, their commands and the estimated time, run nothing")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench suite [--quick] [--out DIR] [--file FILE] [--print] [--dry-run]\n\n"+
			"Runs the standard comparison of every library (echo closed and open loop, fan-out,\n"+
			"idle memory, connect storm, reconnect, bad clients, compression, conformance) into\n"+
			"an edition folder: every result file, summary.md, report.html, machine.json,\n"+
			"command.txt. wsbench report DIR re-renders its summary.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if _, err := parseFlags(fs, args, stderr); err != nil {
		return exitUsage, err
	}
	data := suite.Builtin()
	if *printSuite {
		_, err := stdout.Write(data)
		return exitOK, err
	}
	if *file != "" {
		var err error
		if data, err = os.ReadFile(*file); err != nil {
			return exitUsage, usagef("--file: %v", err)
		}
	}
	s, err := suite.Parse(data)
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("results", fmt.Sprintf("%s-%dcpu", time.Now().Format("2006-01-02"), runtime.NumCPU()))
	}
	env := suite.Env{Run: suitePartRunner(stderr), Estimate: estimatePart, Progress: stderr, Pin: runtime.NumCPU() >= 2}
	if *dry {
		return exitOK, dryRun(stdout, s, *quick)
	}
	if err := writeEditionHead(dir, append([]string{"wsbench", "suite"}, args...)); err != nil {
		return exitRunFailed, err
	}
	ctx, stop := interruptible()
	defer stop()
	m, err := suite.Execute(ctx, s, dir, *quick, env)
	if err != nil {
		return exitRunFailed, err
	}
	if err := writeEditionTail(dir, m); err != nil {
		return exitRunFailed, err
	}
	fmt.Fprintf(stderr, "edition: %s (summary.md, report.html)\n", dir)
	if ctx.Err() != nil {
		return exitInterrupted, nil
	}
	for _, p := range m.Parts {
		if p.Status == suite.StatusFailed {
			return exitRunFailed, nil
		}
	}
	return exitOK, nil
}

// suitePartRunner runs one part in this process, its table discarded (the
// edition keeps the file), its progress on stderr.
func suitePartRunner(stderr io.Writer) func(ctx context.Context, command string, args []string) (int, error) {
	return func(ctx context.Context, command string, args []string) (int, error) {
		if err := ctx.Err(); err != nil {
			return exitInterrupted, err
		}
		// --pin pins this process; the next part must start from every CPU.
		if cpus, err := measure.AllowedCPUs(os.Getpid()); err == nil {
			defer func() { _ = measure.PinProcess(os.Getpid(), cpus) }()
		}
		var errb strings.Builder
		code := run(append([]string{command}, args...), io.Discard, io.MultiWriter(stderr, &errb))
		if code == exitUsage {
			return code, errors.New(strings.TrimSpace(lastLine(errb.String())))
		}
		return code, nil
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// estimatePart is how long a part takes, from its plan: cells × (warmup +
// window + overhead). A flag or verb this build does not have is an error
// (the part is missing).
func estimatePart(command string, args []string) (time.Duration, error) {
	switch command {
	case "run":
		o, err := parseRunFlags(args, io.Discard)
		if err != nil {
			return 0, err
		}
		plan, _, err := o.plan()
		if err != nil {
			return 0, err
		}
		return time.Duration(len(plan.Cells())) * (plan.Params.Warmup + plan.Params.Duration + cellOverhead), nil
	}
	if est, ok := partEstimates[command]; ok {
		return est(args)
	}
	return 0, fmt.Errorf("wsbench %s is not in this build", command)
}

// partEstimates estimate the suite's parts of other verbs; a verb missing
// here is missing from the suite.
var partEstimates = map[string]func(args []string) (time.Duration, error){}

// dryRun lists the parts and the estimated time.
func dryRun(w io.Writer, s suite.Suite, quick bool) error {
	var total time.Duration
	for i, p := range s.Parts {
		args := p.ArgsFor(quick)
		d, err := estimatePart(p.Command, args)
		state := "about " + d.Round(time.Second).String()
		if err != nil {
			state = "missing: " + err.Error()
		}
		total += d
		fmt.Fprintf(w, "%2d. %-26s %-32s %s\n    wsbench %s %s\n", i+1, p.Name, p.Question, state, p.Command, strings.Join(args, " "))
	}
	_, err := fmt.Fprintf(w, "about %s in all\n", total.Round(time.Second))
	return err
}

// writeEditionHead writes what is known before the parts run: the
// machine and the command.
func writeEditionHead(dir string, command []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("edition folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, suite.ManifestFile)); err == nil {
		return usagef("%s already holds an edition; give a new folder with --out", dir)
	}
	data, err := json.MarshalIndent(runner.Environment(modules()), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, suite.MachineFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write machine: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, suite.CommandFile), []byte(suite.ShellJoin(command)+"\n"), 0o644)
}

// writeEditionTail writes what the parts' files give: summary.md and
// report.html.
func writeEditionTail(dir string, m suite.Manifest) error {
	sum, err := suite.Summary(dir, partRenderers)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, suite.SummaryFile), []byte(sum), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	var results []*report.Result
	var names []string
	for _, p := range m.Parts {
		if p.Command == "conformance" && p.File != "" {
			if err := writeConformancePages(filepath.Join(dir, p.File)); err != nil {
				return err
			}
		}
		if p.Command != "run" || p.File == "" {
			continue
		}
		res, err := report.Load(filepath.Join(dir, p.File))
		if err != nil {
			return err
		}
		results, names = append(results, res), append(names, p.File)
	}
	if len(results) == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, suite.ReportFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := htmlreport.Render(f, results, names); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// partRenderers render the summary tables of the parts other verbs wrote.
var partRenderers = map[string]suite.PartRenderer{}
