package servers

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

func init() { Register(gorillaServer{}) }

// gorillaServer is the reference server for github.com/gorilla/websocket.
type gorillaServer struct{}

func (gorillaServer) Name() string   { return "gorilla" }
func (gorillaServer) Module() string { return "github.com/gorilla/websocket" }

// Exceptions is empty: gorilla applies every setting.
func (gorillaServer) Exceptions() []string { return nil }

func (gorillaServer) Handlers(s Settings, live *Live) Handlers {
	up := &websocket.Upgrader{
		HandshakeTimeout: s.HandshakeTimeout,
		ReadBufferSize:   s.ReadBufferSize,
		WriteBufferSize:  s.WriteBufferSize,
		// No WriteBufferPool: each connection keeps its own write buffer,
		// as the other libraries do.
		EnableCompression: false,
		// A benchmark server: any origin may connect.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered with an HTTP error.
		}
		if s.ReadLimit > 0 {
			c.SetReadLimit(s.ReadLimit) // gorilla has no default limit
		}
		done := make(chan struct{})
		remove := live.Add(func() { gorillaGoingAway(c, done) })
		defer remove()
		defer c.Close()
		defer close(done)
		gorillaEcho(c)
	})
	return Handlers{Echo: echo, Broadcast: NotImplemented}
}

// gorillaEcho answers each data message with the same bytes and type until
// the connection fails or closes. gorilla's default handlers answer pings
// with pongs and echo a close frame, from inside NextReader.
func gorillaEcho(c *websocket.Conn) {
	var buf []byte
	for {
		typ, r, err := c.NextReader()
		if err != nil {
			return
		}
		// Not ReadMessage: it allocates a new slice per message.
		if buf, err = readMessage(r, buf); err != nil {
			return // on ErrReadLimit gorilla has already sent 1009
		}
		if err := c.WriteMessage(typ, buf); err != nil {
			return
		}
	}
}

// gorillaGoingAway sends 1001 and closes the connection. WriteControl is the
// one write gorilla allows concurrently with the echo loop's WriteMessage.
// done closes when the echo loop has ended, i.e. has read the peer's reply.
func gorillaGoingAway(c *websocket.Conn, done <-chan struct{}) {
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace)); err == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.Close()
}
