package drivers

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// waitEvents waits until want says it has seen enough, failing after
// limit.
func waitEvents(t *testing.T, p *Poller, limit time.Duration, want func(Event) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		evs, err := p.Wait(100 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if want(ev) {
				return
			}
		}
	}
	t.Fatalf("poller: not seen within %v", limit)
}

// TestPollerHoldsIdleConnections: 500 gobwas connections held by one
// Poller answer the server's pings, drop its data, have their own pings
// answered, with no goroutine of their own; released, a connection reads
// on from where the Poller left off, and one closed while held is read to
// its close reply by the Poller.
func TestPollerHoldsIdleConnections(t *testing.T) {
	if !pollerSupported {
		t.Skip("no epoll here")
	}
	d, _ := Lookup("gobwas")
	if !HoldsIdle(d) {
		t.Fatal("gobwas does not say it holds idle connections")
	}
	url := newEchoServer(t) + "?ping"
	const n = 500
	conns := make([]Conn, n)
	for i := range conns {
		conns[i] = dialT(t, d, url, testOpts)
	}
	before := runtime.NumGoroutine()
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, c := range conns {
		if !p.Hold(c, uint32(i)) {
			t.Fatalf("connection %d not held", i)
		}
		// The server pings before it echoes: the held connection must
		// answer that ping and drop the echo.
		if err := c.WriteMessage(Binary, payload(100)); err != nil {
			t.Fatal(err)
		}
		if err := p.Ping(uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	ponged := map[uint32]bool{}
	waitEvents(t, p, 20*time.Second, func(ev Event) bool {
		if ev.Err != nil {
			t.Fatalf("connection %d: %v", ev.Token, ev.Err)
		}
		ponged[ev.Token] = true
		return len(ponged) == n
	})
	if grown := runtime.NumGoroutine() - before; grown > 10 {
		t.Fatalf("%d more goroutines for %d held connections", grown, n)
	}

	// Released: the pong the Poller sent for the server's ping is counted
	// by the server, and the stream goes on intact.
	p.Release(0)
	if err := conns[0].WriteMessage(Text, []byte("pongs?")); err != nil {
		t.Fatal(err)
	}
	_, got, err := conns[0].ReadMessage(nil)
	if err != nil || string(got) != "1" {
		t.Fatalf("released connection read %q, %v: want the server's count of one pong", got, err)
	}
	if clean, err := conns[0].Close(2 * time.Second); !clean || err != nil {
		t.Fatalf("released connection: close clean=%v err=%v", clean, err)
	}

	// Closed while held: Close waits for the Poller to read the reply.
	type result struct {
		clean bool
		err   error
	}
	closed := make(chan result, 1)
	go func() {
		clean, err := conns[1].Close(2 * time.Second)
		closed <- result{clean, err}
	}()
	waitEvents(t, p, 5*time.Second, func(ev Event) bool {
		var ce *CloseError
		return ev.Token == 1 && errors.As(ev.Err, &ce) && ce.Code == 1000
	})
	if r := <-closed; !r.clean || r.err != nil {
		t.Fatalf("held connection: close clean=%v err=%v", r.clean, r.err)
	}
}

// TestPollerSeesSilenceAndClose: a peer that never answers pings gives no
// pong; a peer's close frame ends a held connection with its code.
func TestPollerSeesSilenceAndClose(t *testing.T) {
	if !pollerSupported {
		t.Skip("no epoll here")
	}
	d, _ := Lookup("gobwas")
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	silent := dialT(t, d, newEchoServer(t)+"?noping", testOpts)
	closing := dialT(t, d, newEchoServer(t), testOpts)
	if !p.Hold(silent, 1) || !p.Hold(closing, 2) {
		t.Fatal("not held")
	}
	if err := p.Ping(1); err != nil {
		t.Fatal(err)
	}
	if err := closing.WriteMessage(Text, []byte("close-me:1001")); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, p, 5*time.Second, func(ev Event) bool {
		if ev.Token == 1 {
			t.Fatalf("silent peer: %+v", ev)
		}
		var ce *CloseError
		if !errors.As(ev.Err, &ce) || ce.Code != 1001 {
			t.Fatalf("closing peer: %+v, want close 1001", ev)
		}
		return true
	})
	// A while longer: the silent peer's pong never comes.
	for range 3 {
		evs, err := p.Wait(100 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			t.Fatalf("silent peer: %+v", ev)
		}
	}
}

// TestOnlyHoldableConnectionsAreHeld: a driver that reads with a goroutine
// of its own keeps it; gobwas over TCP can be held.
func TestOnlyHoldableConnectionsAreHeld(t *testing.T) {
	g, _ := Lookup("gorilla")
	if HoldsIdle(g) || Holdable(dialT(t, g, newEchoServer(t), testOpts)) {
		t.Fatal("gorilla connections held")
	}
	if !pollerSupported {
		return
	}
	d, _ := Lookup("gobwas")
	if !Holdable(dialT(t, d, newEchoServer(t), testOpts)) {
		t.Fatal("a gobwas connection over TCP cannot be held")
	}
}
