package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	stem := strings.TrimSuffix(filepath.Base(path), ".json")
	fmt.Fprintf(&b, "\n%d cases; the libraries disagree on %d of them. Every case with the RFC's sentence, the disagreements and the safety probes' costs: `%s.md` and `%s.html` in this edition.\n",
		len(r.Cases), len(conformance.Disagreements(r)), stem, stem)
	return b.String(), nil
}

var _ suite.PartRenderer = conformanceSummary

// writeConformancePages writes an edition's conformance part in full, as
// `wsbench conformance` renders it: PART.md and PART.html beside its JSON.
func writeConformancePages(jsonPath string) error {
	r, err := conformance.Load(jsonPath)
	if err != nil {
		return err
	}
	stem := strings.TrimSuffix(jsonPath, ".json")
	for ext, render := range map[string]func(io.Writer, *conformance.Result) error{".md": conformance.RenderMarkdown, ".html": conformance.RenderHTML} {
		f, err := os.Create(stem + ext)
		if err != nil {
			return fmt.Errorf("conformance pages: %w", err)
		}
		if err := render(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
