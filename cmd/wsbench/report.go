package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/wsbench/wsbench/report"
)

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	formatS := fs.String("format", "table", "output format: table, markdown, csv, json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench report FILE... [--format table|markdown|csv|json]\n\n"+
			"Re-renders result files without re-running; several files are shown together.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one result file")
	}
	format, err := report.ParseFormat(*formatS)
	if err != nil {
		return usagef("--format: %v", err)
	}
	var results []*report.Result
	for _, f := range files {
		res, err := report.Load(f)
		if err != nil {
			return usagef("%v", err)
		}
		results = append(results, res)
	}
	return report.Render(stdout, report.Combine(results), format)
}
