package drivers

import (
	"context"
	"errors"
	"fmt"

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
	compressed := DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))
	if compressed && opts.CompressionLevel != 0 {
		if err := c.SetCompressionLevel(opts.CompressionLevel); err != nil {
			_ = c.NetConn().Close()
			return nil, fmt.Errorf("gorilla: dial %s: %w", url, err)
		}
	}
	return newGorillaStyleConn(c, &gorillaLib, compressed, c.SetPongHandler), nil
}

// gorillaLib is what the gorilla-style Conn (gorillastyle.go) needs to know
// of github.com/gorilla/websocket's own errors.
var gorillaLib = gorillaStyleLib{
	name: "gorilla",
	closeError: func(err error) (int, string, bool) {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text, true
		}
		return 0, "", false
	},
	errCloseSent: websocket.ErrCloseSent,
}
