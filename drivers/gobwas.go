package drivers

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsbench/wsbench/internal/deflate"
)

func init() { Register(gobwasDriver{}) }

// gobwasDriver dials with github.com/gobwas/ws. gobwas is a toolkit rather
// than a connection type, so this file owns what the other libraries do for
// us: buffering, masking, control frames, write locking and the close
// handshake.
type gobwasDriver struct{}

func (gobwasDriver) Name() string   { return "gobwas" }
func (gobwasDriver) holdsIdle()     {}
func (gobwasDriver) Module() string { return "github.com/gobwas/ws" }

// BatchedWrites: gobwas leaves framing to us, so frames gather in one
// buffer and leave in one write, and a frame is prepared once.
func (gobwasDriver) BatchedWrites() (bool, string) {
	return true, "frames gathered in one buffer, one write; frames prepared once, except with permessage-deflate; over ws:// a batch's replies are waited for in the kernel (SO_RCVLOWAT) and read in one go"
}

// gobwasDefaultBuffer is used when DialOptions leaves a buffer size at zero;
// it matches the library's own handshake defaults.
const gobwasDefaultBuffer = 4096

// gobwasMaxHint caps how much of a frame's declared length ReadMessage
// allocates before the bytes arrive.
const gobwasMaxHint = 1 << 20

func (gobwasDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	d := ws.Dialer{
		Timeout:         opts.HandshakeTimeout,
		TLSConfig:       opts.TLSConfig,
		ReadBufferSize:  opts.ReadBufferSize,
		WriteBufferSize: opts.WriteBufferSize,
		NetDial:         opts.netDialer().DialContext,
		Protocols:       opts.Subprotocols,
	}
	header, host := requestHeader(opts.Header)
	d.Host = host
	if len(header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	if opts.Compression {
		d.Extensions = []httphead.Option{wsflate.Parameters{
			ServerNoContextTakeover: true,
			ClientNoContextTakeover: true,
		}.Option()}
	}
	// gobwas checks the HTTP version before the status, so a plain web
	// server answering "HTTP/1.0 404" would read as a protocol error; the
	// recorder keeps the status line to report the status instead.
	var rec *statusLineConn
	d.WrapConn = func(c net.Conn) net.Conn {
		rec = &statusLineConn{Conn: c}
		return rec
	}
	nc, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("gobwas: dial %s: %w", url, &HandshakeStatusError{Status: int(se)})
		}
		if errors.Is(err, ws.ErrHandshakeBadProtocol) && rec != nil {
			if status, ok := rec.status(); ok && status != 101 {
				return nil, fmt.Errorf("gobwas: dial %s: %w", url, &HandshakeStatusError{Status: status})
			}
		}
		if errors.Is(err, ws.ErrHandshakeBadSubProtocol) {
			return nil, fmt.Errorf("gobwas: dial %s: %w", url, &SubprotocolError{Offered: opts.Subprotocols, Other: true})
		}
		return nil, fmt.Errorf("gobwas: dial %s: %w", url, err)
	}
	if err := checkSubprotocol(opts.Subprotocols, hs.Protocol); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("gobwas: dial %s: %w", url, err)
	}
	if br == nil {
		// Nothing was read past the handshake, so the recorder can leave
		// the read path; otherwise br reads through it (a forwarding call).
		nc = rec.Conn
	}
	// The write buffer holds a frame header plus a masked chunk of payload.
	// Both buffers are made on first use (ensureSource, dataBuf): a
	// connection a Poller holds idle never needs them.
	g := &gobwasConn{
		nc:          nc,
		rsize:       cmp.Or(opts.ReadBufferSize, gobwasDefaultBuffer),
		wsize:       cmp.Or(opts.WriteBufferSize, gobwasDefaultBuffer),
		level:       opts.CompressionLevel,
		subprotocol: hs.Protocol,
	}
	// Dial has checked that the server accepted only what was offered.
	for _, ext := range hs.Extensions {
		if string(ext.Name) == wsflate.ExtensionName {
			g.compressed = true
		}
	}
	if rc, ok := g.rawConn(); ok {
		g.rio, g.wio = newRawReader(rc), newRawWriter(rc)
	}
	g.rs.init()
	g.ping.init()
	limit := max(opts.ReadLimit, 0) // 0 is "no limit" for wsutil.Reader too
	g.rd = wsutil.Reader{
		State:          ws.StateClientSide,
		CheckUTF8:      false, // a load generator does not pay for validation
		MaxFrameSize:   limit,
		MaxMessageSize: limit,
		OnIntermediate: g.handleControl,
	}
	if br != nil {
		// Dial returns a reader only when the server's first frames arrived
		// with the handshake answer; otherwise ensureSource buffers.
		g.rd.Source, g.br = br, br
	}
	if g.compressed {
		// The reader accepts RSV1 and g.msg says whether the message it
		// starts is compressed.
		g.rd.Extensions = []wsutil.RecvExtension{&g.msg}
		g.rd.State |= ws.StateExtended
	}
	return g, nil
}

type gobwasConn struct {
	nc net.Conn

	// Read side, owned by the goroutine calling ReadMessage or by Close
	// when it reads itself (rs decides which). After a read error the
	// frame stream is unusable: rs keeps the error for every later read.
	rd    wsutil.Reader
	ctl   [ws.MaxControlFramePayloadSize]byte // control frame payloads
	rs    readSide
	br    *bufio.Reader // rd's source once made (ensureSource), for Buffered
	rsize int           // the read buffer's size, made by ensureSource
	low   lowWater      // SetReadLowWater's: what a wait on the socket waits for
	rio   *rawIO        // raw reads of a plain TCP socket (nil: through nc)
	held  *gobwasHeld   // while a Poller holds the connection

	ping pinger

	// Write side. Pongs and close replies are written from the read path,
	// pings from Ping and the close frame from Close, while WriteMessage
	// may run in another goroutine, so every write to nc goes through wmu.
	wmu       sync.Mutex
	wbuf      []byte // data frames, made by dataBuf
	wsize     int
	wio       *rawIO                                                 // raw writes of a plain TCP socket (nil: through nc)
	cbuf      [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte // control frames
	hdr       headerWriter
	hdrTmp    [ws.MaxHeaderSize]byte // a field, not a local: it would escape per write
	closeSent bool
	werr      error         // sticky: a failed write may have left half a frame on the wire
	batch     []byte        // frames gathered for one write (WriteMessages, WritePrepared)
	prep      gobwasPrepped // the frame PrepareFrames built

	// With permessage-deflate negotiated (compressed), data messages are
	// deflated at level into zout before writing, and those arriving with
	// RSV1 (msg) are read into zin and inflated.
	compressed bool
	level      int
	zout       []byte // guarded by wmu
	zin        []byte // read side
	msg        wsflate.MessageState

	subprotocol string // chosen by the server
}

func (g *gobwasConn) Compressed() bool { return g.compressed }

func (g *gobwasConn) Subprotocol() string { return g.subprotocol }

// headerWriter collects the frame header ws.WriteHeaderBuffer produces into
// the front of the write buffer, so header and payload leave in one write.
type headerWriter struct{ b []byte }

func (w *headerWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// errGobwasCloseSent is returned by writes after the close frame went out;
// RFC 6455 section 5.5.1 forbids data frames after it.
var errGobwasCloseSent = errors.New("close frame already sent")

func (g *gobwasConn) WriteMessage(t MessageType, p []byte) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.closeSent {
		return fmt.Errorf("gobwas: write %s message: %w", t, errGobwasCloseSent)
	}
	var rsv byte
	if g.compressed {
		z, err := deflate.Compress(g.zout[:0], p, g.level)
		if err != nil {
			return fmt.Errorf("gobwas: write %s message: %w", t, err)
		}
		g.zout, p, rsv = z, z, ws.Rsv(true, false, false)
	}
	if err := g.writeFrameLocked(ws.OpCode(t), rsv, p); err != nil {
		return fmt.Errorf("gobwas: write %s message: %w", t, err)
	}
	return nil
}

// writeFrameLocked writes p as one final, masked frame with RSV bits rsv.
// The payload is masked into wbuf chunk by chunk, which leaves p untouched
// and costs no allocation whatever the message size. g.wmu must be held.
func (g *gobwasConn) writeFrameLocked(op ws.OpCode, rsv byte, p []byte) error {
	if g.werr != nil {
		return g.werr
	}
	h := ws.Header{
		Fin:    true,
		Rsv:    rsv,
		OpCode: op,
		Length: int64(len(p)),
		Masked: true,
		Mask:   ws.NewMask(),
	}
	buf := g.cbuf[:]
	if !op.IsControl() {
		buf = g.dataBuf()
	}
	g.hdr.b = buf[:0]
	if err := ws.WriteHeaderBuffer(&g.hdr, h, g.hdrTmp[:]); err != nil {
		return err
	}
	off := len(g.hdr.b)
	for i := 0; ; {
		m := copy(buf[off:], p[i:])
		ws.Cipher(buf[off:off+m], h.Mask, i)
		i += m
		if _, err := g.write(buf[:off+m]); err != nil {
			g.werr = err
			return err
		}
		if i == len(p) {
			return nil
		}
		off = 0
	}
}

// dataBuf is the data frames' write buffer, made on the first one: an idle
// connection writes only control frames, from cbuf. g.wmu must be held.
func (g *gobwasConn) dataBuf() []byte {
	if g.wbuf == nil {
		g.wbuf = make([]byte, max(g.wsize, ws.MaxHeaderSize+1))
	}
	return g.wbuf
}

// ensureSource gives the frame reader its buffered source on the first
// read: without one, ws.ReadHeader's two small reads would be two syscalls
// per frame. Only the reading goroutine calls it.
func (g *gobwasConn) ensureSource() {
	if g.rd.Source == nil {
		g.br = bufio.NewReaderSize(lowWaterSource{g}, g.rsize)
		g.rd.Source = g.br
	}
}

// writeControl writes a control frame unless the close frame already went
// out: nothing may follow it, not even a pong.
func (g *gobwasConn) writeControl(op ws.OpCode, p []byte) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.closeSent {
		return nil
	}
	if op == ws.OpClose {
		g.closeSent = true
	}
	return g.writeFrameLocked(op, 0, p)
}

// handleControl answers one control frame whose payload is body. It is the
// wsutil.Reader's OnIntermediate hook, for control frames inside a fragmented
// message, and is called directly for those between messages.
func (g *gobwasConn) handleControl(h ws.Header, body io.Reader) error {
	p := g.ctl[:h.Length] // CheckHeader capped control payloads at 125
	if _, err := io.ReadFull(body, p); err != nil {
		return err
	}
	_, err := g.controlFrame(h.OpCode, p)
	return err
}

// controlFrame answers one control frame whose payload is p; pong reports
// a pong that answered the outstanding ping.
func (g *gobwasConn) controlFrame(op ws.OpCode, p []byte) (pong bool, err error) {
	switch op {
	case ws.OpPing:
		return false, g.writeControl(ws.OpPong, p)
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		if len(p) < 2 {
			code = ws.StatusNoStatusRcvd // RFC 6455 section 7.1.5
		}
		// Echo the code as RFC 6455 section 5.5.1 suggests; an empty close
		// is answered with an empty one since 1005 must not be sent.
		var reply []byte
		if len(p) >= 2 {
			reply = p[:2]
		}
		ce := &CloseError{Code: int(code), Reason: reason}
		if err := g.writeControl(ws.OpClose, reply); err != nil {
			// The peer's close frame is still what ended the read side.
			return false, fmt.Errorf("%w (answer close: %w)", ce, err)
		}
		return false, ce
	}
	// A pong: it completes Ping if it answers the outstanding ping.
	return g.ping.gotPong(p), nil
}

// nextDataFrame returns the header of the first frame of the next data
// message, handling the control frames in front of it.
func (g *gobwasConn) nextDataFrame() (ws.Header, error) {
	for {
		h, err := g.rd.NextFrame()
		if err != nil {
			return h, err
		}
		if !h.OpCode.IsControl() {
			return h, nil
		}
		// Between messages the reader is not in the fragmented state, so
		// the control frame is read through it like a one-frame message.
		if err := g.handleControl(h, &g.rd); err != nil {
			return h, err
		}
		// Reset the reader's message state; a no-op read for a payload
		// that is already consumed.
		if err := g.rd.Discard(); err != nil {
			return h, err
		}
	}
}

func (g *gobwasConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	if ok, err := g.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer g.rs.exit()
	g.ensureSource()
	h, err := g.nextDataFrame()
	if err != nil {
		return 0, buf[:0], g.failRead(fmt.Errorf("gobwas: read: %w", err))
	}
	typ := MessageType(h.OpCode)
	hint := 0
	if h.Fin {
		// A single-frame message: size buf once instead of doubling. The
		// length is declared by the peer, so trust it only up to
		// gobwasMaxHint (NextFrame already held it to ReadLimit); beyond,
		// buf grows as bytes actually arrive.
		hint = int(min(h.Length, gobwasMaxHint))
	}
	if g.msg.IsCompressed() {
		return g.readDeflated(typ, buf, hint)
	}
	// wsutil.Reader.Read follows continuation frames and hands interleaved
	// control frames to handleControl; it reports the end with io.EOF.
	out, err := readInto(&g.rd, buf, hint)
	if err != nil {
		return 0, out[:0], g.failRead(fmt.Errorf("gobwas: read %s message: %w", typ, err))
	}
	return typ, out, nil
}

// readDeflated reads a compressed message into zin and inflates it into buf,
// holding the inflated size to the read limit.
func (g *gobwasConn) readDeflated(typ MessageType, buf []byte, hint int) (MessageType, []byte, error) {
	var err error
	if g.zin, err = readInto(&g.rd, g.zin, hint); err != nil {
		return 0, buf[:0], g.failRead(fmt.Errorf("gobwas: read %s message: %w", typ, err))
	}
	out, err := deflate.Decompress(buf[:0], g.zin, g.rd.MaxMessageSize)
	if err != nil {
		return 0, out[:0], g.failRead(fmt.Errorf("gobwas: read %s message: %w", typ, err))
	}
	return typ, out, nil
}

// failRead ends the read side with err and returns its final error. A message over ReadLimit
// is also reported to the peer with close 1009, as gorilla and coder do.
func (g *gobwasConn) failRead(err error) error {
	if errors.Is(err, wsutil.ErrFrameTooLarge) || errors.Is(err, wsutil.ErrMessageTooLarge) || errors.Is(err, deflate.ErrTooLarge) {
		var body [2]byte
		ws.PutCloseFrameBody(body[:], ws.StatusMessageTooBig, "")
		g.writeControl(ws.OpClose, body[:]) // best effort: the read error is what matters
	}
	return g.rs.fail(err)
}

func (g *gobwasConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := g.ping.next()
	// Under wmu like every write: a data frame being written goes out
	// first, and ctx only bounds the wait for the pong that follows.
	// Nothing may follow our close frame, not even a ping.
	g.wmu.Lock()
	err := errGobwasCloseSent
	if !g.closeSent {
		err = g.writeFrameLocked(ws.OpPing, 0, p)
	}
	g.wmu.Unlock()
	if err != nil {
		g.ping.cancel()
		return fmt.Errorf("gobwas: ping: %w", err)
	}
	return g.ping.wait(ctx, &g.rs, "gobwas")
}

func (g *gobwasConn) Close(timeout time.Duration) (clean bool, err error) {
	defer func() {
		if cerr := g.nc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("gobwas: close: %w", cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	mode := g.rs.beginClose()
	// The read deadline only when Close reads: a concurrent reader waiting
	// for the next message would otherwise fail on it. The write deadline
	// also bounds a WriteMessage that holds wmu on a stalled socket.
	setDeadline := g.nc.SetWriteDeadline
	if mode == closeSelf {
		setDeadline = g.nc.SetDeadline
	}
	if err := setDeadline(deadline); err != nil {
		err = fmt.Errorf("gobwas: close: %w", err)
		g.rs.finish(err)
		return false, err
	}
	var body [2]byte
	ws.PutCloseFrameBody(body[:], ws.StatusNormalClosure, "")
	// A no-op when the close frame went out already: an answer to the
	// peer's close, or 1009 after a read limit; the read side has
	// finished then.
	if err := g.writeControl(ws.OpClose, body[:]); err != nil {
		err = fmt.Errorf("gobwas: send close: %w", err)
		g.rs.finish(err)
		return false, err
	}
	switch mode {
	case closeAfterDone:
		return g.rs.result()
	case closeWait:
		return g.rs.awaitReader("gobwas", deadline, timeout)
	}
	g.rs.finish(g.readUntilClose())
	return g.rs.result()
}

// readUntilClose reads until the peer's close frame, skipping data messages
// still in flight, and returns the error ReadMessage reports from now on.
func (g *gobwasConn) readUntilClose() error {
	// Data still in flight is skipped, not read, so it need not respect
	// ReadLimit.
	g.rd.MaxFrameSize, g.rd.MaxMessageSize = 0, 0
	g.ensureSource()
	for {
		_, err := g.nextDataFrame()
		if err == nil {
			// A data message still in flight: skip all its frames, and
			// the control frames between them.
			err = g.rd.Discard()
		}
		if err == nil {
			continue
		}
		var ce *CloseError
		if errors.As(err, &ce) {
			return fmt.Errorf("gobwas: read: %w", ce)
		}
		return fmt.Errorf("gobwas: wait for close: %w", err)
	}
}

func (g *gobwasConn) Abort() error {
	g.rs.finish(fmt.Errorf("gobwas: connection aborted: %w", net.ErrClosed))
	if err := g.nc.Close(); err != nil {
		return fmt.Errorf("gobwas: abort: %w", err)
	}
	return nil
}

// statusLineConn keeps the first line the server sends (the HTTP status
// line of the upgrade answer) while passing every read through.
type statusLineConn struct {
	net.Conn
	line []byte
	done bool // the line is complete, or longer than anyone needs
}

// maxStatusLine bounds what statusLineConn keeps of a runaway first line.
const maxStatusLine = 256

func (c *statusLineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done && n > 0 {
		chunk := p[:n]
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			chunk, c.done = chunk[:i], true
		}
		c.line = append(c.line, chunk[:min(len(chunk), maxStatusLine-len(c.line))]...)
		c.done = c.done || len(c.line) >= maxStatusLine
	}
	return n, err
}

// status reads the code from a status line such as "HTTP/1.0 404 Not
// Found"; ok is false when the line is not one.
func (c *statusLineConn) status() (code int, ok bool) {
	f := strings.Fields(string(c.line))
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") || len(f[1]) != 3 {
		return 0, false
	}
	code, err := strconv.Atoi(f[1])
	return code, err == nil && code >= 100
}

// gobwasBatchBytes bounds the frames gathered for one write: enough for
// dozens of 1 KiB messages, small enough to stay in cache per connection.
// A frame of more than half of it is written on its own, chunk by chunk.
const gobwasBatchBytes = 64 << 10

// gobwasPrepped is a frame built once by PrepareFrames: header and masked
// payload in frame, the payload from off, its first head bytes rewritten
// per message.
type gobwasPrepped struct {
	frame     []byte
	off, head int
	mask      [4]byte
}

var (
	_ Batcher       = (*gobwasConn)(nil)
	_ FramePreparer = (*gobwasConn)(nil)
	_ Readier       = (*gobwasConn)(nil)
)

// Buffered: the bufio.Reader under rd holds bytes of the next frame.
// ReadMessage returns at a frame boundary, so any buffered byte is the
// next message's (or a control frame's in front of it).
func (g *gobwasConn) Buffered() bool { return g.br != nil && g.br.Buffered() > 0 }

func (g *gobwasConn) WriteMessages(t MessageType, msgs [][]byte) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if err := g.writableLocked(); err != nil {
		return fmt.Errorf("gobwas: write %s messages: %w", t, err)
	}
	b := g.batch[:0]
	defer func() { g.batch = b[:0] }()
	var err error
	for _, p := range msgs {
		var rsv byte
		if g.compressed {
			z, err := deflate.Compress(g.zout[:0], p, g.level)
			if err != nil {
				return fmt.Errorf("gobwas: write %s messages: %w", t, err)
			}
			g.zout, p, rsv = z, z, ws.Rsv(true, false, false)
		}
		if len(p) > gobwasBatchBytes/2 {
			// Too big to gather: after what is gathered, chunk by chunk.
			if b, err = g.flushLocked(b); err == nil {
				err = g.writeFrameLocked(ws.OpCode(t), rsv, p)
			}
			if err != nil {
				return fmt.Errorf("gobwas: write %s messages: %w", t, err)
			}
			continue
		}
		if len(b)+ws.MaxHeaderSize+len(p) > gobwasBatchBytes {
			if b, err = g.flushLocked(b); err != nil {
				return fmt.Errorf("gobwas: write %s messages: %w", t, err)
			}
		}
		h := ws.Header{Fin: true, Rsv: rsv, OpCode: ws.OpCode(t), Length: int64(len(p)), Masked: true, Mask: ws.NewMask()}
		g.hdr.b = b
		if err := ws.WriteHeaderBuffer(&g.hdr, h, g.hdrTmp[:]); err != nil {
			return fmt.Errorf("gobwas: write %s messages: %w", t, err)
		}
		off := len(g.hdr.b)
		b = append(g.hdr.b, p...)
		ws.Cipher(b[off:], h.Mask, 0)
	}
	if b, err = g.flushLocked(b); err != nil {
		return fmt.Errorf("gobwas: write %s messages: %w", t, err)
	}
	return nil
}

func (g *gobwasConn) PrepareFrames(t MessageType, template []byte, head int) bool {
	if g.compressed || head < 0 || head > len(template) {
		return false
	}
	g.wmu.Lock() // hdr and hdrTmp are the write side's
	defer g.wmu.Unlock()
	f := gobwasPrepped{head: head, mask: ws.NewMask()}
	h := ws.Header{Fin: true, OpCode: ws.OpCode(t), Length: int64(len(template)), Masked: true, Mask: f.mask}
	g.hdr.b = make([]byte, 0, ws.MaxHeaderSize+len(template))
	if err := ws.WriteHeaderBuffer(&g.hdr, h, g.hdrTmp[:]); err != nil {
		return false
	}
	f.off = len(g.hdr.b)
	f.frame = append(g.hdr.b, template...)
	ws.Cipher(f.frame[f.off:], f.mask, 0)
	g.hdr.b = nil
	g.prep = f
	return true
}

// errGobwasNotPrepared is WritePrepared's before PrepareFrames succeeded.
var errGobwasNotPrepared = errors.New("no frame prepared")

func (g *gobwasConn) WritePrepared(heads [][]byte) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	f := &g.prep
	err := g.writableLocked()
	if err == nil && f.frame == nil {
		err = errGobwasNotPrepared
	}
	if err != nil {
		return fmt.Errorf("gobwas: write prepared messages: %w", err)
	}
	for _, h := range heads {
		if len(h) != f.head {
			return fmt.Errorf("gobwas: write prepared messages: head of %d bytes, prepared for %d", len(h), f.head)
		}
	}
	if len(f.frame) > gobwasBatchBytes/2 {
		// A large frame is not copied: its patched front from wbuf (which
		// holds any header and codec header), then the rest as prepared.
		for _, h := range heads {
			pre := append(g.dataBuf()[:0], f.frame[:f.off]...)
			pre = append(pre, h...)
			ws.Cipher(pre[f.off:], f.mask, 0)
			if _, err = g.write(pre); err == nil {
				_, err = g.write(f.frame[f.off+f.head:])
			}
			if err != nil {
				g.werr = err
				return fmt.Errorf("gobwas: write prepared messages: %w", err)
			}
		}
		return nil
	}
	b := g.batch[:0]
	defer func() { g.batch = b[:0] }()
	for _, h := range heads {
		if len(b)+len(f.frame) > gobwasBatchBytes {
			if b, err = g.flushLocked(b); err != nil {
				return fmt.Errorf("gobwas: write prepared messages: %w", err)
			}
		}
		start := len(b)
		b = append(b, f.frame...)
		p := b[start+f.off : start+f.off+f.head]
		copy(p, h)
		ws.Cipher(p, f.mask, 0)
	}
	if b, err = g.flushLocked(b); err != nil {
		return fmt.Errorf("gobwas: write prepared messages: %w", err)
	}
	return nil
}

// write writes all of p to the socket. g.wmu must be held.
func (g *gobwasConn) write(p []byte) (int, error) {
	if g.wio != nil {
		return g.wio.write(p)
	}
	return g.nc.Write(p)
}

// writableLocked is nil when data frames may still be written: no close
// frame sent, no earlier write failed. g.wmu must be held.
func (g *gobwasConn) writableLocked() error {
	if g.closeSent {
		return errGobwasCloseSent
	}
	return g.werr
}

// flushLocked writes the gathered frames b in one write and returns b
// emptied. g.wmu must be held.
func (g *gobwasConn) flushLocked(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	if _, err := g.write(b); err != nil {
		g.werr = err
		return b[:0], err
	}
	return b[:0], nil
}
