package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/runner"
)

// variantName is what a variant may be called: it appears in tables,
// cell keys and file names.
var variantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parseAB reads --ab: NAME=BINARY[:ARGS],NAME=BINARY[:ARGS]…, where ARGS
// are extra `serve` flags separated by spaces ("gogc400=./wsbench:--gogc=400").
// A BINARY with a slash is a path (made absolute); a bare name is looked up
// in PATH.
func parseAB(s string) ([]report.Variant, error) {
	var vs []report.Variant
	for _, part := range splitList(s) {
		name, rest, ok := strings.Cut(part, "=")
		if !ok || name == "" || rest == "" {
			return nil, usagef("--ab %q: want NAME=BINARY or NAME=BINARY:ARGS, e.g. main=./wsbench-main", part)
		}
		if !variantName.MatchString(name) {
			return nil, usagef("--ab %q: name %q may hold letters, digits, '.', '_' and '-' only", part, name)
		}
		for _, v := range vs {
			if v.Name == name {
				return nil, usagef("--ab: %q is named twice", name)
			}
		}
		bin, args, _ := strings.Cut(rest, ":")
		path, err := resolveBinary(bin)
		if err != nil {
			return nil, usagef("--ab %s: %v", part, err)
		}
		vs = append(vs, report.Variant{Name: name, Binary: path, Args: strings.Fields(args)})
	}
	if len(vs) < 2 {
		return nil, usagef("--ab %q: name two variants or more, e.g. main=./wsbench-main,pr=./wsbench-pr", s)
	}
	return vs, nil
}

// resolveBinary makes bin a path that stays right whatever the working
// directory: absolute when it names a file, looked up in PATH otherwise.
func resolveBinary(bin string) (string, error) {
	if !strings.ContainsRune(bin, filepath.Separator) {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("%s is not in PATH (give ./%s for a file here)", bin, bin)
		}
		return p, nil
	}
	p, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("no binary: %w", err)
	case st.IsDir() || st.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable file", p)
	}
	return p, nil
}

// abParams checks an A/B run's flags and every variant's binary, and puts
// the variants in the plan.
func (o runOptions) abParams(ctx context.Context, plan *runner.Plan) error {
	if o.ab == "" {
		if o.maxRegression != "" {
			return usagef("--max-regression judges an A/B run: give --ab too (or use wsbench compare BASE NEW)")
		}
		return nil
	}
	if o.alpha <= 0 || o.alpha >= 1 {
		return usagef("--alpha %g: must be more than 0 and less than 1", o.alpha)
	}
	if plan.Target != "" {
		return usagef("--ab starts each variant's reference servers; it does not go with --target")
	}
	vs, err := parseAB(o.ab)
	if err != nil {
		return err
	}
	// Every row of the verdict (cells × metrics × variants) is judged in
	// one family (Holm), so a row alone must reach alpha/rows, and n pairs
	// give at best 1/2ⁿ. Metrics a scenario does not measure make the
	// count an upper bound.
	opt, err := o.abOptions()
	if err != nil {
		return err
	}
	metrics, err := report.ABMetrics(opt)
	if err != nil {
		return usagef("--max-regression: %v", err)
	}
	rows := len(plan.Cells()) / max(plan.Runs, 1) * (len(vs) - 1) * len(metrics)
	if n := report.MinPairs(o.alpha, rows); o.runs < n && !o.allowInsufficient {
		return usagef("--ab with --runs %d: the verdict judges up to %d rows together (cells × metrics × variants), so one row must reach p ≤ %g/%d, which needs %d runs or more; use --runs %d, or --allow-insufficient",
			o.runs, rows, o.alpha, rows, n, n)
	}
	self := runner.Build(modules())
	for i := range vs {
		if err := runner.CheckVariant(ctx, &vs[i], self); err != nil {
			return usagef("--ab %v", err)
		}
	}
	plan.Variants = vs
	return nil
}

// abOptions are the compare options of an A/B run's verdict.
func (o runOptions) abOptions() (report.CompareOptions, error) {
	opt := report.CompareOptions{Alpha: o.alpha, AllowInsufficient: o.allowInsufficient}
	if o.maxRegression != "" {
		var err error
		if opt.MaxRegression, err = report.ParseMaxRegression(o.maxRegression); err != nil {
			return opt, usagef("--max-regression: %v", err)
		}
	}
	return opt, nil
}

// abVerdict writes the comparison of every variant against the first and
// says whether it found a regression beyond its allowance.
func abVerdict(w io.Writer, res *report.Result, opt report.CompareOptions) (regressed bool, err error) {
	c, err := report.CompareAB(res, opt)
	if err != nil {
		return false, err
	}
	if len(c.Rows) == 0 {
		return false, fmt.Errorf("nothing to compare: no cell has usable runs of two variants (see the notes under the table)")
	}
	names := make([]string, len(res.Environment.Variants))
	for i, v := range res.Environment.Variants {
		names[i] = v.Name
	}
	fmt.Fprintf(w, "\nA/B: %s against %s\n", strings.Join(names[1:], ", "), names[0])
	if err := report.RenderComparison(w, c, false); err != nil {
		return false, err
	}
	return c.Failed(), nil
}
