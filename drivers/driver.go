// Package drivers owns the client side of the load generator: the Driver and
// Conn contract that every client WebSocket library implements, and the
// registry the runner and the CLI pick drivers from. Scenarios talk to
// connections only through this contract; nothing outside this package's
// per-library files names a library.
package drivers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/internal/registry"
)

// MessageType is the WebSocket data frame opcode of a message.
type MessageType int

// The two data message types; values are the RFC 6455 opcodes.
const (
	Text   MessageType = 1
	Binary MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return fmt.Sprintf("opcode(%d)", int(t))
}

// DialOptions are the settings a driver applies to every connection it dials.
type DialOptions struct {
	// TLSConfig is used for wss:// URLs; nil means the system defaults with
	// certificate verification on.
	TLSConfig *tls.Config
	// HandshakeTimeout bounds TCP connect, TLS and the HTTP upgrade together.
	HandshakeTimeout time.Duration
	// ReadLimit is the largest message the connection accepts, in bytes;
	// zero or less means no limit.
	ReadLimit int64
	// ReadBufferSize and WriteBufferSize size the library's I/O buffers where
	// the library lets you choose them.
	ReadBufferSize, WriteBufferSize int
	// Compression offers permessage-deflate (RFC 7692) with no context
	// takeover in either direction; the server decides. Whether it was
	// negotiated is Conn.Compressed. Off, the extension is not offered.
	Compression bool
	// CompressionLevel is the flate level (1 fastest … 9 smallest) the
	// driver compresses with, where its library lets it choose.
	CompressionLevel int
	// LocalAddr, when set, is the source address of the TCP connection
	// (127.0.0.2, say): connections spread over several source addresses
	// get past the ~28,000 ephemeral ports one address has per server.
	LocalAddr net.IP
	// Header is added to every upgrade request (Authorization, Cookie,
	// Origin, Host…); CheckRequest says up front whether the driver can
	// send it. Its values may be secrets: nothing here prints them.
	Header http.Header
	// Subprotocols are offered in Sec-WebSocket-Protocol, in order. When
	// set, a server that chooses none of them, or another, fails the dial
	// with a *SubprotocolError.
	Subprotocols []string
}

// netDialer is the TCP dialer every driver opens connections with.
func (o DialOptions) netDialer() *net.Dialer {
	d := &net.Dialer{}
	if o.LocalAddr != nil {
		d.LocalAddr = &net.TCPAddr{IP: o.LocalAddr}
	}
	return d
}

// Conn is one client WebSocket connection. ReadMessage and WriteMessage may
// run in two different goroutines at once (one reader, one writer); neither
// may be called concurrently with itself. Control frames are handled inside
// ReadMessage: pings are answered with pongs, pongs complete a pending Ping,
// and a close frame from the peer is answered and ends the connection with a
// *CloseError.
type Conn interface {
	// WriteMessage sends p as one message of type t.
	WriteMessage(t MessageType, p []byte) error
	// ReadMessage reads the next data message into buf, growing it when it
	// is too small, and returns the type and the message bytes (a prefix of
	// the possibly reallocated buf). Hot-path implementations do not
	// allocate when buf is large enough.
	ReadMessage(buf []byte) (MessageType, []byte, error)
	// Ping sends a ping and waits for its pong, which a concurrent
	// ReadMessage (running in another goroutine) receives. It returns
	// ctx.Err() when ctx ends first; the connection stays usable. Ping may
	// run concurrently with ReadMessage and WriteMessage, not with itself.
	Ping(ctx context.Context) error
	// Close performs the close handshake with status 1000 (normal closure):
	// it sends a close frame, waits at most timeout for the peer's close frame
	// and closes the TCP connection. clean reports that the peer answered
	// with status 1000; (false, nil) means the handshake completed with
	// another status, (false, err) a timeout or I/O error. Close may be
	// called while another goroutine is blocked in ReadMessage: that
	// ReadMessage then sees the peer's close reply and returns a
	// *CloseError, and Close waits for it (within timeout) rather than
	// reading itself. Data messages still in flight when Close starts may
	// be dropped: call it once nothing more is expected.
	Close(timeout time.Duration) (clean bool, err error)
	// Compressed reports whether permessage-deflate was negotiated, as read
	// from the server's handshake response (its Sec-WebSocket-Extensions
	// header), not as offered.
	Compressed() bool
	// Subprotocol is the subprotocol the server chose in its handshake
	// response ("" when none was offered).
	Subprotocol() string
	// Abort closes the TCP connection at once, without a close handshake. It
	// is safe to call concurrently with a blocked ReadMessage or
	// WriteMessage, which then return an error.
	Abort() error
}

// Driver dials client connections with one WebSocket library.
type Driver interface {
	// Name is the short name used on the command line ("gorilla").
	Name() string
	// Module is the Go module path of the library, used to report its version.
	Module() string
	// Dial opens a connection to a ws:// or wss:// URL. A server that answers
	// the upgrade with a status other than 101, in whichever HTTP version,
	// gives a *HandshakeStatusError: it is reachable, it just does not
	// upgrade, and the user needs its status rather than a parse error.
	Dial(ctx context.Context, url string, opts DialOptions) (Conn, error)
}

// HandshakeStatusError reports an HTTP upgrade answered with a status other
// than 101 Switching Protocols.
type HandshakeStatusError struct {
	Status int
}

func (e *HandshakeStatusError) Error() string {
	return fmt.Sprintf("websocket handshake: server answered HTTP %d (want 101 Switching Protocols)", e.Status)
}

// Default is the driver `wsbench run` uses unless told otherwise: the one
// that spent the least client CPU per message when measured (see README).
const Default = "gobwas"

// CloseError is returned by ReadMessage when the peer sent a close frame;
// Code is its status (1005 when the frame carried none).
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("websocket closed by peer with status %d", e.Code)
	}
	return fmt.Sprintf("websocket closed by peer with status %d: %s", e.Code, e.Reason)
}

// DeflateAccepted reports whether a handshake response's
// Sec-WebSocket-Extensions header values accept permessage-deflate. Drivers
// whose library does not say so itself read the response header with it.
func DeflateAccepted(values []string) bool {
	for _, v := range values {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

var known = registry.New[Driver]("driver")

// Register adds a driver; a duplicate name panics at init.
func Register(x Driver) { known.Register(x) }

// Names lists the registered drivers in alphabetical order.
func Names() []string { return known.Names() }

// Lookup returns the named driver, or an error that lists the known ones.
func Lookup(name string) (Driver, error) { return known.Lookup(name) }

// target is a ws:// or wss:// URL parsed for a driver that opens the TCP
// connection (and TLS) itself: its host:port, the port defaulted to 80 or
// 443.
type target struct {
	URL    *neturl.URL
	Addr   string
	Secure bool // wss://
}

// parseTarget checks url's scheme and defaults its port.
func parseTarget(url string) (target, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return target{}, err
	}
	t := target{URL: u, Secure: u.Scheme == "wss"}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return target{}, fmt.Errorf("scheme %q: want ws or wss", u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if t.Secure {
			port = "443"
		}
	}
	t.Addr = net.JoinHostPort(u.Hostname(), port)
	return t, nil
}

// dialTCP opens the TCP connection to t within ctx.
func (t target) dialTCP(ctx context.Context, opts DialOptions) (net.Conn, error) {
	return opts.netDialer().DialContext(ctx, "tcp", t.Addr)
}

// DialErrorClass names the class of a dial failure for the errors table:
// refused, timeout, handshake status, TLS, reset, or other.
func DialErrorClass(err error) string {
	var hs *HandshakeStatusError
	var cert *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var recordHdr tls.RecordHeaderError
	var netErr net.Error
	var sp *SubprotocolError
	switch {
	case errors.As(err, &hs):
		return "dial_handshake_status"
	case errors.As(err, &sp):
		return "dial_subprotocol"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "dial_refused"
	case errors.As(err, &cert), errors.As(err, &unknownAuth), errors.As(err, &hostname),
		errors.As(err, &certInvalid), errors.As(err, &recordHdr):
		return "dial_tls"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "dial_timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "dial_reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "dial_fd_limit"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "dial_no_ports"
	}
	return "dial_other"
}
