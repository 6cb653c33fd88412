package servers

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestNbioIdleCostsNoGoroutine checks the point of running nbio
// event-driven: an idle connection, /echo or /broadcast, has no goroutine
// once its upgrade is done (the upgrade runs in nbio's worker pool, whose
// goroutines end when it is idle), and it still answers when it wakes up.
func TestNbioIdleCostsNoGoroutine(t *testing.T) {
	const n = 40
	ts := startServe(t, "nbio", testSettings())
	before := waitConns(t, ts.addr, 0).Goroutines
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		path := "/echo"
		if i%2 == 1 {
			path = "/broadcast"
		}
		conns[i] = dialPath(t, ts.addr, path)
	}
	// The pool's goroutines linger for a moment after their last job.
	var extra int
	deadline := time.Now().Add(2 * time.Second)
	for {
		extra = waitConns(t, ts.addr, n).Goroutines - before
		if extra <= n/4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("goroutines for %d idle connections: %d", n, extra)
	if extra > n/4 {
		t.Errorf("%d goroutines for %d idle connections, want next to none", extra, n)
	}
	for i, c := range conns {
		if i%2 == 0 {
			echoOnce(t, c, websocket.BinaryMessage, []byte("awake"))
		}
	}
}

// nbioWriteTimeoutSettings make a write stall that nbio's own limit on
// unsent bytes (twice the read limit) does not end first: 4 MiB messages, a
// limit of 16 MiB.
func nbioWriteTimeoutSettings() Settings {
	s := testSettings()
	s.ReadLimit = 16 << 20
	s.WriteTimeout = 300 * time.Millisecond
	return s
}

// TestNbioWriteTimeout: a client that stops reading while the server has
// bytes for it is dropped once the socket has taken nothing for the write
// timeout, as a write that times out drops it on the other servers.
func TestNbioWriteTimeout(t *testing.T) {
	ts := startServe(t, "nbio", nbioWriteTimeoutSettings())
	c := dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second, NetDialContext: smallReceiveBuffer().DialContext},
		ts.addr, "/echo")
	msg := make([]byte, 4<<20)
	// More than the kernel's socket buffers hold (4 MiB of send buffer
	// here), so that nbio holds the rest.
	for range 4 {
		// The client's writes go through while the server reads: it
		// keeps reading a connection whose echoes are stuck.
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			// On a slow machine (-race) the timeout can fire before
			// the client has written everything: the server has then
			// dropped it already, which is what is tested.
			t.Logf("write: %v", err)
			break
		}
	}
	start := time.Now()
	waitConns(t, ts.addr, 0)
	t.Logf("stalled connection dropped %s after the last write", time.Since(start).Round(time.Millisecond))
}

// TestNbioWriteTimeoutAfterDrain: a connection whose writes stalled and then
// drained stays open however long it is quiet afterwards. nbio's own write
// deadline would not: its timer is cleared by a later write that leaves
// nothing pending, not by the flush that empties the buffer.
func TestNbioWriteTimeoutAfterDrain(t *testing.T) {
	s := nbioWriteTimeoutSettings()
	ts := startServe(t, "nbio", s)
	c := dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second, NetDialContext: smallReceiveBuffer().DialContext},
		ts.addr, "/echo")
	msg := make([]byte, 4<<20)
	for i := range msg {
		msg[i] = byte(i)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		t.Fatal(err)
	}
	// Let the echo stall on the tiny receive buffer, well within the
	// timeout, then read it: the socket takes bytes all along.
	time.Sleep(s.WriteTimeout / 3)
	if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("stalled echo: %d bytes, %v", len(got), err)
	}
	time.Sleep(3 * s.WriteTimeout)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	echoOnce(t, c, websocket.BinaryMessage, []byte("still here"))
}

// TestNbioBroadcastCompressed: the frames a publish is encoded into, plain
// and deflated, reach subscribers with and without compression byte for
// byte, an empty message included (nbio drops those; the server's frame
// scan hands them over).
func TestNbioBroadcastCompressed(t *testing.T) {
	s := testSettings()
	s.Compression = true
	ts := startServe(t, "nbio", s)
	deflating := &websocket.Dialer{HandshakeTimeout: 2 * time.Second, EnableCompression: true}
	subs := []*websocket.Conn{
		dialWith(t, deflating, ts.addr, "/broadcast"),
		dialWith(t, deflating, ts.addr, "/broadcast"),
		dialPath(t, ts.addr, "/broadcast"),
	}
	msgs := []struct {
		typ  int
		data []byte
	}{
		{websocket.TextMessage, bytes.Repeat([]byte("all work and no play "), 2000)},
		{websocket.BinaryMessage, []byte{}},
		{websocket.BinaryMessage, []byte{1, 2, 3}},
	}
	for _, m := range msgs {
		if err := subs[0].WriteMessage(m.typ, m.data); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range subs {
		for j, m := range msgs {
			typ, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("subscriber %d, message %d: %v", i, j, err)
			}
			if typ != m.typ || !bytes.Equal(got, m.data) {
				t.Errorf("subscriber %d, message %d: type %d, %d bytes; want type %d, %d bytes", i, j, typ, len(got), m.typ, len(m.data))
			}
		}
	}
	st, err := FetchStats(context.Background(), ts.addr, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.CompressedConns != 2 {
		t.Errorf("compressed_conns %d, want 2", st.CompressedConns)
	}
}

// TestNbioStatsWithConnectionClose: plain HTTP with "Connection: close"
// (what the runner's stats client sends) is answered every time. Handled
// inline on the poller, nbhttp deadlocks the poller on such a request, so
// the server hands HTTP to nbio's worker pool; and closed by nbhttp from
// that pool, about one in a few hundred connections was closed unanswered
// by a stale epoll event of the one before (see nbioutil.HangUp).
func TestNbioStatsWithConnectionClose(t *testing.T) {
	ts := startServe(t, "nbio", testSettings())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 1000 {
		if _, err := FetchStats(ctx, ts.addr, false); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("request %d: %v: a poller is stuck", i, err)
			}
			t.Fatalf("request %d: %v", i, err)
		}
	}
}
