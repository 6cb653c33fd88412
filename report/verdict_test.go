package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/measure"
)

func TestJudge(t *testing.T) {
	base := func(t *testing.T) Record {
		r := sampleRecord(t, "gorilla", 1)
		r.Conns, r.Connect = 100, Connect{Attempted: 100, Established: 100}
		r.Messages, r.Integrity.Sent, r.Integrity.Received = 100000, 100000, 100000
		return r
	}
	for _, tc := range []struct {
		name   string
		change func(r *Record)
		want   string
		reason string
	}{
		{"clean", func(r *Record) {}, StatusOK, ""},
		{"nothing completed", func(r *Record) { r.Messages, r.Latency.Count = 0, 0 }, StatusFailed, "nothing completed"},
		// --payload 100MiB --conns 2: one sent, none answered.
		{"lost the only message", func(r *Record) {
			r.Messages, r.Latency.Count = 0, 0
			r.Integrity.Sent, r.Integrity.Received, r.Integrity.Lost = 1, 0, 1
		}, StatusFailed, "1 of 1 messages"},
		{"few lost", func(r *Record) { r.Integrity.Lost = 10 }, StatusDegraded, "10 of 100,000 messages"},
		{"lost at the bound", func(r *Record) { r.Integrity.Lost = 1000 }, StatusDegraded, "bound 1.0%"},
		{"lost past the bound", func(r *Record) { r.Integrity.Lost = 1001 }, StatusFailed, "lost"},
		// echo against /broadcast: nearly every reply corrupt.
		{"corrupt", func(r *Record) { r.Integrity.Corrupt = 97506 }, StatusFailed, "corrupt"},
		{"few errors", func(r *Record) { r.Errors["read"] = 5 }, StatusDegraded, "5 errors over 100 connections"},
		{"many errors", func(r *Record) { r.Errors["read"] = 6 }, StatusFailed, "6 errors"},
		// The target killed halfway: every connection broken for half the window.
		{"broken half the window", func(r *Record) {
			r.Series = []Second{{BrokenConn: 0}, {BrokenConn: 0}, {BrokenConn: 100}, {BrokenConn: 100}}
		}, StatusFailed, "50%"},
		{"one broken connection briefly", func(r *Record) {
			r.Series = []Second{{}, {}, {BrokenConn: 1}, {BrokenConn: 1}}
		}, StatusDegraded, "0.5%"},
		{"connect with none established", func(r *Record) {
			r.Scenario, r.Messages, r.Latency.Count = "connect", 0, 0
			r.Connect.Established = 0
		}, StatusFailed, "no connection"},
		{"connect needs no messages", func(r *Record) { r.Scenario, r.Messages, r.Latency.Count = "connect", 0, 0 }, StatusOK, ""},
		{"runner's failure stands", func(r *Record) { r.Status, r.Reason = StatusFailed, "server exited" }, StatusFailed, "server exited"},
		{"interrupted stays", func(r *Record) { r.Status, r.Reason = StatusInterrupted, "interrupted"; r.Messages = 0 }, StatusInterrupted, "interrupted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base(t)
			tc.change(&r)
			ApplyVerdict(&r)
			if r.Status != tc.want || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("status %q reason %q, want %q containing %q", r.Status, r.Reason, tc.want, tc.reason)
			}
		})
	}
}

func TestFailedRowShowsNoHeadline(t *testing.T) {
	ok := sampleRecord(t, "gorilla", 1)
	failed := sampleRecord(t, "coder", 1)
	failed.ThroughputMsgsPerS = 72726
	failed.Integrity.Sent, failed.Integrity.Corrupt = 97509, 97506
	failed.Messages = 97509
	ApplyVerdict(&failed)
	degraded := sampleRecord(t, "gws", 1)
	degraded.ThroughputMsgsPerS = 4321
	degraded.Connect.Attempted = 100
	degraded.Errors["read"] = 1
	ApplyVerdict(&degraded)
	if failed.Status != StatusFailed || degraded.Status != StatusDegraded {
		t.Fatalf("statuses %s, %s", failed.Status, degraded.Status)
	}
	var b bytes.Buffer
	if err := RenderWith(&b, &Result{Schema: Schema, Records: []Record{ok, failed, degraded}}, Table, Options{Wide: true}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	var coderRow, gwsRow string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "coder !") && coderRow == "" {
			coderRow = line
		}
		if strings.Contains(line, "gws !") && gwsRow == "" {
			gwsRow = line
		}
	}
	if !strings.Contains(coderRow, "failed") || strings.Contains(coderRow, "72,726") || !strings.Contains(coderRow, "│      - │    - │     - │") {
		t.Errorf("failed row shows a headline figure or no status:\n%s", coderRow)
	}
	if !strings.Contains(gwsRow, "degraded") || !strings.Contains(gwsRow, "4,321") {
		t.Errorf("degraded row lacks its status or its numbers:\n%s", gwsRow)
	}
	if !strings.Contains(out, "! coder/gobwas run 1: failed: 97,506 of 97,509 messages") {
		t.Errorf("no note says why coder failed:\n%s", out)
	}
}

func TestOneTablePerParameters(t *testing.T) {
	a, b := sampleRecord(t, "gorilla", 1), sampleRecord(t, "coder", 1)
	a.DurationS, b.DurationS = 5.0, 5.01
	var out bytes.Buffer
	if err := Render(&out, &Result{Schema: Schema, Records: []Record{a, b}}, Table); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "echo · closed loop"); n != 1 {
		t.Fatalf("%d tables for one set of parameters, want 1:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "5.00–5.01s measured") {
		t.Errorf("title does not show the measured windows' range:\n%s", out.String())
	}
	c := sampleRecord(t, "coder", 1)
	c.WarmupS = 3
	out.Reset()
	if err := Render(&out, &Result{Schema: Schema, Records: []Record{a, c}}, Table); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "echo · closed loop"); n != 2 {
		t.Fatalf("%d tables for two warmups, want 2", n)
	}
}

func TestCombineLabelsFiles(t *testing.T) {
	a := &Result{Schema: Schema, Records: []Record{sampleRecord(t, "gorilla", 1), sampleRecord(t, "gorilla", 2)}}
	b := &Result{Schema: Schema, Records: []Record{sampleRecord(t, "gorilla", 1), sampleRecord(t, "gorilla", 2)}}
	b.Records[0].ThroughputMsgsPerS, b.Records[1].ThroughputMsgsPerS = 5000, 7000
	b.Records[0].Integrity.Lost = 1
	ApplyVerdict(&b.Records[0])
	var out bytes.Buffer
	if err := Render(&out, Combine([]*Result{a, b}, []string{"a.json", "b.json"}), Table); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "│ a.json") < 2 || strings.Count(s, "│ b.json") < 2 {
		t.Errorf("rows do not name their file:\n%s", s)
	}
	if !strings.Contains(s, "! b.json: gorilla/gobwas run 1:") {
		t.Errorf("note does not name its file:\n%s", s)
	}
	out.Reset()
	if err := Render(&out, Combine([]*Result{a, b}, []string{"a.json", "b.json"}), CSV); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); !strings.HasSuffix(lines[0], ",file") || !strings.HasSuffix(lines[4], ",b.json") {
		t.Errorf("CSV rows do not name their file:\n%s", out.String())
	}
	// The summary keeps the files apart: b's median is its own.
	if !strings.Contains(s, "6,000 [5,000–7,000]") || strings.Contains(s, "[991–7,000]") {
		t.Errorf("summary medians span both files:\n%s", s)
	}
}

func TestCapacityNotesNameTheirStep(t *testing.T) {
	r := sampleRecord(t, "nbio", 1)
	r.OpenLoop = &OpenLoop{TargetRate: 15000, AchievedRate: 15000}
	r.SLO = &SLOCheck{Objective: "p99 ≤ 1ms", Rate: 15000, Pass: false, Reason: "p99 was 3ms"}
	var out bytes.Buffer
	if err := Render(&out, &Result{Schema: Schema, Records: []Record{r}}, Table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "! nbio/gobwas at 15,000 msgs/s: broke p99 ≤ 1ms: p99 was 3ms") {
		t.Errorf("capacity note lacks its step or reason:\n%s", out.String())
	}
}

func TestManifestAgreesWithHeartbeatHeader(t *testing.T) {
	r := sampleRecord(t, "gorilla", 1)
	r.Scenario, r.Mode = "heartbeat", "heartbeat"
	r.Heartbeat = &Heartbeat{PingIntervalS: 2, PongTimeoutS: 2, ServerIdleTimeoutS: 6.75}
	res := &Result{Schema: Schema, Records: []Record{r}, ServerSettings: map[string]any{"idle_timeout_ns": float64(60e9)}}
	var out bytes.Buffer
	if err := Render(&out, res, Table); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "server idle timeout 6.75s") || !strings.Contains(s, "idle_timeout_ns=6.75s") || strings.Contains(s, "1m0s") {
		t.Errorf("header and manifest disagree on the idle timeout:\n%s", s)
	}
}

func TestJudgeListsFaultsPastTheirBoundFirst(t *testing.T) {
	r := sampleRecord(t, "gorilla", 1)
	r.Conns, r.Connect = 50, Connect{Attempted: 50, Established: 50}
	r.Integrity.Sent, r.Integrity.Lost = 377448, 50
	r.Errors["read"] = 50
	v := Judge(r)
	if v.Status != StatusFailed || len(v.Reasons) != 2 || !strings.HasPrefix(v.Reasons[0], "50 errors") {
		t.Errorf("verdict %+v: want failed, the errors first", v)
	}
}

func TestVerdictCountsMessagesNeverSentOrAnswered(t *testing.T) {
	r := Record{Scenario: "echo", Status: StatusOK, Messages: 1000, Latency: Latency{Count: 1000}, Conns: 10,
		Integrity:  measure.Integrity{Sent: 1000, Received: 1000},
		Accounting: &Accounting{Due: 1000, Answered: 995, NeverSent: 5}}
	if v := Judge(r); v.Status != StatusDegraded {
		t.Fatalf("5 of 1000 never sent: %+v, want degraded", v)
	}
	r.Accounting.NeverSent, r.Accounting.NeverAnswered = 30, 20
	if v := Judge(r); v.Status != StatusFailed || !strings.Contains(strings.Join(v.Reasons, ";"), "never sent or never answered") {
		t.Fatalf("50 of 1000 missing: %+v, want failed", v)
	}
}

// clampedLatency records n values of 100 µs and clamped values of two
// minutes, past the histogram's 60 s ceiling.
func clampedLatency(t *testing.T, n, clamped int) Latency {
	t.Helper()
	rec := measure.NewRecorder()
	for range n {
		rec.Record(1, 100*time.Microsecond)
	}
	for range clamped {
		rec.Record(1, 2*time.Minute)
	}
	h, c := rec.Snapshot()
	l, err := NewLatency(h, c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestVerdictHasNoBlindSpots: each figure that once left a badly broken
// cell reading ok now changes its verdict, with a line naming the figure
// and its bound; just inside each bound the verdict stays where it was.
func TestVerdictHasNoBlindSpots(t *testing.T) {
	heartbeat := func(r *Record, pings, missed uint64) {
		r.Scenario, r.Mode = "heartbeat", "heartbeat"
		r.Heartbeat = &Heartbeat{PingIntervalS: 1, PongTimeoutS: 2, Pings: pings, Pongs: pings - missed, Missed: missed}
	}
	reconnect := func(r *Record, lost, never float64) {
		r.Scenario, r.Mode = "reconnect", "reconnect"
		r.Heartbeat = &Heartbeat{PingIntervalS: 1, PongTimeoutS: 1, Pings: 10000, Pongs: 10000}
		r.Figures = map[string]float64{"detected": lost, "lost_after_fault": lost, "never_recovered": never,
			"reconnect_failures": 250000}
		r.Fault = &Fault{Kind: "kill", AtS: 1, ForS: 2, DownS: 2.1}
	}
	exit := func(code int) *int { return &code }
	for _, tc := range []struct {
		name   string
		change func(r *Record)
		want   string
		reason string
	}{
		// Half the pongs missing: the pong percentiles are lower bounds.
		{"heartbeat half its pongs missed", func(r *Record) { heartbeat(r, 10000, 5000) }, StatusFailed,
			"5,000 of 10,000 pings got no pong within 2s (missed pongs 50%; bound 1.0%)"},
		{"heartbeat missed pongs at the bound", func(r *Record) { heartbeat(r, 10000, 100) }, StatusDegraded, "missed pongs 1.0%; bound 1.0%"},
		{"heartbeat missed pongs just past the bound", func(r *Record) { heartbeat(r, 10000, 101) }, StatusFailed, "missed pongs"},
		{"heartbeat every pong in time", func(r *Record) { heartbeat(r, 10000, 0) }, StatusOK, ""},
		// 250k failed dials and not one connection back.
		{"reconnect none back", func(r *Record) { reconnect(r, 1000, 1000) }, StatusFailed,
			"1,000 of 1,000 connections lost to the fault not back when the window closed (never recovered 100%; bound 1.0%)"},
		{"reconnect some not back", func(r *Record) { reconnect(r, 1000, 11) }, StatusDegraded, "11 of 1,000 connections lost"},
		{"reconnect not back at the bound", func(r *Record) { reconnect(r, 1000, 10) }, StatusOK, ""},
		{"reconnect all back", func(r *Record) { reconnect(r, 1000, 0) }, StatusOK, ""},
		// Echo against a server that holds replies for minutes.
		{"80% clamped", func(r *Record) { r.Latency = clampedLatency(t, 200, 800) }, StatusFailed,
			"latency: 800 of 1,000 values clamped at the histogram's 60 s ceiling (80%; bound 0.1%)"},
		{"clamped past 0.1%", func(r *Record) { r.Latency = clampedLatency(t, 9989, 11) }, StatusDegraded, "11 of 10,000 values clamped"},
		{"clamped at 0.1%", func(r *Record) { r.Latency = clampedLatency(t, 9990, 10) }, StatusOK, ""},
		{"a distribution clamped", func(r *Record) {
			r.Distributions = map[string]Latency{"recover": clampedLatency(t, 10, 10)}
		}, StatusFailed, "recover distribution: 10 of 20 values clamped"},
		{"--fault-cmd exited non-zero", func(r *Record) {
			reconnect(r, 1000, 0)
			r.Fault = &Fault{Kind: "cmd", Cmd: "kubectl delete pod chat-0", CmdExit: exit(1), CmdOutput: "pods \"chat-0\" not found"}
		}, StatusFailed, `fault not played: --fault-cmd exited with 1 (bound: exit 0): pods "chat-0" not found`},
		{"--fault-cmd exited 0", func(r *Record) {
			reconnect(r, 1000, 0)
			r.Fault = &Fault{Kind: "cmd", Cmd: "true", CmdExit: exit(0)}
		}, StatusOK, ""},
		{"a signal that failed", func(r *Record) {
			reconnect(r, 1000, 0)
			r.Fault.Error = "SIGKILL: os: process already finished"
		}, StatusFailed, "fault kill not played: SIGKILL: os: process already finished"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRecord(t, "gorilla", 1)
			r.Conns, r.Connect = 1000, Connect{Attempted: 1000, Established: 1000}
			tc.change(&r)
			ApplyVerdict(&r)
			if r.Status != tc.want || !strings.Contains(r.Reason, tc.reason) || (tc.want == StatusOK) != (r.Reason == "") {
				t.Errorf("status %q reason %q, want %q containing %q", r.Status, r.Reason, tc.want, tc.reason)
			}
		})
	}
}
