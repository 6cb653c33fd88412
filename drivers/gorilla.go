package drivers

import (
	"context"
	"errors"
	"fmt"
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
		TLSClientConfig:   opts.TLSConfig,
		HandshakeTimeout:  opts.HandshakeTimeout,
		ReadBufferSize:    opts.ReadBufferSize,
		WriteBufferSize:   opts.WriteBufferSize,
		EnableCompression: false,
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
	return &gorillaConn{c: c}, nil
}

type gorillaConn struct {
	c *websocket.Conn
}

func (g *gorillaConn) WriteMessage(t MessageType, p []byte) error {
	if err := g.c.WriteMessage(int(t), p); err != nil {
		return fmt.Errorf("gorilla: write %s message: %w", t, err)
	}
	return nil
}

func (g *gorillaConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	// NextReader rather than ReadMessage: the latter allocates a fresh slice
	// per message. Control frames are handled inside NextReader by gorilla's
	// default handlers (pong for ping, echoed close for close).
	typ, r, err := g.c.NextReader()
	if err != nil {
		return 0, buf[:0], fmt.Errorf("gorilla: read: %w", err)
	}
	out, err := readInto(r, buf, 0)
	if err != nil {
		return 0, out[:0], fmt.Errorf("gorilla: read %s message: %w", MessageType(typ), err)
	}
	return MessageType(typ), out, nil
}

func (g *gorillaConn) Close(timeout time.Duration) (clean bool, err error) {
	defer func() {
		if cerr := g.c.NetConn().Close(); cerr != nil && err == nil {
			err = fmt.Errorf("gorilla: close: %w", cerr)
		}
	}()
	deadline := time.Now().Add(timeout)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	// ErrCloseSent means the close frame already went out: gorilla answered
	// a close from the peer, or sent 1009 on a read limit. The read below
	// then returns the error the reader already saw.
	if err := g.c.WriteControl(websocket.CloseMessage, msg, deadline); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return false, fmt.Errorf("gorilla: send close: %w", err)
	}
	if err := g.c.SetReadDeadline(deadline); err != nil {
		return false, fmt.Errorf("gorilla: close: %w", err)
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
			return ce.Code == websocket.CloseNormalClosure, nil
		}
		return false, fmt.Errorf("gorilla: wait for close: %w", err)
	}
}

func (g *gorillaConn) Abort() error {
	if err := g.c.NetConn().Close(); err != nil {
		return fmt.Errorf("gorilla: abort: %w", err)
	}
	return nil
}
