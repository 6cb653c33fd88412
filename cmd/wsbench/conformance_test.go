package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/conformance"
)

func TestConformanceFlagsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"conformance", "--groups", "nope"}, `group "nope"`},
		{[]string{"conformance", "--fail-on", "pass"}, `--fail-on "pass"`},
		{[]string{"conformance", "--format", "csv"}, `--format "csv"`},
		{[]string{"conformance", "--servers", "nosuch"}, "--servers"},
		{[]string{"conformance", "--target", "wss://127.0.0.1:1/echo"}, "ws:// URL"},
		{[]string{"conformance", "--servers", "none", "--drivers", "none"}, "nothing to play"},
		{[]string{"conformance", "--cases", "utf8.999"}, "no case matches"},
	} {
		code, _, errOut := wsbench(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want %d naming %q", c.args, code, errOut, exitUsage, c.want)
		}
	}
}

// TestConformanceEndToEnd runs one reference server (its own process) and
// one driver through the utf8 group: the JSON file holds every case with
// id, group and outcome; the HTML report is written; --fail-on fail exits
// 99 on gorilla's unchecked UTF-8, and not when the same outcomes are the
// baseline.
func TestConformanceEndToEnd(t *testing.T) {
	// Drivers are played in a child process of this binary, which is the
	// test binary: TestMain runs it as the CLI with this set.
	t.Setenv("WSBENCH_TEST_CLI", "1")
	dir := t.TempDir()
	out, html := filepath.Join(dir, "c.json"), filepath.Join(dir, "c.html")
	args := []string{"conformance", "--servers", "gorilla", "--drivers", "gobwas", "--groups", "utf8", "--format", "markdown", "--out", out, "--html", html}
	code, stdout, errOut := wsbench(t, append(args, "--fail-on", "fail")...)
	if code != exitThresholds {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitThresholds, stdout, errOut)
	}
	if !strings.Contains(errOut, "✗ --fail-on fail") || !strings.Contains(errOut, "gorilla (server) utf8.") {
		t.Errorf("stderr does not list the failing cases:\n%s", errOut)
	}
	for _, want := range []string{"| gorilla | server |", "| gobwas | client |", "## gorilla (server)", "| utf8 |", "## Every case"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	res, err := conformance.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Subjects) != 2 || len(res.Cases) == 0 {
		t.Fatalf("%d subjects, %d cases", len(res.Subjects), len(res.Cases))
	}
	for _, s := range res.Subjects {
		if len(s.Cases) != len(res.Cases) {
			t.Errorf("%s: %d cases, catalogue %d", s.Label(), len(s.Cases), len(res.Cases))
		}
		for _, c := range s.Cases {
			if c.ID == "" || c.Group != "utf8" || c.Outcome == "" || c.Reason == "" || len(c.FramesSent) == 0 {
				t.Errorf("%s: incomplete record %+v", s.Label(), c)
			}
		}
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "<h2>Every case</h2>") {
		t.Errorf("html report: %v", err)
	}
	code, _, errOut = wsbench(t, append(args, "--out", filepath.Join(dir, "again.json"), "--fail-on", "fail", "--baseline", out)...)
	if code != exitOK {
		t.Errorf("against its own baseline: exit %d\n%s", code, errOut)
	}
}
