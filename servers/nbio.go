package servers

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/internal/framescan"
	"github.com/wsbench/wsbench/internal/nbioutil"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsbench/wsbench/internal/deflate"
)

func init() {
	Register(nbioServer{})
	nbioutil.QuietLogging() // nbio logs to stdout by default
}

// nbioServer is the reference server for github.com/lesismal/nbio
// (nbhttp + nbhttp/websocket) in its non-blocking, event-driven mode, the
// reason people pick nbio: an nbhttp.Engine with IOModNonBlocking, epoll
// pollers that read every socket, and no goroutine per connection.
//
// Mode: pollers = GOMAXPROCS (nbio's default is NumCPU/4, which would leave
// cores idle), and an inline executor for WebSocket messages: once a
// connection is upgraded, its callbacks (OnMessage, ping and close
// handlers) run on the poller goroutine that read the bytes, in order.
// nbio's default executor hands each message to a worker pool, which
// tripled single-connection RTT on this machine. HTTP requests, the upgrade
// itself and /stats, do go through that pool: with an inline executor
// nbhttp deadlocks a poller when a plain HTTP connection closes while its
// request is handled (the close job then runs on the goroutine that holds
// the HTTP parser's lock), as it does after every "Connection: close"
// response.
//
// A publish is fanned out on the publisher's goroutine: the hub queues the
// frame, encoded once, for every subscriber, and each subscriber's queue is
// drained by writes straight to its socket (see nbioConn.drain), with no
// goroutine per subscriber.
//
// nbio writes without blocking: what the socket does not take at once is
// kept in the connection's write list and flushed when epoll says the
// socket is writable. Everything that needs a blocked writer elsewhere is
// built here on byte accounting (see nbioConn): the write timeout, and the
// /broadcast queue, which is drained only while the socket has taken all
// that was written before, so that a slow consumer fills its hub queue as a
// blocked writer goroutine's does.
type nbioServer struct{}

func (nbioServer) Name() string   { return "nbio" }
func (nbioServer) Module() string { return "github.com/lesismal/nbio" }

// Exceptions lists the buffer sizes: nbio has no per-connection buffers to
// size.
func (nbioServer) Exceptions() []string {
	return []string{
		"read_buffer_bytes: nbio reads every socket into one buffer per poller goroutine, shared by all its connections (nbio's default, 64 KiB, is kept); a connection holds only the unparsed rest of a frame, in a buffer sized by need",
		"write_buffer_bytes: nbio writes each frame straight to the socket from a pooled buffer and keeps, per connection, only what the socket did not take",
	}
}

// nbioShutdownBound bounds stopping the engine, so that Run returns well
// within shutdownTimeout. nbhttp's Shutdown polls its connection table every
// 200 ms.
const nbioShutdownBound = shutdownTimeout / 2

// nbioFrameHeaderMax is the largest header of a server (unmasked) frame.
const nbioFrameHeaderMax = 10

// Run serves /echo and /broadcast through nbio's websocket.Upgrader and every
// other request through other, on an nbhttp.Engine handed the listener ln.
// When ctx ends (Serve has stopped the listener accepting and told every
// WebSocket to go away by then) it shuts the engine down: the listener is
// closed, the connections left are closed, and the pollers stop.
func (nbioServer) Run(ctx context.Context, ln net.Listener, s Settings, live *Live, other http.Handler) error {
	srv := newNbioEndpoints(s, live)
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", srv.echo)
	mux.HandleFunc("/broadcast", srv.broadcast)
	mux.Handle("/", other)

	// The engine's ReadLimit bounds what one connection's parser may hold:
	// the unparsed rest of a frame plus one read. It must not cut a frame
	// the message limit allows, or the connection would be dropped without
	// the 1009 that MessageLengthLimit sends.
	readLimit := math.MaxInt
	maxWriteBuffer := 0 // no limit
	if s.ReadLimit > 0 {
		readLimit = int(s.ReadLimit) + nbioFrameHeaderMax + nbio.DefaultReadBufferSize + 1
		// nbio keeps reading a connection whose socket does not take what
		// is written to it; this bounds what it then holds (a blocked
		// writer elsewhere stops reading instead). A connection with more
		// unsent bytes is closed by nbio. Twice the largest message, so
		// that a frame written whole always fits, plus room for a
		// deflated message's overhead and control frames.
		maxWriteBuffer = 2*(int(s.ReadLimit)+nbioFrameHeaderMax) + 64<<10
	}
	engine := nbhttp.NewEngine(nbhttp.Config{
		Name:    "wsbench-nbio",
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		// nbhttp calls Listen once per address and listener goroutine
		// (one): it gets the listener Serve made.
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		IOMod:   nbhttp.IOModNonBlocking,
		NPoller: runtime.GOMAXPROCS(0),
		// ServerExecutor stays nbio's worker pool, for HTTP requests
		// only; accept switches each WebSocket to nbioConn.execute.
		SupportServerOnly:            true,
		ReleaseWebsocketPayload:      true,
		ReadLimit:                    readLimit,
		MaxWriteBufferSize:           maxWriteBuffer,
		MaxWebsocketFramePayloadSize: math.MaxInt32, // a message is one frame, as every server sends it
		// From accept until the upgrade request has been handled; nbio
		// closes a connection whose request has not arrived by then. The
		// upgrader bounds writing the response with the same timeout.
		KeepaliveTime: s.HandshakeTimeout,
		// Plain HTTP responses (/stats) only; WebSocket writes are bounded
		// by nbioConn's write timer.
		WriteTimeout: s.WriteTimeout,
		Handler:      nbioKeepOpen(mux),
	})
	// Text is echoed unchecked, as gorilla and coder do.
	engine.CheckUtf8 = func([]byte) bool { return true }
	// Every write nbio makes to a WebSocket, direct or flushed later, is
	// reported here with the bytes the socket took.
	engine.Engine.OnWrittenSize(func(nc *nbio.Conn, _ []byte, n int) {
		if c := nbioConnOf(nc); c != nil {
			c.taken(n)
		}
	})
	// nbhttp's listener goroutine builds each connection's state and
	// hands the socket to a poller through epoll, which orders nothing
	// for Go's memory model (the race detector reports the poller reading
	// what the listener wrote). OnOpen runs on the listener goroutine
	// just before the socket joins epoll, and the poller locks the
	// connection for every read: locking it here orders the two.
	engine.Engine.OnOpen(func(nc *nbio.Conn) {
		nc.Lock()
		nc.Unlock()
	})
	srv.engine = engine
	srv.up.Engine = engine // for its buffers; the default is a package-level engine
	if err := engine.Start(); err != nil {
		return fmt.Errorf("nbio: start engine: %w", err)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), nbioShutdownBound)
	defer cancel()
	if err := engine.Shutdown(sctx); err != nil {
		return fmt.Errorf("nbio: shutdown: %w", err)
	}
	return nil
}

// nbioKeepOpen serves h with every request's Close cleared, so that nbhttp
// does not close the connection after the response of a "Connection: close"
// request (the runner's /stats client sends it): it would close it from its
// worker pool, outside the connection's poller (see nbioutil.HangUp). The client
// closes it instead, after the response, and the poller sees that.
func nbioKeepOpen(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Close = false
		h.ServeHTTP(w, r)
	})
}

// nbioConnOf returns the WebSocket state of an nbio connection, nil for a
// connection that is not (yet) an upgraded WebSocket.
func nbioConnOf(nc *nbio.Conn) *nbioConn {
	ws, ok := nc.Session().(*websocket.Conn)
	if !ok {
		return nil
	}
	c, _ := ws.Session().(*nbioConn)
	return c
}

// nbioEndpoints is one server process's /echo and /broadcast.
type nbioEndpoints struct {
	engine    *nbhttp.Engine // set before it starts
	live      *Live
	up        *websocket.Upgrader
	hub       *hub[*nbioFrame]
	subs      nbioSubscribers
	idle      time.Duration
	handshake time.Duration
	wtimeout  time.Duration
	compress  bool
	level     int
}

func newNbioEndpoints(s Settings, live *Live) *nbioEndpoints {
	e := &nbioEndpoints{
		live:      live,
		hub:       newHub[*nbioFrame](s, &live.Counters),
		idle:      s.IdleTimeout,
		handshake: s.HandshakeTimeout,
		wtimeout:  s.WriteTimeout,
		compress:  s.Compression,
		level:     s.CompressionLevel,
	}
	up := websocket.NewUpgrader()
	// A benchmark server: any origin may connect.
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.HandshakeTimeout = s.HandshakeTimeout
	// nbio's keepalive closes a connection that sent no whole frame for
	// that long, without a close frame: not the idle timeout (1001 "idle
	// timeout", every byte counts), which nbioConn's idleTimer applies.
	up.KeepaliveTime = 0
	up.MessageLengthLimit = int(max(s.ReadLimit, 0)) // 0: no limit, for nbio too
	// nbio accepts any permessage-deflate offer when enabled and answers it
	// with no context takeover both ways; every data message it writes is
	// then compressed, whatever its size.
	up.EnableCompression(s.Compression)
	_ = up.SetCompressionLevel(s.CompressionLevel) // 1..9, checked by Settings.check
	up.OnMessage(e.onMessage)
	up.SetPingHandler(func(ws *websocket.Conn, data string) {
		if c, _ := ws.Session().(*nbioConn); c != nil {
			c.pong(data)
		}
	})
	up.SetCloseHandler(func(ws *websocket.Conn, code int, _ string) {
		if c, _ := ws.Session().(*nbioConn); c != nil {
			c.answerClose(code)
		}
	})
	up.OnClose(func(ws *websocket.Conn, _ error) {
		if c, _ := ws.Session().(*nbioConn); c != nil {
			c.ended()
		}
	})
	e.up = up
	return e
}

// echo upgrades an /echo connection; its messages are answered in
// onMessage.
func (e *nbioEndpoints) echo(w http.ResponseWriter, r *http.Request) {
	c := &nbioConn{e: e}
	e.accept(c, w, r)
}

// broadcast upgrades a /broadcast connection. It subscribes first, so that a
// client holding its handshake response gets every later publish; what is
// published meanwhile waits in the queue for the first drain.
func (e *nbioEndpoints) broadcast(w http.ResponseWriter, r *http.Request) {
	c := &nbioConn{e: e}
	// The hub runs this in a goroutine of its own; before the upgrade is
	// done there is nothing to close yet, and the handler checks isSlow
	// once it is (one of the two sees the other's flag).
	c.sub = e.hub.subscribe(func() {
		if c.ready.Load() {
			c.close(1008, slowCloseReason)
		}
	})
	if !e.accept(c, w, r) {
		c.sub.unsubscribe()
		return
	}
	e.subs.add(c)
	if c.sub.isSlow() {
		go c.close(1008, slowCloseReason)
	}
	c.kick()
}

// accept upgrades r and sets c up; false when the upgrade failed (nbio has
// answered with an HTTP error then). It runs in nbio's worker pool, as a job
// of the connection: nbio runs the connection's later jobs, OnClose and the
// messages that arrive meanwhile, after it.
func (e *nbioEndpoints) accept(c *nbioConn, w http.ResponseWriter, r *http.Request) bool {
	res, ok := w.(*nbhttp.Response)
	if !ok || res.Parser == nil {
		http.Error(w, "not an nbio connection", http.StatusInternalServerError)
		return false
	}
	c.nbc = nbioUnderlying(res.Parser.Conn)
	if c.nbc == nil {
		http.Error(w, "not an nbio connection", http.StatusInternalServerError)
		return false
	}
	// The connection's reads go through c.onData from the first byte
	// after the upgrade request: the client sends nothing before the 101,
	// which Upgrade writes after this store (and the nbio connection's
	// lock orders the two for the poller).
	c.it = newIdleTimer(e.idle)
	c.nbc.OnData(c.onData)
	ws, err := e.up.Upgrade(w, r, nil)
	if err != nil {
		c.nbc.OnData(e.engine.DataHandler)
		return false
	}
	c.ws = ws
	// Every frame nbio writes for this connection, its own (pongs, close
	// replies, 1009) and ours, goes through c.out, which counts the bytes
	// handed to the socket. The 101 response went out before: on a new
	// connection's empty socket buffer it is written whole at once.
	c.out = nbioCounter{Conn: ws.Conn, c: c}
	ws.Conn = &c.out
	if e.compress && deflateOffered(r) {
		// nbio accepts any permessage-deflate offer and does not say so
		// afterwards; the offer is the answer.
		c.deflate = true
		e.live.Counters.CompressedConns.Add(1)
	}
	ws.SetSession(c)
	c.remove = e.live.Add(func() { c.close(1001, "") })
	c.it.start(func() {
		e.live.Counters.IdleClosed.Add(1)
		c.close(1001, idleCloseReason)
	})
	// nbio 1.6.8 arms the accept-time read deadline (KeepaliveTime, the
	// handshake timeout) after registering the socket with its poller, so
	// on a busy listener the upgrade, which clears it, can come first: the
	// connection was then cut without a close frame one handshake timeout
	// after it was accepted (11 of 15,000 heartbeat connections). Clearing
	// it again once the listener is long past that point fixes it.
	nbc := c.nbc
	time.AfterFunc(e.handshake/2, func() { _ = nbc.SetReadDeadline(time.Time{}) })
	// Published: the poller installs the inline executor on its next
	// read (see install). Messages that arrived since the 101 went out
	// wait in nbio's job list behind this handler and come first.
	c.ready.Store(true)
	return true
}

// install switches the connection's websocket callbacks to the inline
// executor (execute) once accept has published the upgraded connection, and
// says whether they run inline now. It runs on the poller goroutine, at the
// start of every read: nbio reads ws.Execute only there, while it parses, so
// writing the field there too, after the ready flag has ordered everything
// accept set, leaves no moment where the worker that ran accept and the
// poller touch it unordered. Until then nbio's upgrader left ws.Execute at
// the connection's job list (nbc.Execute), which keeps the order.
func (c *nbioConn) install() bool {
	if !c.installed && c.ready.Load() {
		c.ws.Execute = c.execute
		c.installed = true
	}
	return c.installed
}

// onData is the connection's nbio data handler: every read that returns
// bytes touches the idle timer (data, pings, pongs, close frames, partial
// frames), and the frame scan finds where each data message without payload
// ends, which nbio 1.6.8 parses but never hands to OnMessage: the bytes up to
// there are parsed, the empty message is handled, then the rest.
func (c *nbioConn) onData(nc *nbio.Conn, data []byte) {
	c.it.touch()
	c.install()
	for len(data) > 0 {
		n, opcode := c.scan.Next(data)
		op := websocket.MessageType(opcode)
		c.e.engine.DataHandler(nc, data[:n])
		data = data[n:]
		if op == websocket.TextMessage || op == websocket.BinaryMessage {
			c.emptyMessage(nc, op)
		}
	}
}

// emptyMessage hands a data message without payload to onMessage, through
// the executor nbio would use for the others, so that the order holds: the
// inline one once installed, the connection's job list before (where
// nbio's upgrader left ws.Execute, which is not read here, as the worker
// running accept may not be done with the connection).
func (c *nbioConn) emptyMessage(nc *nbio.Conn, op websocket.MessageType) {
	ws, ok := nc.Session().(*websocket.Conn)
	if !ok {
		return
	}
	if closed, _ := nc.IsClosed(); closed {
		return
	}
	f := func() { c.e.onMessage(ws, op, nil) }
	if c.install() {
		c.execute(f)
		return
	}
	nc.Execute(f)
}

// nbioUnderlying returns the nbio connection under the net.Conn nbio's
// upgrader hands a websocket.Conn, nil if it is none.
func nbioUnderlying(nc net.Conn) *nbio.Conn {
	switch v := nc.(type) {
	case *nbio.Conn:
		return v
	case *nbhttp.Conn:
		c, _ := v.Conn.(*nbio.Conn)
		return c
	}
	return nil
}

// execute is the connection's executor for nbio's websocket callbacks, the
// inline one: it runs f at once, on the poller goroutine that parsed the
// frame. Until the connection's nbio job list has run empty once, which
// holds the upgrade handler and the messages that came while it ran, f
// joins that list, so that the order holds. Only the poller calls it, so
// inline needs no lock.
func (c *nbioConn) execute(f func()) bool {
	if !c.inline {
		if c.nbc.ExecuteLen() > 0 {
			return c.nbc.Execute(f)
		}
		c.inline = true
	}
	f()
	return true
}

// onMessage handles a data message: /echo writes it back, /broadcast
// publishes it. data is nbio's pooled buffer, released when this returns.
func (e *nbioEndpoints) onMessage(ws *websocket.Conn, typ websocket.MessageType, data []byte) {
	c, _ := ws.Session().(*nbioConn)
	if c == nil {
		return
	}
	if c.sub == nil {
		c.echo(typ, data)
		return
	}
	f, err := e.frame(typ, data)
	if err != nil {
		c.close(1011, "")
		return
	}
	e.hub.publish(f)
	e.subs.kickAll()
}

// nbioFrame is a publish encoded once for every subscriber: the whole frame,
// plain for connections without compression and deflated (when the server
// offers compression) for those that negotiated it. Read-only once built.
type nbioFrame struct {
	plain, deflated []byte
}

// frame encodes a publish. nbio has no prepared message: subscribers write
// these bytes to their connections as they are, so a message is framed (and
// compressed) once, not once per subscriber as WriteMessage would.
func (e *nbioEndpoints) frame(typ websocket.MessageType, msg []byte) (*nbioFrame, error) {
	f := &nbioFrame{plain: nbioFrameBytes(typ, false, msg)}
	if e.compress {
		z, err := deflate.Compress(nil, msg, e.level)
		if err != nil {
			return nil, fmt.Errorf("nbio: %w", err)
		}
		f.deflated = nbioFrameBytes(typ, true, z)
	}
	return f, nil
}

// nbioFrameBytes encodes one final, unmasked frame carrying p, with RSV1 set
// for a deflated payload, in a slice of its exact size.
func nbioFrameBytes(typ websocket.MessageType, rsv1 bool, p []byte) []byte {
	var h [nbioFrameHeaderMax]byte
	h[0] = 0x80 | byte(typ)
	if rsv1 {
		h[0] |= 0x40
	}
	n := 2
	switch {
	case len(p) < 126:
		h[1] = byte(len(p))
	case len(p) <= math.MaxUint16:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(len(p)))
		n = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(len(p)))
		n = 10
	}
	b := make([]byte, n+len(p))
	copy(b, h[:n])
	copy(b[n:], p)
	return b
}

// nbioSubscribers lists the /broadcast connections, for waking their drains
// after a publish: the hub's queues are plain channels, and with no writer
// goroutine blocked on one, the publisher has to say that something is
// there.
type nbioSubscribers struct {
	mu    sync.RWMutex
	conns []*nbioConn // guarded by mu; nbioConn.idx is the position
}

func (s *nbioSubscribers) add(c *nbioConn) {
	s.mu.Lock()
	c.idx = len(s.conns)
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

// remove takes c off the list; a no-op when it is not on it.
func (s *nbioSubscribers) remove(c *nbioConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := c.idx
	if i < 0 || i >= len(s.conns) || s.conns[i] != c {
		return
	}
	last := len(s.conns) - 1
	s.conns[i] = s.conns[last]
	s.conns[i].idx = i
	s.conns[last] = nil
	s.conns = s.conns[:last]
	c.idx = -1
}

// kickAll wakes every subscriber's drain. It runs on the publisher's poller
// goroutine, and so do the drains it starts: each writes what its socket
// takes without blocking and leaves the rest in its queue.
func (s *nbioSubscribers) kickAll() {
	s.mu.RLock()
	for _, c := range s.conns {
		c.kick()
	}
	s.mu.RUnlock()
}

// nbioEpoch is the base of the write-progress times nbioConn records.
var nbioEpoch = time.Now()

// nbioConn is one upgraded connection, the websocket.Conn's session. It
// holds what nbio leaves to the application: the close handshake's state,
// the idle timer, the write timeout and, on /broadcast, the drain of the
// subscriber's queue.
//
// Both of the last two rest on pending, the bytes handed to nbio for the
// socket and not yet taken by it: every frame passes through out, which adds
// its size, and nbio's OnWrittenSize callback subtracts what each write
// syscall took, at once or when the socket drains later. pending > 0 means
// the peer is not reading as fast as we write.
type nbioConn struct {
	e   *nbioEndpoints
	ws  *websocket.Conn
	nbc *nbio.Conn
	out nbioCounter
	it  *idleTimer
	// Poller goroutine only: the frame scan of what is read, whether the
	// inline executor is installed (install), and whether callbacks run
	// inline yet (execute).
	scan      framescan.Scanner
	installed bool
	inline    bool
	// remove unregisters from Live; set before any callback can run.
	remove  func()
	deflate bool // permessage-deflate negotiated
	// ready is set once the upgrade is done and the fields above are set;
	// it publishes them to the poller (install) and the hub's callback.
	ready atomic.Bool

	pending atomic.Int64
	// progress is when the socket last took bytes while some were pending
	// (ns since nbioEpoch), for the write timeout.
	progress atomic.Int64
	// wArmed is held by whoever may touch wTimer: the write that arms it,
	// then checkWrite until it disarms.
	wArmed atomic.Bool
	wTimer *time.Timer

	// /broadcast only: the subscription, and the drain's state. draining
	// is held by the one goroutine draining; parked says a drain stopped
	// because the socket had bytes pending, so the one that sees pending
	// reach zero starts the next.
	sub      *subscriber[*nbioFrame]
	idx      int // position in nbioEndpoints.subs
	draining atomic.Bool
	parked   atomic.Bool

	// wmu orders our writes with the close frame: nothing follows it.
	wmu       sync.Mutex
	closeSent bool          // guarded by wmu
	gone      bool          // OnClose ran; guarded by wmu
	done      chan struct{} // made by a closer that waits, closed by OnClose; guarded by wmu
}

// nbioCounter is the net.Conn nbio's websocket.Conn writes through: the
// connection it had, with every write counted in pending first.
type nbioCounter struct {
	net.Conn
	c *nbioConn
}

func (o *nbioCounter) Write(b []byte) (int, error) {
	c := o.c
	before := c.pending.Add(int64(len(b))) - int64(len(b))
	n, err := o.Conn.Write(b)
	if before == 0 && c.pending.Load() > 0 {
		// The socket did not take it all: the peer is behind from now.
		c.progress.Store(int64(time.Since(nbioEpoch)))
		c.armWriteTimer()
	}
	return n, err
}

// taken is nbio's report that the socket took n bytes. It runs inside nbio's
// write or flush, with the nbio connection locked: it must not write.
func (c *nbioConn) taken(n int) {
	left := c.pending.Add(-int64(n))
	if left > 0 {
		c.progress.Store(int64(time.Since(nbioEpoch)))
		return
	}
	if left == 0 && c.parked.Load() && c.parked.CompareAndSwap(true, false) {
		// The socket has taken everything: the parked drain goes on, in
		// a goroutine that lives while there is something to write.
		go c.kick()
	}
}

// armWriteTimer starts the write timeout for pending bytes unless it runs.
func (c *nbioConn) armWriteTimer() {
	d := c.e.wtimeout
	if d <= 0 || !c.wArmed.CompareAndSwap(false, true) {
		return
	}
	if c.wTimer == nil {
		// Made idle, then Reset: the Reset orders the assignment before
		// checkWrite reads it.
		c.wTimer = time.AfterFunc(math.MaxInt64, c.checkWrite)
	}
	c.wTimer.Reset(d)
}

// checkWrite runs when the write timer fires: a connection whose socket has
// taken no byte of what is pending for the write timeout is dropped, as a
// write that times out drops it on the other servers. Otherwise the timer
// is set for the rest, or disarmed when nothing is pending.
func (c *nbioConn) checkWrite() {
	d := c.e.wtimeout
	for {
		if c.pending.Load() <= 0 {
			c.wArmed.Store(false)
			// A write may have found the timer armed just before.
			if c.pending.Load() > 0 && c.wArmed.CompareAndSwap(false, true) {
				continue
			}
			return
		}
		stalled := time.Since(nbioEpoch) - time.Duration(c.progress.Load())
		if stalled < d {
			c.wTimer.Reset(d - stalled)
			return
		}
		nbioutil.HangUp(c.nbc) // leaves wArmed set: nothing is written any more
		return
	}
}

// echo writes an /echo message back, same type, same bytes.
func (c *nbioConn) echo(typ websocket.MessageType, data []byte) {
	echoCost()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return
	}
	_ = c.ws.WriteMessage(typ, data) // on failure nbio closes the connection
}

// pong answers a ping with its payload, unless our close frame went out.
func (c *nbioConn) pong(data string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closeSent {
		_ = c.ws.WriteMessage(websocket.PongMessage, []byte(data))
	}
}

// answerClose answers the peer's close frame with its code (an empty frame
// for none, 1005), unless ours went out first: then this is the peer's
// answer. nbio closes the socket when this returns.
func (c *nbioConn) answerClose(code int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return
	}
	c.closeSent = true
	var body []byte
	if code != 1005 {
		body = binary.BigEndian.AppendUint16(nil, uint16(code))
	}
	_ = c.ws.WriteMessage(websocket.CloseMessage, body)
}

// close sends a close frame with code and reason, waits (bounded) for the
// peer's answer, on which nbio closes the socket, and closes it. The frame
// goes out after what is already pending, at most one /broadcast message
// (drains write only into an empty pipe) or the echoes of a client that
// does not read, which the write timeout bounds.
func (c *nbioConn) close(code int, reason string) {
	c.wmu.Lock()
	if c.closeSent || c.gone {
		c.wmu.Unlock()
		return
	}
	c.closeSent = true
	body := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	body = append(body, reason...)
	err := c.ws.WriteMessage(websocket.CloseMessage, body)
	var done chan struct{}
	if err == nil {
		if c.done == nil {
			c.done = make(chan struct{})
		}
		done = c.done
	}
	c.wmu.Unlock()
	if done != nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	nbioutil.HangUp(c.nbc)
}

// ended is nbio's OnClose: the socket is closed. It runs after the upgrade
// handler, as a job of the same connection.
func (c *nbioConn) ended() {
	c.it.stop()
	if c.sub != nil {
		c.sub.unsubscribe()
		c.e.subs.remove(c)
	}
	c.wmu.Lock()
	c.gone = true
	if c.done != nil {
		close(c.done)
	}
	c.wmu.Unlock()
	if c.remove != nil {
		c.remove()
	}
}

// kick starts a drain of the subscriber's queue unless one runs.
func (c *nbioConn) kick() {
	if c.draining.CompareAndSwap(false, true) {
		c.drain()
	}
}

// drain writes queued frames while the socket has taken everything written
// before. A frame the socket takes only in part is left to nbio to flush;
// the rest of the queue waits, and fills, until taken sees pending reach
// zero and kicks again. That way a slow consumer holds one message in nbio
// and the hub's queue behind it, as a writer goroutine blocked in a write
// does on the other servers, and the hub sees it as slow.
func (c *nbioConn) drain() {
	for {
		for c.pending.Load() == 0 {
			f := c.next()
			if f == nil {
				break
			}
			if !c.writeFrame(f) {
				return // slow, closing or failed: draining stays held, for good
			}
		}
		c.parked.Store(c.pending.Load() > 0)
		c.draining.Store(false)
		// A publish or a drained socket may have come between the checks
		// above and the release; its kick found draining held.
		if c.pending.Load() == 0 && len(c.sub.queue) > 0 && c.draining.CompareAndSwap(false, true) {
			continue
		}
		return
	}
}

// next takes the next queued frame, nil when the queue is empty.
func (c *nbioConn) next() *nbioFrame {
	select {
	case f := <-c.sub.queue:
		return f
	default:
		return nil
	}
}

// writeFrame writes a published frame in the form this connection
// negotiated. false: nothing more is to be written, because the subscriber
// was disconnected as slow, the close frame went out, or the write failed,
// which unsubscribes it.
func (c *nbioConn) writeFrame(f *nbioFrame) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.gone || c.sub.isSlow() {
		return false
	}
	b := f.plain
	if c.deflate && f.deflated != nil {
		b = f.deflated
	}
	if _, err := c.out.Write(b); err != nil {
		c.sub.unsubscribe()
		return false
	}
	return true
}
