package drivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/fasthttp/websocket"
)

func init() { Register(fasthttpDriver{}) }

// fasthttpDriver dials with github.com/fasthttp/websocket, the fork of
// gorilla/websocket for fasthttp servers. Its client side is gorilla's
// Dialer over net/http types, so this driver is gorillaDriver with the
// fork's types; the fork compresses with klauspost/compress/flate where
// gorilla uses compress/flate.
type fasthttpDriver struct{}

func (fasthttpDriver) Name() string   { return "fasthttp" }
func (fasthttpDriver) Module() string { return "github.com/fasthttp/websocket" }

func (fasthttpDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	d := websocket.Dialer{
		// Proxy stays nil: a benchmark must measure the server it names, not
		// whatever HTTP_PROXY the environment happens to set.
		TLSClientConfig:  opts.TLSConfig,
		HandshakeTimeout: opts.HandshakeTimeout,
		ReadBufferSize:   opts.ReadBufferSize,
		WriteBufferSize:  opts.WriteBufferSize,
		// The fork offers permessage-deflate with no context takeover only.
		EnableCompression: opts.Compression,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil && resp.StatusCode != 101 {
			return nil, fmt.Errorf("fasthttp: dial %s: %w", url, &HandshakeStatusError{Status: resp.StatusCode})
		}
		return nil, fmt.Errorf("fasthttp: dial %s: %w", url, err)
	}
	// The fork treats 0 as "no limit", which is also what ReadLimit <= 0
	// means for every driver.
	c.SetReadLimit(max(opts.ReadLimit, 0))
	f := &fasthttpConn{c: c, compressed: DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))}
	if f.compressed && opts.CompressionLevel != 0 {
		if err := c.SetCompressionLevel(opts.CompressionLevel); err != nil {
			_ = c.NetConn().Close()
			return nil, fmt.Errorf("fasthttp: dial %s: %w", url, err)
		}
	}
	f.rs.init()
	f.ping.init()
	// The pong handler runs inside NextReader, in whichever goroutine
	// reads: ReadMessage, or Close when it reads itself.
	c.SetPongHandler(f.onPong)
	return f, nil
}

type fasthttpConn struct {
	c          *websocket.Conn
	rs         readSide
	ping       pinger
	compressed bool
}

func (f *fasthttpConn) Compressed() bool { return f.compressed }

func (f *fasthttpConn) onPong(appData string) error {
	f.ping.gotPongString(appData)
	return nil
}

// WriteMessage costs two allocations inside the fork, which the API offers no
// way around: the message writer, as in gorilla, and the frame's masking
// key, which the fork reads from crypto/rand (a syscall or vDSO call per
// frame) where gorilla v1.5.3 uses math/rand.
func (f *fasthttpConn) WriteMessage(t MessageType, p []byte) error {
	if err := f.c.WriteMessage(int(t), p); err != nil {
		return fmt.Errorf("fasthttp: write %s message: %w", t, err)
	}
	return nil
}

func (f *fasthttpConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	if ok, err := f.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer f.rs.exit()
	// NextReader rather than ReadMessage: the latter allocates a fresh slice
	// per message. Control frames are handled inside NextReader: the
	// default handlers answer pings and echo a close frame, onPong routes
	// pongs to Ping.
	typ, r, err := f.c.NextReader()
	if err != nil {
		return 0, buf[:0], f.rs.fail(fmt.Errorf("fasthttp: read: %w", fasthttpCloseError(err)))
	}
	out, err := readInto(r, buf, 0)
	if err != nil {
		// A close frame between two frames of a message ends up here.
		return 0, out[:0], f.rs.fail(fmt.Errorf("fasthttp: read %s message: %w", MessageType(typ), fasthttpCloseError(err)))
	}
	return MessageType(typ), out, nil
}

// fasthttpCloseError turns the fork's report of the peer's close frame into
// the contract's *CloseError; other errors are returned as they are.
func fasthttpCloseError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: ce.Code, Reason: ce.Text}
	}
	return err
}

func (f *fasthttpConn) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// WriteControl may run concurrently with WriteMessage; it waits for the
	// frame being written, at most until the deadline. Without a deadline
	// in ctx, only the wait for the pong can be cut short.
	deadline, hasDeadline := ctx.Deadline()
	if err := f.c.WriteControl(websocket.PingMessage, f.ping.next(), deadline); err != nil {
		f.ping.cancel()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// The fork's own timer for the write lock fired at ctx's deadline,
		// before the context's did: nothing was written and the
		// connection is intact, so report the deadline as ctx will. A
		// timeout of the socket write itself is os.ErrDeadlineExceeded and
		// leaves the connection broken: that is an error.
		var ne net.Error
		if hasDeadline && errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded) {
			<-ctx.Done()
			return ctx.Err()
		}
		return fmt.Errorf("fasthttp: ping: %w", err)
	}
	return f.ping.wait(ctx, &f.rs, "fasthttp")
}

func (f *fasthttpConn) Close(timeout time.Duration) (clean bool, err error) {
	defer func() {
		if cerr := f.c.NetConn().Close(); cerr != nil && err == nil {
			err = fmt.Errorf("fasthttp: close: %w", cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	mode := f.rs.beginClose()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	// ErrCloseSent means the close frame already went out: the fork
	// answered a close from the peer, or sent 1009 on a read limit or 1002
	// on a protocol error; the read side has finished then.
	if err := f.c.WriteControl(websocket.CloseMessage, msg, deadline); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		err = fmt.Errorf("fasthttp: send close: %w", err)
		f.rs.finish(err)
		return false, err
	}
	switch mode {
	case closeAfterDone:
		return f.rs.result()
	case closeWait:
		return f.rs.awaitReader("fasthttp", deadline, timeout)
	}
	f.rs.finish(f.readUntilClose(deadline))
	return f.rs.result()
}

// readUntilClose reads until the peer's close frame, skipping data messages
// still in flight, and returns the error ReadMessage reports from now on.
func (f *fasthttpConn) readUntilClose(deadline time.Time) error {
	if err := f.c.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("fasthttp: close: %w", err)
	}
	for {
		// NextReader skips whatever is left of data messages still in
		// flight; only the peer's close frame ends the loop cleanly.
		_, _, err := f.c.NextReader()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return fmt.Errorf("fasthttp: read: %w", &CloseError{Code: ce.Code, Reason: ce.Text})
		}
		return fmt.Errorf("fasthttp: wait for close: %w", err)
	}
}

func (f *fasthttpConn) Abort() error {
	f.rs.finish(fmt.Errorf("fasthttp: connection aborted: %w", net.ErrClosed))
	if err := f.c.NetConn().Close(); err != nil {
		return fmt.Errorf("fasthttp: abort: %w", err)
	}
	return nil
}
