package drivers

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	stdtls "crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/internal/framescan"
	"github.com/wsbench/wsbench/internal/nbioutil"

	"github.com/lesismal/llib/std/crypto/tls"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

func init() {
	Register(nbioDriver{})
	nbioutil.QuietLogging() // nbio logs to stdout by default
}

// nbioDriver dials with github.com/lesismal/nbio's websocket client: the
// connections live in one nbhttp.Engine per process (started on the first
// dial, GOMAXPROCS pollers), which reads every socket in its epoll pollers
// and hands messages to callbacks. This file bridges those callbacks to the
// pull-style Conn: each message waits in its connection's inbox, nbio's own
// pooled buffer, until ReadMessage copies it into the caller's buf.
//
// What differs from the blocking drivers, by nbio's design:
//   - The pollers read every socket whether or not ReadMessage runs, so a
//     reader that falls behind grows its inbox instead of pushing back on
//     the server through TCP; pings are answered and pongs and close frames
//     seen without a reader.
//   - nbio writes without blocking and keeps what the socket does not take.
//     WriteMessage waits until the socket has taken everything, as a
//     blocking write does (for wss:// the TLS records cannot be counted
//     against the message, and it does not wait).
//   - DialOptions.ReadBufferSize and WriteBufferSize do not apply: nbio
//     reads into one 64 KiB buffer per poller and writes each frame from a
//     pooled buffer of its size.
//
// The HTTP upgrade is done here, blocking, on the dialing goroutine (nbio's
// Dialer blocks there too, for connect and TLS), and the socket is then
// handed to the engine. nbio's websocket.Dialer is not used: it returns an
// *http.Response that nbio has already zeroed and put back in its pool when
// the dial returns (releaseClientResponse runs right after the callback that
// wakes the dialer), so neither the status of a refused upgrade nor the
// extensions the server accepted can be read from it reliably.
type nbioDriver struct{}

func (nbioDriver) Name() string   { return "nbio" }
func (nbioDriver) Module() string { return "github.com/lesismal/nbio" }

// BatchedWrites: nbio's websocket.Conn builds and writes each frame on its
// own (a pooled buffer per frame); frames written past it would need their
// own masking and could meet nbio's own close frame on a protocol error.
func (nbioDriver) BatchedWrites() (bool, string) {
	return false, "the library writes each message to the socket itself"
}

// nbioClient is the process's client engine, started by the first dial.
var nbioClient struct {
	once   sync.Once
	engine *nbhttp.Engine
	err    error
}

// nbioEngine returns the client engine, starting it on first use.
func nbioEngine() (*nbhttp.Engine, error) {
	nbioClient.once.Do(func() {
		e := nbhttp.NewEngine(nbhttp.Config{
			Name:    "wsbench-nbio-client",
			NPoller: runtime.GOMAXPROCS(0),
			// The connection's Parse holds the unparsed rest of a frame;
			// the per-dial ReadLimit is the websocket options' message
			// limit, which answers with 1009.
			ReadLimit:                    math.MaxInt,
			MaxWebsocketFramePayloadSize: math.MaxInt32, // a message is one frame
			// Payloads stay with the inbox until ReadMessage has copied
			// them; it then frees them.
			ReleaseWebsocketPayload: false,
			// No nbhttp.Client here: spare its task pool.
			SupportServerOnly: true,
			// nbio closes a connection as soon as epoll reports the peer's
			// FIN (EPOLLRDHUP), after at most this many reads for that
			// event (3 by default, 64 KiB each), and drops what is still
			// unread: a server that ends the close handshake with FIN
			// while echoes are queued in our socket would lose its close
			// frame. A short read ends the loop, so this only lets a
			// connection with a backlog be read to the end: 1024 reads
			// cover the largest socket buffer Linux grows (32 MiB here).
			MaxConnReadTimesPerEventLoop: 1 << 10,
		})
		// A load generator does not pay for UTF-8 validation.
		e.CheckUtf8 = func([]byte) bool { return true }
		e.Engine.OnWrittenSize(func(nc *nbio.Conn, _ []byte, n int) {
			if c, ok := nc.Session().(*nbioConn); ok && c.counted {
				c.taken(n)
			}
		})
		// Dial builds a connection's state on its own goroutine and hands
		// the socket to a poller through epoll, which orders nothing for
		// Go's memory model. OnOpen runs on the dialing goroutine just
		// before the socket joins epoll, and the poller locks the
		// connection for every read: locking it here orders the two.
		e.Engine.OnOpen(func(nc *nbio.Conn) {
			nc.Lock()
			nc.Unlock()
		})
		if err := e.Start(); err != nil {
			nbioClient.err = fmt.Errorf("nbio: start client engine: %w", err)
			return
		}
		nbioClient.engine = e
	})
	return nbioClient.engine, nbioClient.err
}

// nbioOptionsKey is what websocket options differ in between dials.
type nbioOptionsKey struct {
	limit    int
	compress bool
	level    int
}

// nbioOptions caches one *websocket.Options per nbioOptionsKey: every
// connection keeps a pointer to the options it was made with, and a run
// dials all its connections alike.
var nbioOptions sync.Map

func nbioOptionsFor(e *nbhttp.Engine, opts DialOptions) *websocket.Options {
	key := nbioOptionsKey{limit: int(max(opts.ReadLimit, 0)), compress: opts.Compression, level: opts.CompressionLevel}
	if o, ok := nbioOptions.Load(key); ok {
		return o.(*websocket.Options)
	}
	o := websocket.NewOptions()
	o.Engine = e
	// nbio's keepalive resets a read deadline on every message and drops a
	// connection idle for 120 s: not for a client.
	o.KeepaliveTime = 0
	o.MessageLengthLimit = key.limit // 0: no limit, for nbio too
	o.EnableCompression(key.compress)
	if key.level != 0 {
		_ = o.SetCompressionLevel(key.level) // an invalid level keeps nbio's default, 1
	}
	o.OnMessagePtr(func(ws *websocket.Conn, typ websocket.MessageType, p *[]byte) {
		if c, ok := ws.Session().(*nbioConn); ok {
			c.deliver(MessageType(typ), p)
		}
	})
	o.SetPingHandler(func(ws *websocket.Conn, data string) {
		if c, ok := ws.Session().(*nbioConn); ok {
			c.answerPing(data)
		}
	})
	o.SetPongHandler(func(ws *websocket.Conn, data string) {
		if c, ok := ws.Session().(*nbioConn); ok {
			c.ping.gotPongString(data)
		}
	})
	o.SetCloseHandler(func(ws *websocket.Conn, code int, reason string) {
		if c, ok := ws.Session().(*nbioConn); ok {
			c.peerClosed(code, reason)
		}
	})
	o.OnClose(func(ws *websocket.Conn, err error) {
		if c, ok := ws.Session().(*nbioConn); ok {
			if err == nil {
				err = io.EOF
			}
			c.end(fmt.Errorf("nbio: read: connection closed: %w", err))
		}
	})
	actual, _ := nbioOptions.LoadOrStore(key, o)
	return actual.(*websocket.Options)
}

// nbioInline is the executor of every client connection: nbio calls back on
// the poller goroutine that parsed the frame, in order. nbio's default, its
// worker pool, tripled single-connection RTT on this machine.
func nbioInline(f func()) bool {
	f()
	return true
}

// nbioKeyGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const nbioKeyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func (nbioDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	c, err := nbioDial(ctx, url, opts)
	if err != nil {
		return nil, fmt.Errorf("nbio: dial %s: %w", url, err)
	}
	return c, nil
}

func nbioDial(ctx context.Context, url string, opts DialOptions) (*nbioConn, error) {
	engine, err := nbioEngine()
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(url)
	if err != nil {
		return nil, err
	}
	u, secure := t.URL, t.Secure
	if opts.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.HandshakeTimeout)
		defer cancel()
	}
	raw, err := t.dialTCP(ctx, opts)
	if err != nil {
		return nil, err
	}
	handedOver := false
	defer func() {
		if !handedOver {
			_ = raw.Close()
		}
	}()
	// The handshake is bounded by ctx: its deadline, and its end, which
	// cuts a read or write in progress.
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var hs net.Conn = raw // what the handshake is read and written through
	var tc *tls.Conn
	if secure {
		cfg := nbioTLSConfig(opts.TLSConfig, u.Hostname())
		tc = tls.NewConn(raw, cfg, true, false)
		if err := tc.Handshake(); err != nil {
			return nil, nbioCtxErr(ctx, fmt.Errorf("tls: %w", err))
		}
		if !cfg.InsecureSkipVerify {
			if err := tc.VerifyHostname(cfg.ServerName); err != nil {
				return nil, fmt.Errorf("tls: %w", err)
			}
		}
		hs = tc
	}

	resp, br, compressed, err := nbioUpgrade(ctx, hs, u, opts)
	if err != nil {
		return nil, err
	}
	// Frames the server sent right after its answer.
	var early []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		early = append(early, b...)
	}
	stop()
	_ = raw.SetDeadline(time.Time{})

	// Hand the socket to nbio: NBConn dups the descriptor and closes raw.
	nbc, err := nbio.NBConn(raw)
	if err != nil {
		return nil, err
	}
	handedOver = true
	var conn net.Conn = nbc
	dataHandler := engine.DataHandler
	if tc != nil {
		tc.ResetConn(nbc, true)
		// Records already read with the answer, decrypted now.
		var tmp [4096]byte
		for {
			_, n, err := tc.AppendAndRead(nil, tmp[:])
			early = append(early, tmp[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
		conn = &nbhttp.Conn{Conn: tc} // what nbhttp's TLS data handler expects
		dataHandler = engine.TLSDataHandler
	}
	ws := websocket.NewClientConn(nbioOptionsFor(engine, opts), conn, resp.Header.Get("Sec-WebSocket-Protocol"), compressed, false)
	ws.Execute = nbioInline
	c := &nbioConn{
		ws:          ws,
		nbc:         nbc,
		under:       conn,
		alloc:       engine.BodyAllocator,
		compressed:  compressed,
		subprotocol: resp.Header.Get("Sec-WebSocket-Protocol"),
		wake:        make(chan struct{}, 1),
		gone:        make(chan struct{}),
	}
	c.ping.init()
	if tc == nil {
		// Every frame nbio writes goes through c.out, which counts it:
		// WriteMessage waits for the socket to take it all.
		c.counted = true
		c.drained = make(chan struct{}, 1)
		c.out = nbioCounter{Conn: conn, c: c}
		ws.Conn = &c.out
	}
	ws.SetSession(c)
	// The connection's session is c, an nbhttp.ParserCloser over ws: the
	// data handler hands it what the socket reads, decrypted for wss.
	nbc.SetSession(c)
	nbc.OnData(dataHandler)
	c.early.Store(len(early) > 0)
	c.earlyData = early
	if _, err := engine.AddConn(nbc); err != nil {
		return nil, err
	}
	c.flushEarly()
	return c, nil
}

// nbioUpgrade sends the HTTP upgrade request through hs and reads and checks
// the answer: 101, the accept key, and permessage-deflate only as offered.
// br holds what the server sent after its answer.
func nbioUpgrade(ctx context.Context, hs net.Conn, u *url.URL, opts DialOptions) (resp *http.Response, br *bufio.Reader, compressed bool, err error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, nil, false, err
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := u.RequestURI()
	header, host := requestHeader(opts.Header)
	if host == "" {
		host = u.Host
	}
	var req strings.Builder
	req.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n")
	if len(opts.Subprotocols) > 0 {
		req.WriteString("Sec-WebSocket-Protocol: " + strings.Join(opts.Subprotocols, ", ") + "\r\n")
	}
	// CheckRequest has refused names and values that would break the
	// request's framing.
	if err := header.Write(&req); err != nil {
		return nil, nil, false, err
	}
	if opts.Compression {
		req.WriteString("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n")
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(hs, req.String()); err != nil {
		return nil, nil, false, nbioCtxErr(ctx, err)
	}
	br = bufio.NewReaderSize(hs, 4096)
	resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, nil, false, nbioCtxErr(ctx, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, nil, false, &HandshakeStatusError{Status: resp.StatusCode}
	}
	sum := sha1.Sum([]byte(key + nbioKeyGUID))
	if !nbioHeaderHas(resp.Header, "Upgrade", "websocket") || !nbioHeaderHas(resp.Header, "Connection", "upgrade") ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, nil, false, errors.New("bad handshake response")
	}
	if err := checkSubprotocol(opts.Subprotocols, resp.Header.Get("Sec-WebSocket-Protocol")); err != nil {
		return nil, nil, false, err
	}
	exts := resp.Header.Values("Sec-WebSocket-Extensions")
	compressed = DeflateAccepted(exts)
	if compressed {
		// As nbio's Dialer checks: only what was offered, and with no
		// context takeover, the one mode nbio implements.
		all := strings.ToLower(strings.Join(exts, ","))
		if !opts.Compression || !strings.Contains(all, "server_no_context_takeover") || !strings.Contains(all, "client_no_context_takeover") {
			return nil, nil, false, fmt.Errorf("server accepted permessage-deflate as %q", exts)
		}
	}
	return resp, br, compressed, nil
}

// nbioCtxErr prefers the context's error when it cut the handshake short.
func nbioCtxErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return err
}

// nbioHeaderHas reports whether a comma-separated header has token.
func nbioHeaderHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// nbioTLSConfig converts a crypto/tls client config to nbio's TLS stack
// (github.com/lesismal/llib/std/crypto/tls, a fork of crypto/tls that can
// run non-blocking): what a client verifies and offers. nil means the
// defaults, certificate verification on.
func nbioTLSConfig(c *stdtls.Config, host string) *tls.Config {
	cfg := &tls.Config{ServerName: host}
	if c == nil {
		return cfg
	}
	cfg.Rand = c.Rand
	cfg.Time = c.Time
	cfg.RootCAs = c.RootCAs
	cfg.InsecureSkipVerify = c.InsecureSkipVerify
	cfg.VerifyPeerCertificate = c.VerifyPeerCertificate
	cfg.CipherSuites = c.CipherSuites
	cfg.MinVersion = c.MinVersion
	cfg.MaxVersion = c.MaxVersion
	cfg.KeyLogWriter = c.KeyLogWriter
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
	}
	for _, id := range c.CurvePreferences {
		cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveID(id))
	}
	for _, cert := range c.Certificates {
		cfg.Certificates = append(cfg.Certificates, tls.Certificate{
			Certificate: cert.Certificate,
			PrivateKey:  cert.PrivateKey,
			Leaf:        cert.Leaf,
		})
	}
	// NextProtos is left out: a WebSocket upgrade is HTTP/1.1.
	return cfg
}

// nbioMsg is a message waiting in the inbox, in nbio's pooled buffer (nil
// for an empty message).
type nbioMsg struct {
	typ MessageType
	p   *[]byte
}

type nbioConn struct {
	ws         *websocket.Conn
	nbc        *nbio.Conn
	under      net.Conn // the conn ws was made with, for nbhttp (UnderlayerConn)
	alloc      interface{ Free(*[]byte) }
	compressed bool
	// subprotocol is the one the server chose.
	subprotocol string

	// Read side. The poller appends to the inbox (deliver) and ends it
	// (end); ReadMessage takes from it. wake has capacity 1: a token means
	// "look again", and only the one ReadMessage waits on it.
	mu    sync.Mutex
	inbox []nbioMsg   // guarded by mu; [head:] waiting
	head  int         // guarded by mu
	final error       // guarded by mu: returned once the inbox is empty
	peer  *CloseError // guarded by mu: the peer's close frame, if final carries one
	wake  chan struct{}
	gone  chan struct{} // closed by end: no more messages, pongs or close frames

	// Bytes the server sent with its handshake answer, parsed before the
	// first read (flushEarly), and the frame scan of what is parsed.
	early     atomic.Bool
	earlyMu   sync.Mutex
	earlyData []byte // guarded by earlyMu
	scan      framescan.Scanner

	ping pinger

	// Write side: every write to the socket holds wmu, so that nothing
	// follows our close frame.
	wmu       sync.Mutex
	closeSent bool // guarded by wmu

	// Plain ws:// only (counted): bytes handed to nbio and not yet taken
	// by the socket, and the signal that they were.
	counted bool
	out     nbioCounter
	pending atomic.Int64
	waiting atomic.Bool
	drained chan struct{}
}

// nbioCounter is the net.Conn nbio's websocket.Conn writes through: the
// connection it had, with every write counted in pending first.
type nbioCounter struct {
	net.Conn
	c *nbioConn
}

func (o *nbioCounter) Write(b []byte) (int, error) {
	o.c.pending.Add(int64(len(b)))
	return o.Conn.Write(b)
}

// taken is nbio's report that the socket took n bytes. It runs inside nbio's
// write or flush, with the nbio connection locked: it must not write.
func (c *nbioConn) taken(n int) {
	if c.pending.Add(-int64(n)) == 0 && c.waiting.Load() {
		select {
		case c.drained <- struct{}{}:
		default:
		}
	}
}

// waitDrained waits until the socket has taken every byte written, or the
// connection has ended.
func (c *nbioConn) waitDrained() error {
	if c.pending.Load() <= 0 {
		return nil
	}
	c.waiting.Store(true)
	defer c.waiting.Store(false)
	for c.pending.Load() > 0 {
		select {
		case <-c.drained:
		case <-c.gone:
			if c.pending.Load() > 0 {
				return c.endErr()
			}
			return nil
		}
	}
	return nil
}

// UnderlayerConn, Parse and CloseAndClean make c the nbhttp.ParserCloser
// the engine hands what the socket reads.

func (c *nbioConn) UnderlayerConn() net.Conn { return c.under }

func (c *nbioConn) CloseAndClean(err error) { c.ws.CloseAndClean(err) }

// Parse parses what the socket read. nbio 1.6.8 parses a data message with
// no payload but never hands it to OnMessage: the frame scan finds where
// each one ends, the bytes up to there are parsed, then it is delivered.
func (c *nbioConn) Parse(data []byte) error {
	if c.early.Load() {
		c.flushEarly()
	}
	return c.parse(data)
}

func (c *nbioConn) parse(data []byte) error {
	for len(data) > 0 {
		n, opcode := c.scan.Next(data)
		op := MessageType(opcode)
		if err := c.ws.Parse(data[:n]); err != nil {
			return err
		}
		data = data[n:]
		if op == Text || op == Binary {
			if closed, _ := c.nbc.IsClosed(); !closed {
				c.deliver(op, nil)
			}
		}
	}
	return nil
}

// flushEarly parses the frames that came with the handshake answer, once,
// before anything the poller reads: the dialer runs it after handing the
// socket over, and the poller before its first Parse, whichever comes
// first; the other waits for it.
func (c *nbioConn) flushEarly() {
	c.earlyMu.Lock()
	defer c.earlyMu.Unlock()
	if !c.early.Load() {
		return
	}
	data := c.earlyData
	c.earlyData = nil
	if err := c.parse(data); err != nil {
		c.end(fmt.Errorf("nbio: read: %w", err))
		nbioutil.HangUp(c.nbc)
	}
	c.early.Store(false)
}

// deliver puts a message in the inbox and wakes the reader.
func (c *nbioConn) deliver(typ MessageType, p *[]byte) {
	c.mu.Lock()
	if c.final != nil {
		c.mu.Unlock()
		if p != nil {
			c.alloc.Free(p)
		}
		return
	}
	c.inbox = append(c.inbox, nbioMsg{typ: typ, p: p})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// end ends the read side with err, unless it has ended: ReadMessage returns
// err once the inbox is empty, and a waiting Ping or Close is released.
func (c *nbioConn) end(err error) {
	c.mu.Lock()
	if c.final != nil {
		c.mu.Unlock()
		return
	}
	c.final = err
	errors.As(err, &c.peer)
	close(c.gone)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// endErr is the read side's final error; call it once gone is closed.
func (c *nbioConn) endErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.final
}

// result is Close's answer once the read side has ended: clean when the
// peer's close frame carried 1000, (false, nil) for another code, the final
// error when no close frame came.
func (c *nbioConn) result() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peer != nil {
		return c.peer.Code == closeNormal, nil
	}
	return false, c.final
}

// peerClosed handles the peer's close frame (1005 when it carried no code):
// it is answered with its code, unless our close frame went out first, and
// ends the read side. nbio closes the socket when this returns.
func (c *nbioConn) peerClosed(code int, reason string) {
	c.wmu.Lock()
	if !c.closeSent {
		c.closeSent = true
		var body []byte
		if code != 1005 {
			body = binary.BigEndian.AppendUint16(nil, uint16(code))
		}
		_ = c.ws.WriteMessage(websocket.CloseMessage, body)
	}
	c.wmu.Unlock()
	c.end(fmt.Errorf("nbio: read: %w", &CloseError{Code: code, Reason: reason}))
}

// answerPing answers a ping with its payload, unless our close frame went
// out.
func (c *nbioConn) answerPing(data string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closeSent {
		_ = c.ws.WriteMessage(websocket.PongMessage, []byte(data))
	}
}

func (c *nbioConn) Compressed() bool { return c.compressed }

func (c *nbioConn) Subprotocol() string { return c.subprotocol }

// errNbioCloseSent is returned by writes after our close frame went out.
var errNbioCloseSent = errors.New("close frame already sent")

func (c *nbioConn) WriteMessage(t MessageType, p []byte) error {
	c.wmu.Lock()
	err := errNbioCloseSent
	if !c.closeSent {
		err = c.ws.WriteMessage(websocket.MessageType(t), p)
	}
	c.wmu.Unlock()
	if err == nil && c.counted {
		// Outside wmu: a ping or the close frame may go out meanwhile.
		err = c.waitDrained()
	}
	if err != nil {
		return fmt.Errorf("nbio: write %s message: %w", t, err)
	}
	return nil
}

func (c *nbioConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	for {
		c.mu.Lock()
		if c.head < len(c.inbox) {
			m := c.inbox[c.head]
			c.inbox[c.head] = nbioMsg{}
			c.head++
			if c.head == len(c.inbox) {
				c.inbox, c.head = c.inbox[:0], 0
			}
			c.mu.Unlock()
			return m.typ, c.copyOut(m, buf), nil
		}
		if err := c.final; err != nil {
			c.mu.Unlock()
			return 0, buf[:0], err
		}
		c.mu.Unlock()
		<-c.wake
	}
}

var _ Readier = (*nbioConn)(nil)

// Buffered: the pollers read every socket whether or not ReadMessage runs,
// so a message waiting in the inbox has arrived.
func (c *nbioConn) Buffered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head < len(c.inbox)
}

// copyOut copies a message into buf, grown when too small, and frees nbio's
// buffer.
func (c *nbioConn) copyOut(m nbioMsg, buf []byte) []byte {
	if m.p == nil {
		return buf[:0]
	}
	p := *m.p
	if cap(buf) < len(p) {
		buf = grow(buf, 0, len(p))
	}
	out := buf[:len(p)]
	copy(out, p)
	c.alloc.Free(m.p)
	return out
}

func (c *nbioConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := c.ping.next()
	c.wmu.Lock()
	err := errNbioCloseSent
	if !c.closeSent {
		err = c.ws.WriteMessage(websocket.PingMessage, p)
	}
	c.wmu.Unlock()
	if err != nil {
		c.ping.cancel()
		return fmt.Errorf("nbio: ping: %w", err)
	}
	select {
	case <-c.ping.pong:
		return nil
	case <-ctx.Done():
		c.ping.cancel()
		return ctx.Err()
	case <-c.gone:
		c.ping.cancel()
		return fmt.Errorf("nbio: ping: connection ended before the pong: %w", c.endErr())
	}
}

func (c *nbioConn) Close(timeout time.Duration) (bool, error) {
	defer nbioutil.HangUp(c.nbc)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	c.wmu.Lock()
	var err error
	if !c.closeSent {
		// A no-op when the close frame went out already: the answer to
		// the peer's close, after which the read side has ended.
		c.closeSent = true
		err = c.ws.WriteMessage(websocket.CloseMessage, binary.BigEndian.AppendUint16(nil, closeNormal))
	}
	c.wmu.Unlock()
	if err != nil {
		c.end(fmt.Errorf("nbio: send close: %w", err))
		return c.result()
	}
	// The poller reads the peer's answer whether or not a ReadMessage
	// runs; one that does returns it once it has read what came before.
	select {
	case <-c.gone:
	case <-timer.C:
		c.end(fmt.Errorf("nbio: close: no close frame from peer within %v: %w", timeout, os.ErrDeadlineExceeded))
	}
	return c.result()
}

func (c *nbioConn) Abort() error {
	c.end(fmt.Errorf("nbio: connection aborted: %w", net.ErrClosed))
	nbioutil.HangUp(c.nbc)
	return nil
}
