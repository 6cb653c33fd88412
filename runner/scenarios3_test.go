package runner

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// lossyHub is a broadcast server that fans every message out to every
// connection except one: the first connection to subscribe never gets
// publisher 0's message 5.
func lossyHub(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	var conns []*websocket.Conn
	writeLocks := map[*websocket.Conn]*sync.Mutex{}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		writeLocks[c] = &sync.Mutex{}
		mu.Unlock()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			pub, seq := binary.LittleEndian.Uint32(msg[0:4]), binary.LittleEndian.Uint64(msg[4:12])
			mu.Lock()
			targets := append([]*websocket.Conn(nil), conns...)
			mu.Unlock()
			for i, sub := range targets {
				if i == 0 && pub == 0 && seq == 5 {
					continue
				}
				l := writeLocks[sub]
				l.Lock()
				_ = sub.WriteMessage(typ, msg)
				l.Unlock()
			}
		}
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/broadcast")
}

func TestBroadcastCatchesAMissingDelivery(t *testing.T) {
	d, _ := drivers.Lookup("gorilla")
	p := scenarios.Params{Conns: 6, Payload: 128, Own: &scenarios.BroadcastOptions{Publishers: 2}, Rate: 50, Warmup: 0, Duration: 600 * time.Millisecond}
	plan := Plan{Scenario: sc("broadcast"), Target: lossyHub(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), DrainTimeout: 500 * time.Millisecond}
	r := Run(context.Background(), plan, nil)[0]
	// One lost delivery in 186 is within the verdict's bound: degraded.
	if r.Status != report.StatusDegraded || r.Broadcast == nil {
		t.Fatalf("status %s %q, broadcast %v", r.Status, r.Reason, r.Broadcast)
	}
	b := r.Broadcast
	if r.Integrity.Lost != 1 || r.Integrity.Duplicated != 0 || r.Integrity.Corrupt != 0 {
		t.Fatalf("integrity %+v, want exactly the one dropped delivery lost", r.Integrity)
	}
	if want := b.Publishes * uint64(p.Conns); r.Integrity.Sent != want || r.Integrity.Received != want-1 {
		t.Fatalf("expected %d deliveries, got sent=%d received=%d", want, r.Integrity.Sent, r.Integrity.Received)
	}
	if b.IncompleteFanouts != 1 {
		t.Fatalf("incomplete fan-outs %d, want 1", b.IncompleteFanouts)
	}
	if !r.Marked() {
		t.Fatal("a broadcast with a missing delivery must be marked")
	}
	if b.Fanout.Count == 0 || b.Fanout.P50 < r.Latency.P50 {
		t.Fatalf("fan-out latency %+v must exist and be no less than per-delivery p50 %d", b.Fanout, r.Latency.P50)
	}
	if b.AchievedRate < 35 || b.AchievedRate > 65 {
		t.Fatalf("achieved publish rate %.1f/s, want about 50", b.AchievedRate)
	}
}

func TestBroadcastAgainstReferenceServers(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 10, Payload: 200, Own: &scenarios.BroadcastOptions{Publishers: 3}, Rate: 60, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond}
	plan := Plan{Scenario: sc("broadcast"), Servers: servers.Names(), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	for _, r := range Run(context.Background(), plan, nil) {
		if !clean(r) {
			t.Errorf("%s: status %s %q, errors %v, integrity %+v, broadcast %+v", r.Server, r.Status, r.Reason, r.Errors, r.Integrity, r.Broadcast)
			continue
		}
		b := r.Broadcast
		if r.Messages == 0 || b.Fanout.Count == 0 || b.Subscribers != p.Conns || b.ServerDropped == nil || *b.ServerDropped != 0 {
			t.Errorf("%s: messages %d, broadcast %+v", r.Server, r.Messages, b)
		}
		if r.Close.Clean != p.Conns {
			t.Errorf("%s: closes %+v, want all clean while subscribers were reading", r.Server, r.Close)
		}
	}
}

// deafServer echoes but answers only the first two pings of each connection.
func deafServer(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		answered := 0
		c.SetPingHandler(func(data string) error {
			if answered >= 2 {
				return nil
			}
			answered++
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/echo")
}

func TestHeartbeatCountsMissedPongs(t *testing.T) {
	for _, dname := range drivers.Names() {
		t.Run(dname, func(t *testing.T) {
			d, _ := drivers.Lookup(dname)
			p := scenarios.Params{Conns: 4, Own: &scenarios.HeartbeatOptions{Ping: scenarios.Ping{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond}},
				Warmup: 0, Duration: 700 * time.Millisecond}
			plan := Plan{Scenario: sc("heartbeat"), Target: deafServer(t), Driver: d, Params: p, Runs: 1,
				Settings: servers.DefaultSettings()}
			r := Run(context.Background(), plan, nil)[0]
			h := r.Heartbeat
			// Most pings unanswered: far past the 1% message bound.
			if r.Status != report.StatusFailed || h == nil || !strings.Contains(r.Reason, "pings got no pong within 80ms (missed pongs") {
				t.Fatalf("status %s %q: want failed for missed pongs", r.Status, r.Reason)
			}
			// Two answered per connection, one or both of them in the window:
			// a connection pings from the moment it is up (KeepAlive), so an
			// early one may fall before Run.
			if h.Pongs == 0 || h.Pongs > 2*uint64(p.Conns) {
				t.Fatalf("pongs %d, want at most the 2 answered per connection (%d)", h.Pongs, 2*p.Conns)
			}
			if h.Missed < uint64(p.Conns) || h.Missed != h.Pings-h.Pongs {
				t.Fatalf("missed %d of %d pings, want every unanswered one", h.Missed, h.Pings)
			}
			if !r.Marked() {
				t.Fatal("missed pongs must mark the run")
			}
		})
	}
}

func TestHeartbeatKeepsConnectionsUpPastTheIdleTimeout(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 20, Own: &scenarios.HeartbeatOptions{Ping: scenarios.Ping{Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}},
		Warmup: 100 * time.Millisecond, Duration: 800 * time.Millisecond}
	plan := Plan{Scenario: sc("heartbeat"), Servers: servers.Names(), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	for _, r := range Run(context.Background(), plan, nil) {
		h := r.Heartbeat
		if r.Status != report.StatusOK || h == nil {
			t.Errorf("%s: status %s %q", r.Server, r.Status, r.Reason)
			continue
		}
		// The run lasts nearly three idle timeouts (3 × 100 ms): only
		// pinging kept the connections open.
		if h.ServerIdleTimeoutS != 0.3 || h.StayedUp != p.Conns || h.ClosedByServer != 0 {
			t.Errorf("%s: heartbeat %+v, want all %d up under a 0.3 s idle timeout", r.Server, h, p.Conns)
		}
		if h.Missed != 0 || r.Messages == 0 || r.Latency.P50 <= 0 || r.ServerGoroutinesPerConn == nil || r.ServerHeapPerConnBytes == nil {
			t.Errorf("%s: missed %d, pongs measured %d, p50 %d, goroutines/conn %v", r.Server, h.Missed, r.Messages, r.Latency.P50, r.ServerGoroutinesPerConn)
		}
	}
}

// TestHeartbeatSurvivesASlowConnectPhase: connections opened at 5/s take
// 1.4 s to be all up, more than four of the servers' 0.3 s idle timeouts,
// while the first sits connected and idle. Pinging from the moment each is
// up, none is closed by the server, whatever the count or the rate (with
// the old per-connection allowance of 250 µs, the first ones were cut).
func TestHeartbeatSurvivesASlowConnectPhase(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 8, ConnectRate: 5, Own: &scenarios.HeartbeatOptions{Ping: scenarios.Ping{Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}},
		Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond}
	plan := Plan{Scenario: sc("heartbeat"), Servers: []string{"gorilla", "nbio"}, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	for _, r := range Run(context.Background(), plan, nil) {
		h := r.Heartbeat
		if h == nil || r.ServerStatsEnd == nil {
			t.Fatalf("%s: status %s %q, no heartbeat or server counters", r.Server, r.Status, r.Reason)
		}
		if r.Connect.DurationS < 3*h.ServerIdleTimeoutS || h.ServerIdleTimeoutS != 0.3 {
			t.Fatalf("%s: connected in %.2fs under a %.2fs idle timeout: the test needs a connect phase far longer than it",
				r.Server, r.Connect.DurationS, h.ServerIdleTimeoutS)
		}
		if idle := r.ServerStatsEnd.IdleClosed; idle != 0 || h.ClosedByServer != 0 || r.CloseCodes["1001"] != 0 {
			t.Errorf("%s: the server closed %d idle connections (%d seen closed, close codes %v)", r.Server, idle, h.ClosedByServer, r.CloseCodes)
		}
		if r.Status != report.StatusOK || h.StayedUp != p.Conns {
			t.Errorf("%s: status %s %q, %d of %d stayed up", r.Server, r.Status, r.Reason, h.StayedUp, p.Conns)
		}
	}
}

func TestConnectFailureClasses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().String()
	ln.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("not a websocket server"))
	}))
	defer plain.Close()
	// A server that accepts TCP and never answers the upgrade.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // accepted and never answered, closed with the listener
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	cases := map[string]string{
		"ws://" + closedPort + "/echo":             "dial_refused",
		wsURL(plain, "/x"):                         "dial_handshake_status",
		"ws://" + silent.Addr().String() + "/echo": "dial_timeout",
	}
	for url, class := range cases {
		for _, dname := range drivers.Names() {
			d, _ := drivers.Lookup(dname)
			s := servers.DefaultSettings()
			s.HandshakeTimeout = 300 * time.Millisecond
			plan := Plan{Scenario: sc("connect"), Target: url, Driver: d, Params: scenarios.Params{Conns: 5}, Runs: 1, Settings: s}
			r := Run(context.Background(), plan, nil)[0]
			if r.Status != report.StatusFailed || r.Errors[class] != 5 || r.Connect.Failed != 5 {
				t.Errorf("%s via %s: status %s, errors %v, want 5 × %s", url, dname, r.Status, r.Errors, class)
			}
		}
	}
}

func TestConnectStormAgainstReferenceServers(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 60, ConnectRate: 300}
	plan := Plan{Scenario: sc("connect"), Servers: servers.Names(), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	for _, r := range Run(context.Background(), plan, nil) {
		if !clean(r) {
			t.Errorf("%s: status %s %q, errors %v, close %+v", r.Server, r.Status, r.Reason, r.Errors, r.Close)
			continue
		}
		if r.Handshake.Count != int64(p.Conns) || r.Close.Clean != p.Conns || r.Connect.Established != p.Conns {
			t.Errorf("%s: handshakes %d, closes %+v, established %d", r.Server, r.Handshake.Count, r.Close, r.Connect.Established)
		}
		// Paced at 300/s, 60 connections take about 0.2 s: not much faster.
		if r.Connect.DurationS < 0.19 || r.Connect.RatePerS > 320 {
			t.Errorf("%s: connected in %.3fs at %.0f/s, want pacing at 300/s", r.Server, r.Connect.DurationS, r.Connect.RatePerS)
		}
	}
}
