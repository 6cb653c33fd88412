//go:build linux

package servers

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGobwasEpollIdleCostsNoGoroutine checks the point of the epoll server:
// an idle connection has no goroutine (and so no stack or read buffer)
// once its upgrade is done, unlike the goroutine-per-connection gobwas
// server, and still echoes when it wakes up.
func TestGobwasEpollIdleCostsNoGoroutine(t *testing.T) {
	const n = 40
	goroutines := map[string]int{}
	for _, name := range []string{"gobwas", "gobwas-epoll"} {
		ts := startServe(t, name, testSettings())
		before := waitConns(t, ts.addr, 0).Goroutines
		conns := make([]*websocket.Conn, n)
		for i := range conns {
			conns[i] = dial(t, ts.addr)
		}
		goroutines[name] = waitConns(t, ts.addr, n).Goroutines - before
		if name == "gobwas" && goroutines[name] < n {
			// A connection counted may not have its reader yet, and the
			// baseline may hold a goroutine that has since ended: wait,
			// with a bound, for the count to settle.
			goroutines[name] = waitGoroutines(t, ts.addr, before+n) - before
		}
		for _, c := range conns {
			echoOnce(t, c, websocket.BinaryMessage, []byte("awake"))
			c.Close()
		}
		waitConns(t, ts.addr, 0)
		ts.stop(t, shutdownTimeout+time.Second)
	}
	t.Logf("goroutines for %d idle connections: %v", n, goroutines)
	if goroutines["gobwas"] < n {
		t.Errorf("gobwas: %d goroutines for %d idle connections, want at least one each", goroutines["gobwas"], n)
	}
	if goroutines["gobwas-epoll"] > n/4 {
		t.Errorf("gobwas-epoll: %d goroutines for %d idle connections, want next to none", goroutines["gobwas-epoll"], n)
	}
}

// waitGoroutines polls the server's /stats until it reports at least want
// goroutines, for at most 3 s, and returns the last count.
func waitGoroutines(t *testing.T, addr string, want int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		st, err := FetchStats(ctx, addr, false)
		if err != nil || st.Goroutines >= want {
			if err != nil && ctx.Err() == nil {
				t.Fatal(err)
			}
			return st.Goroutines
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return st.Goroutines
		}
	}
}
