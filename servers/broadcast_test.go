package servers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitStats polls /stats until ok accepts them, and fails the test with the
// last stats if that does not happen within 3 s.
func waitStats(t *testing.T, addr, want string, ok func(Stats) bool) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := FetchStats(ctx, addr, false)
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("stats never showed %s; last: %+v", want, st)
		}
	}
}

type testMessage struct {
	typ  int
	data []byte
}

// broadcastMessages makes n messages for each of pubs publishers: sizes
// around every frame-length boundary and past the buffers, text and binary.
// A message's first byte names its publisher ('A', 'B', ...).
func broadcastMessages(pubs, n int) [][]testMessage {
	sizes := []int{1, 2, 125, 126, 127, 1000, 2048, 4096, 65535, 65536, 70000, 200_000}
	rng := rand.New(rand.NewPCG(7, 8))
	msgs := make([][]testMessage, pubs)
	for p := range msgs {
		for i := range n {
			m := testMessage{typ: websocket.BinaryMessage, data: make([]byte, sizes[(i+p)%len(sizes)])}
			if (i+p)%3 == 0 {
				m.typ = websocket.TextMessage
			}
			for j := range m.data {
				if m.typ == websocket.TextMessage {
					m.data[j] = 'a' + byte(rng.IntN(26))
				} else {
					m.data[j] = byte(rng.Uint32())
				}
			}
			m.data[0] = 'A' + byte(p)
			msgs[p] = append(msgs[p], m)
		}
	}
	return msgs
}

// receiveAll reads every message of msgs from c and checks that each arrives
// exactly once, byte for byte, with its type, in its publisher's order.
func receiveAll(c *websocket.Conn, msgs [][]testMessage) error {
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	next := make([]int, len(msgs))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for n := range total {
		typ, data, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("after %d of %d messages: %w", n, total, err)
		}
		if len(data) == 0 || int(data[0]-'A') >= len(msgs) {
			return fmt.Errorf("message %d: %d bytes from no publisher", n, len(data))
		}
		p := int(data[0] - 'A')
		if next[p] == len(msgs[p]) {
			return fmt.Errorf("message %d: more than the %d messages publisher %c sent", n, len(msgs[p]), data[0])
		}
		want := msgs[p][next[p]]
		if typ != want.typ || !bytes.Equal(data, want.data) {
			return fmt.Errorf("message %d: publisher %c's message %d: got type %d, %d bytes; want type %d, %d bytes (same bytes: %v)",
				n, data[0], next[p], typ, len(data), want.typ, len(want.data), bytes.Equal(data, want.data))
		}
		next[p]++
	}
	return nil
}

// TestBroadcast: two publishers publish 50 messages each while 5 more
// connections only subscribe; every connection, the publishers included,
// gets every message exactly once, unaltered, in each publisher's order.
func TestBroadcast(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServe(t, name, testSettings())
			const subs, pubs, perPub = 5, 2, 50
			conns := make([]*websocket.Conn, pubs+subs) // publishers first
			for i := range conns {
				// Subscribed once the dial returns: the servers
				// subscribe before they answer the upgrade.
				conns[i] = dialPath(t, ts.addr, "/broadcast")
			}
			msgs := broadcastMessages(pubs, perPub)
			errs := make(chan error, len(conns)+pubs)
			var wg sync.WaitGroup
			for i, c := range conns {
				wg.Go(func() {
					if err := receiveAll(c, msgs); err != nil {
						errs <- fmt.Errorf("connection %d: %w", i, err)
					}
				})
			}
			for p := range pubs {
				wg.Go(func() {
					for i, m := range msgs[p] {
						if err := conns[p].WriteMessage(m.typ, m.data); err != nil {
							errs <- fmt.Errorf("publisher %d, message %d: %w", p, i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if t.Failed() {
				return
			}
			const published, enqueued = pubs * perPub, pubs * perPub * (pubs + subs)
			st := waitStats(t, ts.addr, fmt.Sprintf("%d published, %d enqueued", published, enqueued), func(st Stats) bool {
				return st.BroadcastPublished == published && st.BroadcastEnqueued == enqueued
			})
			if st.BroadcastDropped != 0 || st.BroadcastDisconnected != 0 || st.IdleClosed != 0 {
				t.Errorf("stats %+v: want no drops, disconnects or idle closes", st)
			}
		})
	}
}

// TestBroadcastSlowConsumer: one subscriber never reads, with a tiny receive
// buffer and a queue of 4, while a publisher publishes 256 KiB messages in
// lock step with the other subscribers: each must have each message within
// a bound, so the hub never waits for the slow one. Publishing goes on until
// the server reports the slow consumer, then 10 messages more. Drop: the slow
// one later gets exactly the messages the counters say were queued for it,
// in order. Disconnect: it gets a prefix of the messages, then 1008.
func TestBroadcastSlowConsumer(t *testing.T) {
	for _, name := range Names() {
		for _, policy := range []string{SlowDrop, SlowDisconnect} {
			t.Run(name+"/"+policy, func(t *testing.T) {
				t.Parallel()
				testSlowConsumer(t, name, policy)
			})
		}
	}
}

func testSlowConsumer(t *testing.T, name, policy string) {
	const (
		fastN   = 4   // fast subscribers; the first publishes
		maxMsgs = 400 // give up if the slow consumer is never reported
		after   = 10  // messages published after it was
		prompt  = 3 * time.Second
	)
	s := testSettings()
	s.BroadcastQueue = 4
	s.SlowConsumer = policy
	ts := startServe(t, name, s)

	// Message i is an 8-byte sequence number and a shared random body.
	body := make([]byte, 256<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	msgFor := func(i int) []byte {
		m := make([]byte, 8+len(body))
		binary.BigEndian.PutUint64(m, uint64(i))
		copy(m[8:], body)
		return m
	}
	// seqOf checks a received message and returns its sequence number.
	seqOf := func(typ int, data []byte) (int, error) {
		if typ != websocket.BinaryMessage || len(data) != 8+len(body) || !bytes.Equal(data[8:], body) {
			return 0, fmt.Errorf("corrupt message: type %d, %d bytes", typ, len(data))
		}
		return int(binary.BigEndian.Uint64(data)), nil
	}

	slow := dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second, NetDialContext: smallReceiveBuffer().DialContext},
		ts.addr, "/broadcast")
	fast := make([]*websocket.Conn, fastN)
	got := make([]chan int, fastN) // sequence numbers received, in order
	readErr := make([]error, fastN)
	for k := range fast {
		fast[k] = dialPath(t, ts.addr, "/broadcast")
		fast[k].SetReadDeadline(time.Time{}) // bounded by prompt below
		got[k] = make(chan int, maxMsgs)
		go func() {
			defer close(got[k])
			for {
				typ, data, err := fast[k].ReadMessage()
				if err == nil {
					var seq int
					if seq, err = seqOf(typ, data); err == nil {
						got[k] <- seq
						continue
					}
				}
				readErr[k] = err // read by the test after got[k] closes
				return
			}
		}()
	}

	type slowResult struct {
		seqs []int
		err  error
	}
	readSlow := func(limit int) <-chan slowResult {
		res := make(chan slowResult, 1)
		go func() {
			var r slowResult
			slow.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(r.seqs) < limit {
				typ, data, err := slow.ReadMessage()
				if err != nil {
					r.err = err
					break
				}
				seq, err := seqOf(typ, data)
				if err != nil {
					r.err = err
					break
				}
				r.seqs = append(r.seqs, seq)
			}
			res <- r
		}()
		return res
	}

	var slowDone <-chan slowResult
	sent, reported := 0, -1
	for i := 0; i < maxMsgs && (reported < 0 || i <= reported+after); i++ {
		if err := fast[0].WriteMessage(websocket.BinaryMessage, msgFor(i)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		sent++
		timeout := time.NewTimer(prompt)
		for k := range fast {
			select {
			case seq, ok := <-got[k]:
				if !ok {
					t.Fatalf("fast subscriber %d: %v", k, readErr[k])
				}
				if seq != i {
					t.Fatalf("fast subscriber %d: got message %d, want %d", k, seq, i)
				}
			case <-timeout.C:
				t.Fatalf("fast subscriber %d did not get message %d within %s: the hub stalls on the slow consumer", k, i, prompt)
			}
		}
		timeout.Stop()
		if reported >= 0 {
			continue
		}
		st, err := FetchStats(context.Background(), ts.addr, false)
		if err != nil {
			t.Fatal(err)
		}
		if st.BroadcastDropped > 0 || st.BroadcastDisconnected > 0 {
			reported = i
			t.Logf("slow consumer reported after %d messages: %+v", i+1, st)
			if policy == SlowDisconnect {
				// Read at once: the close frame waits behind the
				// write the slow one stalled, bounded by closeGrace.
				slowDone = readSlow(maxMsgs)
			}
		}
	}
	if reported < 0 {
		t.Fatalf("after %d messages the server reports no slow consumer", sent)
	}

	switch policy {
	case SlowDrop:
		want := fmt.Sprintf("%d published, %d enqueued or dropped", sent, sent*(fastN+1))
		st := waitStats(t, ts.addr, want, func(st Stats) bool {
			return st.BroadcastPublished == uint64(sent) &&
				st.BroadcastEnqueued+st.BroadcastDropped == uint64(sent*(fastN+1))
		})
		if st.BroadcastDropped == 0 || st.BroadcastDisconnected != 0 {
			t.Errorf("stats %+v: want drops and no disconnects", st)
		}
		// The fast ones got every message, so whatever else was
		// queued was queued for the slow one, and it gets just that.
		queued := int(st.BroadcastEnqueued) - sent*fastN
		r := <-readSlow(queued)
		if r.err != nil {
			t.Fatalf("slow subscriber, after %d of the %d messages queued for it: %v", len(r.seqs), queued, r.err)
		}
		for j := 1; j < len(r.seqs); j++ {
			if r.seqs[j] <= r.seqs[j-1] {
				t.Fatalf("slow subscriber got message %d after %d", r.seqs[j], r.seqs[j-1])
			}
		}
		t.Logf("slow subscriber: %d of %d messages, %d dropped", queued, sent, st.BroadcastDropped)

	case SlowDisconnect:
		r := <-slowDone
		var ce *websocket.CloseError
		if !errors.As(r.err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != slowCloseReason {
			t.Errorf("slow subscriber ended with %v, want close 1008 %q", r.err, slowCloseReason)
		}
		for j, seq := range r.seqs {
			if seq != j {
				t.Fatalf("slow subscriber's message %d is %d: not a prefix of what was published", j, seq)
			}
		}
		if len(r.seqs) >= sent {
			t.Errorf("slow subscriber got all %d messages before its 1008", sent)
		}
		st := waitStats(t, ts.addr, "the slow one gone", func(st Stats) bool { return st.Conns == fastN })
		if st.BroadcastDisconnected != 1 || st.BroadcastDropped != 0 || st.BroadcastPublished != uint64(sent) {
			t.Errorf("stats %+v: want 1 disconnect, no drops, %d published", st, sent)
		}
		t.Logf("slow subscriber: %d messages, then 1008", len(r.seqs))
	}
}

// TestIdleTimeout: with a 300 ms idle timeout, a client that sends nothing is
// closed with 1001 "idle timeout" within about 1 s, on /echo and /broadcast;
// one that only pings every 100 ms, or only sends data, stays open for 1.2 s.
// idle_closed counts the silent ones and nothing else. The clients of a
// server run at once, in goroutines, not as parallel subtests, which the
// -parallel limit would run a few at a time.
func TestIdleTimeout(t *testing.T) {
	const (
		idle  = 300 * time.Millisecond
		every = 100 * time.Millisecond
		hold  = 1200 * time.Millisecond
	)
	silent := func(c *websocket.Conn) error {
		start := time.Now()
		c.SetReadDeadline(start.Add(3 * time.Second))
		_, _, err := c.ReadMessage()
		took := time.Since(start)
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != idleCloseReason {
			return fmt.Errorf("silent client: %v after %s, want close 1001 %q", err, took, idleCloseReason)
		}
		if took < idle-50*time.Millisecond || took > time.Second {
			return fmt.Errorf("silent client closed after %s, want %s to 1s", took, idle)
		}
		return nil
	}
	pinging := func(c *websocket.Conn) error {
		var pongs atomic.Int32
		c.SetPongHandler(func(string) error { pongs.Add(1); return nil })
		stop := make(chan struct{})
		var pinger sync.WaitGroup
		pinger.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)) != nil {
						return
					}
				}
			}
		})
		// Reads handle the pongs; a close would end them.
		c.SetReadDeadline(time.Now().Add(hold))
		_, _, err := c.ReadMessage()
		close(stop)
		pinger.Wait()
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			return fmt.Errorf("pinging client: %v, want it open for %s", err, hold)
		}
		if n := pongs.Load(); n < 5 {
			return fmt.Errorf("pinging client: %d pongs in %s, want at least 5", n, hold)
		}
		return nil
	}
	talking := func(c *websocket.Conn) error {
		c.SetReadDeadline(time.Now().Add(hold + time.Second))
		msg := []byte("still here")
		for end := time.Now().Add(hold); time.Now().Before(end); {
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return fmt.Errorf("talking client: %w", err)
			}
			if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
				return fmt.Errorf("talking client: echo %q, %v", got, err)
			}
			time.Sleep(every) // the pace of the talk, not a wait for an event
		}
		return nil
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			s.IdleTimeout = idle
			ts := startServe(t, name, s)
			clients := []struct {
				path string
				run  func(*websocket.Conn) error
			}{
				{"/echo", silent}, {"/broadcast", silent},
				{"/echo", pinging}, {"/broadcast", pinging},
				{"/echo", talking},
			}
			conns := make([]*websocket.Conn, len(clients))
			for i, cl := range clients {
				conns[i] = dialPath(t, ts.addr, cl.path)
			}
			errs := make([]error, len(clients))
			var wg sync.WaitGroup
			for i, cl := range clients {
				wg.Go(func() {
					if err := cl.run(conns[i]); err != nil {
						errs[i] = fmt.Errorf("%s: %w", cl.path, err)
					}
					// Closed before it has been idle long, so only
					// the silent ones count as idle.
					conns[i].Close()
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			st := waitStats(t, ts.addr, "idle_closed 2 and no connections", func(st Stats) bool {
				return st.IdleClosed >= 2 && st.Conns == 0
			})
			if st.IdleClosed != 2 {
				t.Errorf("idle_closed %d, want 2 (the silent clients only)", st.IdleClosed)
			}
		})
	}
}

// TestShutdownWithStuckSubscriber: a /broadcast subscriber that never reads
// leaves its writer blocked on a full socket; shutdown must still end within
// 3 s, without error.
func TestShutdownWithStuckSubscriber(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			s.BroadcastQueue = 4
			ts := startServe(t, name, s)
			dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second, NetDialContext: smallReceiveBuffer().DialContext},
				ts.addr, "/broadcast")
			pub := dialPath(t, ts.addr, "/broadcast") // reads nothing either
			msg := make([]byte, 256<<10)
			for i := 0; ; i++ {
				if i == 400 {
					t.Fatal("no subscriber reported slow after 400 messages")
				}
				if err := pub.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					t.Fatal(err)
				}
				st, err := FetchStats(context.Background(), ts.addr, false)
				if err != nil {
					t.Fatal(err)
				}
				if st.BroadcastDropped > 0 {
					break // a writer is stuck and its queue full
				}
			}
			t.Logf("shutdown took %s", ts.stop(t, 3*time.Second).Round(time.Millisecond))
		})
	}
}
