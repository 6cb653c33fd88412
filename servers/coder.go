package servers

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

func init() { Register(coderServer{}) }

// coderServer is the reference server for github.com/coder/websocket.
type coderServer struct{}

func (coderServer) Name() string   { return "coder" }
func (coderServer) Module() string { return "github.com/coder/websocket" }

// Exceptions lists what coder/websocket has no option for.
func (coderServer) Exceptions() []string {
	return []string{
		"read_buffer_bytes: coder/websocket reads through the 4 KiB bufio.Reader net/http hands over at hijack and has no option to size it",
		"write_buffer_bytes: coder/websocket writes through the 4 KiB bufio.Writer net/http hands over at hijack and has no option to size it",
		"handshake_timeout_ns: coder/websocket has no handshake timeout; only reading the upgrade request is bounded (http.Server.ReadHeaderTimeout), not writing the response",
		"compression_level: coder/websocket always compresses at level 1 (flate.BestSpeed) and has no option for it",
	}
}

// Handlers mounts /echo and /broadcast. Each connection's handler goroutine
// is its reader; a /broadcast connection has one writer goroutine besides.
// coder allows one reader and one writer at a time, and Close from anywhere.
// coder has no prepared message: a publish is copied once out of the read
// buffer and every subscriber's writer calls Write with that same slice,
// so each still frames it (and copies what fits into its write buffer).
func (coderServer) Handlers(s Settings, live *Live) Handlers {
	mode := websocket.CompressionDisabled
	if s.Compression {
		mode = websocket.CompressionNoContextTakeover
	}
	opts := &websocket.AcceptOptions{
		CompressionMode: mode,
		// Every message compressed, whatever its size, as every server
		// does (coder's default skips messages under 512 bytes).
		CompressionThreshold: 1,
		// A benchmark server: any origin may connect.
		InsecureSkipVerify: true,
	}
	// coder's default limit is 32 KiB and a zero limit would refuse every
	// byte; a negative one means none, as ReadLimit <= 0 does here.
	limit := s.ReadLimit
	if limit <= 0 {
		limit = -1
	}
	// accept upgrades and sets up one connection. The idle timer sees every
	// byte coder reads: coder reads the socket through the net.Conn it
	// hijacks, which hijackRecorder hands it wrapped. raw is that conn,
	// for closing the socket under a stuck Close. The caller defers end,
	// passing the channel its writer goroutine closes on return, if it has
	// one: end closes the connection, which ends a blocked write, and
	// waits for the writer before unregistering.
	accept := func(w http.ResponseWriter, r *http.Request) (c *websocket.Conn, raw net.Conn, end func(wrote <-chan struct{})) {
		it := newIdleTimer(s.IdleTimeout)
		hw := &hijackRecorder{ResponseWriter: w, wrap: it.wrap}
		c, err := websocket.Accept(hw, r, opts)
		if err != nil {
			return nil, nil, nil // Accept has answered with an HTTP error.
		}
		c.SetReadLimit(limit)
		raw = hw.conn
		// coder answers with the extension it accepted in the response
		// header it has written.
		if s.Compression && len(w.Header().Values("Sec-WebSocket-Extensions")) > 0 {
			live.Counters.CompressedConns.Add(1)
		}
		remove := live.Add(func() { coderClose(c, raw, websocket.StatusGoingAway, "") })
		it.start(func() {
			live.Counters.IdleClosed.Add(1)
			coderClose(c, raw, websocket.StatusGoingAway, idleCloseReason)
		})
		return c, raw, func(wrote <-chan struct{}) {
			it.stop()
			_ = c.CloseNow()
			if wrote != nil {
				<-wrote
			}
			remove()
		}
	}

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, raw, end := accept(w, r)
		if c == nil {
			return
		}
		defer end(nil)
		// context.Background has no Done channel, which spares coder a
		// timer per call on this path.
		ctx := context.Background()
		coderRead(c, func(typ websocket.MessageType, msg []byte) error {
			echoCost()
			// coder bounds writes by a context, which costs a timer per
			// call; a deadline on the socket it writes to bounds them as
			// the other servers do.
			_ = raw.SetWriteDeadline(writeDeadline(s.WriteTimeout))
			// Not Writer + io.Copy: that ends the message with an extra
			// empty FIN frame.
			return c.Write(ctx, typ, msg)
		})
	})

	hub := newHub[*coderMessage](s, &live.Counters)
	broadcast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c *websocket.Conn
		var raw net.Conn
		upgraded := make(chan struct{}) // c and raw are set, or c is nil for good
		sub := hub.subscribe(func() {
			<-upgraded
			if c != nil {
				coderClose(c, raw, websocket.StatusPolicyViolation, slowCloseReason)
			}
		})
		defer sub.unsubscribe()
		c, raw, end := accept(w, r)
		close(upgraded)
		if c == nil {
			return
		}
		done := make(chan struct{}) // closed when the reader has ended
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			coderWrite(c, raw, sub, done, s.WriteTimeout)
		}()
		defer end(wrote)
		defer close(done)
		coderRead(c, func(typ websocket.MessageType, msg []byte) error {
			// Copied once out of the read buffer; read-only from here on,
			// shared by every subscriber's writer.
			hub.publish(&coderMessage{typ: typ, p: bytes.Clone(msg)})
			return nil
		})
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// coderMessage is one publish as the /broadcast queues hold it.
type coderMessage struct {
	typ websocket.MessageType
	p   []byte // shared by every subscriber: never written to
}

// coderRead hands each data message to handle until the connection fails or
// closes, or handle fails. msg is valid only until handle returns. The
// reader answers pings and close frames.
func coderRead(c *websocket.Conn, handle func(typ websocket.MessageType, msg []byte) error) {
	ctx := context.Background()
	var buf []byte
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		// Not c.Read: it allocates a new slice per message.
		if buf, err = readMessage(r, buf); err != nil {
			return // over the limit coder has already sent 1009
		}
		if err := handle(typ, buf); err != nil {
			return
		}
	}
}

// coderWrite is a /broadcast connection's writer: it writes the messages
// queued for the subscriber until the reader ends (done), the subscriber is
// disconnected as slow, or a write fails, which unsubscribes it.
func coderWrite(c *websocket.Conn, raw net.Conn, sub *subscriber[*coderMessage], done <-chan struct{}, timeout time.Duration) {
	ctx := context.Background()
	for {
		select {
		case m := <-sub.queue:
			if sub.isSlow() {
				return // leave the socket to the 1008 close frame
			}
			_ = raw.SetWriteDeadline(writeDeadline(timeout))
			if err := c.Write(ctx, m.typ, m.p); err != nil {
				sub.unsubscribe()
				return
			}
		case <-sub.slow:
			return
		case <-done:
			return
		}
	}
}

// coderClose runs coder's close handshake with code and reason. Close waits
// up to 5 s for the peer's reply, and once it has begun CloseNow no longer
// closes anything, so after closeGrace the hijacked socket is closed
// directly, which makes Close return.
func coderClose(c *websocket.Conn, raw net.Conn, code websocket.StatusCode, reason string) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = c.Close(code, reason)
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-closed:
		return
	case <-t.C:
	}
	if raw != nil {
		_ = raw.Close()
	}
	t.Reset(closeGrace / 2)
	select {
	case <-closed:
	case <-t.C:
	}
}

// hijackRecorder keeps the net.Conn that coder/websocket hijacks, the only
// way to close the socket under a Conn whose Close is stuck, and hands coder
// that conn wrapped by wrap, if wrap is not nil. coder reads the socket
// through the conn it is handed (Accept resets the hijacked bufio.Reader onto
// it) and writes through net/http's bufio.Writer on the real socket, so a
// wrapper sees every byte read and costs the write path nothing.
type hijackRecorder struct {
	http.ResponseWriter
	wrap func(net.Conn) net.Conn
	conn net.Conn
}

// Hijack hijacks the underlying connection and remembers it, wrapped.
func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil && h.wrap != nil {
		conn = h.wrap(conn)
	}
	h.conn = conn
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }
