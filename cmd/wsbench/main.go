// Command wsbench benchmarks Go WebSocket libraries and load-tests WebSocket
// servers. It only parses flags and wires the packages together: servers,
// drivers and scenarios do the work, report renders it.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// Exit codes: usage errors are told apart from runs that failed.
const (
	exitOK          = 0
	exitRunFailed   = 1   // a cell failed (its record says why), or the result file could not be written
	exitUsage       = 2   // bad command line or input file, or a run refused before it starts
	exitDegraded    = 3   // run: a cell was degraded (faults within the bounds of report/verdict.go)
	exitRegression  = 98  // compare: a significant regression beyond its allowance
	exitThresholds  = 99  // run: a --threshold failed (as k6 does); conformance: a --fail-on outcome
	exitInterrupted = 130 // Ctrl-C; partial results were written
)

const usage = `wsbench benchmarks Go WebSocket libraries and load-tests WebSocket servers.

Usage:
  wsbench run     [flags]                  run a benchmark (default: echo, every reference server, one driver)
  wsbench serve   --server NAME [flags]    run one reference server (the runner starts these itself)
  wsbench suite   [--quick] [--out DIR]    the standard comparison of every library, into an edition folder
  wsbench report  FILE... [--format F]     re-render result files (or an edition: wsbench report DIR)
  wsbench compare BASE NEW [flags]         significant regressions between two result files
  wsbench compare AB.json [flags]          the same within one A/B run (run --ab), pair by pair
  wsbench merge   SHARD... -o FILE         add the shards of a run (--shard i/n) into one result file
  wsbench conformance [flags]              RFC 6455/7692 cases against every server and driver (pass, non-strict, fail…)
  wsbench list                             servers, drivers, scenarios and library versions
  wsbench version [--json]                 this build: version, result schema, serve protocol, libraries

Run 'wsbench COMMAND -h' for the flags of a command.
`

// usageError is a mistake on the command line; main prints it as one line
// and exits with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	code := exitOK
	switch args[0] {
	case "run":
		code, err = runCmd(args[1:], stdout, stderr)
	case "serve":
		err = serveCmd(args[1:], stdout, stderr)
	case "report":
		err = reportCmd(args[1:], stdout, stderr)
	case "suite":
		code, err = suiteCmd(args[1:], stdout, stderr)
	case "compare":
		code, err = compareCmd(args[1:], stdout, stderr)
	case "merge":
		err = mergeCmd(args[1:], stdout, stderr)
	case "conformance":
		code, err = conformanceCmd(args[1:], stdout, stderr)
	case "list":
		err = listCmd(stdout)
	case "version":
		err = versionCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "wsbench: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue usageError
	switch {
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "wsbench %s: %v\n", args[0], err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "wsbench %s: %v\n", args[0], err)
		return exitRunFailed
	}
	return code
}

// Keep the registries linked in: each package registers in init.
var (
	_ = drivers.Names
	_ = servers.Names
	_ = scenarios.Names
)
