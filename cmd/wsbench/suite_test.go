package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/suite"
)

// TestSuiteWritesAnEditionThatReportRendersAgain: a two-server suite of
// two echo parts and one this build cannot run writes an edition (result
// files, manifest, machine, command, summary, HTML); the missing part is
// named, not fatal; `wsbench report DIR` renders summary.md byte for byte
// from the files.
func TestSuiteWritesAnEditionThatReportRendersAgain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "suite.yaml")
	body := `description: a small suite
parts:
  - name: closed
    question: throughput per CPU
    command: run
    args: [--servers, "gorilla,gobwas", --conns, "4", --duration, 300ms, --warmup, 100ms, --runs, "3"]
    metrics: [server_cpu_per_million, throughput]
  - name: open
    question: tail latency under a fixed load
    command: run
    args: [--servers, gorilla, --conns, "4", --rate, "200", --duration, 300ms, --warmup, 100ms]
    metrics: [p99]
  - name: future
    question: tail latency under a fixed load
    command: run
    args: [--servers, gorilla, --no-such-flag, "1"]
    metrics: [p99]
`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ed := filepath.Join(dir, "ed")
	code, _, errOut := wsbench(t, "suite", "--file", file, "--out", ed)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, f := range []string{"closed.json", "open.json", suite.ManifestFile, suite.MachineFile, suite.CommandFile, suite.SummaryFile, suite.ReportFile} {
		if _, err := os.Stat(filepath.Join(ed, f)); err != nil {
			t.Errorf("edition lacks %s: %v", f, err)
		}
	}
	if !strings.Contains(errOut, "left in the suite") || !strings.Contains(errOut, "part 3/3 future missing") {
		t.Errorf("progress:\n%s", errOut)
	}
	sum, err := os.ReadFile(filepath.Join(ed, suite.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Throughput per CPU", "| gorilla |", "| gobwas |", "(median, min–max)", "### future", "Not in this edition: this build cannot run it yet",
		"flag provided but not defined: -no-such-flag", "Machine: "} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	code, out, errOut := wsbench(t, "report", ed)
	if code != exitOK || out != string(sum) {
		t.Errorf("report DIR: exit %d, %q; output differs from summary.md (%d vs %d bytes)", code, errOut, len(out), len(sum))
	}
	// The same folder again is refused: an edition is never overwritten.
	if code, _, errOut := wsbench(t, "suite", "--file", file, "--out", ed); code != exitUsage || !strings.Contains(errOut, "already holds an edition") {
		t.Errorf("second suite into %s: exit %d %q", ed, code, errOut)
	}
}

// TestPublishedEditionsRenderAsCommitted: every edition under results/
// renders its summary.md again, byte for byte, from its own files.
func TestPublishedEditionsRenderAsCommitted(t *testing.T) {
	dirs, _ := filepath.Glob("../../results/*/" + suite.SummaryFile)
	if len(dirs) == 0 {
		t.Skip("no published edition in this checkout")
	}
	for _, sum := range dirs {
		want, err := os.ReadFile(sum)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := wsbench(t, "report", filepath.Dir(sum))
		if code != exitOK || out != string(want) {
			t.Errorf("%s: exit %d %s; rendering differs from the committed summary (%d vs %d bytes)", sum, code, errOut, len(out), len(want))
		}
	}
}
