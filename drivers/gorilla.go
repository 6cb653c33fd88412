package drivers

import (
	"context"
	"errors"

	"github.com/gorilla/websocket"
)

func init() { Register(gorillaDriver{}) }

// gorillaDriver dials with github.com/gorilla/websocket.
type gorillaDriver struct{}

func (gorillaDriver) Name() string   { return "gorilla" }
func (gorillaDriver) Module() string { return "github.com/gorilla/websocket" }

// BatchedWrites: every message writer's Close writes its frame to the
// socket under the library's write lock; a raw write beside it could
// interleave with a ping.
func (gorillaDriver) BatchedWrites() (bool, string) {
	return false, "the library writes each message to the socket itself"
}

func (gorillaDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	d := websocket.Dialer{
		// Proxy stays nil: a benchmark must measure the server it names, not
		// whatever HTTP_PROXY the environment happens to set.
		TLSClientConfig:  opts.TLSConfig,
		NetDialContext:   opts.netDialer().DialContext,
		HandshakeTimeout: opts.HandshakeTimeout,
		ReadBufferSize:   opts.ReadBufferSize,
		WriteBufferSize:  opts.WriteBufferSize,
		// gorilla offers permessage-deflate with no context takeover only.
		EnableCompression: opts.Compression,
		Subprotocols:      opts.Subprotocols,
	}
	// The library takes a Host entry of the header as the request's Host.
	c, resp, err := d.DialContext(ctx, url, opts.Header.Clone())
	return dialGorillaStyle(&gorillaLib, url, opts, c, resp, err, websocket.ErrBadHandshake)
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
