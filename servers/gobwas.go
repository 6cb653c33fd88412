package servers

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsbench/wsbench/internal/deflate"
)

func init() { Register(gobwasServer{}) }

// gobwasServer is the reference server for github.com/gobwas/ws, the
// low-level library: framing is done here, on a bare net.Conn.
type gobwasServer struct{}

func (gobwasServer) Name() string   { return "gobwas" }
func (gobwasServer) Module() string { return "github.com/gobwas/ws" }

// Exceptions is empty: with gobwas the server owns its buffers and limits,
// so every setting is applied here.
func (gobwasServer) Exceptions() []string { return nil }

// Handlers mounts /echo and /broadcast. Each connection's handler goroutine
// is its reader; a /broadcast connection has one writer goroutine besides,
// which writes the frames queued for it under the connection's write mutex,
// shared with the reader's control replies and with close frames.
func (gobwasServer) Handlers(s Settings, live *Live) Handlers {
	upgrade := gobwasUpgrader(s, live)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, src, pending, end := upgrade(w, r)
		if c == nil {
			return
		}
		defer end(nil)
		c.serve(c.newReader(bufio.NewReaderSize(gobwasSource(src, pending), s.ReadBufferSize), s.ReadLimit), c.echo)
	})

	hub := newHub[*gobwasFrame](s, &live.Counters)
	broadcast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c *gobwasConn
		upgraded := make(chan struct{}) // c is set, or nil for good
		sub := hub.subscribe(func() {
			<-upgraded
			if c != nil {
				c.close(ws.StatusPolicyViolation, slowCloseReason)
			}
		})
		defer sub.unsubscribe()
		c, src, pending, end := upgrade(w, r)
		close(upgraded)
		if c == nil {
			return
		}
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.writeQueue(sub)
		}()
		defer end(wrote)
		c.serve(c.newReader(bufio.NewReaderSize(gobwasSource(src, pending), s.ReadBufferSize), s.ReadLimit), gobwasPublish(hub, s))
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// gobwasUpgrader returns the upgrade of one connection, shared by the
// goroutine-per-connection and the epoll server. It returns the connection,
// the source to read it from (the socket; every read touches the idle
// timer), the bytes of the client's first frames if they came with the
// upgrade request (read those first), and end, to defer: end closes the
// socket, which ends a blocked write, waits for the writer goroutine if
// there is one (the channel it closes on return), and unregisters.
func gobwasUpgrader(s Settings, live *Live) func(w http.ResponseWriter, r *http.Request) (c *gobwasConn, src io.Reader, pending *bytes.Reader, end func(wrote <-chan struct{})) {
	// Timeout bounds writing the handshake response; reading the request is
	// bounded by the http.Server's ReadHeaderTimeout. Without compression
	// there is no Negotiate func, so no extension is ever accepted.
	up := ws.HTTPUpgrader{Timeout: s.HandshakeTimeout}
	return func(w http.ResponseWriter, r *http.Request) (c *gobwasConn, src io.Reader, pending *bytes.Reader, end func(wrote <-chan struct{})) {
		u := up
		var ext *wsflate.Extension
		if s.Compression {
			// The extension records what it accepted, so one per handshake.
			ext = &wsflate.Extension{Parameters: wsflate.Parameters{
				ServerNoContextTakeover: true,
				ClientNoContextTakeover: true,
			}}
			u.Negotiate = ext.Negotiate
		}
		conn, rw, _, err := u.Upgrade(r, w)
		if err != nil {
			if conn != nil {
				_ = conn.Close() // hijacked; Upgrade wrote the HTTP error
			}
			return nil, nil, nil, nil
		}
		// Every read from the socket touches the idle timer: any byte that
		// arrives, of any frame, keeps the connection open.
		it := newIdleTimer(s.IdleTimeout)
		src = conn
		if it != nil {
			src = &touchReader{r: conn, it: it}
		}
		// The hijacked reader may already hold the client's first frames;
		// keep them, but read through a buffer of our own size.
		if n := rw.Reader.Buffered(); n > 0 {
			b, _ := rw.Reader.Peek(n)
			pending = bytes.NewReader(bytes.Clone(b))
		}
		c = &gobwasConn{
			conn:         conn,
			bw:           bufio.NewWriterSize(conn, s.WriteBufferSize),
			done:         make(chan struct{}),
			writeTimeout: s.WriteTimeout,
			level:        s.CompressionLevel,
		}
		if ext != nil {
			if _, c.deflate = ext.Accepted(); c.deflate {
				live.Counters.CompressedConns.Add(1)
			}
		}
		c.answer = wsutil.ControlFrameHandler(c.bw, ws.StateServerSide)
		remove := live.Add(func() { c.close(ws.StatusGoingAway, "") })
		it.start(func() {
			live.Counters.IdleClosed.Add(1)
			c.close(ws.StatusGoingAway, idleCloseReason)
		})
		return c, src, pending, func(wrote <-chan struct{}) {
			it.stop()
			close(c.done)
			_ = conn.Close()
			if wrote != nil {
				<-wrote
			}
			remove()
		}
	}

}

// gobwasSource is src preceded by pending, if any.
func gobwasSource(src io.Reader, pending *bytes.Reader) io.Reader {
	if pending == nil {
		return src
	}
	return io.MultiReader(pending, src)
}

// gobwasFrame is a published message compiled once for every subscriber:
// plain for connections without compression, deflated (when the server
// offers compression) for those that negotiated it.
type gobwasFrame struct {
	plain, deflated []byte
}

// gobwasPublish returns the message handler of /broadcast connections: it
// compiles each message once and publishes it to the hub.
func gobwasPublish(hub *hub[*gobwasFrame], s Settings) func(op ws.OpCode, msg []byte) error {
	return func(op ws.OpCode, msg []byte) error {
		// The whole frame, compiled once: every subscriber writes the
		// same bytes.
		f, err := gobwasCompile(op, msg, s.Compression, s.CompressionLevel)
		if err != nil {
			return err
		}
		hub.publish(f)
		return nil
	}
}

// gobwasCompile compiles a publish. Each frame is one unfragmented, unmasked
// (server) frame, in a slice of its exact size.
func gobwasCompile(op ws.OpCode, msg []byte, compress bool, level int) (*gobwasFrame, error) {
	f := &gobwasFrame{plain: gobwasFrameBytes(ws.Header{Fin: true, OpCode: op}, msg)}
	if compress {
		z, err := deflate.Compress(nil, msg, level)
		if err != nil {
			return nil, err
		}
		f.deflated = gobwasFrameBytes(ws.Header{Fin: true, OpCode: op, Rsv: ws.Rsv(true, false, false)}, z)
	}
	return f, nil
}

// gobwasFrameBytes encodes header h (its length set here) and payload p.
func gobwasFrameBytes(h ws.Header, p []byte) []byte {
	h.Length = int64(len(p))
	var hdr [ws.MaxHeaderSize]byte
	b := bytes.NewBuffer(make([]byte, 0, ws.HeaderSize(h)+len(p)))
	_ = ws.WriteHeaderBuffer(b, h, hdr[:]) // writing to a Buffer cannot fail
	b.Write(p)
	return b.Bytes()
}

// errCloseSent stops writes after this side has sent its close frame.
var errCloseSent = errors.New("gobwas: close frame already sent")

// gobwasConn is one server-side gobwas connection. Several parties write to
// it (echo replies or the broadcast writer, control-frame answers, close
// frames from other goroutines), so every write goes through bw under wmu,
// one whole frame at a time.
type gobwasConn struct {
	conn net.Conn
	done chan struct{} // closed when the read loop has ended

	// answer writes the reply to a ping or close frame into bw.
	answer wsutil.FrameHandlerFunc

	// writeTimeout bounds each data frame write (0: none).
	writeTimeout time.Duration
	// deflate is set when permessage-deflate was negotiated; messages are
	// then compressed at level and inflated on arrival.
	deflate bool
	level   int

	// closed is set once close has closed the socket, and onClosed, if
	// set, runs then: a connection with no goroutine blocked in its read
	// (the epoll server) learns of it no other way.
	closed   atomic.Bool
	onClosed atomic.Pointer[func()]

	wmu       sync.Mutex
	bw        *bufio.Writer          // guarded by wmu
	hdr       [ws.MaxHeaderSize]byte // guarded by wmu; reused for every header
	zbuf      []byte                 // guarded by wmu; deflated payloads
	closeSent bool                   // guarded by wmu
}

// gobwasReader is a connection's read side between messages: the frame
// reader over the buffered socket, the permessage-deflate state, and the
// message buffers.
type gobwasReader struct {
	rd            wsutil.Reader
	st            wsflate.MessageState
	limit         int64
	buf, inflated []byte
}

// newReader reads c from br, which must buffer the socket: without it,
// reading a frame header alone costs several syscalls.
func (c *gobwasConn) newReader(br *bufio.Reader, limit int64) *gobwasReader {
	r := &gobwasReader{limit: limit}
	r.rd = wsutil.Reader{
		Source:    br,
		State:     ws.StateServerSide,
		CheckUTF8: false, // as gorilla and coder: text is echoed unchecked
		// The limit applies to the whole message, fragments together.
		MaxFrameSize:   max(limit, 0),
		MaxMessageSize: max(limit, 0),
		// Pings between the fragments of a message.
		OnIntermediate: c.control,
	}
	// With deflate negotiated the reader accepts RSV1 and st says whether
	// the message it starts is compressed.
	if c.deflate {
		r.rd.Extensions = []wsutil.RecvExtension{&r.st}
		r.rd.State |= ws.StateExtended
	}
	return r
}

// serve hands each data message to handle until the connection fails or
// closes, or handle fails; msg is valid only until handle returns.
func (c *gobwasConn) serve(r *gobwasReader, handle func(op ws.OpCode, msg []byte) error) {
	for c.next(r, handle) == nil {
	}
}

// next reads one control frame, which it answers, or one data message, which
// it hands to handle. An error means the connection is done: it failed
// (the peer has been told why, where there is a status for it), it closed,
// or handle failed.
func (c *gobwasConn) next(r *gobwasReader, handle func(op ws.OpCode, msg []byte) error) error {
	h, err := r.rd.NextFrame()
	if err != nil {
		c.fail(err)
		return err
	}
	if h.OpCode.IsControl() {
		return c.control(h, &r.rd)
	}
	// An unfragmented message announces its size: grow once, up front.
	if int64(cap(r.buf)) < h.Length {
		r.buf = make([]byte, 0, h.Length)
	}
	if r.buf, err = readMessage(&r.rd, r.buf); err != nil {
		c.fail(err)
		return err
	}
	msg := r.buf
	if r.st.IsCompressed() {
		if r.inflated, err = deflate.Decompress(r.inflated[:0], r.buf, r.limit); err != nil {
			c.fail(err)
			return err
		}
		msg = r.inflated
	}
	return handle(h.OpCode, msg)
}

// control answers a control frame: pong for ping, close for close. A close
// that replies to our own close (going away) is not answered again. It
// returns an error, ending the read loop, once a close frame was received.
func (c *gobwasConn) control(h ws.Header, r io.Reader) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if h.OpCode == ws.OpClose && c.closeSent {
		return wsutil.ClosedError{Code: ws.StatusNoStatusRcvd}
	}
	err := c.answer(h, r)
	if h.OpCode == ws.OpClose {
		c.closeSent = true
	}
	if ferr := c.bw.Flush(); ferr != nil {
		return ferr
	}
	return err
}

// echo writes an /echo message back.
func (c *gobwasConn) echo(op ws.OpCode, p []byte) error {
	echoCost()
	return c.write(op, p)
}

// write sends one unfragmented data frame, deflated when compression was
// negotiated. Payloads larger than bw's buffer go straight to the socket
// without a copy.
func (c *gobwasConn) write(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.deadline()
	h := ws.Header{Fin: true, OpCode: op}
	if c.deflate {
		z, err := deflate.Compress(c.zbuf[:0], p, c.level)
		if err != nil {
			return err
		}
		c.zbuf, p = z, z
		h.Rsv = ws.Rsv(true, false, false)
	}
	h.Length = int64(len(p))
	if err := ws.WriteHeaderBuffer(c.bw, h, c.hdr[:]); err != nil {
		return err
	}
	if _, err := c.bw.Write(p); err != nil {
		return err
	}
	return c.bw.Flush()
}

// deadline bounds the data frame about to be written by the write timeout.
// Called with wmu held.
func (c *gobwasConn) deadline() {
	if c.writeTimeout > 0 {
		_ = c.conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
}

// writeFrame writes a compiled frame (gobwasCompile), in the form this
// connection negotiated.
func (c *gobwasConn) writeFrame(f *gobwasFrame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.deadline()
	frame := f.plain
	if c.deflate && f.deflated != nil {
		frame = f.deflated
	}
	if _, err := c.bw.Write(frame); err != nil {
		return err
	}
	return c.bw.Flush()
}

// writeQueue is a /broadcast connection's writer: it writes the frames
// queued for the subscriber until the read loop ends, the subscriber is
// disconnected as slow, or a write fails, which unsubscribes it.
func (c *gobwasConn) writeQueue(sub *subscriber[*gobwasFrame]) {
	for {
		select {
		case f := <-sub.queue:
			if sub.isSlow() {
				return // leave the socket to the 1008 close frame
			}
			if err := c.writeFrame(f); err != nil {
				sub.unsubscribe()
				return
			}
		case <-sub.slow:
			return
		case <-c.done:
			return
		}
	}
}

// writeClose sends a close frame with code and reason, once.
func (c *gobwasConn) writeClose(code ws.StatusCode, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.closeSent = true
	if err := ws.WriteFrame(c.bw, ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason))); err != nil {
		return err
	}
	return c.bw.Flush()
}

// fail tells the peer why the connection ends, where there is a status for
// it: 1009 for a message over the read limit, 1002 for a protocol error.
func (c *gobwasConn) fail(err error) {
	var pe ws.ProtocolError
	switch {
	case errors.Is(err, wsutil.ErrMessageTooLarge), errors.Is(err, wsutil.ErrFrameTooLarge), errors.Is(err, deflate.ErrTooLarge):
		_ = c.writeClose(ws.StatusMessageTooBig, "")
	case errors.As(err, &pe):
		_ = c.writeClose(ws.StatusProtocolError, "")
	}
}

// close sends a close frame with code and reason, waits (bounded) for the
// read loop to read the peer's close reply, and closes the socket. The write
// deadline frees wmu if a write is stuck on a peer that does not read; a
// frame cut short by it fails bw for good, so no close frame follows it.
func (c *gobwasConn) close(code ws.StatusCode, reason string) {
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeGrace))
	if err := c.writeClose(code, reason); err == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.conn.Close()
	c.closed.Store(true)
	if f := c.onClosed.Load(); f != nil {
		(*f)()
	}
}
