package drivers

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// dialRaw dials a raw test server with the nbio driver; the server answers
// the upgrade with 101 followed, in the same write, by extra. It returns the
// client and the server side of the connection; both end with the test.
func dialRaw(t *testing.T, extra []byte) (Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d, _ := Lookup("nbio")
	type result struct {
		c   Conn
		err error
	}
	dialed := make(chan result, 1)
	go func() {
		c, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", testOpts)
		dialed <- result{c, err}
	}()
	srv := rawUpgrade(t, ln, extra)
	r := <-dialed
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Abort() })
	return r.c, srv
}

// rawUpgrade accepts one connection on ln and answers its upgrade request
// with 101, followed in the same write by extra; it returns the server side
// of the connection.
func rawUpgrade(t *testing.T, ln net.Listener, extra []byte) net.Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + nbioKeyGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := c.Write(append([]byte(resp), extra...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNbioFramesWithHandshake: frames the server sends in the same segment
// as its 101 reach ReadMessage, in order, empty ones included, before what
// comes later.
func TestNbioFramesWithHandshake(t *testing.T) {
	early := []byte{0x82, 3, 'o', 'n', 'e', 0x81, 0, 0x82, 3, 't', 'w', 'o'}
	c, srv := dialRaw(t, early)
	if _, err := srv.Write([]byte{0x82, 5, 'l', 'a', 't', 'e', 'r'}); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ  MessageType
		data string
	}{{Binary, "one"}, {Text, ""}, {Binary, "two"}, {Binary, "later"}}
	buf := make([]byte, 16)
	for i, w := range want {
		typ, got, err := c.ReadMessage(buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != w.typ || string(got) != w.data {
			t.Errorf("message %d: %s %q, want %s %q", i, typ, got, w.typ, w.data)
		}
	}
}

// TestNbioWriteBlocks: nbio never blocks a write; WriteMessage waits, as a
// blocking write does, while the socket has not taken the message, so that
// a server that does not read holds the writer back instead of the client
// buffering without bound. Abort releases a waiting writer.
func TestNbioWriteBlocks(t *testing.T) {
	c, _ := dialRaw(t, nil) // and never read
	msg := make([]byte, 1<<20)
	wrote := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		n := 0
		for {
			if err := c.WriteMessage(Binary, msg); err != nil {
				wrote <- n
				done <- err
				return
			}
			n++
		}
	}()
	time.Sleep(300 * time.Millisecond)
	c.Abort()
	select {
	case err := <-done:
		// The socket buffers on both ends take a few MiB at most.
		n := <-wrote
		t.Logf("%d MiB written before Abort", n)
		if n > 64 {
			t.Errorf("%d MiB written to a server that reads nothing: WriteMessage does not wait for the socket", n)
		}
		if err == nil {
			t.Error("WriteMessage after Abort: no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("WriteMessage still waiting 2s after Abort")
	}
}

// TestNbioTLSConfig: what a client verifies and offers carries over to
// nbio's TLS stack.
func TestNbioTLSConfig(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	std := srv.Client().Transport.(*http.Transport).TLSClientConfig
	cfg := nbioTLSConfig(std, "example.com")
	if cfg.RootCAs != std.RootCAs || cfg.ServerName != "example.com" || cfg.InsecureSkipVerify {
		t.Errorf("converted config: RootCAs kept %v, ServerName %q, InsecureSkipVerify %v",
			cfg.RootCAs == std.RootCAs, cfg.ServerName, cfg.InsecureSkipVerify)
	}
	if cfg := nbioTLSConfig(nil, "h"); cfg.ServerName != "h" || cfg.InsecureSkipVerify {
		t.Errorf("nil config: ServerName %q, InsecureSkipVerify %v; want verification of h", cfg.ServerName, cfg.InsecureSkipVerify)
	}
	// A server certificate the client does not trust is refused.
	d, _ := Lookup("nbio")
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	if c, err := d.Dial(context.Background(), url, testOpts); err == nil {
		c.Abort()
		t.Error("dial with no trusted roots: no error")
	}
}

// TestNbioDialCloseChurn: connections dialled, used and closed (or
// aborted) in quick succession, a few at a time, all work. A descriptor
// freed by one is handed to the next dial at once; nbio closing it outside
// its poller could let a stale epoll event close the new connection (see
// nbioutil.HangUp). The race is narrow: this is a smoke test, not a proof.
func TestNbioDialCloseChurn(t *testing.T) {
	url := newEchoServer(t)
	d, _ := Lookup("nbio")
	const workers, each = 4, 100
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for i := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c, err := d.Dial(ctx, url, testOpts)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				if err := c.WriteMessage(Binary, []byte("churn")); err != nil {
					errs <- fmt.Errorf("write %d: %w", i, err)
					return
				}
				if _, got, err := c.ReadMessage(nil); err != nil || string(got) != "churn" {
					errs <- fmt.Errorf("echo %d: %q, %w", i, got, err)
					return
				}
				if i%2 == 1 {
					c.Abort()
				} else if clean, err := c.Close(2 * time.Second); !clean {
					errs <- fmt.Errorf("close %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
