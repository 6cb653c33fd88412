package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wsbench/wsbench/conformance"
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/servers"
	"github.com/wsbench/wsbench/suite"
)

// The suite's conformance part: its estimate and its summary table.

// conformancePerSubject is about what one library's cases take here (5.5
// to 23 s measured; the handshake probe alone waits 3–5 s).
const conformancePerSubject = 15 * time.Second

func init() {
	partEstimates["conformance"] = func(args []string) (time.Duration, error) {
		o := conformanceOptions{}
		if _, err := parseFlags(conformanceFlags(&o), args, io.Discard); err != nil {
			return 0, err
		}
		return time.Duration(len(servers.Names())+len(drivers.Names())) * conformancePerSubject, nil
	}
	partRenderers["conformance"] = conformanceSummary
}

// conformanceSummary is the suite summary's conformance table: each
// library and side with its outcomes, and how many cases the libraries
// disagree on (the edition's conformance.json holds each case).
func conformanceSummary(path string) (string, error) {
	r, err := conformance.Load(path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| library | side | pass | non-strict | fail | timeout | unsupported |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Subjects {
		if s.Error != "" {
			fmt.Fprintf(&b, "| %s | %s | not played: %s | | | | |\n", s.Name, s.Side, strings.ReplaceAll(s.Error, "|", `\|`))
			continue
		}
		t := s.Total()
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d |\n", s.Name, s.Side, t[conformance.Pass], t[conformance.NonStrict],
			t[conformance.Fail], t[conformance.Timeout], t[conformance.Unsupported])
	}
	fmt.Fprintf(&b, "\n%d cases; the libraries disagree on %d of them (every case, the RFC's sentence and the safety probes' costs: `wsbench conformance --format markdown` over this file's run, or the edition's report).\n",
		len(r.Cases), len(conformance.Disagreements(r)))
	return b.String(), nil
}

var _ suite.PartRenderer = conformanceSummary
