package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wsbench/wsbench/report"
)

func compareCmd(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	maxReg := fs.String("max-regression", "", "allowed regression per metric, e.g. p99=10%,throughput=5% (default 5% for each)")
	alpha := fs.Float64("alpha", 0.05, "family-wise significance level: the chance that any row of identical builds is judged worse, better or beyond its allowance (Holm over all rows)")
	allowInsufficient := fs.Bool("allow-insufficient", false, "let cells with too few runs to judge pass")
	metricsFlag := fs.String("metrics", "", "metrics to compare, comma-separated (default p50,p99,p999,throughput,server_cpu_per_million,mem_per_conn,errors; for one A/B file p50,p99,throughput,server_cpu_per_million,errors)")
	formatS := fs.String("format", "table", "output format: table or markdown")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench compare BASE.json NEW.json [flags]\n"+
			"       wsbench compare AB.json [flags]\n\n"+
			"Pairs the cells of two result files and compares every metric's per-run\n"+
			"samples with an exact rank-sum (Mann–Whitney) test. Given one file of an A/B\n"+
			"run (run --ab), judges every variant against the first, run i against run i,\n"+
			"with an exact Wilcoxon signed-rank test of log(B/A). Either way a row fails\n"+
			"when a one-sided test shows the change worse than its allowance (on the log\n"+
			"scale), Holm-adjusted over every row, at --alpha. Exits %d when a row fails,\n"+
			"or runs are too few for a row ever to fail on its own.\n\nMetrics: %s\n\nFlags:\n",
			exitRegression, strings.Join(report.MetricNames(), ", "))
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args, stderr)
	if err != nil {
		return exitUsage, err
	}
	if len(files) != 1 && len(files) != 2 {
		return exitUsage, usagef("want two result files, BASE and NEW, or one A/B result file; got %d", len(files))
	}
	if *formatS != "table" && *formatS != "markdown" {
		return exitUsage, usagef("--format %q: compare writes table or markdown", *formatS)
	}
	if *alpha <= 0 || *alpha >= 1 {
		return exitUsage, usagef("--alpha %g: must be more than 0 and less than 1", *alpha)
	}
	opt := report.CompareOptions{Alpha: *alpha, AllowInsufficient: *allowInsufficient}
	if *maxReg != "" {
		if opt.MaxRegression, err = report.ParseMaxRegression(*maxReg); err != nil {
			return exitUsage, usagef("--max-regression: %v", err)
		}
	}
	for _, m := range splitList(*metricsFlag) {
		if _, ok := report.LookupMetric(m); !ok {
			return exitUsage, usagef("--metrics: unknown metric %q (known: %s)", m, strings.Join(report.MetricNames(), ", "))
		}
		opt.Metrics = append(opt.Metrics, m)
	}
	base, err := report.Load(files[0])
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	var c *report.Comparison
	if len(files) == 1 {
		if !report.IsAB(base) {
			return exitUsage, usagef("%s is not the file of an A/B run (wsbench run --ab): give BASE and NEW to compare two files", files[0])
		}
		c, err = report.CompareAB(base, opt)
	} else {
		var next *report.Result
		if next, err = report.Load(files[1]); err != nil {
			return exitUsage, usagef("%v", err)
		}
		c, err = report.Compare(base, next, opt)
	}
	if err != nil {
		return exitUsage, usagef("%v", err)
	}
	if err := report.RenderComparison(stdout, c, *formatS == "markdown"); err != nil {
		return exitRunFailed, err
	}
	if len(c.Rows) == 0 {
		// Not a regression: there was nothing to judge.
		if len(files) == 1 {
			return exitUsage, usagef("no cell of %s has usable records of two variants; nothing to compare", files[0])
		}
		return exitUsage, usagef("no cell has usable records in both %s and %s (cells pair by scenario, mode, server, driver, conns, payload and rate); nothing to compare", files[0], files[1])
	}
	if c.Failed() {
		return exitRegression, nil
	}
	return exitOK, nil
}
