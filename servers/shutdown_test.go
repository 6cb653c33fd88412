package servers

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestShutdownOrder: every server shuts down in one order, whatever serves
// it (net/http or its own engine): it stops accepting, then closes every
// connection with 1001, then returns. The clients here hold back their
// answer to the 1001, which keeps the server in the second step, waiting for
// the answers (up to closeGrace): a dial made then must not be upgraded, as
// a client reconnecting at once would otherwise be taken in by a server on
// its way out and lose its connection a second time.
func TestShutdownOrder(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServe(t, name, testSettings())
			// A lone /broadcast subscriber gets its own publish, like an echo.
			paths := []string{"/echo", "/echo", "/broadcast"}
			conns := make([]*websocket.Conn, len(paths))
			for i, p := range paths {
				c := dialPath(t, ts.addr, p)
				echoOnce(t, c, websocket.BinaryMessage, []byte("before shutdown"))
				// gorilla's default close handler answers at once; this
				// one leaves the answer to the test.
				c.SetCloseHandler(func(int, string) error { return nil })
				conns[i] = c
			}
			waitConns(t, ts.addr, len(paths))

			start := time.Now()
			ts.cancel()
			for i, c := range conns {
				_, _, err := c.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
					t.Errorf("%s connection %d on shutdown: %v, want close 1001", paths[i], i, err)
				}
			}

			// Every connection has its 1001 and none has answered: the
			// server is still waiting for them, and must be refusing.
			late, resp, err := (&websocket.Dialer{HandshakeTimeout: closeGrace / 4}).Dial("ws://"+ts.addr+"/echo", nil)
			switch {
			case err == nil:
				late.Close()
				t.Errorf("a dial made after every connection got its 1001 was upgraded (%s): the server still accepts while going away", resp.Status)
			case errors.Is(err, syscall.ECONNREFUSED):
				// The listener is closed: what every server does now.
			default:
				t.Logf("dial after the 1001s: not upgraded, but not refused either: %v", err)
			}
			if waited := time.Since(start); waited < closeGrace/2 {
				select {
				case <-ts.done:
					t.Errorf("Serve returned %s after cancel, before its connections answered the 1001 (it waits up to %s)", waited.Round(time.Millisecond), closeGrace)
				default:
				}
			} else {
				t.Logf("slow machine: %s from cancel to the late dial; the server may have given up waiting already", waited.Round(time.Millisecond))
			}

			for i, c := range conns {
				msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
				if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
					t.Errorf("%s connection %d: answering the close: %v", paths[i], i, err)
				}
			}
			select {
			case <-ts.done:
				if ts.err != nil {
					t.Errorf("Serve: %v", ts.err)
				}
			case <-time.After(3*time.Second - time.Since(start)):
				t.Fatal("Serve did not return within 3s of cancel")
			}
		})
	}
}

// TestAcceptGate: after stop, dials are refused while the server's accept
// loop stays blocked, so it sees no failure; Close releases it with
// net.ErrClosed.
func TestAcceptGate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := newAcceptGate(ln)
	defer g.Close()
	addr := g.Addr().String()

	accepted := make(chan error, 1)
	go func() {
		c, err := g.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial before stop: %v", err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("accept before stop: %v", err)
	}

	go func() {
		c, err := g.Accept()
		if c != nil {
			c.Close()
		}
		accepted <- err
	}()
	if err := g.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("dial after stop: connected, want refused")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after stop: %v, want connection refused", err)
	}
	select {
	case err := <-accepted:
		t.Fatalf("Accept returned after stop, before Close: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := g.Close(); err != nil {
		t.Errorf("Close after stop: %v", err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}
