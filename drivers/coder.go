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

// BatchedWrites: Write flushes the library's buffered writer at the end
// of every message, and nothing else reaches the socket under its lock.
func (coderDriver) BatchedWrites() (bool, string) {
	return false, "the library flushes each message to the socket itself"
}

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
	nd := opts.netDialer()
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
	mode := websocket.CompressionDisabled
	if opts.Compression {
		mode = websocket.CompressionNoContextTakeover
	}
	header, host := requestHeader(opts.Header)
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		HTTPHeader:      header,
		Host:            host,
		Subprotocols:    opts.Subprotocols,
		CompressionMode: mode,
		// Every message compressed, whatever its size, as every driver
		// does (coder's default skips messages under 512 bytes). coder
		// compresses at flate's default level and has no option for it.
		CompressionThreshold: 1,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("coder: dial %s: %w", url, &HandshakeStatusError{Status: resp.StatusCode})
		}
		if resp != nil && checkSubprotocol(opts.Subprotocols, resp.Header.Get("Sec-WebSocket-Protocol")) != nil {
			// coder's own refusal of a subprotocol not offered, after it
			// waited up to 3 s for a body to quote.
			return nil, fmt.Errorf("coder: dial %s: %w", url, checkSubprotocol(opts.Subprotocols, resp.Header.Get("Sec-WebSocket-Protocol")))
		}
		return nil, fmt.Errorf("coder: dial %s: %w", url, err)
	}
	// coder refuses a subprotocol it did not offer, not the lack of one.
	if err := checkSubprotocol(opts.Subprotocols, c.Subprotocol()); err != nil {
		_ = c.CloseNow()
		return nil, fmt.Errorf("coder: dial %s: %w", url, err)
	}
	if opts.ReadLimit > 0 {
		c.SetReadLimit(opts.ReadLimit)
	} else {
		c.SetReadLimit(-1) // coder's "no limit"; 0 would refuse every non-empty message
	}
	cc := &coderConn{c: c, raw: raw.get(), compressed: DeflateAccepted(resp.Header.Values("Sec-WebSocket-Extensions"))}
	cc.rs.init()
	return cc, nil
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

	// rs keeps the read side's final error, and with it the peer's close
	// code for a Close after ReadMessage ran into the peer's close frame.
	// coder serializes its readers itself; rs is there so that a
	// ReadMessage racing with Close reports the close handshake's outcome
	// rather than coder's net.ErrClosed.
	rs readSide

	compressed bool
}

func (cc *coderConn) Compressed() bool { return cc.compressed }

func (cc *coderConn) Subprotocol() string { return cc.c.Subprotocol() }

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
	if ok, err := cc.rs.enter(); !ok {
		return 0, buf[:0], err
	}
	defer cc.rs.exit()
	typ, r, err := cc.c.Reader(context.Background())
	if err != nil {
		return 0, buf[:0], cc.failRead("coder: read", err)
	}
	out, err := readInto(r, buf, 0)
	if err != nil {
		return 0, out[:0], cc.failRead("coder: read "+MessageType(typ).String()+" message", err)
	}
	return MessageType(typ), out, nil
}

// failRead ends the read side with err and returns the error ReadMessage
// reports, a *CloseError when err carries the peer's close frame.
func (cc *coderConn) failRead(prefix string, err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return cc.rs.fail(fmt.Errorf("%s: %w", prefix, &CloseError{Code: int(ce.Code), Reason: ce.Reason}))
	}
	if cc.rs.closing() {
		// coder's Close reads between our reads and may have taken the
		// peer's close frame, then closed the conn under us: report the
		// handshake's outcome, which Close records before it returns.
		<-cc.rs.done
		return cc.rs.err
	}
	return cc.rs.fail(fmt.Errorf("%s: %w", prefix, err))
}

func (cc *coderConn) Ping(ctx context.Context) error {
	// An ended ctx must not reach coder: if it wins the race for the write
	// lock, coder's write timeout closes the whole connection.
	if err := ctx.Err(); err != nil {
		return err
	}
	// coder matches each pong to its ping by payload (a per-connection
	// counter), in the concurrent ReadMessage's Reader call, so a late
	// pong of an abandoned ping is ignored.
	if err := cc.c.Ping(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		return fmt.Errorf("coder: ping: %w", err)
	}
	return nil
}

func (cc *coderConn) Close(timeout time.Duration) (bool, error) {
	if cc.rs.beginClose() == closeAfterDone {
		// ReadMessage already ended: coder answered the peer's close frame
		// and shut the connection itself, or the stream broke. Report what
		// the reader saw.
		if err := cc.Abort(); err != nil {
			return false, err
		}
		return cc.rs.result()
	}
	// coder's Close supports a concurrent reader: it waits for the read
	// lock, which a ReadMessage blocked in Reader holds until it has read
	// the peer's answer, and then takes coder's record of it.
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
		var ce websocket.CloseError
		switch {
		case err == nil:
			cc.rs.finish(fmt.Errorf("coder: read: %w", &CloseError{Code: closeNormal}))
		case errors.As(err, &ce):
			// The handshake completed, with another code than 1000: not
			// clean, but not a failure either, as for the other drivers.
			cc.rs.finish(fmt.Errorf("coder: read: %w", &CloseError{Code: int(ce.Code), Reason: ce.Reason}))
		default:
			cc.rs.finish(fmt.Errorf("coder: close: %w", err))
		}
		// The first record wins: a reader's view of the peer's close
		// frame, or Abort's.
		return cc.rs.result()
	case <-timer.C:
		err := fmt.Errorf("coder: close: no close frame from peer within %v: %w", timeout, os.ErrDeadlineExceeded)
		cc.rs.finish(err)
		// Cut the socket so that the Close goroutine returns now rather
		// than after coder's own 5 s timers. Its result is then
		// meaningless: coder turns the read error on a socket closed under
		// it into a nil return.
		if cc.raw != nil {
			cc.raw.Close()
		}
		<-done
		return cc.rs.result()
	}
}

func (cc *coderConn) Abort() error {
	cc.rs.finish(fmt.Errorf("coder: connection aborted: %w", net.ErrClosed))
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
