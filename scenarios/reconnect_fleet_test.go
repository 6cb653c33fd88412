package scenarios

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
)

// faultyPeer is a WebSocket peer on 127.0.0.1 (gorilla, a goroutine per
// connection, counted) that answers pings until it is killed (every
// connection dropped without a close frame, the listener closed) or frozen
// (the connections up then get no more pongs), and that can start again
// on a new port.
type faultyPeer struct {
	t        *testing.T
	handlers atomic.Int64 // handler goroutines running

	mu     sync.Mutex
	srv    *http.Server
	url    string
	conns  map[*websocket.Conn]bool // true: frozen
	frozen bool
}

func newFaultyPeer(t *testing.T) *faultyPeer {
	t.Helper()
	fp := &faultyPeer{t: t, conns: map[*websocket.Conn]bool{}}
	fp.start()
	t.Cleanup(fp.kill)
	return fp
}

func (fp *faultyPeer) start() {
	fp.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fp.t.Fatal(err)
	}
	up := websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.handlers.Add(1)
		defer fp.handlers.Add(-1)
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		fp.mu.Lock()
		fp.conns[c] = false
		fp.mu.Unlock()
		defer func() {
			fp.mu.Lock()
			delete(fp.conns, c)
			fp.mu.Unlock()
		}()
		c.SetPingHandler(func(data string) error {
			fp.mu.Lock()
			frozen := fp.conns[c]
			fp.mu.Unlock()
			if frozen {
				return nil
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	fp.mu.Lock()
	fp.srv, fp.url = srv, "ws://"+ln.Addr().String()+"/echo"
	fp.mu.Unlock()
}

// kill drops every connection, no close frame, and stops listening.
func (fp *faultyPeer) kill() {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	_ = fp.srv.Close()
	for c := range fp.conns {
		_ = c.NetConn().Close()
	}
}

// freeze stops answering the pings of every connection up now.
func (fp *faultyPeer) freeze() {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	for c := range fp.conns {
		fp.conns[c] = true
	}
}

func (fp *faultyPeer) URL() string {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return fp.url
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// heldCell is a reconnect cell of n gobwas connections to fp, kept alive
// by the idle fleet from their handshake, as the runner sets one up; its
// Dial dials again with redial's driver and counts the dials that failed.
type heldCell struct {
	env     *Env
	clients []*Client
	failed  atomic.Int64
	ours    func() int // goroutines of the load generator's side
}

func newHeldCell(t *testing.T, fp *faultyPeer, n int, ping Ping, redial string) *heldCell {
	t.Helper()
	d := mustDriver(t, redial)
	if !drivers.HoldsIdle(mustDriver(t, "gobwas")) {
		t.Skip("gobwas cannot hold idle connections here")
	}
	clients := dialClients(t, "gobwas", fp.URL(), n)
	p := Params{Conns: n, Duration: 10 * time.Second, Own: &ReconnectOptions{Ping: ping,
		Fault:   Fault{Kind: "kill"},
		Backoff: Backoff{Policy: "none", Base: 20 * time.Millisecond, Cap: 20 * time.Millisecond}}}
	cell := &heldCell{clients: clients}
	cell.ours = func() int { return runtime.NumGoroutine() - int(fp.handlers.Load()) }
	keep := KeepAlive(reconnect{}, p)
	for _, c := range clients {
		keep(c)
		if c.idle == nil {
			t.Fatalf("client %d kept with goroutines", c.ID)
		}
	}
	cell.env = NewEnv(clients, p)
	cell.env.Dial = func(ctx context.Context) (drivers.Conn, error) {
		conn, err := d.Dial(ctx, fp.URL(), drivers.DialOptions{HandshakeTimeout: 5 * time.Second})
		if err != nil {
			cell.failed.Add(1)
			return nil, err
		}
		t.Cleanup(func() { _ = conn.Abort() })
		return conn, nil
	}
	return cell
}

// run runs the reconnect scenario on the cell until end is called, which
// returns its outcome.
func (cell *heldCell) run(t *testing.T) (end func() *Outcome) {
	t.Helper()
	type result struct {
		out *Outcome
		err error
	}
	done := make(chan result, 1)
	// Open before the first ping: every pong is then the window's or the
	// drain's.
	cell.env.Window.Open(cell.env.Clock.Now())
	go func() {
		out, err := reconnect{}.Run(context.Background(), cell.env)
		done <- result{out, err}
	}()
	return func() *Outcome {
		t.Helper()
		cell.env.End(cell.env.Clock.Now())
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.out
		case <-time.After(10 * time.Second):
			t.Fatal("reconnect did not return within 10 s of the end of the load")
			return nil
		}
	}
}

// everyOnePonged: every connection has had a pong in the cell.
func (cell *heldCell) everyOnePonged(since []uint64) bool {
	for i := range cell.env.Done {
		if cell.env.Done[i].Load() <= since[i] {
			return false
		}
	}
	return true
}

func (cell *heldCell) pongsSoFar() []uint64 {
	out := make([]uint64, len(cell.env.Done))
	for i := range out {
		out[i] = cell.env.Done[i].Load()
	}
	return out
}

// pongsCounted checks that out counts every pong of the cell once, as
// env.Done did: each in the window or in the drain.
func (cell *heldCell) pongsCounted(t *testing.T, out *Outcome) {
	t.Helper()
	var done uint64
	for i := range cell.env.Done {
		done += cell.env.Done[i].Load()
	}
	if got := out.Messages + out.DrainMessages; got != done || got != out.Heartbeat.Pongs {
		t.Fatalf("%d pongs in the window and %d in the drain, %d in all: want the %d the connections counted",
			out.Messages, out.DrainMessages, out.Heartbeat.Pongs, done)
	}
}

// heldUp counts the cell's connections the fleet holds and pings.
func (cell *heldCell) heldUp() int {
	f := fleetOf(cell.clients)
	n := 0
	f.do(func(*drivers.Poller) {
		for _, s := range f.slots {
			if s.rec && s.phase == rcUp && !s.dead {
				n++
			}
		}
	})
	return n
}

// TestReconnectHoldsItsConnectionsInTheFleetThroughAKill: a reconnect cell
// of 300 gobwas connections pings them from the idle fleet, with no
// goroutine of its own per connection; when the server is killed each
// finds it gone by a read error, dials again (failing while nothing
// listens) and, once a server is back, is held and pinged by the fleet
// again, still without a goroutine each.
func TestReconnectHoldsItsConnectionsInTheFleetThroughAKill(t *testing.T) {
	const n = 300
	fp := newFaultyPeer(t)
	cell := newHeldCell(t, fp, n, Ping{Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}, "gobwas")
	base := cell.ours()
	first := make([]drivers.Conn, n)
	for i, c := range cell.clients {
		first[i] = c.Conn
	}
	end := cell.run(t)
	waitFor(t, 20*time.Second, "every connection ponged in the cell", func() bool { return cell.everyOnePonged(make([]uint64, n)) })
	if grown := cell.ours() - base; grown > 10 {
		t.Fatalf("%d more goroutines for %d connections in a reconnect cell", grown, n)
	}
	if held := cell.heldUp(); held != n {
		t.Fatalf("the fleet holds and pings %d of %d connections", held, n)
	}

	cell.killAndBringBack(t, fp, n)
	cell.env.Window.Close(cell.env.Clock.Now())
	waitFor(t, 5*time.Second, "the cell settled", cell.env.Settled)
	// Dials are done: what they brought back is held, and the dial
	// goroutines are gone.
	waitFor(t, 10*time.Second, "the goroutines back to the fleet's", func() bool { return cell.ours()-base <= 10 })
	if held := cell.heldUp(); held != n {
		t.Fatalf("after the reconnect the fleet holds and pings %d of %d connections", held, n)
	}

	out := end()
	f := out.Figures
	if f["lost_after_fault"] != n || f["detected_read_error"] != n || f["never_recovered"] != 0 || f["reconnect_failures"] < n ||
		f["reconnect_attempts"] < 2*n {
		t.Fatalf("figures %v: want all %d found dead by a read error, failed dials, and every one back", f, n)
	}
	if d, _ := out.Distributions["detect"].Snapshot(); d.TotalCount() != n {
		t.Fatalf("%d detections recorded, want %d", d.TotalCount(), n)
	}
	if lat, _ := out.Latency.Snapshot(); out.Heartbeat.Pongs < 2*n || out.Messages == 0 || lat.TotalCount() == 0 {
		t.Fatalf("%d pongs, %d in the window, %d latencies: want pongs before and after the kill", out.Heartbeat.Pongs, out.Messages, lat.TotalCount())
	}
	cell.pongsCounted(t, out)
	for i, c := range cell.clients {
		if conn, broken := c.Current(); broken || conn == first[i] {
			t.Fatalf("client %d handed back broken (%v) or not dialed again", i, broken)
		}
	}
	// The fleet let go of everything: its goroutine stops.
	fl := fleetOf(cell.clients)
	waitFor(t, 5*time.Second, "the fleet's loop stopped", func() bool {
		fl.mu.Lock()
		defer fl.mu.Unlock()
		return !fl.running
	})
	for i, c := range cell.clients {
		if clean, err := c.Conn.Close(2 * time.Second); !clean || err != nil {
			t.Fatalf("client %d handed back: close clean=%v err=%v", i, clean, err)
		}
	}
}

// TestReconnectFindsAFrozenPeerFromTheFleet: a peer that stops answering
// pings is found by the missed pong, within the ping interval and the
// pong timeout, and every connection dials again.
func TestReconnectFindsAFrozenPeerFromTheFleet(t *testing.T) {
	const n = 50
	ping := Ping{Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond}
	fp := newFaultyPeer(t)
	cell := newHeldCell(t, fp, n, ping, "gobwas")
	end := cell.run(t)
	waitFor(t, 20*time.Second, "every connection ponged in the cell", func() bool { return cell.everyOnePonged(make([]uint64, n)) })
	cell.env.MarkFault(cell.env.Clock.Now())
	fp.freeze()
	after := cell.pongsSoFar()
	waitFor(t, 20*time.Second, "every connection back and ponged", func() bool { return cell.everyOnePonged(after) })
	cell.env.Window.Close(cell.env.Clock.Now())
	waitFor(t, 5*time.Second, "the cell settled", cell.env.Settled)
	out := end()
	f := out.Figures
	if f["lost_after_fault"] != n || f["detected_missed_pong"] != n || f["never_recovered"] != 0 || f["reconnect_failures"] != 0 {
		t.Fatalf("figures %v: want all %d found dead by a missed pong and back at the first dial", f, n)
	}
	cell.pongsCounted(t, out)
	// A frozen peer is found within the interval and the timeout, and some
	// room for a busy machine (less than an interval: one found a ping
	// late would be outside it).
	bound := ping.Interval + ping.Timeout + 150*time.Millisecond
	d, _ := out.Distributions["detect"].Snapshot()
	if max := time.Duration(d.Max()) * time.Microsecond; max > bound || d.TotalCount() != n {
		t.Fatalf("%d detected, at most %s after the freeze: want %d, each within %s", d.TotalCount(), max, n, bound)
	}
}

// TestReconnectHandsWhatItCannotHoldToGoroutines: connections dialed again
// with a driver the Poller cannot hold (here gorilla, for gobwas with
// bytes read past its handshake) go on with a session and a reader of
// their own, pinged and counted as the fleet's were.
func TestReconnectHandsWhatItCannotHoldToGoroutines(t *testing.T) {
	const n = 40
	fp := newFaultyPeer(t)
	cell := newHeldCell(t, fp, n, Ping{Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}, "gorilla")
	base := cell.ours()
	end := cell.run(t)
	waitFor(t, 20*time.Second, "every connection ponged in the cell", func() bool { return cell.everyOnePonged(make([]uint64, n)) })
	cell.killAndBringBack(t, fp, n)
	if held := cell.heldUp(); held != 0 {
		t.Fatalf("the fleet holds %d gorilla connections", held)
	}
	// A session's pinger and reader for each.
	if grown := cell.ours() - base; grown < 2*n {
		t.Fatalf("%d more goroutines for %d connections handed to goroutines of their own", grown, n)
	}
	cell.env.Window.Close(cell.env.Clock.Now())
	waitFor(t, 5*time.Second, "the cell settled", cell.env.Settled)
	out := end()
	if f := out.Figures; f["lost_after_fault"] != n || f["never_recovered"] != 0 {
		t.Fatalf("figures %v: want all %d back", f, n)
	}
	cell.pongsCounted(t, out)
	// Their readers end as the connections handed back are closed.
	for i, c := range cell.clients {
		if clean, err := c.Conn.Close(2 * time.Second); !clean || err != nil {
			t.Fatalf("client %d handed back: close clean=%v err=%v", i, clean, err)
		}
	}
	waitFor(t, 5*time.Second, "the sessions' goroutines gone", func() bool { return cell.ours()-base <= 10 })
}

// killAndBringBack kills the peer, waits until each of the n connections
// has failed a dial while it is down, starts it again and waits until
// every connection is back and has had a pong since.
func (cell *heldCell) killAndBringBack(t *testing.T, fp *faultyPeer, n int) {
	t.Helper()
	cell.env.MarkFault(cell.env.Clock.Now())
	fp.kill()
	waitFor(t, 20*time.Second, "every connection's dial failing while the server is down", func() bool { return cell.failed.Load() >= int64(n) })
	fp.start()
	after := cell.pongsSoFar()
	waitFor(t, 20*time.Second, "every connection back and ponged", func() bool { return cell.everyOnePonged(after) })
}
