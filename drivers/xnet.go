package drivers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"
)

func init() { Register(xnetDriver{}) }

// xnetDriver dials with golang.org/x/net/websocket, a baseline: the package
// many older services still run.
//
// Its message API hands over one frame at a time with no end-of-message
// mark, silently drops pongs and drops a close frame's status, so a Conn
// built on it could neither join fragments, complete a Ping nor report a
// close. The Conn therefore reads through the frame methods
// *websocket.Conn carries from the library's own frame reader and handler
// (NewFrameReader, HandleFrame): the library parses and answers pings; this
// file reads each frame's FIN bit and opcode from the header bytes the
// library hands back, and a pong's or close frame's payload before the
// handler discards it.
type xnetDriver struct{}

func (xnetDriver) Name() string   { return "xnet" }
func (xnetDriver) Module() string { return "golang.org/x/net" }

// Lacks: x/net has no permessage-deflate, and its handshake fails when a
// server answers with any extension.
func (xnetDriver) Lacks() Lacks {
	return Lacks{Compression: "golang.org/x/net/websocket has no permessage-deflate"}
}

// xnetHeadLimit bounds how much of the handshake response is kept to read
// its status and subprotocol, which x/net does not report.
const xnetHeadLimit = 16 << 10

func (d xnetDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	if opts.Compression {
		return nil, fmt.Errorf("xnet: dial %s: %w", url, &LackError{Driver: d.Name(), What: "permessage-deflate", Why: d.Lacks().Compression})
	}
	t, err := parseTarget(url)
	if err != nil {
		return nil, fmt.Errorf("xnet: dial %s: %w", url, err)
	}
	header, host := requestHeader(opts.Header)
	loc := *t.URL
	if host != "" {
		loc.Host = host // x/net writes Location.Host as the Host header; the socket is ours
	}
	// x/net always sends an Origin: the user's, else the target's own.
	origin := header.Get("Origin")
	header.Del("Origin")
	if origin == "" {
		origin = "http://" + t.URL.Host
		if t.Secure {
			origin = "https://" + t.URL.Host
		}
	}
	config := &websocket.Config{Location: &loc, Version: websocket.ProtocolVersionHybi13, Header: header,
		Protocol: append([]string(nil), opts.Subprotocols...)}
	if config.Origin, err = neturl.ParseRequestURI(origin); err != nil {
		return nil, fmt.Errorf("xnet: dial %s: origin: %w", url, err)
	}

	if opts.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.HandshakeTimeout)
		defer cancel()
	}
	raw, err := t.dialTCP(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("xnet: dial %s: %w", url, err)
	}
	if t.Secure {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = t.URL.Hostname()
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("xnet: dial %s: %w", url, err)
		}
		raw = tc
	}
	// NewClient has no context: ctx ending cuts the socket's deadline.
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	rec := &xnetRecorder{Conn: raw, recording: true}
	ws, err := websocket.NewClient(config, rec)
	rec.recording = false
	if !stop() || err != nil {
		_ = raw.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("xnet: dial %s: %w", url, rec.handshakeError(opts.Subprotocols, err))
	}
	_ = raw.SetDeadline(time.Time{})
	got := rec.answered("Sec-WebSocket-Protocol")
	rec.head = nil
	if err := checkSubprotocol(opts.Subprotocols, got); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("xnet: dial %s: %w", url, err)
	}
	c := &xnetConn{ws: ws, raw: raw, limit: opts.ReadLimit, subprotocol: got}
	c.rs.init()
	c.ping.init()
	return c, nil
}

// xnetRecorder is the socket x/net reads from. During the handshake it
// keeps the bytes read, the response head among them, so that a refused
// upgrade can be named by its status and the chosen subprotocol read:
// x/net reports only "bad status" and keeps neither.
type xnetRecorder struct {
	net.Conn
	recording bool // set and cleared by Dial, before the Conn is handed out
	head      []byte
}

func (r *xnetRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if r.recording && len(r.head) < xnetHeadLimit {
		r.head = append(r.head, p[:min(n, xnetHeadLimit-len(r.head))]...)
	}
	return n, err
}

// response parses the recorded response head with net/http; nil when it
// cannot.
func (r *xnetRecorder) response() *http.Response {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r.head)), &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil
	}
	return resp
}

// answered is a header of the handshake response ("" when absent).
func (r *xnetRecorder) answered(name string) string {
	if resp := r.response(); resp != nil {
		return resp.Header.Get(name)
	}
	return ""
}

// handshakeError names a failed handshake by what the response said: a
// status other than 101, or a subprotocol that was not offered.
func (r *xnetRecorder) handshakeError(offered []string, err error) error {
	resp := r.response()
	switch {
	case resp == nil:
		return err
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return &HandshakeStatusError{Status: resp.StatusCode}
	case errors.Is(err, websocket.ErrBadWebSocketProtocol):
		return &SubprotocolError{Offered: offered, Got: resp.Header.Get("Sec-WebSocket-Protocol"), Other: true}
	}
	return err
}

// xnetConn is the Conn of the xnet driver.
type xnetConn struct {
	ws          *websocket.Conn
	raw         net.Conn
	rs          readSide
	ping        pinger
	limit       int64 // ReadLimit; <= 0: none
	subprotocol string
	// wmu orders the writes this driver makes (data, pings, its close
	// frame) so that nothing follows the close frame; closeSent is set
	// once the close frame is due, under wmu.
	wmu       sync.Mutex
	closeSent atomic.Bool
	hdr       [14]byte  // scratch for a frame header; the reader's
	ctl       [125]byte // a pong's or close frame's payload; the reader's
}

func (c *xnetConn) Compressed() bool    { return false }
func (c *xnetConn) Subprotocol() string { return c.subprotocol }

// xnetControl writes a control frame through the library's framing and
// under its write lock: x/net has no call to send a ping or a close with a
// status, but a Codec names the opcode of what it sends.
var xnetControl = websocket.Codec{Marshal: func(v any) ([]byte, byte, error) {
	f := v.(xnetFrame)
	return f.p, f.op, nil
}}

type xnetFrame struct {
	op byte
	p  []byte
}

// WriteMessage sends p as one frame. WriteMessage is not concurrent with
// itself, and it alone sets PayloadType, which Write reads under the
// library's lock.
func (c *xnetConn) WriteMessage(t MessageType, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Load() {
		return fmt.Errorf("xnet: write %s message: %w", t, errXnetCloseSent)
	}
	c.ws.PayloadType = byte(t)
	if _, err := c.ws.Write(p); err != nil {
		return fmt.Errorf("xnet: write %s message: %w", t, err)
	}
	return nil
}

func (c *xnetConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	if ok, err := c.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer c.rs.exit()
	typ, out, err := c.readMessage(buf, false)
	if err != nil {
		return 0, out[:0], c.rs.fail(err)
	}
	return typ, out, nil
}

// readMessage reads the next data message into buf's capacity, joining its
// frames; skip discards data messages (Close waiting for the peer's close
// frame). Pings are answered by the library, pongs go to the pinger, a
// close frame ends the read with a *CloseError (answered with its status
// unless this side closed first). Over the read limit the connection is
// closed with 1009.
func (c *xnetConn) readMessage(buf []byte, skip bool) (MessageType, []byte, error) {
	out := buf[:0]
	var typ MessageType
	for {
		fr, err := c.ws.NewFrameReader()
		if err != nil {
			return 0, out, fmt.Errorf("xnet: read: %w", err)
		}
		n, _ := io.ReadFull(fr.HeaderReader(), c.hdr[:])
		if n < 2 {
			return 0, out, errors.New("xnet: read: short frame header")
		}
		fin, op := c.hdr[0]&0x80 != 0, c.hdr[0]&0x0f
		size := int64(fr.Len() - n)
		var ctl []byte
		if op == websocket.CloseFrame || op == websocket.PongFrame {
			// HandleFrame discards both: read the payload first.
			m, _ := io.ReadFull(fr, c.ctl[:min(size, int64(len(c.ctl)))])
			ctl = c.ctl[:m]
		}
		data, err := c.ws.HandleFrame(fr)
		switch {
		case op == websocket.CloseFrame:
			return 0, out, c.peerClosed(ctl)
		case op == websocket.PongFrame:
			c.ping.gotPong(ctl)
			continue
		case err != nil:
			return 0, out, fmt.Errorf("xnet: read: %w", err)
		case data == nil:
			continue // a ping, answered
		}
		if op != websocket.ContinuationFrame {
			typ = MessageType(op)
		}
		if skip {
			if _, err := io.Copy(io.Discard, data); err != nil {
				return 0, out, fmt.Errorf("xnet: read: %w", err)
			}
			continue
		}
		if c.limit > 0 && int64(len(out))+size > c.limit {
			c.sendClose(1009, time.Now().Add(time.Second))
			return 0, out, fmt.Errorf("xnet: read %s message: over the read limit of %d bytes", typ, c.limit)
		}
		used := len(out)
		if cap(out)-used < int(size) {
			out = grow(out, used, used+int(size))
		}
		out = out[:used+int(size)]
		if _, err := io.ReadFull(data, out[used:]); err != nil {
			return 0, out[:used], fmt.Errorf("xnet: read %s message: %w", typ, err)
		}
		if fin {
			return typ, out, nil
		}
	}
}

// peerClosed answers the peer's close frame (payload p) with its status,
// unless this side sent its own close first, and returns the *CloseError.
func (c *xnetConn) peerClosed(p []byte) error {
	ce := &CloseError{Code: 1005}
	if len(p) >= 2 {
		ce.Code, ce.Reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
	}
	answer := ce.Code
	if answer == 1005 {
		answer = closeNormal
	}
	c.sendClose(answer, time.Now().Add(time.Second))
	return fmt.Errorf("xnet: read: %w", ce)
}

// sendClose sends a close frame with code, once per connection; it reports
// whether this call sent it, and the write's error.
//
// The write deadline is set before waiting for wmu: a data write blocked
// on a peer that reads nothing then fails by the deadline instead of
// holding the close frame back for ever.
func (c *xnetConn) sendClose(code int, deadline time.Time) (bool, error) {
	if c.closeSent.Load() {
		return false, nil
	}
	_ = c.raw.SetWriteDeadline(deadline)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closeSent.CompareAndSwap(false, true) {
		return false, nil
	}
	return true, xnetControl.Send(c.ws, xnetFrame{op: websocket.CloseFrame, p: binary.BigEndian.AppendUint16(nil, uint16(code))})
}

func (c *xnetConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// No write deadline: the socket has one, which would cut a data
	// write in progress too. The ping waits for a data write in progress.
	if err := c.sendPing(); err != nil {
		c.ping.cancel()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("xnet: ping: %w", err)
	}
	return c.ping.wait(ctx, &c.rs, "xnet")
}

// sendPing writes a ping carrying the pinger's next payload, unless the
// close frame has gone out.
func (c *xnetConn) sendPing() error {
	p := c.ping.next() // before the write: a fast pong must find it
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent.Load() {
		return errXnetCloseSent
	}
	return xnetControl.Send(c.ws, xnetFrame{op: websocket.PingFrame, p: p})
}

// errXnetCloseSent refuses a write after the close frame.
var errXnetCloseSent = errors.New("close frame already sent")

func (c *xnetConn) Close(timeout time.Duration) (clean bool, err error) {
	defer func() {
		if cerr := c.raw.Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("xnet: close: %w", cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	mode := c.rs.beginClose()
	// Already sent: the answer to the peer's close, or 1009 on the limit.
	if _, err := c.sendClose(closeNormal, deadline); err != nil {
		err = fmt.Errorf("xnet: send close: %w", err)
		c.rs.finish(err)
		return false, err
	}
	switch mode {
	case closeAfterDone:
		return c.rs.result()
	case closeWait:
		return c.rs.awaitReader("xnet", deadline, timeout)
	}
	if err := c.raw.SetReadDeadline(deadline); err != nil {
		c.rs.finish(fmt.Errorf("xnet: close: %w", err))
		return c.rs.result()
	}
	_, _, err = c.readMessage(nil, true) // returns only with an error
	c.rs.finish(err)
	return c.rs.result()
}

func (c *xnetConn) Abort() error {
	c.rs.finish(fmt.Errorf("xnet: connection aborted: %w", net.ErrClosed))
	if err := c.raw.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("xnet: abort: %w", err)
	}
	return nil
}
