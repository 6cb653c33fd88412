package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
)

// TestRefusedBeforeAnyConnection: each of these is refused at once, with
// one line naming the numbers or the path, before a server starts.
func TestRefusedBeforeAnyConnection(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		args []string
		want string
	}{
		// Far beyond any machine: 5000 × 1 GiB × 6 copies.
		{[]string{"run", "--payload", "1024MiB", "--conns", "5000"}, "this run needs about 30000.7 GiB of memory and the machine has"},
		{[]string{"run", "--out", filepath.Join(missing, "x.json")}, "folder " + missing + " does not exist"},
		{[]string{"run", "--html", filepath.Join(missing, "r.html")}, "folder " + missing + " does not exist"},
		{[]string{"run", "--out", dir}, "is a folder"},
		{[]string{"run", "--scenario", "heartbeat", "--rate", "100"}, "--rate does not apply to the heartbeat scenario"},
		{[]string{"run", "--ping-interval", "2s"}, "--ping-interval does not apply to the echo scenario"},
		{[]string{"run", "--scenario", "echo", "--publishers", "3"}, "--publishers does not apply to the echo scenario"},
		{[]string{"run", "--fail-on", "sometimes"}, `--fail-on "sometimes"`},
	}
	for _, c := range cases {
		start := time.Now()
		code, out, errOut := wsbench(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, want exit %d saying %q", c.args, code, errOut, exitUsage, c.want)
		}
		if strings.Contains(errOut, "[1/") || time.Since(start) > time.Second {
			t.Errorf("%v: the run started before being refused: %q", c.args, errOut)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("%s was created", missing)
	}
}

func TestMemoryEstimate(t *testing.T) {
	p := scenarios.Params{Payload: 100 << 20}
	// The seen case: 100 MiB at the default 100 connections on a 23 GiB machine.
	e := estimateMemory(p, []int{100}, false, 4096, 4096)
	if err := e.check(23 << 30); err == nil || !strings.Contains(err.Error(), "100 conns × 600.1 MiB per connection") {
		t.Errorf("100 MiB × 100 conns on 23 GiB: %v", err)
	}
	// Two connections fit: 1.2 GiB.
	if err := estimateMemory(p, []int{2}, false, 4096, 4096).check(23 << 30); err != nil {
		t.Errorf("100 MiB × 2 conns on 23 GiB refused: %v", err)
	}
	// The largest of several counts decides; a --target holds only the client side.
	both := estimateMemory(p, []int{2, 50}, false, 4096, 4096)
	client := estimateMemory(p, []int{2, 50}, true, 4096, 4096)
	if both.conns != 50 || client.total >= both.total/2+50*perConnOverhead {
		t.Errorf("estimates: both sides %+v, target %+v", both, client)
	}
}

// startServer starts a reference server on loopback from this test binary
// and returns its address; it is stopped (by its pid) when the test ends.
func startServer(t *testing.T) (addr string, proc *os.Process) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--server", "gorilla", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	for _, f := range strings.Fields(line) {
		if a, ok := strings.CutPrefix(f, "addr="); ok {
			return a, cmd.Process
		}
	}
	t.Fatalf("no address in %q", line)
	return "", nil
}

// TestFailedCellsExitNonZero: echo against a /broadcast endpoint gets
// corrupt replies; the cell fails, shows no headline figure, and the exit
// code says so unless --fail-on none.
func TestFailedCellsExitNonZero(t *testing.T) {
	addr, _ := startServer(t)
	dir := t.TempDir()
	args := []string{"run", "--target", "ws://" + addr + "/broadcast", "--conns", "2", "--duration", "500ms", "--warmup", "0s",
		"--out", filepath.Join(dir, "r.json"), "--wide"}
	code, out, errOut := wsbench(t, args...)
	if code != exitRunFailed || !strings.Contains(out, "│ failed") || !strings.Contains(out, "corrupt") ||
		!strings.Contains(errOut, "1 of 1 cells failed") {
		t.Fatalf("echo against /broadcast: exit %d, want %d\n%s\n%s", code, exitRunFailed, out, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "│ failed") {
			continue
		}
		cells := strings.Split(line, "│")
		// │ server │ driver │ status │ msgs/s │ MB/s │ p50 … max │ (--wide;
		// no rank column, as nothing in the table can be ranked)
		for _, c := range cells[4:11] {
			if strings.TrimSpace(c) != "-" {
				t.Errorf("a failed row shows headline figures:\n%s", line)
				break
			}
		}
	}
	code, _, errOut = wsbench(t, append(args, "--fail-on", "none")...)
	if code != exitOK {
		t.Errorf("--fail-on none: exit %d\n%s", code, errOut)
	}
}

// TestTargetKilledMidRunFails: a target that dies halfway through the
// window leaves a failed cell, not an ok one averaged over the dead half.
func TestTargetKilledMidRunFails(t *testing.T) {
	addr, proc := startServer(t)
	dir := t.TempDir()
	time.AfterFunc(1500*time.Millisecond, func() { _ = proc.Kill() })
	code, out, errOut := wsbench(t, "run", "--target", "ws://"+addr+"/echo", "--conns", "4", "--duration", "2s", "--warmup", "0s",
		"--out", filepath.Join(dir, "r.json"))
	if code != exitRunFailed || !strings.Contains(out, "│ failed") {
		t.Fatalf("killed target: exit %d, want %d\n%s\n%s", code, exitRunFailed, out, errOut)
	}
	res, err := report.Load(filepath.Join(dir, "r.json"))
	if err != nil || res.Records[0].Status != report.StatusFailed {
		t.Fatalf("record: %v %+v", err, res)
	}
}

func TestVerdictsInCapacitySearch(t *testing.T) {
	rec := func(server, status string, pass bool) report.Record {
		return report.Record{Server: server, Status: status, SLO: &report.SLOCheck{Pass: pass}}
	}
	for _, tc := range []struct {
		name             string
		rs               []report.Record
		failed, degraded int
	}{
		{"plain", []report.Record{{Status: "ok"}, {Status: "degraded"}, {Status: "failed"}}, 1, 1},
		// A server that passed a step and then broke one found its capacity.
		{"broke after passing", []report.Record{rec("a", "ok", true), rec("a", "failed", false)}, 0, 0},
		{"degraded step that broke", []report.Record{rec("a", "degraded", false)}, 0, 0},
		{"failed at the first step", []report.Record{rec("a", "failed", false), rec("b", "ok", true)}, 1, 0},
	} {
		f, d := verdicts(tc.rs)
		if f != tc.failed || d != tc.degraded {
			t.Errorf("%s: failed %d degraded %d, want %d %d", tc.name, f, d, tc.failed, tc.degraded)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe to read while the run writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCtrlCStopsWithinTwoSeconds sends this process SIGINT in the measured
// window of a run with large messages: it must stop, write what it has and
// exit 130 within 2 s.
func TestCtrlCStopsWithinTwoSeconds(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	var stopped time.Time
	go func() {
		code := run([]string{"run", "--servers", "gorilla", "--payload", "4MiB", "--conns", "4", "--duration", "30s", "--warmup", "0s",
			"--out", filepath.Join(dir, "r.json")}, &stdout, &stderr)
		stopped = time.Now()
		done <- code
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "measure") {
		if time.Now().After(deadline) {
			t.Fatalf("never reached the measured window:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if took := stopped.Sub(sent); took > 2*time.Second || code != exitInterrupted {
			t.Fatalf("stopped after %s with exit %d, want within 2s and %d\n%s", took, code, exitInterrupted, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after Ctrl-C:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("no table with the interrupted cell:\n%s", stdout.String())
	}
	if _, err := report.Load(filepath.Join(dir, "r.json")); err != nil {
		t.Errorf("partial results not written: %v", err)
	}
}

// TestCompareNothingComparable: two files with no cell in common are not
// a regression.
func TestCompareNothingComparable(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for i, f := range []string{a, b} {
		r := report.Record{Scenario: "echo", Mode: "closed-loop", Server: "gorilla", Driver: "gobwas", Conns: 10 * (i + 1),
			PayloadBytes: 1024, Run: 1, Status: report.StatusOK, Messages: 100, ThroughputMsgsPerS: 100}
		if err := report.Save(f, &report.Result{Schema: report.Schema, Records: []report.Record{r}}); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := wsbench(t, "compare", a, b)
	if code != exitUsage || !strings.Contains(errOut, "nothing to compare") {
		t.Fatalf("compare with no common cell: exit %d, want %d: %q", code, exitUsage, errOut)
	}
}

// TestTablePrintedWhenSaveFails: a result file that cannot be written at
// the end of the run (its folder removed meanwhile) still leaves the table
// on stdout, and exit 1.
func TestTablePrintedWhenSaveFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"run", "--servers", "gorilla", "--conns", "2", "--duration", "1s", "--warmup", "0s",
			"--out", filepath.Join(dir, "r.json")}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "measure") {
		if time.Now().After(deadline) {
			t.Fatalf("never reached the measured window:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	code := <-done
	if code != exitRunFailed || !strings.Contains(stdout.String(), "│ gorilla") || !strings.Contains(stderr.String(), "write result") {
		t.Fatalf("exit %d, want %d with the table printed\nstdout:\n%s\nstderr:\n%s", code, exitRunFailed, stdout.String(), stderr.String())
	}
}

// TestReconnectDefaultWindowOutlastsTheBackoff: without --duration the
// reconnect window leaves every client its longest backoff wait after the
// server is back; a window that closed first would count clients the
// backoff was still holding as never recovered.
func TestReconnectDefaultWindowOutlastsTheBackoff(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 17 * time.Second}, // 2s + 3s + 10s + 2s
		{[]string{"--backoff-cap", "1s"}, 10 * time.Second},
		{[]string{"--fault-at", "5s", "--fault-for", "20s", "--backoff-cap", "30s"}, 57 * time.Second},
		{[]string{"--duration", "8s"}, 8 * time.Second}, // given: kept
	} {
		o, err := parseRunFlags(append([]string{"--scenario", "reconnect", "--fault", "term"}, c.args...), io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		plan, _, err := o.plan()
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if plan.Params.Duration != c.want {
			t.Errorf("%v: window %s, want %s", c.args, plan.Params.Duration, c.want)
		}
	}
}

// TestHelpNamesTheScenariosAFlagAppliesTo: `run -h` names, for every flag
// that applies to some scenarios only, exactly those scenarios before its
// first colon, so the help and the "does not apply" refusal agree.
func TestHelpNamesTheScenariosAFlagAppliesTo(t *testing.T) {
	_, _, help := wsbench(t, "run", "-h")
	usage := map[string]string{}
	var flag string
	for _, line := range strings.Split(help, "\n") {
		if f, ok := strings.CutPrefix(line, "  -"); ok {
			flag, _, _ = strings.Cut(f, " ")
			continue
		}
		if flag != "" {
			usage[flag] += strings.TrimSpace(line) + " "
		}
	}
	for name, applies := range scenarioFlags() {
		head, _, ok := strings.Cut(usage[name], ":")
		if !ok {
			t.Errorf("--%s: help %q does not begin with the scenarios it applies to", name, usage[name])
			continue
		}
		for _, sc := range scenarios.Names() {
			named := slices.Contains(strings.FieldsFunc(head, func(r rune) bool { return r == ' ' || r == ',' }), sc)
			if named != slices.Contains(applies, sc) {
				t.Errorf("--%s: help %q names %s: %v, but the flag applies to %v", name, head, sc, named, applies)
			}
		}
	}
}
