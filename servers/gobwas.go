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

func (gobwasServer) Handlers(s Settings, live *Live) Handlers {
	// Timeout bounds writing the handshake response; reading the request is
	// bounded by the http.Server's ReadHeaderTimeout. No Negotiate func, so
	// no extension (compression) is ever accepted.
	up := ws.HTTPUpgrader{Timeout: s.HandshakeTimeout}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, _, err := up.Upgrade(r, w)
		if err != nil {
			if conn != nil {
				_ = conn.Close() // hijacked; Upgrade wrote the HTTP error
			}
			return
		}
		// The hijacked reader may already hold the client's first frames;
		// keep them, but read through a buffer of our own size.
		var src io.Reader = conn
		if n := rw.Reader.Buffered(); n > 0 {
			b, _ := rw.Reader.Peek(n)
			src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), conn)
		}
		c := &gobwasConn{
			conn: conn,
			bw:   bufio.NewWriterSize(conn, s.WriteBufferSize),
			done: make(chan struct{}),
		}
		c.answer = wsutil.ControlFrameHandler(c.bw, ws.StateServerSide)
		remove := live.Add(c.goingAway)
		defer remove()
		defer conn.Close()
		defer close(c.done)
		c.echo(bufio.NewReaderSize(src, s.ReadBufferSize), s.ReadLimit)
	})
	return Handlers{Echo: echo, Broadcast: NotImplemented}
}

// errCloseSent stops writes after this side has sent its close frame.
var errCloseSent = errors.New("gobwas: close frame already sent")

// gobwasConn is one server-side gobwas connection. Three parties write to it
// (echo replies, control-frame answers, goingAway from another goroutine),
// so every write goes through bw under wmu, one whole frame at a time.
type gobwasConn struct {
	conn net.Conn
	done chan struct{} // closed when the echo loop has ended

	// answer writes the reply to a ping or close frame into bw.
	answer wsutil.FrameHandlerFunc

	wmu       sync.Mutex
	bw        *bufio.Writer          // guarded by wmu
	hdr       [ws.MaxHeaderSize]byte // guarded by wmu; reused for every header
	closeSent bool                   // guarded by wmu
}

// echo answers every data message with the same bytes and opcode until the
// connection fails or closes. br is the buffered connection: without it,
// reading a frame header alone costs several syscalls.
func (c *gobwasConn) echo(br *bufio.Reader, limit int64) {
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
		if err := c.write(h.OpCode, buf); err != nil {
			return
		}
	}
}

// control answers a control frame: pong for ping, close for close. A close
// that replies to our own close (going away) is not answered again. It
// returns an error, ending the echo loop, once a close frame was received.
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

// writeClose sends a close frame with code, once.
func (c *gobwasConn) writeClose(code ws.StatusCode) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	c.closeSent = true
	if err := ws.WriteFrame(c.bw, ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))); err != nil {
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
		_ = c.writeClose(ws.StatusMessageTooBig)
	case errors.As(err, &pe):
		_ = c.writeClose(ws.StatusProtocolError)
	}
}

// goingAway sends 1001, waits (bounded) for the echo loop to read the
// peer's close reply, and closes the socket. The write deadline frees wmu
// if an echo write is stuck on a peer that does not read.
func (c *gobwasConn) goingAway() {
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeGrace))
	if err := c.writeClose(ws.StatusGoingAway); err == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.conn.Close()
}
