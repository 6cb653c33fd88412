package drivers

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestGwsOneCloseFrame: Close sends one close frame and nothing after it,
// with and without a concurrent reader. gws answers the server's reply with
// a close frame of its own, which the driver must drop.
func TestGwsOneCloseFrame(t *testing.T) {
	extra := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := testUpgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		// gorilla answers the client's close frame inside NextReader.
		for {
			if _, _, err := c.NextReader(); err != nil {
				break
			}
		}
		// The client closes the socket on reading the answer; anything
		// it sends before that follows its close frame.
		c.NetConn().SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := io.Copy(io.Discard, c.NetConn())
		extra <- n
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	d, err := Lookup("gws")
	if err != nil {
		t.Fatal(err)
	}
	for _, withReader := range []bool{false, true} {
		c := dialT(t, d, url, testOpts)
		if withReader {
			rd := startReader(c)
			defer rd.end(t, 2*time.Second)
			// Wait for ReadMessage to run, so Close leaves it the reply.
			rs := &c.(*gwsConn).rs
			for deadline := time.Now().Add(2 * time.Second); rs.state.Load()&rsReading == 0; {
				if time.Now().After(deadline) {
					t.Fatal("ReadMessage not running 2s after the reader started")
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		if clean, err := c.Close(2 * time.Second); !clean || err != nil {
			t.Errorf("reader %v: Close = %v, %v; want true, nil", withReader, clean, err)
		}
		select {
		case n := <-extra:
			if n != 0 {
				t.Errorf("reader %v: the client sent %d bytes after its close frame", withReader, n)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("reader %v: server still reading 3s after Close", withReader)
		}
	}
}

// TestGwsDialContext: ctx bounds the upgrade, which gws itself bounds only
// by its HandshakeTimeout (5 s when unset), against a server that accepts
// the TCP connection and never answers.
func TestGwsDialContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	d, err := Lookup("gws")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	opts := testOpts
	opts.HandshakeTimeout = 0
	c, err := d.Dial(ctx, "ws://"+ln.Addr().String()+"/", opts)
	if err == nil {
		c.Abort()
		t.Fatal("dial against a server that never answers: no error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dial error %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("dial with a 200ms context returned after %v", el)
	}
}
