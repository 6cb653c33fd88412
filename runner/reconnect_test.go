package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/secret"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// reconnectPlan is a small reconnect cell against the gorilla reference
// server: conns connections pinging every ping, the fault at 400 ms.
func reconnectPlan(t *testing.T, conns int, ping, pong time.Duration, fault scenarios.Fault, backoff string) Plan {
	t.Helper()
	d, _ := drivers.Lookup("gorilla")
	fault.At = 400 * time.Millisecond
	p := scenarios.Params{Conns: conns, Payload: 64, Warmup: 100 * time.Millisecond, Duration: 2500 * time.Millisecond,
		Own: &scenarios.ReconnectOptions{Ping: scenarios.Ping{Interval: ping, Timeout: pong}, Fault: fault,
			Backoff: scenarios.Backoff{Policy: backoff, Base: 20 * time.Millisecond, Cap: 500 * time.Millisecond}}}
	return Plan{Scenario: sc("reconnect"), Servers: []string{"gorilla"}, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand(), DrainTimeout: time.Second}
}

func runOne(t *testing.T, plan Plan) report.Record {
	t.Helper()
	recs := Run(context.Background(), plan, nil)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.Fault == nil {
		t.Fatalf("no fault recorded: %s %s", r.Status, r.Reason)
	}
	return r
}

// TestStopShorterThanThePongTimeoutDetectsNothing: a server frozen for less
// than the pong timeout answers every ping in time once it resumes.
func TestStopShorterThanThePongTimeoutDetectsNothing(t *testing.T) {
	r := runOne(t, reconnectPlan(t, 20, 200*time.Millisecond, 800*time.Millisecond,
		scenarios.Fault{Kind: "stop", For: 300 * time.Millisecond}, "full-jitter"))
	if r.Status != report.StatusOK || r.Figures["detected"] != 0 || r.Heartbeat.Pongs == 0 {
		t.Fatalf("status %s %q, %v detected, %d pongs: want ok and nothing detected", r.Status, r.Reason, r.Figures["detected"], r.Heartbeat.Pongs)
	}
	if r.Fault.DownS < 0.3 {
		t.Fatalf("frozen %.2fs, want ≥ 0.3s", r.Fault.DownS)
	}
}

// TestStopLongerThanThePongTimeoutDetectsEveryConnection: every connection
// finds the frozen server dead within one ping interval and the pong
// timeout, by a missed pong, and comes back once it resumes.
func TestStopLongerThanThePongTimeoutDetectsEveryConnection(t *testing.T) {
	const conns = 20
	ping, pong := 200*time.Millisecond, 200*time.Millisecond
	r := runOne(t, reconnectPlan(t, conns, ping, pong, scenarios.Fault{Kind: "stop", For: time.Second}, "full-jitter"))
	f := r.Figures
	if f["lost_after_fault"] != conns || f["detected_missed_pong"] != conns || f["detected_before_fault"] != 0 {
		t.Fatalf("figures %v: want every connection found dead after the fault, by a missed pong", f)
	}
	// Scheduling on a busy machine gets a small allowance.
	bound := ping + pong + 100*time.Millisecond
	if max := time.Duration(r.Distributions["detect"].Max) * time.Microsecond; max > bound || r.Distributions["detect"].Count != conns {
		t.Fatalf("detect max %s over %d, want every one within %s", max, r.Distributions["detect"].Count, bound)
	}
	if f["never_recovered"] != 0 || f["recovered_100_s"] < 1 {
		t.Fatalf("figures %v: want all back, after the 1 s freeze", f)
	}
	if r.Timeline == nil || len(r.Timeline.Column("up")) == 0 || r.Timeline.Column("server_cpu_util") == nil {
		t.Fatalf("timeline %+v", r.Timeline)
	}
	if up := r.Timeline.Column("up"); up[0] != conns || up[len(up)-1] != conns || minOf(up) >= conns {
		t.Fatalf("connections up %v: want %d, a dip, and %d again", up, conns, conns)
	}
	// A frozen server is still sampled: every 100 ms interval has its RSS,
	// though samples come every 100 ms too (an interval between two of
	// them is covered by the pair).
	for i, v := range r.Timeline.Column("server_rss_bytes") {
		if measure.IsMissing(v) || v <= 0 {
			t.Fatalf("server_rss_bytes[%d] = %v: want a sample in every interval of a frozen server", i, v)
		}
	}
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

// TestTermSendsEveryConnectionAClose1001: a graceful shutdown says so with
// a close frame, counted by code, and every connection comes back.
func TestTermSendsEveryConnectionAClose1001(t *testing.T) {
	const conns = 20
	r := runOne(t, reconnectPlan(t, conns, 200*time.Millisecond, 200*time.Millisecond,
		scenarios.Fault{Kind: "term", For: 200 * time.Millisecond}, "exponential"))
	if r.CloseCodes["1001"] != conns || r.Figures["detected_close"] != conns {
		t.Fatalf("close codes %v, figures %v: want %d closes with 1001", r.CloseCodes, r.Figures, conns)
	}
	if r.Figures["never_recovered"] != 0 || r.Status != report.StatusOK {
		t.Fatalf("status %s %q, figures %v", r.Status, r.Reason, r.Figures)
	}
	checkTimelineGaps(t, r, true)
}

// checkTimelineGaps: while the server is down its CPU and RSS are missing,
// not zero; so is the handshake p99 of an interval without a reconnect.
// With wantGap the outage lasts long enough to leave an interval missing.
func checkTimelineGaps(t *testing.T, r report.Record, wantGap bool) {
	t.Helper()
	for _, name := range []string{"server_rss_bytes", "server_cpu_util", "handshake_p99_ms"} {
		col, missing := r.Timeline.Column(name), 0
		for i, v := range col {
			if measure.IsMissing(v) {
				missing++
			} else if v == 0 && name != "server_cpu_util" {
				t.Errorf("%s[%d] = 0: a missing value written as zero: %v", name, i, col)
			}
		}
		if missing == len(col) || (wantGap && missing == 0) {
			t.Errorf("%s: %d of %d intervals missing, want the outage's and no more: %v", name, missing, len(col), col)
		}
	}
}

// TestRestartRecoversUnderEveryBackoff: killed and started at once, the
// server gets every connection back, with or without a backoff.
func TestRestartRecoversUnderEveryBackoff(t *testing.T) {
	const conns = 30
	for _, b := range []string{"none", "full-jitter"} {
		r := runOne(t, reconnectPlan(t, conns, 200*time.Millisecond, 200*time.Millisecond, scenarios.Fault{Kind: "restart"}, b))
		f := r.Figures
		if f["lost_after_fault"] != conns || f["never_recovered"] != 0 || f["reconnect_attempts"] < conns {
			t.Fatalf("%s: figures %v", b, f)
		}
		if r.Labels["backoff"] == "" || !strings.HasPrefix(r.Labels["backoff"], b) {
			t.Fatalf("%s: labels %v", b, r.Labels)
		}
		checkTimelineGaps(t, r, false)
	}
}

// TestKillWithAHeldFleetRecovers: with the gobwas driver the idle fleet
// holds the connections through the window; a killed server is found by
// every connection (a read error, or a ping that could not be written)
// and each is back once the server is.
func TestKillWithAHeldFleetRecovers(t *testing.T) {
	const conns = 40
	plan := reconnectPlan(t, conns, 200*time.Millisecond, 200*time.Millisecond, scenarios.Fault{Kind: "kill", For: 200 * time.Millisecond}, "full-jitter")
	plan.Driver, _ = drivers.Lookup("gobwas")
	if !drivers.HoldsIdle(plan.Driver) {
		t.Skip("gobwas cannot hold idle connections here")
	}
	r := runOne(t, plan)
	f := r.Figures
	if f["lost_after_fault"] != conns || f["detected_before_fault"] != 0 || f["never_recovered"] != 0 || f["reconnect_failures"] == 0 {
		t.Fatalf("status %s %q, figures %v: want every connection found dead after the kill, failed dials while it was down, all back",
			r.Status, r.Reason, f)
	}
	if found := f["detected_read_error"] + f["detected_ping_error"]; found != conns {
		t.Fatalf("figures %v: want every connection to learn from its socket", f)
	}
	if r.Status != report.StatusOK || r.Close.Clean != conns || r.Heartbeat.Pongs == 0 {
		t.Fatalf("status %s %q, close %+v, %d pongs", r.Status, r.Reason, r.Close, r.Heartbeat.Pongs)
	}
}

// TestAServerThatDoesNotComeBackFailsTheCell: the restart's process exits
// at once; the cell fails naming it, and the run goes on.
func TestAServerThatDoesNotComeBackFailsTheCell(t *testing.T) {
	plan := reconnectPlan(t, 5, 200*time.Millisecond, 200*time.Millisecond, scenarios.Fault{Kind: "kill", For: 100 * time.Millisecond}, "none")
	var starts atomic.Int32
	good := plan.Serve
	plan.Serve = func(args []string) *exec.Cmd {
		if starts.Add(1) == 1 {
			return good(args)
		}
		return exec.Command("sh", "-c", "echo 'cannot bind: address on fire' >&2; exit 4")
	}
	r := runOne(t, plan)
	if r.Status != report.StatusFailed || !strings.Contains(r.Reason, "did not come back") || !strings.Contains(r.Reason, "address on fire") {
		t.Fatalf("status %s %q: want failed, with the server's stderr", r.Status, r.Reason)
	}
}

// TestFaultCmdRunsForATarget: against a --target the user's command plays
// the fault, its exit code and output recorded; a non-zero exit fails the
// cell. A secret the command prints (and the target's query token) is
// redacted in the record.
func TestFaultCmdRunsForATarget(t *testing.T) {
	const token = "tok-5e1f9c2a"
	plan := reconnectPlan(t, 4, 200*time.Millisecond, 200*time.Millisecond,
		scenarios.Fault{Kind: "cmd", Cmd: "echo restarting chat as $WSB_TEST_TOKEN; exit 3"}, "none")
	t.Setenv("WSB_TEST_TOKEN", token)
	plan.Servers, plan.Target = nil, fastEcho(t)+"?access_token="+token
	plan.Secrets = &secret.Set{}
	plan.Secrets.Add(token)
	r := runOne(t, plan)
	if r.Fault.CmdExit == nil || *r.Fault.CmdExit != 3 || r.Fault.CmdOutput != "restarting chat as [redacted]" || !r.Marked() {
		t.Fatalf("fault %+v, marked %v", r.Fault, r.Marked())
	}
	if !strings.HasSuffix(r.Target, "?access_token=[redacted]") {
		t.Errorf("target recorded as %q", r.Target)
	}
	// Exit 3: the fault may never have happened, so the cell measured
	// nothing known.
	if want := "fault not played: --fault-cmd exited with 3 (bound: exit 0): restarting chat as [redacted]"; r.Status != report.StatusFailed || !strings.Contains(r.Reason, want) {
		t.Fatalf("status %s %q: want failed with %q", r.Status, r.Reason, want)
	}
}

// TestOnlyShardZeroPlaysTheFault: two shards of one reconnect cell with a
// --fault-cmd and one start instant; the command runs once (shard 0's),
// and both shards mark the fault at the same instant after the common
// start.
func TestOnlyShardZeroPlaysTheFault(t *testing.T) {
	played := filepath.Join(t.TempDir(), "played")
	url := fastEcho(t)
	start := time.Now().Add(1500 * time.Millisecond)
	recs := make([]report.Record, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		plan := reconnectPlan(t, 4, 200*time.Millisecond, 200*time.Millisecond,
			scenarios.Fault{Kind: "cmd", Cmd: "echo played >> " + played}, "none")
		plan.Servers, plan.Target = nil, url
		plan.Shard, plan.StartAt = Shard{Index: i, Count: 2}, start
		if err := plan.Validate(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i] = runOne(t, plan)
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(played)
	if err != nil || strings.Count(string(data), "played") != 1 {
		t.Fatalf("--fault-cmd ran %d times (%v), want once", strings.Count(string(data), "played"), err)
	}
	f0, f1 := recs[0].Fault, recs[1].Fault
	if f0.CmdExit == nil || *f0.CmdExit != 0 || f0.ByShard0 || f1.CmdExit != nil || !f1.ByShard0 || f1.Error != "" {
		t.Fatalf("shard 0's fault %+v, shard 1's %+v: want shard 0 to play it and shard 1 to observe it", f0, f1)
	}
	// Both instants are 400 ms after the common start, by each shard's
	// own window.
	at0 := recs[0].Shard.OpenedAt.Add(time.Duration(f0.AtS * float64(time.Second)))
	at1 := recs[1].Shard.OpenedAt.Add(time.Duration(f1.AtS * float64(time.Second)))
	if d := at0.Sub(at1).Abs(); d > 50*time.Millisecond || at0.Sub(start.Add(400*time.Millisecond)).Abs() > 50*time.Millisecond {
		t.Fatalf("faults at %s and %s, want both at %s", at0, at1, start.Add(400*time.Millisecond))
	}
	if recs[0].Shard.Cell == "" || recs[0].Shard.Cell != recs[1].Shard.Cell {
		t.Fatalf("cells %q and %q: want one name on both shards", recs[0].Shard.Cell, recs[1].Shard.Cell)
	}
}
