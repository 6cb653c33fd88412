package runner

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// faultyServer echoes like a reference server but, on every connection,
// duplicates message 3, corrupts one payload byte of message 5 and drops
// message 7 (after which a closed loop waits in vain until the drain ends).
func faultyServer(t *testing.T) string {
	t.Helper()
	return replyServer(t, func(msg []byte) [][]byte {
		switch binary.LittleEndian.Uint64(msg[4:12]) { // the binary header's sequence field
		case 3:
			return [][]byte{msg, msg}
		case 5:
			msg[len(msg)-1] ^= 0xff
		case 7:
			return nil
		}
		return [][]byte{msg}
	})
}

// replyServer answers each message with the messages reply makes of it,
// in order (none: the message is dropped).
func replyServer(t *testing.T, reply func(msg []byte) [][]byte) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			for _, m := range reply(msg) {
				if err := c.WriteMessage(typ, m); err != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/echo")
}

func TestEchoCountsIntegrityFaults(t *testing.T) {
	d, _ := drivers.Lookup("gorilla")
	p := quickParams()
	plan := Plan{Scenario: sc("echo"), Target: faultyServer(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), DrainTimeout: 300 * time.Millisecond}
	recs := Run(context.Background(), plan, nil)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	r := recs[0]
	n := uint64(p.Conns)
	in := r.Integrity
	if in.Duplicated != n || in.Corrupt != n || in.Lost != n || in.Reordered != 0 {
		t.Fatalf("integrity = %+v, want %d duplicated, %d corrupt, %d lost per run", in, n, n, n)
	}
	if in.Sent != 8*n || in.Received != 6*n {
		t.Fatalf("sent %d received %d, want %d and %d", in.Sent, in.Received, 8*n, 6*n)
	}
	if !r.Marked() {
		t.Fatal("a run with integrity faults must be marked")
	}
	if r.ServerCPUS != nil || r.ServerRSSPeakBytes != nil || r.ServerMemPerConnBytes != nil {
		t.Fatal("a --target run must leave server-side figures unknown (nil), not zero")
	}
	if r.Close.Abrupt != p.Conns {
		t.Fatalf("closes: %+v, want every stalled connection aborted", r.Close)
	}
}

func TestRunnerAgainstReferenceServerProcesses(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := quickParams()
	names := servers.Names()
	plan := Plan{Scenario: sc("echo"), Servers: names, Driver: d, Params: p, Runs: 2,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	var phases []string
	recs := Run(context.Background(), plan, func(e Event) {
		if e.Cell.Index == 1 && (len(phases) == 0 || phases[len(phases)-1] != e.Phase) {
			phases = append(phases, e.Phase)
		}
	})
	if len(recs) != 2*len(names) {
		t.Fatalf("got %d records, want %d", len(recs), 2*len(names))
	}
	for i, r := range recs {
		// interleaved: A B C A B C
		if want := names[i%len(names)]; r.Server != want || r.Run != i/len(names)+1 {
			t.Fatalf("record %d is %s run %d, want %s run %d", i, r.Server, r.Run, want, i/len(names)+1)
		}
		if !clean(r) {
			t.Fatalf("%s: status %s %s, errors %v, integrity %+v", r.Server, r.Status, r.Reason, r.Errors, r.Integrity)
		}
		// Messages counts round trips completed inside the window, the
		// latency histogram those sent in it: they differ by at most one
		// in flight per connection at each edge of the window.
		if d := int64(r.Messages) - r.Latency.Count; r.Messages == 0 || d > int64(p.Conns) || -d > int64(p.Conns) ||
			r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 {
			t.Fatalf("%s: messages %d, latency %+v", r.Server, r.Messages, r.Latency)
		}
		if r.Handshake.Count != int64(p.Conns) || r.Connect.Established != p.Conns {
			t.Fatalf("%s: %d handshakes recorded, %d established, want %d", r.Server, r.Handshake.Count, r.Connect.Established, p.Conns)
		}
		if r.Close.Clean != p.Conns {
			t.Fatalf("%s: closes %+v, want %d clean", r.Server, r.Close, p.Conns)
		}
		if r.ServerCPUS == nil || r.ServerRSSPeakBytes == nil || *r.ServerRSSPeakBytes == 0 || r.ServerSamples < 2 {
			t.Fatalf("%s: server process not sampled: cpu %v rss %v samples %d", r.Server, r.ServerCPUS, r.ServerRSSPeakBytes, r.ServerSamples)
		}
		// Event-driven servers have no goroutine per connection, so the
		// server's own view is checked by its runtime settings: the
		// manifest's GOGC, applied by the server process itself.
		if r.ServerStats == nil || r.ServerStats.Goroutines < 1 || r.ServerStats.GOGC != plan.Settings.GOGC || r.ServerStats.GOMAXPROCS < 1 {
			t.Fatalf("%s: server stats %+v, want the manifest's GOGC %d applied", r.Server, r.ServerStats, plan.Settings.GOGC)
		}
		if r.DurationS < p.Duration.Seconds() || r.DurationS > p.Duration.Seconds()+0.5 {
			t.Fatalf("%s: measured %.3fs, want about %s", r.Server, r.DurationS, p.Duration)
		}
		if warm := r.Integrity.Received - r.Messages; warm == 0 {
			t.Fatalf("%s: every message was recorded; warmup traffic must not be", r.Server)
		}
	}
	want := []string{"starting", "connecting", "warmup", "measure", "closing", "done"}
	if strings.Join(phases, ",") != strings.Join(want, ",") {
		t.Fatalf("phases %v, want %v", phases, want)
	}
}

func TestRunnerGoesOnAfterAFailedCell(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := quickParams()
	calls := 0
	plan := Plan{Scenario: sc("echo"), Servers: []string{"gorilla", "gorilla"}, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(),
		Serve: func(args []string) *exec.Cmd {
			calls++
			if calls == 1 {
				return exec.Command("false")
			}
			return testServeCommand()(args)
		}}
	recs := Run(context.Background(), plan, nil)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	if recs[0].Status != report.StatusFailed || !strings.Contains(recs[0].Reason, "did not start") {
		t.Fatalf("first cell: %s %q, want failed: did not start", recs[0].Status, recs[0].Reason)
	}
	if recs[1].Status != report.StatusOK || recs[1].Messages == 0 {
		t.Fatalf("second cell: %s %q with %d messages, want ok", recs[1].Status, recs[1].Reason, recs[1].Messages)
	}
}

func TestRunnerRecordsAServerThatDiesMidRun(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := quickParams()
	p.Duration = 5 * time.Second
	plan := Plan{Scenario: sc("echo"), Servers: []string{"gorilla"}, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand("WSBENCH_TEST_DIE_AFTER=600ms"),
		DrainTimeout: 300 * time.Millisecond}
	start := time.Now()
	recs := Run(context.Background(), plan, nil)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("run took %s after the server died, want it to end promptly", took)
	}
	r := recs[0]
	if r.Status != report.StatusFailed || !strings.Contains(r.Reason, "exited mid-run") || !strings.Contains(r.Reason, "dying on purpose") {
		t.Fatalf("status %s reason %q, want failed: exited mid-run with the server's stderr", r.Status, r.Reason)
	}
	if r.Messages == 0 {
		t.Fatal("what was measured before the server died must be kept")
	}
}

func TestRunnerStopsPromptlyWhenCancelled(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := quickParams()
	p.Duration = 30 * time.Second
	plan := Plan{Scenario: sc("echo"), Servers: []string{"gorilla", "coder"}, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	recs := Run(ctx, plan, func(e Event) {
		if e.Phase == "measure" && e.Elapsed >= 500*time.Millisecond {
			cancel()
		}
	})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancelled run took %s", took)
	}
	if len(recs) != 1 {
		t.Fatalf("got %d records, want only the interrupted one", len(recs))
	}
	if recs[0].Status != report.StatusInterrupted || recs[0].Messages == 0 {
		t.Fatalf("status %s with %d messages, want interrupted with what was measured", recs[0].Status, recs[0].Messages)
	}
}
