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
	"github.com/gobwas/ws/wsutil"
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
	// bounded by the http.Server's ReadHeaderTimeout. No Negotiate func, so
	// no extension (compression) is ever accepted.
	up := ws.HTTPUpgrader{Timeout: s.HandshakeTimeout}
	// upgrade upgrades and sets up one connection; the caller runs c.serve
	// with the returned reader and defers end, passing the channel its
	// writer goroutine closes on return, if it has one: end closes the
	// socket, which ends a blocked write, and waits for the writer before
	// unregistering.
	upgrade := func(w http.ResponseWriter, r *http.Request) (c *gobwasConn, br *bufio.Reader, end func(wrote <-chan struct{})) {
		conn, rw, _, err := up.Upgrade(r, w)
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
			conn: conn,
			bw:   bufio.NewWriterSize(conn, s.WriteBufferSize),
			done: make(chan struct{}),
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

	hub := newHub[*[]byte](s, &live.Counters)
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
			frame := gobwasCompile(op, msg)
			hub.publish(&frame)
			return nil
		})
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// gobwasCompile encodes msg as one unfragmented, unmasked (server) frame, in
// a slice of its exact size: the payload is copied once, never grown.
func gobwasCompile(op ws.OpCode, msg []byte) []byte {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(msg))}
	var hdr [ws.MaxHeaderSize]byte
	b := bytes.NewBuffer(make([]byte, 0, ws.HeaderSize(h)+len(msg)))
	_ = ws.WriteHeaderBuffer(b, h, hdr[:]) // writing to a Buffer cannot fail
	b.Write(msg)
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

	wmu       sync.Mutex
	bw        *bufio.Writer          // guarded by wmu
	hdr       [ws.MaxHeaderSize]byte // guarded by wmu; reused for every header
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
	var buf []byte
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
		if err := handle(h.OpCode, buf); err != nil {
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

// write sends one unfragmented data frame. Payloads larger than bw's
// buffer go straight to the socket without a copy.
func (c *gobwasConn) write(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}
	if err := ws.WriteHeaderBuffer(c.bw, h, c.hdr[:]); err != nil {
		return err
	}
	if _, err := c.bw.Write(p); err != nil {
		return err
	}
	return c.bw.Flush()
}

// writeFrame writes a compiled frame (gobwasCompile).
func (c *gobwasConn) writeFrame(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	if _, err := c.bw.Write(frame); err != nil {
		return err
	}
	return c.bw.Flush()
}

// writeQueue is a /broadcast connection's writer: it writes the frames
// queued for the subscriber until the read loop ends, the subscriber is
// disconnected as slow, or a write fails, which unsubscribes it.
func (c *gobwasConn) writeQueue(sub *subscriber[*[]byte]) {
	for {
		select {
		case f := <-sub.queue:
			if sub.isSlow() {
				return // leave the socket to the 1008 close frame
			}
			if err := c.writeFrame(*f); err != nil {
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
	case errors.Is(err, wsutil.ErrMessageTooLarge), errors.Is(err, wsutil.ErrFrameTooLarge):
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
