package servers

import (
	"io"
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

// Handlers mounts /echo and /broadcast. Each connection's handler goroutine
// is its reader; a /broadcast connection has one writer goroutine besides,
// which drains its queue of prepared messages. gorilla allows one reader and
// one writer at a time, plus WriteControl from anywhere, which is what the
// pong replies, close frames (idle, slow consumer, going away) use.
func (gorillaServer) Handlers(s Settings, live *Live) Handlers {
	up := &websocket.Upgrader{
		HandshakeTimeout: s.HandshakeTimeout,
		ReadBufferSize:   s.ReadBufferSize,
		WriteBufferSize:  s.WriteBufferSize,
		// No WriteBufferPool: each connection keeps its own write buffer,
		// as the other libraries do.
		// gorilla negotiates permessage-deflate with no context takeover
		// only, and compresses every message once negotiated.
		EnableCompression: s.Compression,
		// A benchmark server: any origin may connect.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	// upgrade upgrades and sets up one connection. Its idle timer runs from
	// here; done is closed when the connection's reader has ended. The
	// caller defers end, passing the channel its writer goroutine closes
	// on return, if it has one: end closes the socket, which ends a
	// blocked write, and waits for the writer before unregistering.
	upgrade := func(w http.ResponseWriter, r *http.Request) (c *websocket.Conn, it *idleTimer, done chan struct{}, end func(wrote <-chan struct{})) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return nil, nil, nil, nil // Upgrade has answered with an HTTP error.
		}
		if s.ReadLimit > 0 {
			c.SetReadLimit(s.ReadLimit) // gorilla has no default limit
		}
		if s.Compression && deflateOffered(r) {
			// gorilla accepts any permessage-deflate offer when enabled
			// and does not say so afterwards; the offer is the answer.
			live.Counters.CompressedConns.Add(1)
			_ = c.SetCompressionLevel(s.CompressionLevel) // checked by Settings.check
		}
		done = make(chan struct{})
		remove := live.Add(func() { gorillaClose(c, done, websocket.CloseGoingAway, "") })
		it = newIdleTimer(s.IdleTimeout)
		if it != nil {
			// Control frames are read inside NextReader and the message
			// reader; only their handlers see them. The default ping
			// handler, which answers with a pong, is kept.
			ping := c.PingHandler()
			c.SetPingHandler(func(p string) error { it.touch(); return ping(p) })
			c.SetPongHandler(func(string) error { it.touch(); return nil })
			it.start(func() {
				live.Counters.IdleClosed.Add(1)
				gorillaClose(c, done, websocket.CloseGoingAway, idleCloseReason)
			})
		}
		return c, it, done, func(wrote <-chan struct{}) {
			it.stop()
			close(done)
			_ = c.Close()
			if wrote != nil {
				<-wrote
			}
			remove()
		}
	}

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, it, _, end := upgrade(w, r)
		if c == nil {
			return
		}
		defer end(nil)
		gorillaRead(c, it, func(typ int, msg []byte) error {
			echoCost()
			_ = c.SetWriteDeadline(writeDeadline(s.WriteTimeout))
			return c.WriteMessage(typ, msg)
		})
	})

	hub := newHub[*websocket.PreparedMessage](s, &live.Counters)
	broadcast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c *websocket.Conn
		var done chan struct{}
		upgraded := make(chan struct{}) // c and done are set, or nil for good
		sub := hub.subscribe(func() {
			<-upgraded
			if c != nil {
				gorillaClose(c, done, websocket.ClosePolicyViolation, slowCloseReason)
			}
		})
		defer sub.unsubscribe()
		c, it, done, end := upgrade(w, r)
		close(upgraded)
		if c == nil {
			return
		}
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			gorillaWrite(c, c.WritePreparedMessage, sub, done, s.WriteTimeout)
		}()
		defer end(wrote)
		gorillaRead(c, it, func(typ int, msg []byte) error {
			// Encodes the server frame once, copying msg out of the read
			// buffer; every subscriber writes the same bytes.
			pm, err := websocket.NewPreparedMessage(typ, msg)
			if err != nil {
				return err
			}
			hub.publish(pm)
			return nil
		})
	})
	return Handlers{Echo: echo, Broadcast: broadcast}
}

// gorillaConnAPI is the server-side connection API gorilla/websocket and its
// fork fasthttp/websocket share, method for method: the read, write and close
// loops below serve both.
type gorillaConnAPI interface {
	NextReader() (messageType int, r io.Reader, err error)
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// gorillaRead hands each data message to handle until the connection fails
// or closes, or handle fails. msg is valid only until handle returns.
// gorilla's default handlers answer pings with pongs and echo a close frame,
// from inside NextReader. Arrivals touch it (nil: no idle timeout): a
// message's header, every chunk of its payload.
func gorillaRead(c gorillaConnAPI, it *idleTimer, handle func(typ int, msg []byte) error) {
	var buf []byte
	var tr *touchReader
	if it != nil {
		tr = &touchReader{it: it}
	}
	for {
		typ, r, err := c.NextReader()
		if err != nil {
			return
		}
		if tr != nil {
			it.touch()
			tr.r = r
			r = tr
		}
		// Not ReadMessage: it allocates a new slice per message.
		if buf, err = readMessage(r, buf); err != nil {
			return // on ErrReadLimit gorilla has already sent 1009
		}
		if err := handle(typ, buf); err != nil {
			return
		}
	}
}

// gorillaWrite is a /broadcast connection's writer: it writes the prepared
// messages queued for the subscriber until the reader ends (done), the
// subscriber is disconnected as slow, or a write fails, which unsubscribes
// it: a connection that cannot be written to gets nothing more queued.
func gorillaWrite[PM any](c gorillaConnAPI, write func(PM) error, sub *subscriber[PM], done <-chan struct{}, timeout time.Duration) {
	for {
		select {
		case pm := <-sub.queue:
			if sub.isSlow() {
				return // leave the socket to the 1008 close frame
			}
			// A client that takes no bytes for the write timeout fails
			// the write, and the library then fails every later write.
			_ = c.SetWriteDeadline(writeDeadline(timeout))
			if err := write(pm); err != nil {
				sub.unsubscribe()
				return
			}
		case <-sub.slow:
			return
		case <-done:
			return
		}
	}
}

// gorillaClose sends a close frame with code and reason, waits (bounded) for
// the reader to end (done), which it does on reading the peer's close
// reply, and closes the connection. WriteControl is the one write gorilla
// allows concurrently with the reader's and the writer's writes; it waits up
// to closeGrace for a write in progress.
func gorillaClose(c gorillaConnAPI, done <-chan struct{}, code int, reason string) {
	msg := websocket.FormatCloseMessage(code, reason)
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
