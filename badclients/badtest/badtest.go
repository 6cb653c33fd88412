// Package badtest holds small WebSocket servers (gorilla/websocket, on
// 127.0.0.1) that deal with bad clients in known ways, for the tests of
// badclients and of the runner: an echo server with a read limit and a
// handshake timeout, a broadcast server that writes to each subscriber in
// turn with blocking writes (one non-reader stalls everyone), and one that
// queues per subscriber and drops slow consumers (good clients go on).
package badtest

import (
	"encoding/binary"

	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Server is one running test server.
type Server struct {
	// URL is the ws:// address of its endpoint (/echo or /broadcast).
	URL string

	srv       *http.Server
	drops     atomic.Int64
	stop      chan struct{}
	publisher sync.WaitGroup

	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
}

// track registers an upgraded connection, which http.Server.Close does
// not close (it is hijacked); false (and c closed) once the server is.
func (s *Server) track(c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

// Drops counts subscribers the queueing broadcast server dropped as slow.
func (s *Server) Drops() int64 { return s.drops.Load() }

// Close stops the server and closes every connection.
func (s *Server) Close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	_ = s.srv.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.publisher.Wait()
}

func listen(t testing.TB, path string, h http.Handler, headerTimeout time.Duration) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("badtest: listen: %v", err)
	}
	s := &Server{URL: "ws://" + ln.Addr().String() + path, stop: make(chan struct{}), conns: map[*websocket.Conn]struct{}{}}
	mux := http.NewServeMux()
	mux.Handle(path, h)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: headerTimeout}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Close)
	return s
}

// EchoOptions set the echo server's limits.
type EchoOptions struct {
	// ReadLimit bounds a message (gorilla closes with 1009 beyond it).
	ReadLimit int64
	// HandshakeTimeout bounds reading the upgrade request
	// (http.Server.ReadHeaderTimeout): stalled upgrades and idle sockets
	// are closed after it.
	HandshakeTimeout time.Duration
	// Compression offers permessage-deflate.
	Compression bool
}

// Echo starts an echo server on /echo.
func Echo(t testing.TB, o EchoOptions) *Server {
	up := websocket.Upgrader{EnableCompression: o.Compression, CheckOrigin: func(*http.Request) bool { return true }}
	var s *Server
	s = listen(t, "/echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if !s.track(c) {
			return
		}
		defer s.untrack(c)
		if o.ReadLimit > 0 {
			c.SetReadLimit(o.ReadLimit)
		}
		for {
			op, rd, err := c.NextReader()
			if err != nil {
				return
			}
			wr, err := c.NextWriter(op)
			if err != nil {
				return
			}
			if _, err := io.Copy(wr, rd); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	}), o.HandshakeTimeout)
	return s
}

// BroadcastOptions shape a broadcast server.
type BroadcastOptions struct {
	// Interval between two published messages, each of Size bytes (at
	// least 8: it starts with the sequence number).
	Interval time.Duration
	Size     int
	// SendBuffer is the SO_SNDBUF of each subscriber's socket; small, so
	// a subscriber that stops reading blocks the writer within a few
	// messages rather than after megabytes.
	SendBuffer int
	// Queue and WriteTimeout are the queueing server's: messages held per
	// subscriber before it is dropped as slow, and how long one write may
	// take before the same.
	Queue        int
	WriteTimeout time.Duration
}

// subscriber is one /broadcast connection.
type subscriber struct {
	c     *websocket.Conn
	queue chan *websocket.PreparedMessage
	gone  chan struct{}
	once  sync.Once
}

// drop ends the subscriber once; counted in s's Drops when slow is set and
// this call is the one that ended it, so a subscriber found slow twice
// (full queue, then a write timing out) counts once.
func (sub *subscriber) drop(s *Server, slow bool) {
	sub.once.Do(func() {
		if slow {
			s.drops.Add(1)
		}
		close(sub.gone)
		_ = sub.c.Close()
	})
}

// broadcast is the machinery both broadcast servers share: subscribers
// join on /broadcast, their reads are drained (so control frames are
// answered), and a publisher calls deliver with each message.
func broadcast(t testing.TB, o BroadcastOptions, queued bool, deliver func(s *Server, subs []*subscriber, m *websocket.PreparedMessage)) *Server {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	var (
		mu   sync.Mutex
		subs []*subscriber
		s    *Server
	)
	s = listen(t, "/broadcast", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if tc, ok := c.NetConn().(*net.TCPConn); ok && o.SendBuffer > 0 {
			_ = tc.SetWriteBuffer(o.SendBuffer)
		}
		if !s.track(c) {
			return
		}
		defer s.untrack(c)
		sub := &subscriber{c: c, gone: make(chan struct{})}
		if queued {
			sub.queue = make(chan *websocket.PreparedMessage, max(o.Queue, 1))
			go func() {
				for {
					select {
					case m := <-sub.queue:
						_ = c.SetWriteDeadline(time.Now().Add(o.WriteTimeout))
						if err := c.WritePreparedMessage(m); err != nil {
							sub.drop(s, true)
							return
						}
					case <-sub.gone:
						return
					}
				}
			}()
		}
		mu.Lock()
		subs = append(subs, sub)
		mu.Unlock()
		for {
			if _, _, err := c.NextReader(); err != nil {
				sub.drop(s, false)
				return
			}
		}
	}), 5*time.Second)

	s.publisher.Add(1)
	go func() {
		defer s.publisher.Done()
		tick := time.NewTicker(o.Interval)
		defer tick.Stop()
		payload := make([]byte, max(o.Size, 8))
		for seq := uint64(1); ; seq++ {
			select {
			case <-s.stop:
				mu.Lock()
				for _, sub := range subs {
					sub.drop(s, false)
				}
				mu.Unlock()
				return
			case <-tick.C:
			}
			binary.BigEndian.PutUint64(payload, seq)
			m, err := websocket.NewPreparedMessage(websocket.BinaryMessage, payload)
			if err != nil {
				continue
			}
			mu.Lock()
			live := subs[:0]
			for _, sub := range subs {
				select {
				case <-sub.gone:
				default:
					live = append(live, sub)
				}
			}
			subs = live
			snapshot := append([]*subscriber(nil), subs...)
			mu.Unlock()
			deliver(s, snapshot, m)
		}
	}()
	return s
}

// BlockingBroadcast starts a broadcast server on /broadcast whose
// publisher writes each message to every subscriber in turn, waiting for
// each write: a subscriber that stops reading stalls delivery to all.
func BlockingBroadcast(t testing.TB, o BroadcastOptions) *Server {
	return broadcast(t, o, false, func(s *Server, subs []*subscriber, m *websocket.PreparedMessage) {
		for _, sub := range subs {
			if err := sub.c.WritePreparedMessage(m); err != nil {
				sub.drop(s, false)
			}
		}
	})
}

// QueueingBroadcast starts a broadcast server on /broadcast that hands
// each message to a queue per subscriber, written by the subscriber's own
// goroutine with a write timeout; a subscriber whose queue is full or
// whose write times out is dropped (Drops counts it), and the others go
// on unaffected.
func QueueingBroadcast(t testing.TB, o BroadcastOptions) *Server {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 200 * time.Millisecond
	}
	return broadcast(t, o, true, func(s *Server, subs []*subscriber, m *websocket.PreparedMessage) {
		for _, sub := range subs {
			select {
			case sub.queue <- m:
			default:
				sub.drop(s, true)
			}
		}
	})
}

// Subscriber is a good gorilla client of a broadcast server, counting the
// messages it receives.
type Subscriber struct {
	c        *websocket.Conn
	received atomic.Int64
	done     chan struct{}
}

// Subscribe connects a good subscriber to url.
func Subscribe(t testing.TB, url string) *Subscriber {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("badtest: subscribe %s: %v", url, err)
	}
	s := &Subscriber{c: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			s.received.Add(1)
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-s.done })
	return s
}

// Received is how many messages the subscriber has read so far.
func (s *Subscriber) Received() int64 { return s.received.Load() }
