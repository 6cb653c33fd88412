package runner

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/badclients"
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// relayServer is a broadcast server for the broadcast scenario: every
// message any connection sends goes to every connection. queued hands
// each subscriber its own queue (a full one drops the message for it);
// otherwise the relay writes to each subscriber in turn and waits for
// each write, so one subscriber that stops reading stalls everyone. Each
// socket's send buffer is small, so a non-reader blocks within a few
// messages rather than megabytes.
func relayServer(t *testing.T, queued bool) string {
	t.Helper()
	type sub struct {
		c *websocket.Conn
		q chan []byte
	}
	var mu sync.Mutex
	subs := map[*sub]bool{}
	var writeMu sync.Mutex // the blocking relay writes one subscriber at a time
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if tc, ok := c.NetConn().(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(4096)
		}
		s := &sub{c: c, q: make(chan []byte, 256)}
		mu.Lock()
		subs[s] = true
		mu.Unlock()
		defer func() { mu.Lock(); delete(subs, s); mu.Unlock() }()
		if queued {
			go func() {
				for m := range s.q {
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					if c.WriteMessage(websocket.BinaryMessage, m) != nil {
						return
					}
				}
			}()
			defer close(s.q)
		}
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			mu.Lock()
			all := make([]*sub, 0, len(subs))
			for x := range subs {
				all = append(all, x)
			}
			mu.Unlock()
			if queued {
				for _, x := range all {
					select {
					case x.q <- msg:
					default: // slow consumer: this one misses it
					}
				}
				continue
			}
			writeMu.Lock()
			for _, x := range all {
				_ = x.c.WriteMessage(websocket.BinaryMessage, msg)
			}
			writeMu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/broadcast")
}

// badBroadcast runs a broadcast pair (clean, then with one non-reader)
// against url and returns the verdict on it.
func badBroadcast(t *testing.T, url string) (report.BadVerdict, []report.Record) {
	t.Helper()
	d, _ := drivers.Lookup("gorilla")
	spec, err := badclients.Parse("non-reader=1", 6, false)
	if err != nil {
		t.Fatal(err)
	}
	p := scenarios.Params{Conns: 6, Payload: 2048, Rate: 200, Warmup: 200 * time.Millisecond, Duration: 2 * time.Second,
		Own: &scenarios.BroadcastOptions{Publishers: 2}}
	recs := Run(context.Background(), Plan{Scenario: sc("broadcast"), Target: url, Driver: d, Params: p, Runs: 1,
		BadClients: spec, DrainTimeout: 500 * time.Millisecond, CloseTimeout: time.Second}, nil)
	if len(recs) != 2 || recs[0].BadClients == nil || !recs[0].BadClients.Clean() || recs[1].BadClients == nil || recs[1].BadClients.Spec != "non-reader=1" {
		t.Fatalf("want a clean then a bad record, got %d: %+v", len(recs), recs)
	}
	vs := report.BadVerdicts(recs)
	if len(vs) != 1 {
		t.Fatalf("verdicts %+v", vs)
	}
	if k := recs[1].BadClients.Kinds; len(k) != 1 || k[0].Kind != "non-reader" || k[0].Clients != 1 {
		t.Errorf("bad clients recorded as %+v", k)
	}
	for _, r := range recs {
		t.Logf("%s: %d deliveries, complete %d of %d, p99 %d µs", r.ServerLabel(), r.Messages, r.Integrity.Received, r.Integrity.Sent, r.Latency.P99)
	}
	t.Logf("verdict: %s (%s)", vs[0].Verdict.Class, vs[0].Verdict.Reason)
	return vs[0], recs
}

// TestOneNonReaderStallsABlockingBroadcast: a relay that waits for each
// subscriber's write in turn stops delivering to everyone once one
// subscriber stops reading; the pair's verdict says stalled (or at least
// degraded), while the clean cell of the pair delivered everything.
func TestOneNonReaderStallsABlockingBroadcast(t *testing.T) {
	v, recs := badBroadcast(t, relayServer(t, false))
	if clean := recs[0]; clean.Integrity.Sent == 0 || clean.Integrity.Received < clean.Integrity.Sent*99/100 {
		t.Errorf("the clean cell lost deliveries: %d of %d", clean.Integrity.Received, clean.Integrity.Sent)
	}
	if v.Verdict.Class != badclients.Stalled && v.Verdict.Class != badclients.Degraded {
		t.Errorf("verdict %s (%s), want stalled: one non-reader blocks the relay", v.Verdict.Class, v.Verdict.Reason)
	}
}

// TestQueueingBroadcastShieldsGoodClientsFromANonReader: a relay with a
// queue per subscriber keeps delivering to the good ones.
func TestQueueingBroadcastShieldsGoodClientsFromANonReader(t *testing.T) {
	v, recs := badBroadcast(t, relayServer(t, true))
	bad := recs[1]
	if bad.Integrity.Sent == 0 || bad.Integrity.Received < bad.Integrity.Sent*99/100 {
		t.Errorf("good subscribers lost deliveries beside a non-reader: %d of %d", bad.Integrity.Received, bad.Integrity.Sent)
	}
	if v.Verdict.Class == badclients.Stalled || v.Verdict.Class == badclients.Killed {
		t.Errorf("verdict %s (%s), want the good clients unaffected or at most degraded by noise", v.Verdict.Class, v.Verdict.Reason)
	}
}

// TestServerPastTheMemoryCapIsKilledAndSaysSo: a cap below any server's
// RSS kills the reference server at its first reading; the cell fails
// naming the cap, not as a server that died on its own.
func TestServerPastTheMemoryCapIsKilledAndSaysSo(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 2, Payload: 64, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond}
	recs := Run(context.Background(), Plan{Scenario: sc("echo"), Servers: []string{"gorilla"}, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand(), ServerMemCap: 1 << 20, DrainTimeout: 200 * time.Millisecond}, nil)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.Status != report.StatusFailed || !strings.Contains(r.Reason, "killed at the memory cap") || !strings.Contains(r.Reason, "--server-mem-cap 1 MiB") {
		t.Errorf("status %s: %q, want failed, killed at the 1 MiB cap", r.Status, r.Reason)
	}
}
