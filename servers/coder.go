package servers

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

func init() { Register(coderServer{}) }

// coderServer is the reference server for github.com/coder/websocket.
type coderServer struct{}

func (coderServer) Name() string   { return "coder" }
func (coderServer) Module() string { return "github.com/coder/websocket" }

// Exceptions lists what coder/websocket has no option for.
func (coderServer) Exceptions() []string {
	return []string{
		"read_buffer_bytes: coder/websocket reads through the 4 KiB bufio.Reader net/http hands over at hijack and has no option to size it",
		"write_buffer_bytes: coder/websocket writes through the 4 KiB bufio.Writer net/http hands over at hijack and has no option to size it",
		"handshake_timeout_ns: coder/websocket has no handshake timeout; only reading the upgrade request is bounded (http.Server.ReadHeaderTimeout), not writing the response",
	}
}

func (coderServer) Handlers(s Settings, live *Live) Handlers {
	opts := &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled,
		// A benchmark server: any origin may connect.
		InsecureSkipVerify: true,
	}
	// coder's default limit is 32 KiB and a zero limit would refuse every
	// byte; a negative one means none, as ReadLimit <= 0 does here.
	limit := s.ReadLimit
	if limit <= 0 {
		limit = -1
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &hijackRecorder{ResponseWriter: w}
		c, err := websocket.Accept(hw, r, opts)
		if err != nil {
			return // Accept has answered with an HTTP error.
		}
		c.SetReadLimit(limit)
		raw := hw.conn
		remove := live.Add(func() { coderGoingAway(c, raw) })
		defer remove()
		defer c.CloseNow()
		coderEcho(c)
	})
	return Handlers{Echo: echo, Broadcast: NotImplemented}
}

// coderEcho answers each data message with the same bytes and type until the
// connection fails or closes. The reader answers pings and close frames.
// context.Background has no Done channel, which spares coder a timer per
// call on this path.
func coderEcho(c *websocket.Conn) {
	ctx := context.Background()
	var buf []byte
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			return
		}
		// Not c.Read: it allocates a new slice per message.
		if buf, err = readMessage(r, buf); err != nil {
			return // over the limit coder has already sent 1009
		}
		// Not Writer + io.Copy: that ends the message with an extra empty
		// FIN frame.
		if err := c.Write(ctx, typ, buf); err != nil {
			return
		}
	}
}

// coderGoingAway runs coder's close handshake with 1001. Close waits up to
// 5 s for the peer's reply, and once it has begun CloseNow no longer closes
// anything, so after closeGrace the hijacked socket is closed directly,
// which makes Close return.
func coderGoingAway(c *websocket.Conn, raw net.Conn) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = c.Close(websocket.StatusGoingAway, "")
	}()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-closed:
		return
	case <-t.C:
	}
	if raw != nil {
		_ = raw.Close()
	}
	t.Reset(closeGrace / 2)
	select {
	case <-closed:
	case <-t.C:
	}
}

// hijackRecorder keeps the net.Conn that coder/websocket hijacks, the only
// way to close the socket under a Conn whose Close is stuck.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

// Hijack hijacks the underlying connection and remembers it.
func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = conn
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }
