package servers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFasthttpAbandonedUpgrade: fasthttp writes the 101 of an upgrade
// request that also asks for "Connection: close" and then closes the
// connection without running the hijack handler. The /broadcast subscription
// made before the 101 must go with it: later publishes reach only the real
// subscriber, and nothing is dropped for a subscriber that never was.
func TestFasthttpAbandonedUpgrade(t *testing.T) {
	ts := startServe(t, "fasthttp", testSettings())

	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "GET /broadcast HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", ts.addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("upgrade with Connection: close answered %s", resp.Status)
	// The server closes the connection: no WebSocket was set up on it.
	if n, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("connection not closed by the server after %d bytes: %v", n, err)
	}

	c := dialPath(t, ts.addr, "/broadcast")
	// fasthttp reports the closed connection just after closing it; until
	// then the abandoned subscription may still take a publish.
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; ; i++ {
		before, err := FetchStats(context.Background(), ts.addr, false)
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, websocket.BinaryMessage, []byte{byte(i)})
		after := waitStats(t, ts.addr, "the publish counted", func(st Stats) bool {
			return st.BroadcastPublished == before.BroadcastPublished+1
		})
		if after.BroadcastEnqueued-before.BroadcastEnqueued == 1 {
			if after.Conns != 1 {
				t.Errorf("stats %+v: want 1 connection", after)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a publish still reaches %d subscribers; want 1: the abandoned upgrade stays subscribed (%+v)",
				after.BroadcastEnqueued-before.BroadcastEnqueued, after)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFasthttpHandshakeTimeout: the fasthttp.Server's read and write
// timeouts, which carry Settings.HandshakeTimeout, drop a client that does
// not finish its upgrade request in time, and do not reach the WebSockets,
// which stay usable well past them.
func TestFasthttpHandshakeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := testSettings()
	s.HandshakeTimeout = timeout
	s.IdleTimeout = 0
	ts := startServe(t, "fasthttp", s)

	c := dial(t, ts.addr)
	b := dialPath(t, ts.addr, "/broadcast")

	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	fmt.Fprintf(nc, "GET /echo HTTP/1.1\r\nHost: %s\r\n", ts.addr) // never finished
	nc.SetReadDeadline(start.Add(3 * time.Second))
	io.Copy(io.Discard, nc)
	if took := time.Since(start); took < timeout-50*time.Millisecond || took > 2*time.Second {
		t.Errorf("half an upgrade request was dropped after %s, want about %s", took, timeout)
	}

	time.Sleep(2 * timeout) // the WebSockets have lived past the timeout
	echoOnce(t, c, websocket.BinaryMessage, []byte("still here"))
	echoOnce(t, b, websocket.BinaryMessage, []byte("still subscribed"))
}
