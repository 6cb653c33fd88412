package drivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

func init() { Register(gorillaDriver{}) }

// gorillaDriver dials with github.com/gorilla/websocket.
type gorillaDriver struct{}

func (gorillaDriver) Name() string   { return "gorilla" }
func (gorillaDriver) Module() string { return "github.com/gorilla/websocket" }

func (gorillaDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	d := websocket.Dialer{
		// Proxy stays nil: a benchmark must measure the server it names, not
		// whatever HTTP_PROXY the environment happens to set.
		TLSClientConfig:  opts.TLSConfig,
		HandshakeTimeout: opts.HandshakeTimeout,
		ReadBufferSize:   opts.ReadBufferSize,
		WriteBufferSize:  opts.WriteBufferSize,
		// gorilla offers permessage-deflate with no context takeover only.
		EnableCompression: opts.Compression,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil && resp.StatusCode != 101 {
			return nil, fmt.Errorf("gorilla: dial %s: %w", url, &HandshakeStatusError{Status: resp.StatusCode})
		}
		return nil, fmt.Errorf("gorilla: dial %s: %w", url, err)
	}
	// gorilla treats 0 as "no limit", which is also what ReadLimit <= 0
	// means for every driver.
	c.SetReadLimit(max(opts.ReadLimit, 0))
	g := &gorillaConn{c: c, compressed: DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))}
	if g.compressed && opts.CompressionLevel != 0 {
		if err := c.SetCompressionLevel(opts.CompressionLevel); err != nil {
			_ = c.NetConn().Close()
			return nil, fmt.Errorf("gorilla: dial %s: %w", url, err)
		}
	}
	g.rs.init()
	g.ping.init()
	// gorilla calls the pong handler inside NextReader, in whichever
	// goroutine reads: ReadMessage, or Close when it reads itself.
	c.SetPongHandler(g.onPong)
	return g, nil
}

type gorillaConn struct {
	c          *websocket.Conn
	rs         readSide
	ping       pinger
	compressed bool
}

func (g *gorillaConn) Compressed() bool { return g.compressed }

func (g *gorillaConn) onPong(appData string) error {
	g.ping.gotPongString(appData)
	return nil
}

func (g *gorillaConn) WriteMessage(t MessageType, p []byte) error {
	if err := g.c.WriteMessage(int(t), p); err != nil {
		return fmt.Errorf("gorilla: write %s message: %w", t, err)
	}
	return nil
}

func (g *gorillaConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	if ok, err := g.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer g.rs.exit()
	// NextReader rather than ReadMessage: the latter allocates a fresh slice
	// per message. Control frames are handled inside NextReader: gorilla's
	// default handlers answer pings and echo a close frame, onPong routes
	// pongs to Ping.
	typ, r, err := g.c.NextReader()
	if err != nil {
		return 0, buf[:0], g.rs.fail(fmt.Errorf("gorilla: read: %w", gorillaCloseError(err)))
	}
	out, err := readInto(r, buf, 0)
	if err != nil {
		// A close frame between two frames of a message ends up here.
		return 0, out[:0], g.rs.fail(fmt.Errorf("gorilla: read %s message: %w", MessageType(typ), gorillaCloseError(err)))
	}
	return MessageType(typ), out, nil
}

// gorillaCloseError turns gorilla's report of the peer's close frame into
// the contract's *CloseError; other errors are returned as they are.
func gorillaCloseError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: ce.Code, Reason: ce.Text}
	}
	return err
}

func (g *gorillaConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// WriteControl may run concurrently with WriteMessage; it waits for the
	// frame being written, at most until the deadline. Without a deadline
	// in ctx, only the wait for the pong can be cut short.
	deadline, hasDeadline := ctx.Deadline()
	if err := g.c.WriteControl(websocket.PingMessage, g.ping.next(), deadline); err != nil {
		g.ping.cancel()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// gorilla's own timer for the write lock fired at ctx's deadline,
		// before the context's did: nothing was written and the
		// connection is intact, so report the deadline as ctx will. A
		// timeout of the socket write itself is os.ErrDeadlineExceeded and
		// leaves the connection broken: that is an error.
		var ne net.Error
		if hasDeadline && errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded) {
			<-ctx.Done()
			return ctx.Err()
		}
		return fmt.Errorf("gorilla: ping: %w", err)
	}
	return g.ping.wait(ctx, &g.rs, "gorilla")
}

func (g *gorillaConn) Close(timeout time.Duration) (clean bool, err error) {
	defer func() {
		if cerr := g.c.NetConn().Close(); cerr != nil && err == nil {
			err = fmt.Errorf("gorilla: close: %w", cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	mode := g.rs.beginClose()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	// ErrCloseSent means the close frame already went out: gorilla answered
	// a close from the peer, or sent 1009 on a read limit or 1002 on a
	// protocol error; the read side has finished then.
	if err := g.c.WriteControl(websocket.CloseMessage, msg, deadline); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		err = fmt.Errorf("gorilla: send close: %w", err)
		g.rs.finish(err)
		return false, err
	}
	switch mode {
	case closeAfterDone:
		return g.rs.result()
	case closeWait:
		return g.rs.awaitReader("gorilla", deadline, timeout)
	}
	g.rs.finish(g.readUntilClose(deadline))
	return g.rs.result()
}

// readUntilClose reads until the peer's close frame, skipping data messages
// still in flight, and returns the error ReadMessage reports from now on.
func (g *gorillaConn) readUntilClose(deadline time.Time) error {
	if err := g.c.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("gorilla: close: %w", err)
	}
	for {
		// NextReader skips whatever is left of data messages still in
		// flight; only the peer's close frame ends the loop cleanly.
		_, _, err := g.c.NextReader()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return fmt.Errorf("gorilla: read: %w", &CloseError{Code: ce.Code, Reason: ce.Text})
		}
		return fmt.Errorf("gorilla: wait for close: %w", err)
	}
}

func (g *gorillaConn) Abort() error {
	g.rs.finish(fmt.Errorf("gorilla: connection aborted: %w", net.ErrClosed))
	if err := g.c.NetConn().Close(); err != nil {
		return fmt.Errorf("gorilla: abort: %w", err)
	}
	return nil
}
