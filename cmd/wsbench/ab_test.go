package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// TestABRunEndToEnd: two variants of one build (the test binary stands in
// for wsbench, one variant with a serve flag of its own) run interleaved;
// the table tells them apart, the file holds both with what each binary
// said of itself, the run ends with the paired comparison, and compare
// reads the file on its own.
func TestABRunEndToEnd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ab.json")
	self := os.Args[0]
	code, out, errOut := wsbench(t, "run", "--servers", "gorilla", "--conns", "4", "--duration", "300ms", "--warmup", "100ms",
		"--ab", "base="+self+",gogc400="+self+":--gogc=400", "--runs", "2", "--allow-insufficient", "--threshold", "errors==0", "--out", file)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"│ gorilla@base", "│ gorilla@gogc400", "A/B: gogc400 against base", "delta [95% CI]", "exact Wilcoxon signed-rank test of the pairs' log(B/A), two-sided",
		"2 pairs cannot fail a row on its own", "and 2 pairs give at best 1/2^2; use --runs 7 or more (allowed by --allow-insufficient)"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "[2/4] gorilla@gogc400") || !strings.Contains(errOut, "echo/gorilla@gogc400/gobwas") {
		t.Errorf("progress or the threshold summary does not name the variant:\n%s", errOut)
	}
	res, err := report.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	vs := res.Environment.Variants
	if len(vs) != 2 || vs[0].Name != "base" || vs[1].Name != "gogc400" || strings.Join(vs[1].Args, " ") != "--gogc=400" {
		t.Fatalf("variants in the file: %+v", vs)
	}
	for _, v := range vs {
		if v.Build.Schema != report.Schema || v.Build.Libraries["github.com/gorilla/websocket"] == "" || !filepath.IsAbs(v.Binary) {
			t.Errorf("variant %s: build info %+v, binary %q", v.Name, v.Build, v.Binary)
		}
	}
	var order []string
	for _, r := range res.Records {
		order = append(order, r.Variant)
	}
	if got := strings.Join(order, " "); got != "base gogc400 gogc400 base" {
		t.Errorf("variant order %s, want base gogc400 gogc400 base", got)
	}
	code, out, errOut = wsbench(t, "compare", file, "--allow-insufficient")
	if code != exitOK || !strings.Contains(out, "gogc400") || !strings.Contains(out, "pairs") {
		t.Errorf("compare of the A/B file: exit %d\n%s%s", code, out, errOut)
	}
}

// TestCompareABFileExitsOnARegression: a file whose second variant is
// slower in every pair fails compare with the regression code; within its
// allowance it passes.
func TestCompareABFileExitsOnARegression(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ab.json")
	res := &report.Result{Schema: report.Schema, Environment: report.Environment{Variants: []report.Variant{{Name: "main"}, {Name: "pr"}}}}
	for run := 1; run <= 8; run++ {
		for _, v := range []string{"main", "pr"} {
			tput := 1000 * float64(run) // drift across runs
			if v == "pr" {
				tput *= 0.9
			}
			res.Records = append(res.Records, report.Record{Scenario: "echo", Mode: "closed-loop", Server: "gorilla", Variant: v, Driver: "gobwas",
				Conns: 10, PayloadBytes: 1024, Run: run, Status: report.StatusOK, Messages: uint64(tput), ThroughputMsgsPerS: tput, DurationS: 1})
		}
	}
	if err := report.Save(file, res); err != nil {
		t.Fatal(err)
	}
	code, out, _ := wsbench(t, "compare", file, "--metrics", "throughput")
	if code != exitRegression || !strings.Contains(out, "worse ✗") || !strings.Contains(out, "-10.0%") {
		t.Errorf("10%% slower in every pair: exit %d, want %d\n%s", code, exitRegression, out)
	}
	code, out, _ = wsbench(t, "compare", file, "--metrics", "throughput", "--max-regression", "throughput=15%")
	if code != exitOK {
		t.Errorf("within a 15%% allowance: exit %d\n%s", code, out)
	}
	plain := filepath.Join(t.TempDir(), "plain.json")
	res.Environment.Variants = nil
	for i := range res.Records {
		res.Records[i].Variant = ""
	}
	if err := report.Save(plain, res); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := wsbench(t, "compare", plain); code != exitUsage || !strings.Contains(errOut, "not the file of an A/B run") {
		t.Errorf("one plain file: exit %d: %s", code, errOut)
	}
}

func TestABFlagRefusals(t *testing.T) {
	dir := t.TempDir()
	self := os.Args[0]
	notExec := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	quick := []string{"run", "--servers", "gorilla", "--conns", "2", "--duration", "200ms", "--out", filepath.Join(dir, "r.json")}
	code, _, errOut := wsbench(t, "run", "--conns", "2", "--ab", "a="+self+",b="+self, "--runs", "10", "--target", "ws://127.0.0.1:1/echo")
	if code != exitUsage || !strings.Contains(errOut, "does not go with --target") {
		t.Errorf("--ab with --target: exit %d: %s", code, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ab", "main=" + self}, "name two variants or more"},
		{[]string{"--ab", "main=" + self + ",main=" + self, "--runs", "10"}, `"main" is named twice`},
		{[]string{"--ab", "ma in=" + self + ",b=" + self, "--runs", "10"}, "may hold letters"},
		{[]string{"--ab", "a" + self + ",b=" + self, "--runs", "10"}, "want NAME=BINARY"},
		{[]string{"--ab", "a=./no-such-wsbench,b=" + self, "--runs", "10"}, "no binary"},
		{[]string{"--ab", "a=" + notExec + ",b=" + self, "--runs", "10"}, "not an executable file"},
		{[]string{"--ab", "a=no-such-wsbench-in-path,b=" + self, "--runs", "10"}, "not in PATH"},
		{[]string{"--ab", "a=" + self + ",b=" + self, "--runs", "6"}, "judges up to 5 rows together (cells × metrics × variants), so one row must reach p ≤ 0.05/5, which needs 7 runs or more"},
		{[]string{"--ab", "a=" + self + ",b=" + self + ",c=" + self, "--runs", "7", "--max-regression", "p999=20%"}, "up to 12 rows together"},
		{[]string{"--ab", "a=" + self + ",b=" + self + ":--gogc=lots", "--runs", "10"}, "does not take --gogc=lots"},
		{[]string{"--max-regression", "p99=10%"}, "give --ab too"},
		{[]string{"--ab", "a=" + self + ",b=" + self, "--runs", "10", "--max-regression", "p99=10"}, "as a percentage"},
	} {
		code, _, errOut := wsbench(t, append(quick, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, want %d and %q in:\n%s", c.args, code, exitUsage, c.want, errOut)
		}
	}
}

func TestVersionSaysSchemaProtocolAndLibraries(t *testing.T) {
	code, out, errOut := wsbench(t, "version", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var b report.BuildInfo
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("version --json is not JSON: %v\n%s", err, out)
	}
	if b.Schema != report.Schema || b.ServeProtocol != servers.Protocol || b.GoVersion == "" || b.Libraries["github.com/gorilla/websocket"] == "" {
		t.Errorf("version --json: %+v", b)
	}
	code, out, _ = wsbench(t, "version")
	if code != exitOK || !strings.Contains(out, "result schema "+report.Schema+", serve protocol "+servers.Protocol) {
		t.Errorf("version: exit %d\n%s", code, out)
	}
}

// TestABRunWithNothingToCompareIsNotARegression: a variant whose servers
// never start leaves nothing to pair. Even with --fail-on none the run
// must not read ok, nor claim a regression: it says there was no verdict.
func TestABRunWithNothingToCompareIsNotARegression(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "wsbench-broken")
	version := `{"wsbench_version":"v0","schema":"` + report.Schema + `","serve_protocol":"` + servers.Protocol + `"}`
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo '" + version + "'; exit 0; fi\n" +
		"for a; do [ \"$a\" = -h ] && exit 0; done\necho 'broken on purpose' >&2\nexit 1\n"
	if err := os.WriteFile(broken, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := wsbench(t, "run", "--servers", "gorilla", "--conns", "2", "--duration", "200ms", "--warmup", "0s",
		"--ab", "base="+os.Args[0]+",broken="+broken, "--runs", "1", "--allow-insufficient", "--fail-on", "none",
		"--out", filepath.Join(dir, "ab.json"))
	if code != exitRunFailed || !strings.Contains(errOut, "A/B: nothing to compare") || strings.Contains(errOut, "significantly worse") {
		t.Fatalf("exit %d, want %d saying nothing was compared\nstdout:\n%s\nstderr:\n%s", code, exitRunFailed, out, errOut)
	}
}
