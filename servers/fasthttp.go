package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

func init() { Register(fasthttpServer{}) }

// fasthttpServer is the reference server for github.com/fasthttp/websocket,
// the fork of gorilla/websocket for github.com/valyala/fasthttp, served by a
// fasthttp.Server, as fasthttp users run it. Per connection it works as
// gorillaServer does, through the same read, write and close loops
// (gorillaConnAPI): the fork keeps gorilla's Conn API.
type fasthttpServer struct{}

func (fasthttpServer) Name() string   { return "fasthttp" }
func (fasthttpServer) Module() string { return "github.com/fasthttp/websocket" }

// Exceptions is empty: every setting is applied, the handshake timeout by
// the fasthttp.Server (the upgrader's own HandshakeTimeout is never read).
func (fasthttpServer) Exceptions() []string { return nil }

// fasthttpShutdownBound bounds each of Run's two shutdown steps, stopping
// the fasthttp.Server and waiting for the WebSocket handlers it closes, so
// that Run returns well within shutdownTimeout.
const fasthttpShutdownBound = shutdownTimeout / 4

// fasthttpMinReadBuffer is the least size of fasthttp's request reader: it
// must hold the whole upgrade request header.
const fasthttpMinReadBuffer = 1024

// Run serves /echo and /broadcast through the fork's FastHTTPUpgrader and
// everything else through other, adapted to fasthttp. When ctx ends (Serve
// has stopped the listener accepting and told every WebSocket to go away by
// then) it shuts the fasthttp.Server down, which closes the listener and
// waits for plain HTTP requests but not for hijacked connections, then
// closes the WebSockets still open and waits, bounded, for their handlers
// to return.
func (fasthttpServer) Run(ctx context.Context, ln net.Listener, s Settings, live *Live, other http.Handler) error {
	e := newFasthttpEndpoints(s, live)
	rest := fasthttpadaptor.NewFastHTTPHandler(other)
	srv := &fasthttp.Server{
		Handler: func(rc *fasthttp.RequestCtx) {
			switch string(rc.Path()) {
			case "/echo":
				e.echo(rc)
			case "/broadcast":
				e.broadcast(rc)
			default:
				rest(rc)
			}
		},
		// Bound reading the upgrade request and writing the 101. fasthttp
		// clears both deadlines before it hands the connection over, so
		// they never cut a WebSocket.
		ReadTimeout:  s.HandshakeTimeout,
		WriteTimeout: s.HandshakeTimeout,
		// The fork reads the WebSocket through its own buffer of
		// ReadBufferSize, which reads through fasthttp's request reader:
		// sized alike, a read that finds fasthttp's buffer empty goes
		// straight to the socket.
		ReadBufferSize: max(s.ReadBufferSize, fasthttpMinReadBuffer),
		// Otherwise the fork's Conn.Close, which closes the hijacked
		// net.Conn, does nothing: fasthttp would close the socket only once
		// the handler returns, and a close frame, a stuck writer or a
		// shutdown could not end a connection whose reader blocks.
		KeepHijackedConns: true,
		ConnState:         e.connState,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		// The listener failed. Serve's shutdown tells the WebSockets to
		// go away through live.
		if err == nil {
			err = errors.New("stopped serving on its own")
		}
		return fmt.Errorf("fasthttp: serve: %w", err)
	case <-ctx.Done():
	}
	var errs []error
	sctx, cancel := context.WithTimeout(context.Background(), fasthttpShutdownBound)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		errs = append(errs, fmt.Errorf("fasthttp: shutdown: %w", err))
	}
	// Shutdown closes the listeners Serve has registered; a Serve that had
	// not got that far yet would otherwise serve on.
	_ = ln.Close()
	if err := <-served; err != nil { // returns once the listener is closed
		errs = append(errs, fmt.Errorf("fasthttp: serve: %w", err))
	}
	if n := e.closeAll(fasthttpShutdownBound); n > 0 {
		errs = append(errs, fmt.Errorf("fasthttp: shutdown: %d WebSocket handlers still running %s after their connections were closed", n, fasthttpShutdownBound))
	}
	return errors.Join(errs...)
}

// fasthttpEndpoints are the WebSocket endpoints of one Run, and what Run
// needs to end their connections.
type fasthttpEndpoints struct {
	s    Settings
	live *Live
	up   *websocket.FastHTTPUpgrader
	hub  *hub[*websocket.PreparedMessage]

	mu sync.Mutex
	// pending holds, by the connection fasthttp serves it on, each
	// /broadcast upgrade whose 101 is not written yet, with the func that
	// undoes its subscription should fasthttp never run its hijack handler.
	pending map[net.Conn]func()
	conns   map[*websocket.Conn]struct{} // open WebSockets
	closing bool                         // closeAll has begun: accept no more
	running sync.WaitGroup               // handlers of the conns
}

func newFasthttpEndpoints(s Settings, live *Live) *fasthttpEndpoints {
	return &fasthttpEndpoints{
		s:    s,
		live: live,
		up: &websocket.FastHTTPUpgrader{
			ReadBufferSize:  s.ReadBufferSize,
			WriteBufferSize: s.WriteBufferSize,
			// No WriteBufferPool: each connection keeps its own write
			// buffer, as the other libraries do.
			// Accepted with no context takeover both ways, the one mode
			// the fork has, and every message is compressed.
			EnableCompression: s.Compression,
			// A benchmark server: any origin may connect.
			CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
		},
		hub:     newHub[*websocket.PreparedMessage](s, &live.Counters),
		pending: map[net.Conn]func(){},
		conns:   map[*websocket.Conn]struct{}{},
	}
}

// deflated reports whether the upgrade just answered in rc negotiated
// permessage-deflate; the fork says so only in the response header.
func deflated(rc *fasthttp.RequestCtx) bool {
	return len(rc.Response.Header.Peek("Sec-WebSocket-Extensions")) > 0
}

// echo upgrades to a WebSocket that answers every message with itself. The
// upgrader only prepares the 101; fasthttp writes it after echo returns and
// then runs the hijack handler, in a goroutine of its own, as the reader.
func (e *fasthttpEndpoints) echo(rc *fasthttp.RequestCtx) {
	var compressed bool // set before fasthttp starts the hijack handler
	err := e.up.Upgrade(rc, func(c *websocket.Conn) {
		it, _, end := e.accept(c, compressed)
		if end == nil {
			return
		}
		defer end(nil)
		gorillaRead(c, it, func(typ int, msg []byte) error {
			echoCost()
			_ = c.SetWriteDeadline(writeDeadline(e.s.WriteTimeout))
			return c.WriteMessage(typ, msg)
		})
	})
	compressed = err == nil && deflated(rc)
}

// broadcast upgrades to a /broadcast subscriber. It subscribes before
// fasthttp writes the 101, so that a client holding the 101 gets every later
// publish. fasthttp skips the hijack handler when it cannot write the 101,
// or the request also asks to close the connection; the subscription is then
// undone by connState, as fasthttp closes the connection.
func (e *fasthttpEndpoints) broadcast(rc *fasthttp.RequestCtx) {
	var c *websocket.Conn
	var done chan struct{}
	upgraded := make(chan struct{}) // c and done are set, or c is nil for good
	sub := e.hub.subscribe(func() {
		<-upgraded
		if c != nil {
			gorillaClose(c, done, websocket.ClosePolicyViolation, slowCloseReason)
		}
	})
	abandon := func() {
		sub.unsubscribe()
		close(upgraded)
	}
	key := rc.Conn()
	var compressed bool // set before fasthttp starts the hijack handler
	err := e.up.Upgrade(rc, func(conn *websocket.Conn) {
		if !e.handOver(key) {
			_ = conn.Close() // abandoned already
			return
		}
		defer sub.unsubscribe()
		it, d, end := e.accept(conn, compressed)
		if end == nil {
			close(upgraded)
			return
		}
		c, done = conn, d
		close(upgraded)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			gorillaWrite(c, c.WritePreparedMessage, sub, done, e.s.WriteTimeout)
		}()
		defer end(wrote)
		gorillaRead(c, it, func(typ int, msg []byte) error {
			// Encodes the server frame once, copying msg out of the read
			// buffer; every subscriber writes the same bytes (and a
			// compressed frame is made once, by the first writer that
			// needs it).
			pm, err := websocket.NewPreparedMessage(typ, msg)
			if err != nil {
				return err
			}
			e.hub.publish(pm)
			return nil
		})
	})
	if err != nil {
		abandon() // the upgrader has answered with an HTTP error
		return
	}
	compressed = deflated(rc)
	e.mu.Lock()
	e.pending[key] = abandon
	e.mu.Unlock()
}

// handOver takes key's pending upgrade for its hijack handler; false means
// connState had abandoned it.
func (e *fasthttpEndpoints) handOver(key net.Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.pending[key]
	delete(e.pending, key)
	return ok
}

// connState abandons the pending upgrade of a connection that fasthttp
// closes without having hijacked it (a hijacked one never reaches
// StateClosed).
func (e *fasthttpEndpoints) connState(nc net.Conn, state fasthttp.ConnState) {
	if state != fasthttp.StateClosed {
		return
	}
	e.mu.Lock()
	abandon := e.pending[nc]
	delete(e.pending, nc)
	e.mu.Unlock()
	if abandon != nil {
		abandon()
	}
}

// accept sets up one upgraded connection, in its hijack handler. Its idle
// timer runs from here; done is closed when the connection's reader has
// ended. The caller defers end, passing the channel its writer goroutine
// closes on return, if it has one: end closes the socket, which ends a
// blocked write, and waits for the writer before unregistering. A nil end
// means Run is closing: the connection is closed already.
func (e *fasthttpEndpoints) accept(c *websocket.Conn, compressed bool) (it *idleTimer, done chan struct{}, end func(wrote <-chan struct{})) {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		_ = c.Close()
		return nil, nil, nil
	}
	e.conns[c] = struct{}{}
	e.running.Add(1)
	e.mu.Unlock()

	if e.s.ReadLimit > 0 {
		c.SetReadLimit(e.s.ReadLimit) // the fork, like gorilla, has no default limit
	}
	if compressed {
		e.live.Counters.CompressedConns.Add(1)
		// The fork compresses every message once negotiated, whatever
		// its size; a level it refuses leaves its default (1).
		_ = c.SetCompressionLevel(e.s.CompressionLevel)
	}
	done = make(chan struct{})
	remove := e.live.Add(func() { gorillaClose(c, done, websocket.CloseGoingAway, "") })
	it = newIdleTimer(e.s.IdleTimeout)
	if it != nil {
		// Control frames are read inside NextReader and the message
		// reader; only their handlers see them. The default ping
		// handler, which answers with a pong, is kept.
		ping := c.PingHandler()
		c.SetPingHandler(func(p string) error { it.touch(); return ping(p) })
		c.SetPongHandler(func(string) error { it.touch(); return nil })
		it.start(func() {
			e.live.Counters.IdleClosed.Add(1)
			gorillaClose(c, done, websocket.CloseGoingAway, idleCloseReason)
		})
	}
	return it, done, func(wrote <-chan struct{}) {
		it.stop()
		close(done)
		_ = c.Close()
		if wrote != nil {
			<-wrote
		}
		remove()
		e.mu.Lock()
		delete(e.conns, c)
		e.mu.Unlock()
		e.running.Done()
	}
}

// closeAll closes the socket of every WebSocket still open, which ends its
// handler, refuses those whose hijack handler has yet to start, and waits up
// to timeout for the handlers to return. It returns how many still run.
func (e *fasthttpEndpoints) closeAll(timeout time.Duration) int {
	e.mu.Lock()
	e.closing = true
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	returned := make(chan struct{})
	go func() {
		e.running.Wait()
		close(returned)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-returned:
		return 0
	case <-t.C:
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.conns)
	}
}
