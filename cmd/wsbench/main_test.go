package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// TestMain lets the test binary act as wsbench itself: the runner re-executes
// its own binary as `wsbench serve`, which here is this test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "serve" || os.Args[1] == "version" || os.Getenv("WSBENCH_TEST_CLI") == "1") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func wsbench(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.json")
	code, out, errOut := wsbench(t, "run", "--conns", "20", "--duration", "1s", "--warmup", "200ms", "--out", file)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, s := range servers.Names() {
		if !strings.Contains(out, "│ "+s) {
			t.Errorf("table has no row for %s:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "echo · closed loop · 20 conns · 1024 B binary messages") {
		t.Errorf("table lacks its title:\n%s", out)
	}
	if !strings.Contains(errOut, "results: "+file) {
		t.Errorf("stderr does not name the result file:\n%s", errOut)
	}
	if !strings.Contains(errOut, fmt.Sprintf("[1/%d]", len(servers.Names()))) || !strings.Contains(errOut, "measure") {
		t.Errorf("stderr shows no progress:\n%s", errOut)
	}
	res, err := report.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != len(servers.Names()) {
		t.Fatalf("%d records, want one per server (%d)", len(res.Records), len(servers.Names()))
	}
	for _, r := range res.Records {
		if r.Status != report.StatusOK || r.Messages == 0 || r.ErrorCount() > 0 || r.Integrity.Faults() > 0 {
			t.Errorf("%s: status %s, %d messages, errors %v, integrity %+v", r.Server, r.Status, r.Messages, r.Errors, r.Integrity)
		}
	}
	if res.Environment.Libraries["github.com/gorilla/websocket"] == "" || res.Environment.Cores == 0 {
		t.Errorf("environment incomplete: %+v", res.Environment)
	}
	if res.ServerSettings["read_limit_bytes"] == nil {
		t.Errorf("server settings not recorded: %v", res.ServerSettings)
	}

	// report re-renders the same file in every format without re-running.
	code, csvOut, errOut := wsbench(t, "report", file, "--format", "csv")
	if code != exitOK {
		t.Fatalf("report csv: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil || len(rows) != 1+len(servers.Names()) {
		t.Fatalf("report csv: %d rows (%v), want header + one per server", len(rows), err)
	}
	code, jsonOut, _ := wsbench(t, "report", "--format", "json", file)
	var back report.Result
	if code != exitOK || json.Unmarshal([]byte(jsonOut), &back) != nil || len(back.Records) != len(servers.Names()) {
		t.Fatalf("report json: exit %d, %d records", code, len(back.Records))
	}
	// The table is ranked and fits 120 columns; --wide has every column.
	code, tableOut, _ := wsbench(t, "report", file)
	if code != exitOK || !strings.Contains(tableOut, "ranked by ") || strings.Contains(tableOut, "p99.9") {
		t.Fatalf("report table: exit %d:\n%s", code, tableOut)
	}
	for _, line := range strings.Split(tableOut, "\n") {
		if n := utf8.RuneCountInString(line); n > report.TableWidth {
			t.Errorf("report table: a line of %d columns:\n%s", n, tableOut)
			break
		}
	}
	code, wideOut, _ := wsbench(t, "report", file, "--wide")
	if code != exitOK || !strings.Contains(wideOut, "p99.9") || !strings.Contains(wideOut, "goroutines/conn") {
		t.Fatalf("report --wide: exit %d:\n%s", code, wideOut)
	}
}

func TestBadInputGetsOneClearLine(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--servers", "gorilla,nope"}, `unknown server "nope" (known: coder, fasthttp, gobwas,`},
		{[]string{"run", "--driver", "nope"}, `unknown driver "nope"`},
		{[]string{"run", "--driver", "xnet", "--compression"}, "--compression: driver xnet cannot do permessage-deflate"},
		{[]string{"run", "--scenario", "nope"}, `unknown scenario "nope"`},
		{[]string{"run", "--conns", "25000"}, "open-file limit (RLIMIT_NOFILE)"},
		{[]string{"run", "--conns", "0"}, "--conns 0: must be at least 1"},
		{[]string{"run", "--duration", "ten"}, `--duration "ten": want a duration`},
		{[]string{"run", "--payload", "1x"}, `--payload "1x": want a size`},
		{[]string{"run", "--payload", "10"}, "payload of 10 bytes is too small"},
		{[]string{"run", "--format", "xml"}, `unknown format "xml"`},
		{[]string{"run", "--target", "http://127.0.0.1:1/"}, "want a ws:// or wss:// URL"},
		{[]string{"run", "--target", "ws://127.0.0.1:1/echo", "--warmup", "0s", "--duration", "1s"}, "unreachable (dial_refused)"},
		{[]string{"run", "--insecure"}, "--insecure only applies to a wss:// --target"},
		{[]string{"report"}, "name at least one result file"},
		{[]string{"report", "/nonexistent/r.json"}, "no such file"},
		{[]string{"serve"}, "--server is required"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, c := range cases {
		code, out, errOut := wsbench(t, c.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, exitUsage, errOut)
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, errOut, c.want)
		}
		if c.args[0] != "frobnicate" && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: want one line, got %q", c.args, errOut)
		}
		if out != "" {
			t.Errorf("%v: nothing belongs on stdout, got %q", c.args, out)
		}
	}
}

func TestList(t *testing.T) {
	code, out, _ := wsbench(t, "list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"github.com/gorilla/websocket", "v1.5.3", "github.com/gobwas/ws", "v1.5.0",
		"github.com/coder/websocket", "v1.8.15", "echo", "default", "SETTINGS A SERVER CANNOT APPLY",
		"coder     read_buffer_bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1024": 1024, "4KiB": 4096, "4k": 4096, "1MiB": 1 << 20, "512B": 512, "2 kb": 2048} {
		got, err := parseSize("payload", in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5k", "k", "2GiB"} {
		if _, err := parseSize("payload", bad); err == nil {
			t.Errorf("parseSize(%q): want an error", bad)
		}
	}
}

func TestParseRateStepsAndSLO(t *testing.T) {
	steps, err := parseRateSteps("5000:20000:5000")
	if err != nil || len(steps) != 4 || steps[0] != 5000 || steps[3] != 20000 {
		t.Fatalf("steps %v, %v", steps, err)
	}
	for _, bad := range []string{"5000:1000:500", "1:2", "a:b:c", "1:1000000:1"} {
		if _, err := parseRateSteps(bad); err == nil {
			t.Errorf("parseRateSteps(%q): want an error", bad)
		}
	}
	slo, err := report.ParseSLO("p99=10ms")
	if err != nil || slo.Metric.Name != "p99" || slo.Value != 10_000 {
		t.Fatalf("slo %+v, %v", slo, err)
	}
	for _, bad := range []string{"p98=10ms", "p99", "p99=fast", "p99=-1ms"} {
		if _, err := report.ParseSLO(bad); err == nil {
			t.Errorf("parseSLO(%q): want an error", bad)
		}
	}
	code, _, errOut := wsbench(t, "run", "--rate", "1000:3000:1000")
	if code != exitUsage || !strings.Contains(errOut, "needs an objective: add --slo") {
		t.Errorf("rate range without --slo: exit %d %q", code, errOut)
	}
	code, _, errOut = wsbench(t, "run", "--conns", "10,20,x")
	if code != exitUsage || !strings.Contains(errOut, "--conns") {
		t.Errorf("bad conns list: exit %d %q", code, errOut)
	}
}

func TestThresholdsCompareAndBenchfmt(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.json")
	code, out, errOut := wsbench(t, "run", "--servers", "gorilla", "--conns", "5", "--duration", "500ms", "--warmup", "0s",
		"--out", file, "--threshold", "errors==0", "--threshold", "echo/gorilla:p99<10s", "--threshold", "throughput>1")
	if code != exitOK || !strings.Contains(errOut, "✓ errors==0") || !strings.Contains(errOut, "thresholds: 3 passed, 0 failed") {
		t.Fatalf("passing thresholds: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = wsbench(t, "run", "--servers", "gorilla", "--conns", "5", "--duration", "500ms", "--warmup", "0s",
		"--out", filepath.Join(dir, "r2.json"), "--threshold", "p50<1us", "--threshold", "errors==0")
	if code != exitThresholds || !strings.Contains(errOut, "✗ p50<1us") {
		t.Fatalf("failing threshold: exit %d, want %d\n%s", code, exitThresholds, errOut)
	}
	code, _, errOut = wsbench(t, "run", "--servers", "gorilla", "--conns", "5", "--duration", "500ms", "--warmup", "0s",
		"--out", filepath.Join(dir, "r3.json"), "--threshold", "broadcast:lost==0")
	if code != exitThresholds || !strings.Contains(errOut, "broadcast:lost==0") {
		t.Fatalf("threshold matching no record: exit %d\n%s", code, errOut)
	}
	code, _, errOut = wsbench(t, "run", "--threshold", "p99<fast")
	if code != exitUsage || !strings.Contains(errOut, "--threshold") {
		t.Fatalf("bad threshold: exit %d %q", code, errOut)
	}

	code, bench, _ := wsbench(t, "report", file, "--format", "benchfmt")
	if code != exitOK || !strings.Contains(bench, "BenchmarkEcho/server=gorilla/driver=gobwas/conns=5/payload=1024 ") ||
		!strings.Contains(bench, "goos: ") || !strings.Contains(bench, "p99-ns") {
		t.Fatalf("benchfmt: exit %d\n%s", code, bench)
	}

	// One run against one run cannot be judged: said plainly, and not a pass.
	code, cmpOut, _ := wsbench(t, "compare", file, file)
	if code != exitRegression || !strings.Contains(cmpOut, "insufficient") {
		t.Fatalf("compare 1 vs 1: exit %d, want %d\n%s", code, exitRegression, cmpOut)
	}
	code, _, _ = wsbench(t, "compare", file, file, "--allow-insufficient")
	if code != exitOK {
		t.Fatalf("compare --allow-insufficient: exit %d", code)
	}
	code, _, errOut = wsbench(t, "compare", file)
	if code != exitUsage || !strings.Contains(errOut, "not the file of an A/B run") || !strings.Contains(errOut, "give BASE and NEW") {
		t.Fatalf("compare with one plain file: exit %d %q", code, errOut)
	}
	code, _, errOut = wsbench(t, "compare", file, file, file)
	if code != exitUsage || !strings.Contains(errOut, "want two result files, BASE and NEW, or one A/B result file; got 3") {
		t.Fatalf("compare with three files: exit %d %q", code, errOut)
	}
	code, _, errOut = wsbench(t, "compare", file, file, "--max-regression", "p99=lots")
	if code != exitUsage || !strings.Contains(errOut, "--max-regression") {
		t.Fatalf("bad --max-regression: exit %d %q", code, errOut)
	}
}

func TestReportHTMLAndRunHTML(t *testing.T) {
	dir := t.TempDir()
	file, page := filepath.Join(dir, "r.json"), filepath.Join(dir, "run.html")
	code, _, errOut := wsbench(t, "run", "--servers", "gorilla,coder", "--conns", "4", "--duration", "1500ms", "--warmup", "0s",
		"--out", file, "--html", page)
	if code != exitOK || !strings.Contains(errOut, "report: "+page) {
		t.Fatalf("run --html: exit %d\n%s", code, errOut)
	}
	diff := filepath.Join(dir, "diff.html")
	if code, _, errOut := wsbench(t, "report", file, file, "--format", "html", "-o", diff); code != exitOK {
		t.Fatalf("report html: exit %d %s", code, errOut)
	}
	for _, p := range []string{file, page, diff} {
		if st, err := os.Stat(p); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", p, st.Mode().Perm())
		}
	}
	for _, p := range []string{page, diff} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), `<polyline class="series"`); n < 2 {
			t.Errorf("%s: %d latency series, want one per server and file", p, n)
		}
	}
	if code, _, errOut := wsbench(t, "run", "--format", "html"); code != exitUsage || !strings.Contains(errOut, "--html FILE") {
		t.Errorf("run --format html: exit %d %q", code, errOut)
	}
}

// TestRunCompression runs echo with --compression: every connection's
// handshake must have negotiated permessage-deflate, the server must have
// counted as many, the table must say so in its deflate column, and the
// manifest and the exceptions must be in the file and in the report.
func TestRunCompression(t *testing.T) {
	file := filepath.Join(t.TempDir(), "z.json")
	code, out, errOut := wsbench(t, "run", "--servers", "gorilla,coder", "--conns", "3", "--duration", "500ms",
		"--warmup", "0s", "--compression", "--out", file)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	res, err := report.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records {
		c := r.Compression
		if c == nil || !c.Offered || c.NegotiatedConns != 3 || c.ServerCounted == nil || *c.ServerCounted != 3 {
			t.Errorf("%s: compression %+v, want 3 negotiated and 3 counted by the server", r.Server, c)
		}
		if r.Messages == 0 || r.Integrity.Faults() > 0 {
			t.Errorf("%s: %d messages, integrity %+v", r.Server, r.Messages, r.Integrity)
		}
	}
	if res.ServerSettings["compression"] != true {
		t.Errorf("manifest records compression %v, want true", res.ServerSettings["compression"])
	}
	if len(res.ServerExceptions["coder"]) == 0 {
		t.Error("coder's exceptions are not in the result file")
	}
	for _, want := range []string{"│ deflate │", "│ on ", "permessage-deflate offered", "fairness manifest (every server):",
		"compression=true", "coder: compression_level:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, md, _ := wsbench(t, "report", file, "--format", "markdown")
	if code != exitOK || !strings.Contains(md, "**Fairness manifest**") || !strings.Contains(md, "- coder: read_buffer_bytes") {
		t.Errorf("markdown report lacks the manifest or the exceptions:\n%s", md)
	}
}

// TestRangeMessagesMatchWhatIsAccepted: each flag's range message states
// the range the flag accepts: the boundary it names is accepted, the value
// just past it is refused with that message.
func TestRangeMessagesMatchWhatIsAccepted(t *testing.T) {
	cases := []struct {
		accepted []string // run flags that must plan without error
		refused  []string
		want     string
	}{
		{[]string{"--warmup", "0s"}, []string{"--warmup", "-1s"}, "--warmup -1s: must be zero or more"},
		{[]string{"--duration", "1ms"}, []string{"--duration", "0s"}, "--duration 0s: must be more than zero"},
		{[]string{"--scenario", "reconnect", "--fault", "kill", "--fault-at", "0s"},
			[]string{"--scenario", "reconnect", "--fault", "kill", "--fault-at", "-1s"}, "--fault-at -1s: must be zero or more"},
		{[]string{"--connect-rate", "0"}, []string{"--connect-rate", "-1"}, "--connect-rate -1: must be 0 (as fast as possible) or more"},
		{[]string{"--rate", "0.5"}, []string{"--rate", "0"}, "--rate 0: must be more than zero; for the closed loop leave --rate out"},
		{[]string{"--scenario", "broadcast", "--rate", "1"}, []string{"--scenario", "broadcast", "--rate", "0"}, "--rate 0: must be more than zero; without --rate, broadcast runs at 100 msgs/s"},
		{[]string{"--rate", "1:2:1", "--slo", "p99=10ms"}, []string{"--rate", "0:2:1", "--slo", "p99=10ms"}, "START, END and STEP must each be more than zero"},
		{[]string{"--payload", "1GiB", "--conns", "1"}, []string{"--payload", "1025MiB"}, "--payload 1025MiB: must be at most 1GiB"},
		{[]string{"--conns", "1"}, []string{"--conns", "0"}, "--conns 0: must be at least 1"},
		{[]string{"--runs", "1"}, []string{"--runs", "0"}, "--runs 0: must be at least 1"},
	}
	for _, c := range cases {
		o, err := parseRunFlags(c.accepted, io.Discard)
		if err == nil {
			_, _, err = o.plan()
		}
		if err != nil {
			t.Errorf("%v refused: %v", c.accepted, err)
		}
		code, _, errOut := wsbench(t, append([]string{"run"}, c.refused...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.refused, code, errOut, c.want)
		}
	}
}

// TestServeSizesAndRanges: serve's size flags take the syntax run's do, and
// its range messages say what is accepted. Every case here fails before
// the server starts.
func TestServeSizesAndRanges(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		// The sizes parse: the error is the later --listen check.
		{[]string{"--gomemlimit", "1GiB", "--read-limit", "4MiB", "--read-buffer", "8KiB", "--listen", "0.0.0.0:0"}, "--listen 0.0.0.0:0 is beyond loopback"},
		{[]string{"--gomemlimit", "1x"}, `invalid value "1x" for flag -gomemlimit: want a size such as`},
		{[]string{"--read-limit", "-1"}, `invalid value "-1" for flag -read-limit: want a size`},
		{[]string{"--idle-timeout", "-1s"}, "--idle-timeout -1s: must be 0 (never) or more"},
		{[]string{"--write-timeout", "-1s"}, "--write-timeout -1s: must be 0 (never) or more"},
		{[]string{"--read-buffer", "0"}, "--read-buffer 0: must be at least 1"},
	} {
		code, _, errOut := wsbench(t, append([]string{"serve", "--server", "gorilla"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want %q", c.args, code, errOut, c.want)
		}
	}
}
