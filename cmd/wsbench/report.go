package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/report/htmlreport"
	"github.com/wsbench/wsbench/suite"
)

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	formatS := fs.String("format", "table", "output format: table, markdown, csv, json, benchfmt, hgrm, html")
	outFile := fs.String("o", "", "write to this file instead of stdout")
	wide := fs.Bool("wide", false, "table: every column (by default a scenario's secondary columns are left out so the table fits 120 columns; markdown and csv keep every column)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench report FILE... [--format F] [--wide] [-o OUT]\n       wsbench report EDITION-DIR   (its summary.md, rendered again from its files)\n\n"+
			"Re-renders result files without re-running; several files are shown together\n"+
			"(with --format html: side by side, two files with compare verdicts).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one result file")
	}
	if st, err := os.Stat(files[0]); err == nil && st.IsDir() && len(files) == 1 {
		// An edition: its summary, from its files alone.
		sum, err := suite.Summary(files[0], partRenderers)
		if err != nil {
			return usagef("%v", err)
		}
		return writeOutput(*outFile, stdout, func(w io.Writer) error { _, err := io.WriteString(w, sum); return err })
	}
	format, err := report.ParseFormat(*formatS)
	if err != nil {
		return usagef("--format: %v", err)
	}
	results, names, err := loadResults(files)
	if err != nil {
		return err
	}
	return writeOutput(*outFile, stdout, func(w io.Writer) error {
		if format == report.HTML {
			return htmlreport.Render(w, results, names)
		}
		return report.RenderWith(w, report.Combine(results, names), format, report.Options{Wide: *wide})
	})
}

// loadResults loads result files, each named by its base name.
func loadResults(files []string) ([]*report.Result, []string, error) {
	var results []*report.Result
	var names []string
	for _, f := range files {
		res, err := report.Load(f)
		if err != nil {
			return nil, nil, usagef("%v", err)
		}
		results = append(results, res)
		names = append(names, filepath.Base(f))
	}
	return results, names, nil
}

// writeOutput runs render into path (atomically: a temporary file renamed
// into place, with report.OutputMode rather than CreateTemp's 0600) or,
// with no path, into stdout.
func writeOutput(path string, stdout io.Writer, render func(io.Writer) error) error {
	if path == "" {
		return render(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := render(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(report.OutputMode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
