package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/profile"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// The tests in this file put the numbers at the edges: a peer that stops
// reading, one that caps its rate, one that never answers pings, a window
// that ends mid-stall, a connect storm above the accept rate.

// peer is an in-process WebSocket server on loopback that runs serve on
// every upgraded connection; the edge cases below differ only in serve.
func peer(t *testing.T, serve func(c *websocket.Conn)) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/echo")
}

// echoEach echoes every message after passing it through reply; it stops
// at the first read or write error.
func echoEach(c *websocket.Conn, reply func(msg []byte)) {
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		reply(msg)
		if c.WriteMessage(typ, msg) != nil {
			return
		}
	}
}

// stallingEcho echoes until it has read stopAfter messages on a
// connection, then stops reading (and writing) for good: writes to it block
// once the socket buffers fill.
func stallingEcho(t *testing.T, stopAfter int) string {
	quit := make(chan struct{})
	url := peer(t, func(c *websocket.Conn) {
		n := 0
		echoEach(c, func([]byte) {
			if n++; n > stopAfter {
				<-quit // frozen until the test ends
			}
		})
	})
	t.Cleanup(func() { close(quit) }) // cleanups run last first: before the server's Close
	return url
}

// TestOpenLoopAccountsForAWindowThatEndsMidStall: 1000 msgs/s on one
// connection; the peer stops reading about 0.7 s into the 1 s window. The
// messages due after that are either stuck in socket buffers (never
// answered) or never written (never sent); every one of the ~1000 due in
// the window must be accounted for, the row marked, and the percentiles
// must show the stall instead of the 1 ms replies before it.
func TestOpenLoopAccountsForAWindowThatEndsMidStall(t *testing.T) {
	const warmup, rate = 200 * time.Millisecond, 1000
	url := stallingEcho(t, int(rate*(warmup+700*time.Millisecond).Seconds()))
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 1, Payload: 128 << 10, Rate: rate, Warmup: warmup, Duration: time.Second}
	start := time.Now()
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), DrainTimeout: 300 * time.Millisecond, CloseTimeout: 200 * time.Millisecond}, nil)[0]
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the cell took %s: a blocked writer must not hold it up", took)
	}
	a := r.Accounting
	if a == nil {
		t.Fatalf("no accounting: %+v", r)
	}
	t.Logf("accounting %+v, open loop %+v, p50 %d p90 %d µs, lower bounds %d", *a, *r.OpenLoop, r.Latency.P50, r.Latency.P90, r.LatencyLowerBounds)
	if a.Due < 950 || a.Due > 1050 {
		t.Fatalf("%d due in a 1 s window at 1000/s", a.Due)
	}
	if sum := a.Answered + a.AnsweredLate + a.NeverSent + a.NeverAnswered; sum != a.Due {
		t.Fatalf("answered %d + late %d + never sent %d + never answered %d = %d, want every one of %d due",
			a.Answered, a.AnsweredLate, a.NeverSent, a.NeverAnswered, sum, a.Due)
	}
	if a.NeverSent == 0 || a.NeverAnswered == 0 {
		t.Fatalf("never sent %d, never answered %d: with 128 KiB messages to a peer that stopped reading, both must occur", a.NeverSent, a.NeverAnswered)
	}
	if r.LatencyLowerBounds != a.NeverSent+a.NeverAnswered || uint64(r.Latency.Count) != a.Due {
		t.Fatalf("lower bounds %d, latency count %d: every due message must be in the histogram", r.LatencyLowerBounds, r.Latency.Count)
	}
	if p90 := time.Duration(r.Latency.P90) * time.Microsecond; p90 < 250*time.Millisecond {
		t.Fatalf("p90 %s: the last 30%% of the window waited out the stall and the drain", p90)
	}
	if r.OpenLoop.BehindSchedule == 0 {
		t.Fatal("behind schedule 0 while the writer was blocked")
	}
	if !r.Marked() || r.Status != report.StatusFailed {
		t.Fatalf("status %s: a row with 30%% of its messages never sent or answered must be marked and failed", r.Status)
	}
}

// cappedEcho answers one message at a time, each after service, so it
// serves at most 1/service messages per second whatever it is offered.
func cappedEcho(t *testing.T, service time.Duration) string {
	var serial sync.Mutex // one server-wide worker
	return peer(t, func(c *websocket.Conn) {
		echoEach(c, func([]byte) {
			serial.Lock()
			defer serial.Unlock()
			for until := time.Now().Add(service); time.Now().Before(until); {
				time.Sleep(service / 4)
			}
		})
	})
}

// TestOpenLoopThroughputIsWhatCompletedInTheWindow: a server capped near
// 400–500 msgs/s offered 600/s must not be reported at 600: replies that
// arrive during the drain are kept apart.
func TestOpenLoopThroughputIsWhatCompletedInTheWindow(t *testing.T) {
	url := cappedEcho(t, 2*time.Millisecond)
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 4, Payload: 128, Rate: 600, Warmup: 300 * time.Millisecond, Duration: time.Second}
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), DrainTimeout: 2 * time.Second}, nil)[0]
	t.Logf("msgs/s %.0f, drain %d, accounting %+v", r.ThroughputMsgsPerS, r.DrainMessages, r.Accounting)
	if r.ThroughputMsgsPerS > 540 || r.ThroughputMsgsPerS < 200 {
		t.Fatalf("msgs/s %.0f for a server capped at 500/s offered 600/s", r.ThroughputMsgsPerS)
	}
	if r.DrainMessages == 0 || r.Accounting.AnsweredLate == 0 {
		t.Fatalf("drain messages %d, answered late %d: the backlog must be answered after the window and kept apart",
			r.DrainMessages, r.Accounting.AnsweredLate)
	}
	if r.ServerCPUPerMillion != nil {
		t.Fatal("a --target has no server CPU")
	}
}

// fastEcho echoes in-process with nothing in the way.
func fastEcho(t *testing.T) string {
	return peer(t, func(c *websocket.Conn) { echoEach(c, func([]byte) {}) })
}

// TestOpenLoopCorrectedLatencyIsNotTheTimersLateness: against a fast peer
// at a low rate, the corrected latency may exceed the service time only by
// how late each send left, and that must be small: a Go timer alone makes
// it about half a millisecond at p50.
func TestOpenLoopCorrectedLatencyIsNotTheTimersLateness(t *testing.T) {
	url := fastEcho(t)
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 2, Payload: 128, Rate: 200, Warmup: 100 * time.Millisecond, Duration: time.Second}
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings()}, nil)[0]
	if r.ServiceTime == nil || r.OpenLoop == nil || r.OpenLoop.SendLateness.Count == 0 {
		t.Fatalf("service %v open loop %+v: want service time and a send-lateness histogram", r.ServiceTime, r.OpenLoop)
	}
	gap := r.Latency.P50 - r.ServiceTime.P50
	t.Logf("corrected p50 %d µs, service p50 %d µs, send lateness p50 %d p99 %d µs",
		r.Latency.P50, r.ServiceTime.P50, r.OpenLoop.SendLateness.P50, r.OpenLoop.SendLateness.P99)
	if gap > 300 || r.OpenLoop.SendLateness.P50 > 300 {
		t.Fatalf("corrected p50 exceeds service p50 by %d µs (send lateness p50 %d µs): the pacer is imprecise",
			gap, r.OpenLoop.SendLateness.P50)
	}
}

// TestSeriesHasEverySecondWithItsLatencies: a heartbeat's pongs are far
// fewer than a batch; each second of a 2 s window must still be a point of
// its own with the pongs of that second in it.
func TestSeriesHasEverySecondWithItsLatencies(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 4, Payload: 128, Warmup: 100 * time.Millisecond, Duration: 2 * time.Second,
		Own: &scenarios.HeartbeatOptions{Ping: scenarios.Ping{Interval: 200 * time.Millisecond, Timeout: time.Second}}}
	r := Run(context.Background(), Plan{Scenario: sc("heartbeat"), Target: fastEcho(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings()}, nil)[0]
	if len(r.Series) != 2 {
		t.Fatalf("%d points in the series of a 2 s window, want 2: %+v", len(r.Series), r.Series)
	}
	var total uint64
	for i, s := range r.Series {
		if s.P99Us <= 0 || s.Latencies < 10 {
			t.Fatalf("second %d: p99 %d µs from %d pongs; 4 connections pinging every 200 ms give about 20", i, s.P99Us, s.Latencies)
		}
		total += s.Latencies
	}
	if c := uint64(r.Latency.Count); total+2 < c || total > c {
		t.Fatalf("the series holds %d pongs, the window %d", total, r.Latency.Count)
	}
}

// silentPonger reads everything and never answers a ping.
func silentPonger(t *testing.T) string {
	return peer(t, func(c *websocket.Conn) {
		c.SetPingHandler(func(string) error { return nil })
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
}

// TestMissedPongsAreInThePercentiles: a ping without a pong took at least
// the pong timeout; leaving it out made p99 blind to it.
func TestMissedPongsAreInThePercentiles(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	const timeout = 100 * time.Millisecond
	p := scenarios.Params{Conns: 3, Payload: 128, Warmup: 50 * time.Millisecond, Duration: 600 * time.Millisecond,
		Own: &scenarios.HeartbeatOptions{Ping: scenarios.Ping{Interval: 150 * time.Millisecond, Timeout: timeout}}}
	r := Run(context.Background(), Plan{Scenario: sc("heartbeat"), Target: silentPonger(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings()}, nil)[0]
	if r.Heartbeat == nil || r.Heartbeat.Missed == 0 {
		t.Fatalf("heartbeat %+v: want missed pongs", r.Heartbeat)
	}
	if r.LatencyLowerBounds == 0 || uint64(r.Latency.Count) != r.LatencyLowerBounds {
		t.Fatalf("latency count %d, lower bounds %d: every missed pong in the window belongs in the histogram", r.Latency.Count, r.LatencyLowerBounds)
	}
	if p50 := time.Duration(r.Latency.P50) * time.Microsecond; p50 < timeout {
		t.Fatalf("p50 %s: missed pongs must read at least the %s timeout", p50, timeout)
	}
	if !r.Marked() {
		t.Fatal("not marked")
	}
}

// corruptingEcho flips a filler byte of every reply.
func corruptingEcho(t *testing.T) string {
	return peer(t, func(c *websocket.Conn) { echoEach(c, func(msg []byte) { msg[len(msg)-1] ^= 0xff }) })
}

// TestCorruptRepliesAreNoRoundTrips: a closed loop answered only with
// corrupt replies completed nothing.
func TestCorruptRepliesAreNoRoundTrips(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := quickParams()
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: corruptingEcho(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings()}, nil)[0]
	if r.Integrity.Corrupt == 0 {
		t.Fatalf("integrity %+v: want corrupt replies", r.Integrity)
	}
	if r.Messages != 0 || r.ThroughputMsgsPerS != 0 {
		t.Fatalf("%d messages, %.0f msgs/s from corrupt replies only", r.Messages, r.ThroughputMsgsPerS)
	}
	if r.Accounting == nil || r.Accounting.NeverAnswered == 0 || r.Accounting.Answered != 0 {
		t.Fatalf("accounting %+v: every round trip in the window got no valid reply", r.Accounting)
	}
}

// slowAcceptor upgrades one connection at a time, each after delay.
func slowAcceptor(t *testing.T, delay time.Duration) string {
	t.Helper()
	up := websocket.Upgrader{}
	var serial sync.Mutex
	var conns sync.WaitGroup
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serial.Lock()
		time.Sleep(delay)
		c, err := up.Upgrade(w, r, nil)
		serial.Unlock()
		if err != nil {
			return
		}
		conns.Add(1)
		defer conns.Done()
		go func() { <-quit; c.Close() }()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				c.Close()
				return
			}
		}
	}))
	t.Cleanup(func() { close(quit); srv.Close() })
	return wsURL(srv, "/echo")
}

// TestConnectStormLatencyIncludesQueueing: 60 connections due at 1000/s to
// a server accepting one per 5 ms (about 200/s): the later connections wait
// in line, and their handshake latency must run from when they were due.
func TestConnectStormLatencyIncludesQueueing(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 60, Payload: 128, ConnectRate: 1000}
	r := Run(context.Background(), Plan{Scenario: sc("connect"), Target: slowAcceptor(t, 5*time.Millisecond), Driver: d,
		Params: p, Runs: 1, Settings: servers.DefaultSettings(), ConnectParallel: 4}, nil)[0]
	if r.Connect.Established != 60 || r.HandshakeService == nil {
		t.Fatalf("established %d, service %v", r.Connect.Established, r.HandshakeService)
	}
	t.Logf("rate %.0f/s of %.0f, handshake p50 %d µs (service p50 %d µs)", r.Connect.RatePerS, r.Connect.TargetRatePerS,
		r.Handshake.P50, r.HandshakeService.P50)
	// Connection k is due at k ms and done near 5k ms: the median waits
	// about 100 ms, far more than the dial itself once a dialer has it.
	if p50 := time.Duration(r.Handshake.P50) * time.Microsecond; p50 < 60*time.Millisecond {
		t.Fatalf("handshake p50 %s: the queueing behind a 200/s acceptor is missing", p50)
	}
	if r.Handshake.P50 < 2*r.HandshakeService.P50 {
		t.Fatalf("handshake p50 %d µs vs service p50 %d µs: the wait for a free dialer is missing", r.Handshake.P50, r.HandshakeService.P50)
	}
	if !r.ConnectShortfall() || !r.Marked() {
		t.Fatalf("%.0f/s achieved of %.0f/s asked: the shortfall must mark the row", r.Connect.RatePerS, r.Connect.TargetRatePerS)
	}
}

// gcWatcher is a scenario that watches the client's garbage collector
// through the drain: the runner must not force a GC (its memory snapshot)
// while replies may still be in flight.
type gcWatcher struct{ gcDuringDrain *uint32 }

func (gcWatcher) Name() string                                     { return "gc-watcher" }
func (gcWatcher) Description() string                              { return "test" }
func (gcWatcher) Path() string                                     { return "/echo" }
func (gcWatcher) Mode(scenarios.Params) string                     { return "closed-loop" }
func (gcWatcher) Validate(scenarios.Params) error                  { return nil }
func (gcWatcher) Measures() scenarios.Measured                     { return scenarios.Traffic }
func (gcWatcher) ServerIdleTimeout(scenarios.Params) time.Duration { return 0 }
func (gcWatcher) Profile() profile.Profile                         { return profile.Profile{Scenario: "gc-watcher"} }
func (g gcWatcher) Run(ctx context.Context, env *scenarios.Env) (*scenarios.Outcome, error) {
	// Counted from the start of the scenario, so a GC forced the moment
	// the drain begins is seen however late this goroutine notices it.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var done atomic.Bool
	env.Settle(done.Load)
	for !env.Window.Over() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // replies "in flight"
	runtime.ReadMemStats(&after)
	*g.gcDuringDrain = after.NumForcedGC - before.NumForcedGC
	done.Store(true)
	<-env.Ending()
	return &scenarios.Outcome{Latency: env.Latency, Errors: map[string]uint64{}}, nil
}

func TestMemorySnapshotWaitsForTheDrain(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	var forced uint32
	p := scenarios.Params{Conns: 2, Payload: 128, Warmup: 10 * time.Millisecond, Duration: 100 * time.Millisecond}
	r := Run(context.Background(), Plan{Scenario: gcWatcher{&forced}, Target: fastEcho(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings()}, nil)[0]
	if r.Status == report.StatusInterrupted || r.DurationS == 0 {
		t.Fatalf("status %s %q: the window did not run", r.Status, r.Reason)
	}
	if forced != 0 {
		t.Fatalf("%d forced GCs while the scenario ran and drained", forced)
	}
}
