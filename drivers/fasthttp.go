package drivers

import (
	"context"
	"errors"

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

// BatchedWrites: as gorilla's, whose fork this is.
func (fasthttpDriver) BatchedWrites() (bool, string) {
	return false, "the library, gorilla's fork, writes each message to the socket itself"
}

func (fasthttpDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	d := websocket.Dialer{
		// Proxy stays nil: a benchmark must measure the server it names, not
		// whatever HTTP_PROXY the environment happens to set.
		TLSClientConfig:  opts.TLSConfig,
		NetDialContext:   opts.netDialer().DialContext,
		HandshakeTimeout: opts.HandshakeTimeout,
		ReadBufferSize:   opts.ReadBufferSize,
		WriteBufferSize:  opts.WriteBufferSize,
		// The fork offers permessage-deflate with no context takeover only.
		EnableCompression: opts.Compression,
		Subprotocols:      opts.Subprotocols,
	}
	// The library takes a Host entry of the header as the request's Host.
	c, resp, err := d.DialContext(ctx, url, opts.Header.Clone())
	return dialGorillaStyle(&fasthttpLib, url, opts, c, resp, err, websocket.ErrBadHandshake)
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
