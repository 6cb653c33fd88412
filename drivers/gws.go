package drivers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

func init() { Register(gwsDriver{}) }

// gwsDriver dials with github.com/lxzan/gws. gws is event-driven: a
// connection's ReadLoop reads every frame and calls back into a gws.Event.
// The driver runs that loop in a goroutine of its own, started at Dial, and
// bridges it to the pull-style contract: OnMessage hands each message over
// an unbuffered channel to the ReadMessage waiting for it, which copies it
// into the caller's buf and gives gws its pooled buffer back. Control frames
// never reach ReadMessage: OnPing answers, OnPong completes Ping, and gws
// itself answers the peer's close frame, after which OnClose ends the read
// side.
type gwsDriver struct{}

func (gwsDriver) Name() string   { return "gws" }
func (gwsDriver) Module() string { return "github.com/lxzan/gws" }

// BatchedWrites: WriteMessage writes each frame to the socket; Writev
// joins payloads into one message, not several.
func (gwsDriver) BatchedWrites() (bool, string) {
	return false, "the library writes each message to the socket itself"
}

func (gwsDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	if opts.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.HandshakeTimeout)
		defer cancel()
	}
	t, err := parseTarget(url)
	if err != nil {
		return nil, fmt.Errorf("gws: dial %s: %w", url, err)
	}
	// The TCP conn (and TLS) are set up here rather than by gws.NewClient,
	// whose dialer knows no context, and so that gws gets the conn
	// wrapped (gwsNetConn).
	raw, err := t.dialTCP(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("gws: dial %s: %w", url, err)
	}
	nc := raw
	if t.Secure {
		cfg := &tls.Config{}
		if opts.TLSConfig != nil {
			cfg = opts.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = t.URL.Hostname()
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("gws: dial %s: %w", url, err)
		}
		nc = tc
	}

	// 0 or less is "use the default" (16 MiB) to gws; no limit is the
	// largest int.
	limit := math.MaxInt
	if opts.ReadLimit > 0 && opts.ReadLimit < math.MaxInt {
		limit = int(opts.ReadLimit)
	}
	// DialOptions.WriteBufferSize has nothing to apply to: gws has no
	// write buffer, it builds each frame whole in a pooled buffer.
	g := &gwsConn{raw: raw, msgs: make(chan *gws.Message), drain: make(chan struct{})}
	g.nc.Conn = nc
	g.rs.init()
	g.ping.init()
	// gws bounds the upgrade with its own HandshakeTimeout only; ctx must
	// also cut it short, as for every driver.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	// gws offers subprotocols from the request header and takes a Host
	// entry as the request's Host.
	header := opts.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if len(opts.Subprotocols) > 0 {
		header.Set("Sec-WebSocket-Protocol", strings.Join(opts.Subprotocols, ", "))
	}
	socket, resp, err := gws.NewClientFromConn(g, &gws.ClientOption{
		Addr:               url,
		RequestHeader:      header,
		ReadBufferSize:     opts.ReadBufferSize,
		ReadMaxPayloadSize: limit,
		// gws fails (and closes) the connection on a write over this
		// limit, 16 MiB by default: a load generator sends what it is told.
		WriteMaxPayloadSize: math.MaxInt,
		HandshakeTimeout:    opts.HandshakeTimeout,
		CheckUtf8Enabled:    false, // a load generator does not pay for validation
		ParallelEnabled:     false, // OnMessage runs on the read loop, in order
		PermessageDeflate: gws.PermessageDeflate{
			Enabled: opts.Compression,
			Level:   opts.CompressionLevel, // 0: gws's default, 1
			// Messages of at least Threshold bytes are compressed, and 0
			// means gws's default (512): 1 compresses all but the empty
			// message, which goes uncompressed.
			Threshold:             1,
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		},
	}, &g.nc)
	ctxEnded := !stop()
	switch {
	case err != nil && resp != nil && resp.StatusCode != 101:
		// NewClientFromConn has closed the conn.
		return nil, fmt.Errorf("gws: dial %s: %w", url, &HandshakeStatusError{Status: resp.StatusCode})
	case errors.Is(err, gws.ErrSubprotocolNegotiation) && resp != nil:
		raw.Close()
		if serr := checkSubprotocol(opts.Subprotocols, resp.Header.Get("Sec-WebSocket-Protocol")); serr != nil {
			err = serr
		}
		return nil, fmt.Errorf("gws: dial %s: %w", url, err)
	case ctxEnded:
		// Its deadline cut the upgrade, or sits on the conn: report ctx's
		// error rather than the i/o timeout it caused.
		raw.Close()
		return nil, fmt.Errorf("gws: dial %s: %w", url, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("gws: dial %s: %w", url, err)
	}
	if err := checkSubprotocol(opts.Subprotocols, socket.SubProtocol()); err != nil {
		raw.Close()
		return nil, fmt.Errorf("gws: dial %s: %w", url, err)
	}
	g.socket = socket
	g.compressed = DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))
	go socket.ReadLoop()
	return g, nil
}

// gwsCloseFrame is the first byte of an unfragmented close frame: FIN and
// opcode 8.
const gwsCloseFrame = 0x88

// errGwsCloseSent is returned by writes after Close sent the close frame;
// RFC 6455 section 5.5.1 forbids data frames after it.
var errGwsCloseSent = errors.New("close frame already sent")

// gwsNetConn is the net.Conn gws reads and writes through. It drops every
// write after a close frame. gws's WriteClose closes the socket right after
// its close frame, without waiting for the peer's reply, so Close sends the
// close frame as a plain WriteMessage and lets gws's read loop take the
// reply; gws answers that reply with a close frame of its own, which must
// not go out. gws writes each frame with one Write call under its write
// lock, so a Write that starts with gwsCloseFrame is a close frame, and
// closeSent is guarded by that lock.
type gwsNetConn struct {
	net.Conn
	closeSent bool
}

func (c *gwsNetConn) Write(p []byte) (int, error) {
	if c.closeSent {
		return len(p), nil
	}
	if len(p) > 0 && p[0] == gwsCloseFrame {
		c.closeSent = true
	}
	return c.Conn.Write(p)
}

// gwsConn is one client connection; it is also the connection's gws.Event,
// whose methods run on the read loop's goroutine.
type gwsConn struct {
	socket *gws.Conn
	nc     gwsNetConn // what gws writes through
	raw    net.Conn   // the TCP conn: closing it ends everything at once

	// msgs hands each data message from OnMessage to ReadMessage. drain is
	// closed when Close starts with no ReadMessage running: OnMessage then
	// drops what is still in flight, so the read loop reaches the peer's
	// close reply.
	msgs  chan *gws.Message
	drain chan struct{}
	// rs decides whether drain is closed (closeSelf) or a running
	// ReadMessage takes the messages until the close reply (closeWait),
	// and keeps the final error, which OnClose records.
	rs readSide

	ping pinger

	closing    atomic.Bool // Close started: WriteMessage and Ping refuse
	compressed bool
}

func (g *gwsConn) Compressed() bool { return g.compressed }

func (g *gwsConn) Subprotocol() string { return g.socket.SubProtocol() }

func (g *gwsConn) WriteMessage(t MessageType, p []byte) error {
	if g.closing.Load() {
		return fmt.Errorf("gws: write %s message: %w", t, errGwsCloseSent)
	}
	// gws frames and masks a copy of p in a pooled buffer, under its write
	// lock, so this may run concurrently with Ping, pongs and Close.
	if err := g.socket.WriteMessage(gws.Opcode(t), p); err != nil {
		return fmt.Errorf("gws: write %s message: %w", t, err)
	}
	return nil
}

func (g *gwsConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	if ok, err := g.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer g.rs.exit()
	select {
	case m := <-g.msgs:
		// One copy out of gws's buffer, which goes back to its pool: gws
		// reads every message whole into a buffer of its own, and has no
		// way to read into the caller's.
		p := m.Bytes()
		out := buf[:cap(buf)]
		if len(p) > len(out) {
			out = grow(buf, 0, len(p))
		}
		out = out[:copy(out, p)]
		typ := MessageType(m.Opcode)
		_ = m.Close()
		return typ, out, nil
	case <-g.rs.done:
		return 0, buf[:0], g.rs.err
	}
}

func (g *gwsConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if g.closing.Load() {
		return fmt.Errorf("gws: ping: %w", errGwsCloseSent)
	}
	// Under gws's write lock like every write: a data frame being written
	// goes out first, and ctx only bounds the wait for the pong.
	if err := g.socket.WritePing(g.ping.next()); err != nil {
		g.ping.cancel()
		return fmt.Errorf("gws: ping: %w", err)
	}
	return g.ping.wait(ctx, &g.rs, "gws")
}

func (g *gwsConn) Close(timeout time.Duration) (clean bool, err error) {
	// The TCP conn, not the TLS one: a close_notify alert is a write that
	// could block on a peer that does not read. gws has closed it already
	// when it answered the peer's close frame.
	defer func() {
		if cerr := g.raw.Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("gws: close: %w", cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	mode := g.rs.beginClose()
	if mode == closeAfterDone {
		return g.rs.result()
	}
	g.closing.Store(true)
	if mode == closeSelf {
		close(g.drain)
	}
	// Also bounds a WriteMessage that holds gws's write lock on a stalled
	// socket, which the close frame waits for.
	if err := g.raw.SetWriteDeadline(deadline); err != nil {
		err = fmt.Errorf("gws: close: %w", err)
		g.rs.finish(err)
		return false, err
	}
	// A plain write of the close frame, not gws's WriteClose, which closes
	// the socket before the reply can arrive (see gwsNetConn). gws's read
	// loop reads the reply, answers it (the answer is dropped), closes the
	// socket and reports the peer's code to OnClose.
	var body [2]byte
	body[0], body[1] = closeNormal>>8, closeNormal&0xff
	if err := g.socket.WriteMessage(gws.OpcodeCloseConnection, body[:]); err != nil {
		err = fmt.Errorf("gws: send close: %w", err)
		g.rs.finish(err)
		return false, err
	}
	return g.rs.awaitReader("gws", deadline, timeout)
}

func (g *gwsConn) Abort() error {
	g.rs.finish(fmt.Errorf("gws: connection aborted: %w", net.ErrClosed))
	if err := g.raw.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("gws: abort: %w", err)
	}
	return nil
}

// OnOpen is called as the read loop starts; there is nothing to do.
func (g *gwsConn) OnOpen(*gws.Conn) {}

// OnMessage waits for a ReadMessage to take m, unless the messages are being
// drained for Close or the read side has finished (Abort, a Close timeout):
// then m is dropped.
func (g *gwsConn) OnMessage(_ *gws.Conn, m *gws.Message) {
	select {
	case g.msgs <- m:
	case <-g.drain:
		_ = m.Close()
	case <-g.rs.done:
		_ = m.Close()
	}
}

// OnPing answers with a pong echoing the payload; gws's built-in handler
// sends an empty one.
func (g *gwsConn) OnPing(socket *gws.Conn, payload []byte) {
	_ = socket.WritePong(payload)
}

// OnPong completes Ping if it answers the outstanding ping.
func (g *gwsConn) OnPong(_ *gws.Conn, payload []byte) { g.ping.gotPong(payload) }

// OnClose is called once the read loop has ended, the socket closed. err is
// a *gws.CloseError when the peer's close frame ended it (gws has answered
// it), otherwise the read or write error that did.
func (g *gwsConn) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		code := int(ce.Code)
		if code == 0 {
			code = 1005 // an empty close frame: RFC 6455 section 7.1.5
		}
		err = &CloseError{Code: code, Reason: string(ce.Reason)}
	}
	g.rs.finish(fmt.Errorf("gws: read: %w", err))
}
