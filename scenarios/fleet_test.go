package scenarios

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
)

// pingCounter is a peer on 127.0.0.1 that answers every ping and counts
// them.
func pingCounter(t *testing.T, pings *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPingHandler(func(data string) error {
			pings.Add(1)
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + ln.Addr().String() + "/echo"
}

func dialClients(t *testing.T, driver, url string, n int) []*Client {
	t.Helper()
	d, err := drivers.Lookup(driver)
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]*Client, n)
	for i := range clients {
		conn, err := d.Dial(context.Background(), url, drivers.DialOptions{HandshakeTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = &Client{ID: uint32(i), Conn: conn}
		t.Cleanup(func() { _ = conn.Abort() })
	}
	return clients
}

// TestKeepAliveHoldsAnIdleFleetWithoutGoroutines: 500 connections of the
// default driver kept alive before a heartbeat are pinged (the peer counts
// two pings each) by the fleet's one goroutine, not by a reader and a
// pinger each; released, they are the scenario's to read again.
func TestKeepAliveHoldsAnIdleFleetWithoutGoroutines(t *testing.T) {
	if !drivers.HoldsIdle(mustDriver(t, drivers.Default)) {
		t.Skip("the default driver cannot hold idle connections here")
	}
	var pings atomic.Int64
	const n = 500
	clients := dialClients(t, drivers.Default, pingCounter(t, &pings), n)
	p := Params{Own: &HeartbeatOptions{Ping: Ping{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond}}}
	before := runtime.NumGoroutine()
	keep := KeepAlive(heartbeat{}, p)
	for _, c := range clients {
		keep(c)
		if c.idle == nil || c.keeper != nil {
			t.Fatalf("client %d kept with goroutines", c.ID)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for pings.Load() < 2*n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := pings.Load(); got < 2*n {
		t.Fatalf("the peer saw %d pings from %d connections, want two each", got, n)
	}
	if grown := runtime.NumGoroutine() - before; grown > 10 {
		t.Fatalf("%d more goroutines for %d idle connections", grown, n)
	}
	releaseFleet(clients)
	for _, c := range clients[:5] {
		if c.idle.dead {
			t.Fatalf("client %d: %v", c.ID, c.idle.err)
		}
		if clean, err := c.Conn.Close(2 * time.Second); !clean || err != nil {
			t.Fatalf("client %d released: close clean=%v err=%v", c.ID, clean, err)
		}
	}
}

// TestKeepAliveFallsBackToGoroutines: a driver whose connections cannot be
// held keeps each with a reader and a pinger.
func TestKeepAliveFallsBackToGoroutines(t *testing.T) {
	var pings atomic.Int64
	clients := dialClients(t, "gorilla", pingCounter(t, &pings), 2)
	keep := KeepAlive(heartbeat{}, Params{Own: &HeartbeatOptions{Ping: Ping{Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond}}})
	for _, c := range clients {
		keep(c)
		if c.idle != nil || c.keeper == nil {
			t.Fatalf("client %d: want a keeper", c.ID)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for pings.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pings.Load() < 4 {
		t.Fatalf("%d pings", pings.Load())
	}
	for _, c := range clients {
		c.take()
		_ = c.Conn.Abort()
	}
}

func mustDriver(t *testing.T, name string) drivers.Driver {
	t.Helper()
	d, err := drivers.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
