package servers

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

func init() { Register(gwsServer{}) }

// gwsServer is the reference server for github.com/lxzan/gws, an
// event-driven library: each connection's ReadLoop calls back into a
// gws.Event for every message, ping and pong.
type gwsServer struct{}

func (gwsServer) Name() string   { return "gws" }
func (gwsServer) Module() string { return "github.com/lxzan/gws" }

// Exceptions lists what gws has no option for.
func (gwsServer) Exceptions() []string {
	return []string{
		"write_buffer_bytes: gws has no write buffer (ServerOption.WriteBufferSize is deprecated and unused): it builds each frame whole in a pooled buffer of the frame's size and writes it in one call",
	}
}

// The first byte of an unfragmented close frame: FIN and opcode 8. gws
// writes every frame with one Write call, so a Write that starts with it is
// a close frame.
const gwsCloseFrame = 0x88

// The close codes this server sends.
const (
	gwsGoingAway       uint16 = 1001
	gwsPolicyViolation uint16 = 1008
)

// Handlers mounts /echo and /broadcast on one gws.Upgrader, which holds one
// event handler for every connection; the per-connection state rides on the
// net.Conn gws is handed (gwsServerConn), which the callbacks get back with
// socket.NetConn(). Each connection's handler goroutine runs its ReadLoop.
// ParallelEnabled stays off, gws's default: messages are handled on the
// read loop's goroutine, one at a time, as every other server does.
func (gwsServer) Handlers(s Settings, live *Live) Handlers {
	// gws takes a limit of 0 or less as "use the default" (16 MiB); no
	// limit is the largest int.
	limit := math.MaxInt
	if s.ReadLimit > 0 && s.ReadLimit < math.MaxInt {
		limit = int(s.ReadLimit)
	}
	h := &gwsHandler{hub: newHub[*gws.Broadcaster](s, &live.Counters)}
	up := gws.NewUpgrader(h, &gws.ServerOption{
		ReadBufferSize:     s.ReadBufferSize,
		ReadMaxPayloadSize: limit,
		// The server writes nothing larger than it accepts; gws's default
		// write limit (16 MiB) would fail the echo of a larger ReadLimit.
		WriteMaxPayloadSize: limit,
		// Bounds writing the 101 answer; reading the upgrade request is
		// bounded by the http.Server's ReadHeaderTimeout.
		HandshakeTimeout: s.HandshakeTimeout,
		// As gorilla and coder: text is echoed unchecked.
		CheckUtf8Enabled: false,
		ParallelEnabled:  false,
		PermessageDeflate: gws.PermessageDeflate{
			Enabled: s.Compression,
			Level:   s.CompressionLevel,
			// gws compresses a message of n bytes when n >= Threshold, and
			// takes 0 as "use the default" (512): 1 compresses every
			// message but the empty one, which is sent uncompressed.
			Threshold:             1,
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		},
	})

	// accept upgrades and sets up one connection, or answers the request
	// with an HTTP error and returns nil. sub is the /broadcast
	// subscription, nil for /echo.
	accept := func(w http.ResponseWriter, r *http.Request, sub *subscriber[*gws.Broadcaster]) *gwsServerConn {
		c := &gwsServerConn{
			it:           newIdleTimer(s.IdleTimeout),
			writeTimeout: s.WriteTimeout,
			done:         make(chan struct{}),
			sub:          sub,
		}
		c.hj = gwsHijacker{ResponseWriter: w, c: c}
		socket, err := up.Upgrade(&c.hj, r)
		if err != nil {
			if c.Conn == nil {
				// Not hijacked, so gws wrote nothing; once hijacked it
				// answers 400 itself and closes the socket.
				http.Error(w, "gws: "+err.Error(), http.StatusInternalServerError)
			}
			return nil
		}
		c.socket = socket
		c.framing = true // no other goroutine has c yet
		// The rule gws's Upgrader applies (getPermessageDeflate): gws does
		// not say what it negotiated.
		if s.Compression && strings.Contains(r.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
			live.Counters.CompressedConns.Add(1)
		}
		return c
	}

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := accept(w, r, nil); c != nil {
			c.serve(live, nil)
		}
	})

	broadcast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c *gwsServerConn
		upgraded := make(chan struct{}) // c is set, or nil for good
		sub := h.hub.subscribe(func() {
			<-upgraded
			if c != nil {
				c.close(gwsPolicyViolation, slowCloseReason)
			}
		})
		defer sub.unsubscribe()
		c = accept(w, r, sub)
		close(upgraded)
		if c == nil {
			return
		}
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.writeQueue()
		}()
		c.serve(live, wrote)
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// gwsHandler is the gws.Event of every connection. Its callbacks run on the
// connection's read loop.
type gwsHandler struct {
	hub *hub[*gws.Broadcaster]
}

func (*gwsHandler) OnOpen(*gws.Conn)         {}
func (*gwsHandler) OnClose(*gws.Conn, error) {}
func (*gwsHandler) OnPong(*gws.Conn, []byte) {}

// OnPing answers with a pong echoing the ping's payload; gws's built-in
// handler (BuiltinEventHandler) sends an empty pong.
func (*gwsHandler) OnPing(socket *gws.Conn, payload []byte) {
	_ = socket.WritePong(payload)
}

// OnMessage echoes the message (/echo) or publishes it (/broadcast). A write
// error needs no handling here: gws closes the connection on it, which ends
// the read loop.
func (h *gwsHandler) OnMessage(socket *gws.Conn, m *gws.Message) {
	c := socket.NetConn().(*gwsServerConn)
	if c.sub == nil {
		echoCost()
		_ = socket.WriteMessage(m.Opcode, m.Bytes())
		_ = m.Close() // back to gws's buffer pool
		return
	}
	// A Broadcaster encodes (and compresses) the frame once, on the first
	// subscriber's Broadcast, and every subscriber writes those bytes. It
	// keeps the payload until then, so m's buffer is handed over, not
	// returned to gws's pool. Broadcaster.Close is never called: it
	// recycles the frames once every Broadcast counted so far has been
	// written, and subscribers reach a publish at times nobody tracks (or
	// never, if dropped), so a Close could recycle a frame under a later
	// writer. The frame is left to the collector, as gorilla's prepared
	// message is.
	h.hub.publish(gws.NewBroadcaster(m.Opcode, m.Bytes()))
}

// gwsServerConn is one server connection's state, and the net.Conn gws
// reads and writes through: the socket net/http hijacked, wrapped so that
//   - every byte read touches the idle timer, control frames included;
//   - every frame write gets a fresh WriteTimeout deadline, and a write that
//     failed (timed out) fails every later one at once, since it may have
//     left half a frame on the wire;
//   - nothing is written after a close frame. gws's WriteClose closes the
//     socket right after sending its close frame, without waiting for the
//     peer's reply, so this server sends its own close frames (1001, 1008)
//     as plain WriteMessage calls; when the reply arrives gws answers it
//     with a second close frame, which is dropped here.
//
// gws writes each frame with one Write call under the gws.Conn's write lock,
// so Write sees whole frames one at a time.
type gwsServerConn struct {
	net.Conn // nil until hijacked
	hj       gwsHijacker
	pending  []byte // bytes net/http read past the upgrade request; read side only

	it           *idleTimer // nil: no idle timeout
	writeTimeout time.Duration
	// framing is set once the handshake is answered: from then on every
	// Write is a frame.
	framing bool
	// Guarded by the gws.Conn's write lock (see above).
	closeSent bool
	werr      error
	broken    atomic.Bool // werr or closeSent is set: nothing more gets written

	// mu orders the per-write deadline with hurry's shorter one.
	mu      sync.Mutex
	hurried bool

	socket *gws.Conn
	done   chan struct{}                 // closed when the read loop has ended
	sub    *subscriber[*gws.Broadcaster] // nil on /echo
}

func (c *gwsServerConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		c.it.touch()
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.it.touch()
	}
	return n, err
}

func (c *gwsServerConn) Write(p []byte) (int, error) {
	if !c.framing {
		return c.Conn.Write(p) // the 101 answer, bounded by gws's own deadline
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if c.closeSent {
		return len(p), nil // nothing may follow a close frame
	}
	if len(p) > 0 && p[0] == gwsCloseFrame {
		c.closeSent = true
		c.broken.Store(true)
	}
	if c.writeTimeout > 0 {
		c.mu.Lock()
		if !c.hurried {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		}
		c.mu.Unlock()
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.werr = err
		c.broken.Store(true)
	}
	return n, err
}

// hurry bounds every write from now on, the one in progress included, by
// closeGrace: a close must not wait WriteTimeout behind a peer that does not
// read.
func (c *gwsServerConn) hurry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hurried = true
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeGrace))
}

// serve registers the connection, runs its read loop until the connection
// ends, then closes the socket, waits for the writer goroutine (wrote, nil on
// /echo) and unregisters.
func (c *gwsServerConn) serve(live *Live, wrote <-chan struct{}) {
	remove := live.Add(func() { c.close(gwsGoingAway, "") })
	c.it.start(func() {
		live.Counters.IdleClosed.Add(1)
		c.close(gwsGoingAway, idleCloseReason)
	})
	c.socket.ReadLoop()
	c.it.stop()
	close(c.done)
	_ = c.Conn.Close()
	if wrote != nil {
		<-wrote
	}
	remove()
}

// close sends a close frame with code and reason, waits (bounded) for the
// read loop to end on the peer's close reply, and closes the socket. The
// frame goes out after the frame being written, if any, under gws's write
// lock. A failed write makes gws close the socket itself.
func (c *gwsServerConn) close(code uint16, reason string) {
	c.hurry()
	body := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(body, code)
	copy(body[2:], reason)
	if err := c.socket.WriteMessage(gws.OpcodeCloseConnection, body); err == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.Conn.Close()
}

// writeQueue is a /broadcast connection's writer: it hands the broadcasters
// queued for the subscriber to gws until the read loop ends, the subscriber
// is disconnected as slow, or a write fails, which unsubscribes it.
//
// Broadcaster.Broadcast does not write: it queues the write on the
// connection's own gws write queue, which is unbounded and drained by a
// goroutine gws starts when the queue was idle. So that the hub's bounded
// queue stays the only one, as for every other server, the writer waits
// for each write before it takes the next message: a marker job queued
// behind the Broadcast signals when gws's queue has reached it.
func (c *gwsServerConn) writeQueue() {
	wrote := make(chan struct{}, 1)
	signal := func() {
		select {
		case wrote <- struct{}{}:
		default: // the writer has gone
		}
	}
	for {
		select {
		case bc := <-c.sub.queue:
			if c.sub.isSlow() {
				return // leave the socket to the 1008 close frame
			}
			if err := bc.Broadcast(c.socket); err != nil {
				c.sub.unsubscribe()
				return
			}
			c.socket.Async(signal)
			select {
			case <-wrote:
			case <-c.done:
				return
			}
			if c.broken.Load() {
				c.sub.unsubscribe()
				return
			}
		case <-c.sub.slow:
			return
		case <-c.done:
			return
		}
	}
}

// gwsHijacker is the http.ResponseWriter gws's Upgrade hijacks: it hands gws
// the connection's gwsServerConn as the net.Conn. gws ignores the
// bufio.ReadWriter of a hijack, so bytes net/http had already read past the
// request (a client that sent frames before the 101) are kept in pending.
type gwsHijacker struct {
	http.ResponseWriter
	c *gwsServerConn
}

func (h *gwsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.c.Conn = conn
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		h.c.pending = bytes.Clone(b)
	}
	return h.c, rw, nil
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (h *gwsHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
