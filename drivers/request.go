package drivers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// handshakeHeaders are the request headers the WebSocket handshake itself
// writes (RFC 6455 section 4.1, RFC 7692): a second copy from the user would
// make the upgrade request ambiguous, and some libraries refuse it only at
// dial time, once per connection. Subprotocols have their own option.
var handshakeHeaders = map[string]string{
	"Upgrade":                  "",
	"Connection":               "",
	"Sec-Websocket-Key":        "",
	"Sec-Websocket-Version":    "",
	"Sec-Websocket-Accept":     "",
	"Sec-Websocket-Extensions": " (--compression offers permessage-deflate)",
	"Sec-Websocket-Protocol":   " (give each with --subprotocol)",
}

// CheckRequest refuses, before any connection opens, a request header or
// subprotocol that driver d cannot send: one the handshake owns, a name or
// subprotocol that is not an HTTP token, a value with a line break, a
// second Host. Each of the six libraries sends everything else (Host
// included, which each takes apart from its header), so the rules are one
// for all; a library with a limit of its own would add it here, by name.
// Errors name the driver and the header, never a header's value, which may
// be a secret.
func CheckRequest(d Driver, h http.Header, subprotocols []string) error {
	for name, values := range h {
		if !isToken(name) {
			return fmt.Errorf("driver %s: header name %q is not an HTTP token", d.Name(), name)
		}
		canon := http.CanonicalHeaderKey(name)
		if hint, owned := handshakeHeaders[canon]; owned {
			return fmt.Errorf("driver %s: header %s is written by the WebSocket handshake itself and cannot be set%s", d.Name(), canon, hint)
		}
		if canon == "Host" && len(values) > 1 {
			return fmt.Errorf("driver %s: header Host given %d times; a request has one", d.Name(), len(values))
		}
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("driver %s: header %s: its value holds a line break or NUL, which cannot be sent", d.Name(), canon)
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range subprotocols {
		if !isToken(p) {
			return fmt.Errorf("driver %s: subprotocol %q is not an HTTP token (RFC 6455 section 4.1)", d.Name(), p)
		}
		if seen[p] {
			return fmt.Errorf("driver %s: subprotocol %q offered twice", d.Name(), p)
		}
		seen[p] = true
	}
	return nil
}

// isToken reports whether s is an RFC 7230 token: what a header name and a
// subprotocol must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// SubprotocolError reports a handshake whose Sec-WebSocket-Protocol answer
// is not one of the subprotocols offered: none, or another. The connection
// is refused, since the traffic would then speak a protocol the server did
// not agree to.
type SubprotocolError struct {
	Offered []string
	// Got is the server's choice, "" for none. Other is set when the
	// server chose one not offered and the library did not say which
	// (gobwas), Got then being "".
	Got   string
	Other bool
}

func (e *SubprotocolError) Error() string {
	if e.Other && e.Got == "" {
		return fmt.Sprintf("server chose a subprotocol that was not offered (offered %s)", strings.Join(e.Offered, ", "))
	}
	if e.Got == "" {
		return fmt.Sprintf("server chose no subprotocol (offered %s)", strings.Join(e.Offered, ", "))
	}
	return fmt.Sprintf("server chose subprotocol %q, which was not offered (offered %s)", e.Got, strings.Join(e.Offered, ", "))
}

// checkSubprotocol checks the server's choice against what was offered;
// nothing offered, nothing is checked.
func checkSubprotocol(offered []string, got string) error {
	if len(offered) == 0 {
		return nil
	}
	if !slices.Contains(offered, got) {
		return &SubprotocolError{Offered: offered, Got: got, Other: got != ""}
	}
	return nil
}

// requestHeader is the user's header without Host, which libraries take
// apart from the header, and the Host to send ("" for the URL's).
func requestHeader(h http.Header) (http.Header, string) {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	host := out.Get("Host")
	out.Del("Host")
	return out, host
}
