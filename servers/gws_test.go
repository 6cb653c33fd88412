package servers

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGwsOneCloseFrame: a close the gws server starts (here for idleness)
// puts one close frame on the wire and nothing after it. The server sends
// it as a plain message, since gws's WriteClose would cut the socket before
// the client's reply, and gws then answers that reply with a second close
// frame, which gwsServerConn must drop.
func TestGwsOneCloseFrame(t *testing.T) {
	s := testSettings()
	s.IdleTimeout = 100 * time.Millisecond
	ts := startServe(t, "gws", s)
	for _, path := range []string{"/echo", "/broadcast"} {
		c := dialPath(t, ts.addr, path)
		// gorilla answers the close frame inside ReadMessage.
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != idleCloseReason {
			t.Fatalf("%s: %v, want close 1001 %q", path, err, idleCloseReason)
		}
		// The server closes the socket on reading the answer.
		c.NetConn().SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := io.Copy(io.Discard, c.NetConn())
		if n != 0 || err != nil {
			t.Errorf("%s: %d bytes after the close frame, then %v; want none, then EOF", path, n, err)
		}
	}
}

// TestGwsWriteTimeout: an echo the client does not read for WriteTimeout
// ends the connection. gws has no write timeout of its own; gwsServerConn
// sets the deadline before every frame.
func TestGwsWriteTimeout(t *testing.T) {
	s := testSettings()
	s.WriteTimeout = 200 * time.Millisecond
	ts := startServe(t, "gws", s)
	c := dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second, NetDialContext: smallReceiveBuffer().DialContext},
		ts.addr, "/echo")
	waitConns(t, ts.addr, 1)
	// Write until a write times out: then the server has stopped reading,
	// because its own echo write is blocked on us.
	msg := make([]byte, 64<<10)
	for {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			break
		}
	}
	start := time.Now()
	waitConns(t, ts.addr, 0)
	t.Logf("connection dropped %s after the client stalled", time.Since(start).Round(time.Millisecond))
}

// TestGwsBroadcastCompression: with compression on, a Broadcaster holds a
// compressed frame for subscribers that negotiated permessage-deflate and a
// plain one for those that did not; each gets every publish intact.
func TestGwsBroadcastCompression(t *testing.T) {
	s := testSettings()
	s.Compression = true
	ts := startServe(t, "gws", s)
	deflate := dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second, EnableCompression: true}, ts.addr, "/broadcast")
	plain := dialPath(t, ts.addr, "/broadcast")
	msgs := broadcastMessages(1, 12)
	for _, m := range msgs[0] {
		if err := deflate.WriteMessage(m.typ, m.data); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*websocket.Conn{"deflate": deflate, "plain": plain} {
		if err := receiveAll(c, msgs); err != nil {
			t.Errorf("%s subscriber: %v", name, err)
		}
	}
	if st := waitConns(t, ts.addr, 2); st.CompressedConns != 1 {
		t.Errorf("compressed_conns %d, want 1", st.CompressedConns)
	}
}
