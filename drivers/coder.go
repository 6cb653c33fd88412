package drivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
)

func init() { Register(coderDriver{}) }

// coderDriver dials with github.com/coder/websocket (formerly nhooyr.io/websocket).
type coderDriver struct{}

func (coderDriver) Name() string   { return "coder" }
func (coderDriver) Module() string { return "github.com/coder/websocket" }

func (coderDriver) Dial(ctx context.Context, url string, opts DialOptions) (Conn, error) {
	if opts.HandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.HandshakeTimeout)
		defer cancel()
	}
	// coder hides the net.Conn, and its Close can not be cut short: its own
	// close handshake waits up to 5 s twice, and CloseNow blocks behind a
	// running Close. Capturing the TCP conn at dial time lets Close(timeout)
	// and Abort end it at once.
	var raw rawConn
	nd := net.Dialer{}
	tr := &http.Transport{
		// Proxy stays nil: measure the named server, not HTTP_PROXY.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err == nil {
				raw.set(c)
			}
			return c, err
		},
		TLSClientConfig: opts.TLSConfig,
	}
	// A Transport per dial, since it carries this dial's hook. The upgraded
	// conn is taken out of it; a refused handshake may leave its conn idle
	// in the pool, where nothing would ever close it.
	defer tr.CloseIdleConnections()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("coder: dial %s: %w", url, &HandshakeStatusError{Status: resp.StatusCode})
		}
		return nil, fmt.Errorf("coder: dial %s: %w", url, err)
	}
	if opts.ReadLimit > 0 {
		c.SetReadLimit(opts.ReadLimit)
	} else {
		c.SetReadLimit(-1) // coder's "no limit"; 0 would refuse every non-empty message
	}
	return &coderConn{c: c, raw: raw.get()}, nil
}

// rawConn hands the TCP conn from the Transport's dial goroutine to Dial.
type rawConn struct {
	mu sync.Mutex
	c  net.Conn
}

func (r *rawConn) set(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c = c
}

func (r *rawConn) get() net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

type coderConn struct {
	c   *websocket.Conn
	raw net.Conn // the TCP conn under c, nil if the capture failed

	// peerCode is the close code of a close frame ReadMessage ran into,
	// valid if peerSent. Read side only, like Close.
	peerCode websocket.StatusCode
	peerSent bool
}

func (cc *coderConn) WriteMessage(t MessageType, p []byte) error {
	// Write, not Writer plus io.Copy: the latter ends every message with an
	// extra empty FIN frame. context.Background() keeps coder from
	// registering a context.AfterFunc per call.
	if err := cc.c.Write(context.Background(), websocket.MessageType(t), p); err != nil {
		return fmt.Errorf("coder: write %s message: %w", t, err)
	}
	return nil
}

func (cc *coderConn) ReadMessage(buf []byte) (MessageType, []byte, error) {
	typ, r, err := cc.c.Reader(context.Background())
	if err != nil {
		cc.notePeerClose(err)
		return 0, buf[:0], fmt.Errorf("coder: read: %w", err)
	}
	out, err := readInto(r, buf, 0)
	if err != nil {
		cc.notePeerClose(err)
		return 0, out[:0], fmt.Errorf("coder: read %s message: %w", MessageType(typ), err)
	}
	return MessageType(typ), out, nil
}

// notePeerClose records the peer's close code when err carries one. coder
// answers the close frame and shuts the connection itself, so a later Close
// can only report what the peer said here.
func (cc *coderConn) notePeerClose(err error) {
	if code := websocket.CloseStatus(err); code != -1 {
		cc.peerCode, cc.peerSent = code, true
	}
}

func (cc *coderConn) Close(timeout time.Duration) (bool, error) {
	if cc.peerSent {
		if err := cc.Abort(); err != nil {
			return false, err
		}
		return cc.peerCode == websocket.StatusNormalClosure, nil
	}
	done := make(chan error, 1)
	go func() {
		// Close returns nil only when the peer answered with the code we
		// sent (1000); otherwise the peer's CloseError or the I/O error.
		done <- cc.c.Close(websocket.StatusNormalClosure, "")
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err == nil {
			return true, nil
		}
		if websocket.CloseStatus(err) != -1 {
			// The handshake completed, with another code than 1000: not
			// clean, but not a failure either, as for the other drivers.
			return false, nil
		}
		return false, fmt.Errorf("coder: close: %w", err)
	case <-timer.C:
		// Cut the socket so that the Close goroutine returns now rather
		// than after coder's own 5 s timers. Its result is then
		// meaningless: coder turns the read error on a socket closed under
		// it into a nil return.
		if cc.raw != nil {
			cc.raw.Close()
		}
		<-done
		return false, fmt.Errorf("coder: close: no close frame from peer within %v: %w", timeout, os.ErrDeadlineExceeded)
	}
}

func (cc *coderConn) Abort() error {
	// Closing the TCP conn first unblocks even a Close in progress, which
	// CloseNow alone would wait for; CloseNow then releases coder's state.
	if cc.raw != nil {
		cc.raw.Close()
	}
	if err := cc.c.CloseNow(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("coder: abort: %w", err)
	}
	return nil
}
