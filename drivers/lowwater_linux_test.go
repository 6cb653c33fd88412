package drivers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLowWaterGuard: a read waiting under a mark of three replies while
// one is coming. A slow reply (nothing queued when the guard fires) is
// not a stall, and the guard takes the wait as the connection's pace; a
// prompt reply left short of the mark is a stall, ended once the guard's
// bound, eight times that pace, has passed.
func TestLowWaterGuard(t *testing.T) {
	const slow = 30 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if msg[0] == 's' {
				time.Sleep(slow)
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	d, _ := Lookup(Default)
	c := dialT(t, d, "ws"+strings.TrimPrefix(srv.URL, "http"), testOpts)
	low, ok := c.(LowWater)
	if !ok {
		t.Fatal("gobwas: no LowWater")
	}
	buf := make([]byte, 256)
	for i, tc := range []struct {
		first   byte
		atLeast time.Duration
		stalls  uint64
	}{
		{'s', slow, 0},                    // slower than the 2 ms bound: caught up with, no stall
		{'p', stallGuardFactor * slow, 1}, // prompt, short of the mark: a stall, held for the new bound
	} {
		msg := append([]byte{tc.first}, payload(99)...)
		if err := c.WriteMessage(Binary, msg); err != nil {
			t.Fatal(err)
		}
		if !low.SetReadLowWater(3 * (2 + len(msg))) {
			t.Fatal("gobwas over ws://: the mark was refused")
		}
		start := time.Now()
		got := make(chan error, 1)
		go func() {
			_, _, err := c.ReadMessage(buf)
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			c.Abort()
			t.Fatalf("read %d: still waiting after 5 s under a mark of three replies with one coming", i)
		}
		if took := time.Since(start); took < tc.atLeast {
			t.Fatalf("read %d took %v, want at least %v", i, took, tc.atLeast)
		}
		if n := c.(*gobwasConn).low.stalls; n != tc.stalls {
			t.Fatalf("after read %d: %d stalls counted, want %d", i, n, tc.stalls)
		}
	}
}
