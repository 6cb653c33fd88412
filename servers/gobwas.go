package servers

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
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
	// Timeout bounds writing the handshake response; reading the request is
	// bounded by the http.Server's ReadHeaderTimeout. Without compression
	// there is no Negotiate func, so no extension is ever accepted.
	up := ws.HTTPUpgrader{Timeout: s.HandshakeTimeout}
	// upgrade upgrades and sets up one connection; the caller runs c.serve
	// with the returned reader and defers end, passing the channel its
	// writer goroutine closes on return, if it has one: end closes the
	// socket, which ends a blocked write, and waits for the writer before
	// unregistering.
	upgrade := func(w http.ResponseWriter, r *http.Request) (c *gobwasConn, br *bufio.Reader, end func(wrote <-chan struct{})) {
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
			return nil, nil, nil
		}
		// Every read from the socket touches the idle timer: any byte that
		// arrives, of any frame, keeps the connection open.
		it := newIdleTimer(s.IdleTimeout)
		var src io.Reader = conn
		if it != nil {
			src = &touchReader{r: conn, it: it}
		}
		// The hijacked reader may already hold the client's first frames;
		// keep them, but read through a buffer of our own size.
		if n := rw.Reader.Buffered(); n > 0 {
			b, _ := rw.Reader.Peek(n)
			src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), src)
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
		return c, bufio.NewReaderSize(src, s.ReadBufferSize), func(wrote <-chan struct{}) {
			it.stop()
			close(c.done)
			_ = conn.Close()
			if wrote != nil {
				<-wrote
			}
			remove()
		}
	}

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, br, end := upgrade(w, r)
		if c == nil {
			return
		}
		defer end(nil)
		c.serve(br, s.ReadLimit, c.write)
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
		c, br, end := upgrade(w, r)
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
		c.serve(br, s.ReadLimit, func(op ws.OpCode, msg []byte) error {
			// The whole frame, compiled once: every subscriber writes
			// the same bytes.
			f, err := gobwasCompile(op, msg, s.Compression, s.CompressionLevel)
			if err != nil {
				return err
			}
			hub.publish(f)
			return nil
		})
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// gobwasFrame is a published message compiled once for every subscriber:
// plain for connections without compression, deflated (when the server
// offers compression) for those that negotiated it.
type gobwasFrame struct {
	plain, deflated []byte
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

	wmu       sync.Mutex
	bw        *bufio.Writer          // guarded by wmu
	hdr       [ws.MaxHeaderSize]byte // guarded by wmu; reused for every header
	zbuf      []byte                 // guarded by wmu; deflated payloads
	closeSent bool                   // guarded by wmu
}

// serve hands each data message to handle until the connection fails or
// closes, or handle fails; msg is valid only until handle returns. br is the
// buffered connection: without it, reading a frame header alone costs
// several syscalls.
func (c *gobwasConn) serve(br *bufio.Reader, limit int64, handle func(op ws.OpCode, msg []byte) error) {
	rd := wsutil.Reader{
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
	var st wsflate.MessageState
	if c.deflate {
		rd.Extensions = []wsutil.RecvExtension{&st}
		rd.State |= ws.StateExtended
	}
	var buf, inflated []byte
	for {
		h, err := rd.NextFrame()
		if err != nil {
			c.fail(err)
			return
		}
		if h.OpCode.IsControl() {
			if err := c.control(h, &rd); err != nil {
				return
			}
			continue
		}
		// An unfragmented message announces its size: grow once, up front.
		if int64(cap(buf)) < h.Length {
			buf = make([]byte, 0, h.Length)
		}
		if buf, err = readMessage(&rd, buf); err != nil {
			c.fail(err)
			return
		}
		msg := buf
		if st.IsCompressed() {
			if inflated, err = deflate.Decompress(inflated[:0], buf, limit); err != nil {
				c.fail(err)
				return
			}
			msg = inflated
		}
		if err := handle(h.OpCode, msg); err != nil {
			return
		}
	}
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
}
