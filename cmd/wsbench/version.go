package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/runner"
)

// versionCmd is `wsbench version`: which wsbench this is, the result schema
// and serve protocol it speaks, and its library versions. With --json it is
// what an A/B run asks of every binary before starting servers from it.
func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print as JSON (what wsbench run --ab reads of each binary)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wsbench version [--json]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected arguments: %v", rest)
	}
	b := runner.Build(modules())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	v := b.WsbenchVersion
	if b.WsbenchCommit != "" {
		v += " (" + b.WsbenchCommit + ")"
	}
	fmt.Fprintf(stdout, "wsbench %s\nresult schema %s, serve protocol %s\n%s", v, b.Schema, b.ServeProtocol, b.GoVersion)
	if b.Tags != "" {
		fmt.Fprintf(stdout, ", tags %s", b.Tags)
	}
	fmt.Fprintln(stdout)
	for _, m := range report.SortedKeys(b.Libraries) {
		fmt.Fprintf(stdout, "  %s %s\n", m, b.Libraries[m])
	}
	return nil
}
