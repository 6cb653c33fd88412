package servers

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"
)

func init() { Register(xnetServer{}) }

// xnetServer is the reference server for golang.org/x/net/websocket, the
// package many older services still run and whose own documentation points
// elsewhere. It is here as a baseline.
//
// Its message API (websocket.Message.Receive, Conn.Read) hands over one
// frame at a time with no end-of-message mark, and its frame handler drops
// a close frame's status, so neither can serve a fragmented message or
// answer a close as RFC 6455 asks. The server therefore reads through the
// frame methods *websocket.Conn carries from the library's own frame reader
// and handler (NewFrameReader, HandleFrame): the library parses, unmasks and
// answers pings; this file only reads each frame's FIN bit and opcode from
// the header bytes the library hands back, joins fragments and keeps the
// close status.
type xnetServer struct{}

func (xnetServer) Name() string   { return "xnet" }
func (xnetServer) Module() string { return "golang.org/x/net" }

// Exceptions lists what golang.org/x/net/websocket has no support for.
func (xnetServer) Exceptions() []string {
	return []string{
		"compression: golang.org/x/net/websocket has no permessage-deflate; the server declines the offer, so its connections run uncompressed",
		"compression_level: golang.org/x/net/websocket has no permessage-deflate",
	}
}

// Handlers mounts /echo and /broadcast. Each connection's handler goroutine
// is its reader; a /broadcast connection has one writer goroutine besides.
// x/net serialises writes with a lock of its own (data frames, the pongs it
// sends from inside the reader, and the close frames sent here), so any
// goroutine may write.
func (xnetServer) Handlers(s Settings, live *Live) Handlers {
	limit := s.ReadLimit
	if limit <= 0 {
		limit = -1
	}
	// serve upgrades one connection and runs conn on it once set up. The
	// library upgrades through http.Hijacker; xnetHijack hands it the
	// socket with buffers of the manifest's sizes and reads that touch
	// the idle timer.
	serve := func(w http.ResponseWriter, r *http.Request, conn func(c *xnetConn)) {
		it := newIdleTimer(s.IdleTimeout)
		hj := &xnetHijack{ResponseWriter: w, s: s, it: it}
		srv := websocket.Server{
			// Any origin may connect, and, like every reference server,
			// it chooses no subprotocol (x/net refuses the upgrade when
			// more than one is left chosen).
			Handshake: func(cfg *websocket.Config, _ *http.Request) error {
				cfg.Protocol = nil
				return nil
			},
			Handler: func(ws *websocket.Conn) {
				_ = hj.raw.SetWriteDeadline(time.Time{}) // the handshake is written
				c := &xnetConn{ws: ws, raw: hj.raw, done: make(chan struct{}), writeTimeout: s.WriteTimeout, limit: limit}
				remove := live.Add(func() { c.close(xnetGoingAway, "") })
				it.start(func() {
					live.Counters.IdleClosed.Add(1)
					c.close(xnetGoingAway, idleCloseReason)
				})
				defer remove()
				defer it.stop()
				conn(c)
			},
		}
		srv.ServeHTTP(hj, r) // closes the socket when Handler returns
	}

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, func(c *xnetConn) {
			defer close(c.done)
			c.read(func(typ byte, msg []byte) error {
				echoCost()
				return c.write(typ, msg)
			})
		})
	})

	hub := newHub[*xnetMessage](s, &live.Counters)
	broadcast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var set atomic.Pointer[xnetConn]
		upgraded := make(chan struct{}) // set holds c, or nil for good
		sub := hub.subscribe(func() {
			<-upgraded
			if c := set.Load(); c != nil {
				c.close(xnetPolicyViolation, slowCloseReason)
			}
		})
		defer sub.unsubscribe()
		defer func() {
			select {
			case <-upgraded:
			default:
				close(upgraded) // the upgrade failed
			}
		}()
		serve(w, r, func(c *xnetConn) {
			set.Store(c)
			close(upgraded)
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				c.writeQueue(sub)
			}()
			c.read(func(typ byte, msg []byte) error {
				// Copied once out of the read buffer; read-only from here
				// on, shared by every subscriber's writer.
				hub.publish(&xnetMessage{typ: typ, p: bytes.Clone(msg)})
				return nil
			})
			close(c.done)
			_ = c.raw.Close() // ends a blocked write
			<-wrote
		})
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// The close statuses this server sends (x/net exports none).
const (
	xnetCloseNormal     = 1000
	xnetGoingAway       = 1001
	xnetProtocolError   = 1002
	xnetPolicyViolation = 1008
	xnetTooBig          = 1009
	xnetNoStatus        = 1005
)

// xnetMessage is one publish as the /broadcast queues hold it.
type xnetMessage struct {
	typ byte
	p   []byte // shared by every subscriber: never written to
}

// xnetConn is one upgraded connection.
type xnetConn struct {
	ws           *websocket.Conn
	raw          net.Conn      // the hijacked socket
	done         chan struct{} // closed when the reader has ended
	closeSent    atomic.Bool   // a close frame has gone out (or is going)
	writeTimeout time.Duration
	limit        int64    // largest message accepted; -1: none
	hdr          [14]byte // scratch for a frame header
}

// xnetControl writes a control frame through the library's framing and
// under its write lock: x/net has no call to send a close with a status
// and reason, but a Codec names the opcode of what it sends.
var xnetControl = websocket.Codec{Marshal: func(v any) ([]byte, byte, error) {
	m := v.(xnetMessage)
	return m.p, m.typ, nil
}}

// write sends msg as one data frame of type typ. Only one goroutine writes
// data on a connection (the reader on /echo, the writer on /broadcast), so
// setting PayloadType, which Write reads under the library's lock, is safe.
func (c *xnetConn) write(typ byte, msg []byte) error {
	_ = c.raw.SetWriteDeadline(writeDeadline(c.writeTimeout))
	c.ws.PayloadType = typ
	_, err := c.ws.Write(msg)
	return err
}

// sendClose sends a close frame with code and reason, once per connection;
// it reports false when one had been sent already.
func (c *xnetConn) sendClose(code int, reason string) (bool, error) {
	if !c.closeSent.CompareAndSwap(false, true) {
		return false, nil
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	p = append(p, reason...)
	_ = c.raw.SetWriteDeadline(time.Now().Add(closeGrace))
	return true, xnetControl.Send(c.ws, xnetMessage{typ: websocket.CloseFrame, p: p})
}

// close sends a close frame with code and reason, waits (bounded) for the
// reader to end (done), which it does on reading the peer's close reply,
// and closes the socket. The frame is sent from a goroutine of its own:
// x/net's write lock may be held by a write to a client that reads
// nothing, and closing the socket after closeGrace ends that write.
func (c *xnetConn) close(code int, reason string) {
	sent := make(chan error, 1)
	go func() {
		_, err := c.sendClose(code, reason)
		sent <- err
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case err := <-sent:
		if err == nil {
			select {
			case <-c.done:
			case <-t.C:
			}
		}
	case <-t.C:
	}
	_ = c.raw.Close()
}

// read hands each data message to handle until the connection fails or
// closes, or handle fails. msg is valid only until handle returns. The
// library answers pings; a close frame from the client is answered with
// its status; a message over the limit is refused with 1009 and a protocol
// error with 1002, after which the reader waits (bounded) for the client's
// close reply.
func (c *xnetConn) read(handle func(typ byte, msg []byte) error) {
	var buf []byte
	for {
		typ, msg, err := c.readMessage(buf)
		buf = msg
		var pe xnetPeerError
		switch {
		case err == nil:
			if handle(typ, msg) != nil {
				return
			}
			continue
		case errors.As(err, &pe):
			// The client's close is answered with its status (unless it
			// answers ours); a refusal waits for the client's reply.
			if sent, _ := c.sendClose(pe.code, ""); sent && !pe.peer {
				c.drain()
			}
		}
		return
	}
}

// xnetPeerError is a read that ends the connection with a close status:
// the client's own close (answered with its status), a message over the
// limit (1009) or a protocol error (1002).
type xnetPeerError struct {
	code int
	peer bool // the client's close frame
}

func (e xnetPeerError) Error() string { return fmt.Sprintf("close %d", e.code) }

// readMessage reads the next data message into buf[:0], joining its
// frames, and returns its type and bytes. Control frames between them are
// the library's to handle, a close frame's status excepted.
func (c *xnetConn) readMessage(buf []byte) (byte, []byte, error) {
	buf = buf[:0]
	var typ byte
	started := false
	for {
		fr, err := c.ws.NewFrameReader()
		if err != nil {
			return 0, buf, err
		}
		n, _ := io.ReadFull(fr.HeaderReader(), c.hdr[:])
		if n < 2 {
			return 0, buf, xnetPeerError{code: xnetProtocolError}
		}
		fin, op := c.hdr[0]&0x80 != 0, c.hdr[0]&0x0f
		size := int64(fr.Len() - n)
		code := xnetNoStatus
		if op == websocket.CloseFrame {
			// HandleFrame drops the status: read it first.
			var p [2]byte
			if m, _ := io.ReadFull(fr, p[:min(size, 2)]); m == 2 {
				code = int(binary.BigEndian.Uint16(p[:]))
			}
		}
		data, err := c.ws.HandleFrame(fr) // answers pings, checks the mask
		if op == websocket.CloseFrame {
			if code == xnetNoStatus {
				code = xnetCloseNormal // answer an empty close frame with 1000
			}
			return 0, buf, xnetPeerError{code: code, peer: true}
		}
		if err != nil {
			return 0, buf, err // HandleFrame has sent 1002 for an unmasked frame
		}
		if data == nil {
			continue // a ping or pong, handled
		}
		switch {
		case op == websocket.ContinuationFrame && !started,
			op != websocket.ContinuationFrame && started,
			op > websocket.BinaryFrame:
			return 0, buf, xnetPeerError{code: xnetProtocolError}
		case op != websocket.ContinuationFrame:
			typ, started = op, true
		}
		if c.limit >= 0 && int64(len(buf))+size > c.limit {
			return 0, buf, xnetPeerError{code: xnetTooBig}
		}
		if buf, err = readFrame(data, buf, int(size)); err != nil {
			return 0, buf, err
		}
		if fin {
			return typ, buf, nil
		}
	}
}

// readFrame appends the n payload bytes of r to buf, growing it (at least
// doubling) only when it is too small.
func readFrame(r io.Reader, buf []byte, n int) ([]byte, error) {
	used := len(buf)
	if cap(buf)-used < n {
		nb := make([]byte, used, max(used+n, 2*cap(buf), minMessageBuf))
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:used+n]
	_, err := io.ReadFull(r, buf[used:])
	return buf, err
}

// drain reads, for at most closeGrace, until the client's close reply or an
// error, once this side has sent its close frame.
func (c *xnetConn) drain() {
	_ = c.raw.SetReadDeadline(time.Now().Add(closeGrace))
	var buf []byte
	for {
		_, msg, err := c.readMessage(buf)
		if err != nil {
			return
		}
		buf = msg
	}
}

// writeQueue is a /broadcast connection's writer: it writes the messages
// queued for the subscriber until the reader ends (done), the subscriber is
// disconnected as slow, or a write fails, which unsubscribes it.
func (c *xnetConn) writeQueue(sub *subscriber[*xnetMessage]) {
	for {
		select {
		case m := <-sub.queue:
			if sub.isSlow() {
				return // leave the socket to the 1008 close frame
			}
			if err := c.write(m.typ, m.p); err != nil {
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

// xnetHijack is the http.Hijacker websocket.Server upgrades through. It
// hijacks the connection from net/http and hands the library the socket
// with read and write buffers of the manifest's sizes (net/http's are fixed
// at 4 KiB), reads that touch the idle timer, and a write deadline that
// bounds writing the handshake response (the Handler clears it).
type xnetHijack struct {
	http.ResponseWriter
	s   Settings
	it  *idleTimer
	raw net.Conn // the socket, set by Hijack
}

func (h *xnetHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.raw = conn
	_ = conn.SetWriteDeadline(time.Now().Add(h.s.HandshakeTimeout))
	rwc := h.it.wrap(conn)
	src := io.Reader(rwc)
	// net/http's reader may already hold the client's first frames.
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), src)
	}
	br := bufio.NewReaderSize(src, h.s.ReadBufferSize)
	bw := bufio.NewWriterSize(conn, h.s.WriteBufferSize)
	return rwc, bufio.NewReadWriter(br, bw), nil
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (h *xnetHijack) Unwrap() http.ResponseWriter { return h.ResponseWriter }
