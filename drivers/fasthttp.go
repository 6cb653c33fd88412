package drivers

import (
	"context"
	"errors"
	"fmt"

	"github.com/fasthttp/websocket"
)

func init() { Register(fasthttpDriver{}) }

// fasthttpDriver dials with github.com/fasthttp/websocket, the fork of
// gorilla/websocket for fasthttp servers. Its client side is gorilla's
// Dialer over net/http types and its Conn is gorilla's, so both share
// gorillaStyleConn; the fork compresses with klauspost/compress/flate where
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
	compressed := DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))
	if compressed && opts.CompressionLevel != 0 {
		if err := c.SetCompressionLevel(opts.CompressionLevel); err != nil {
			_ = c.NetConn().Close()
			return nil, fmt.Errorf("fasthttp: dial %s: %w", url, err)
		}
	}
	return newGorillaStyleConn(c, &fasthttpLib, compressed, c.SetPongHandler), nil
}

// fasthttpLib is what the gorilla-style Conn (gorillastyle.go) needs to know
// of github.com/fasthttp/websocket's own errors.
var fasthttpLib = gorillaStyleLib{
	name: "fasthttp",
	closeError: func(err error) (int, string, bool) {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text, true
		}
		return 0, "", false
	},
	errCloseSent: websocket.ErrCloseSent,
}
