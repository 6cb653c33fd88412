package scenarios

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
)

// stalledEcho is an echo peer on 127.0.0.1 that reads nothing until
// release is closed, then echoes everything.
func stalledEcho(t *testing.T, release <-chan struct{}) string {
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
		<-release
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, msg) != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + ln.Addr().String() + "/echo"
}

// TestOpenLoopAchievedRateCountsOnlySendsInTheWindow: a peer that reads
// nothing through the window blocks the sender once the sockets' buffers
// are full; the backlog of messages due in the window is written only
// after the window closes, when the peer reads again. Those writes are
// not sending at the rate asked, so the achieved rate leaves them out,
// although every message due was sent and answered in the end.
func TestOpenLoopAchievedRateCountsOnlySendsInTheWindow(t *testing.T) {
	release := make(chan struct{})
	url := stalledEcho(t, release)
	d, err := drivers.Lookup("gorilla")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := d.Dial(ctx, url, drivers.DialOptions{HandshakeTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB messages at 100/s: 50 due in the half-second window, more than
	// loopback's socket buffers hold (a few MiB).
	const rate, window = 100.0, 500 * time.Millisecond
	env := NewEnv([]*Client{{ID: 1, Conn: conn}}, Params{Conns: 1, Payload: 1 << 20, Rate: rate})
	env.Window.Open(env.Clock.Now())
	ran := make(chan *Outcome, 1)
	go func() {
		out, err := (echo{}).Run(ctx, env)
		if err != nil {
			t.Error(err)
		}
		ran <- out
	}()
	time.Sleep(window)
	env.Window.Close(env.Clock.Now())
	close(release)
	for deadline := time.Now().Add(10 * time.Second); !env.Settled(); {
		if time.Now().After(deadline) {
			t.Fatal("the backlog was not sent and answered within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	env.End(env.Clock.Now())
	<-env.Quieted()
	_ = conn.Abort()
	out := <-ran
	acc, ol := out.Accounting, out.OpenLoop
	if acc.Due < 45 || acc.NeverSent != 0 || acc.NeverAnswered != 0 || acc.AnsweredLate == 0 {
		t.Fatalf("accounting %+v: want about 50 due, every one sent and answered, some after the window", acc)
	}
	if got := ol.AchievedRate; got <= 0 || got > rate/2 {
		t.Fatalf("achieved %.1f/s of %.0f/s: want only the writes the stalled peer let through inside the window (a few)", got, rate)
	}
}
