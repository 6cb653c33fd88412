package drivers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// gorillaAPI is the connection API that gorilla/websocket and its fork
// fasthttp/websocket share, method for method; the two drivers differ only in
// how they dial and in the library's own error values (gorillaStyleLib).
type gorillaAPI interface {
	NextReader() (messageType int, r io.Reader, err error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetReadDeadline(t time.Time) error
	NetConn() net.Conn
}

// gorillaDialed is a connection a gorilla-style Dialer returned, with
// what dialGorillaStyle sets on it.
type gorillaDialed interface {
	gorillaAPI
	SetReadLimit(limit int64)
	SetCompressionLevel(level int) error
	SetPongHandler(h func(appData string) error)
	Subprotocol() string
}

// dialGorillaStyle finishes a gorilla-style dial: it names a refused
// upgrade by its status (errBadHandshake is the library's), applies the
// read limit and compression level, and wraps the connection. dialErr,
// resp and c are what the library's DialContext returned.
func dialGorillaStyle[C gorillaDialed](lib *gorillaStyleLib, url string, opts DialOptions, c C, resp *http.Response, dialErr, errBadHandshake error) (Conn, error) {
	if dialErr != nil {
		if errors.Is(dialErr, errBadHandshake) && resp != nil && resp.StatusCode != 101 {
			return nil, fmt.Errorf("%s: dial %s: %w", lib.name, url, &HandshakeStatusError{Status: resp.StatusCode})
		}
		return nil, fmt.Errorf("%s: dial %s: %w", lib.name, url, dialErr)
	}
	// The library takes whatever Sec-WebSocket-Protocol the server answers.
	if err := checkSubprotocol(opts.Subprotocols, c.Subprotocol()); err != nil {
		_ = c.NetConn().Close()
		return nil, fmt.Errorf("%s: dial %s: %w", lib.name, url, err)
	}
	// gorilla and its fork treat 0 as "no limit", which is also what
	// ReadLimit <= 0 means for every driver.
	c.SetReadLimit(max(opts.ReadLimit, 0))
	compressed := DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))
	if compressed && opts.CompressionLevel != 0 {
		if err := c.SetCompressionLevel(opts.CompressionLevel); err != nil {
			_ = c.NetConn().Close()
			return nil, fmt.Errorf("%s: dial %s: %w", lib.name, url, err)
		}
	}
	g := newGorillaStyleConn(c, lib, compressed, c.SetPongHandler)
	g.subprotocol = c.Subprotocol()
	return g, nil
}

// gorillaStyleLib is what a gorilla-style library names differently.
type gorillaStyleLib struct {
	name string // the driver's name, for errors
	// closeError reports the peer's close frame in one of the library's
	// errors: its status and text.
	closeError func(err error) (code int, text string, ok bool)
	// errCloseSent is the library's error for a close frame already sent.
	errCloseSent error
}

// The RFC 6455 opcodes of the control frames gorillaAPI writes (gorilla's
// PingMessage and CloseMessage constants, the same in the fork).
const (
	gorillaCloseMessage = 8
	gorillaPingMessage  = 9
)

// gorillaStyleConn is the Conn of both gorilla-style drivers.
type gorillaStyleConn struct {
	c          gorillaAPI
	lib        *gorillaStyleLib
	rs         readSide
	ping       pinger
	compressed bool
	// subprotocol is the one the server chose.
	subprotocol string
}

// newGorillaStyleConn wraps a dialled connection; setPongHandler is the
// library's SetPongHandler on it. The library calls the pong handler inside
// NextReader, in whichever goroutine reads: ReadMessage, or Close when it
// reads itself.
func newGorillaStyleConn(c gorillaAPI, lib *gorillaStyleLib, compressed bool, setPongHandler func(func(string) error)) *gorillaStyleConn {
	g := &gorillaStyleConn{c: c, lib: lib, compressed: compressed}
	g.rs.init()
	g.ping.init()
	setPongHandler(g.onPong)
	return g
}

func (g *gorillaStyleConn) Compressed() bool { return g.compressed }

func (g *gorillaStyleConn) Subprotocol() string { return g.subprotocol }

func (g *gorillaStyleConn) onPong(appData string) error {
	g.ping.gotPongString(appData)
	return nil
}

func (g *gorillaStyleConn) WriteMessage(t MessageType, p []byte) error {
	if err := g.c.WriteMessage(int(t), p); err != nil {
		return fmt.Errorf("%s: write %s message: %w", g.lib.name, t, err)
	}
	return nil
}

func (g *gorillaStyleConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	if ok, err := g.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer g.rs.exit()
	// NextReader rather than ReadMessage: the latter allocates a fresh slice
	// per message. Control frames are handled inside NextReader: the
	// library's default handlers answer pings and echo a close frame,
	// onPong routes pongs to Ping.
	typ, r, err := g.c.NextReader()
	if err != nil {
		return 0, buf[:0], g.rs.fail(fmt.Errorf("%s: read: %w", g.lib.name, g.closeError(err)))
	}
	out, err := readInto(r, buf, 0)
	if err != nil {
		// A close frame between two frames of a message ends up here.
		return 0, out[:0], g.rs.fail(fmt.Errorf("%s: read %s message: %w", g.lib.name, MessageType(typ), g.closeError(err)))
	}
	return MessageType(typ), out, nil
}

// closeError turns the library's report of the peer's close frame into the
// contract's *CloseError; other errors are returned as they are.
func (g *gorillaStyleConn) closeError(err error) error {
	if code, text, ok := g.lib.closeError(err); ok {
		return &CloseError{Code: code, Reason: text}
	}
	return err
}

func (g *gorillaStyleConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// WriteControl may run concurrently with WriteMessage; it waits for the
	// frame being written, at most until the deadline. Without a deadline
	// in ctx, only the wait for the pong can be cut short.
	deadline, hasDeadline := ctx.Deadline()
	if err := g.c.WriteControl(gorillaPingMessage, g.ping.next(), deadline); err != nil {
		g.ping.cancel()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// The library's own timer for the write lock fired at ctx's
		// deadline, before the context's did: nothing was written and the
		// connection is intact, so report the deadline as ctx will. A
		// timeout of the socket write itself is os.ErrDeadlineExceeded and
		// leaves the connection broken: that is an error.
		var ne net.Error
		if hasDeadline && errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded) {
			<-ctx.Done()
			return ctx.Err()
		}
		return fmt.Errorf("%s: ping: %w", g.lib.name, err)
	}
	return g.ping.wait(ctx, &g.rs, g.lib.name)
}

// normalClosure is the body of a close frame with status 1000 and no reason.
var normalClosure = binary.BigEndian.AppendUint16(nil, 1000)

func (g *gorillaStyleConn) Close(timeout time.Duration) (clean bool, err error) {
	defer func() {
		if cerr := g.c.NetConn().Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close: %w", g.lib.name, cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	mode := g.rs.beginClose()
	// ErrCloseSent means the close frame already went out: the library
	// answered a close from the peer, or sent 1009 on a read limit or 1002
	// on a protocol error; the read side has finished then.
	if err := g.c.WriteControl(gorillaCloseMessage, normalClosure, deadline); err != nil && !errors.Is(err, g.lib.errCloseSent) {
		err = fmt.Errorf("%s: send close: %w", g.lib.name, err)
		g.rs.finish(err)
		return false, err
	}
	switch mode {
	case closeAfterDone:
		return g.rs.result()
	case closeWait:
		return g.rs.awaitReader(g.lib.name, deadline, timeout)
	}
	g.rs.finish(g.readUntilClose(deadline))
	return g.rs.result()
}

// readUntilClose reads until the peer's close frame, skipping data messages
// still in flight, and returns the error ReadMessage reports from now on.
func (g *gorillaStyleConn) readUntilClose(deadline time.Time) error {
	if err := g.c.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("%s: close: %w", g.lib.name, err)
	}
	for {
		// NextReader skips whatever is left of data messages still in
		// flight; only the peer's close frame ends the loop cleanly.
		_, _, err := g.c.NextReader()
		if err == nil {
			continue
		}
		if code, text, ok := g.lib.closeError(err); ok {
			return fmt.Errorf("%s: read: %w", g.lib.name, &CloseError{Code: code, Reason: text})
		}
		return fmt.Errorf("%s: wait for close: %w", g.lib.name, err)
	}
}

func (g *gorillaStyleConn) Abort() error {
	g.rs.finish(fmt.Errorf("%s: connection aborted: %w", g.lib.name, net.ErrClosed))
	if err := g.c.NetConn().Close(); err != nil {
		return fmt.Errorf("%s: abort: %w", g.lib.name, err)
	}
	return nil
}
