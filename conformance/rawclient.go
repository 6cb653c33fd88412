package conformance

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"time"
)

// acceptGUID is the GUID of RFC 6455 §1.3 that Sec-WebSocket-Accept hashes.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Handshake is what the raw client's opening handshake settled.
type Handshake struct {
	// Offer is what the raw client offered.
	Offer string
	// Extensions is the server's Sec-WebSocket-Extensions answer.
	Extensions string
	// Deflate says permessage-deflate was accepted.
	Deflate bool
}

// dialTCP opens a TCP connection to a ws:// URL's host. Only loopback
// addresses are dialled unless allowRemote: wsbench conformance sends
// malformed traffic and must not aim it anywhere by accident.
func dialTCP(ctx context.Context, rawURL string, allowRemote bool) (net.Conn, *neturl.URL, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", rawURL, err)
	}
	if u.Scheme != "ws" {
		return nil, nil, fmt.Errorf("%s: the raw client speaks ws:// only", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	if !allowRemote {
		ip := net.ParseIP(u.Hostname())
		if (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return nil, nil, fmt.Errorf("%s: conformance cases go to loopback addresses only", rawURL)
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", host, err)
	}
	return c, u, nil
}

// upgradeRequest is the raw client's opening handshake (§4.1), offering
// extensions when not empty.
func upgradeRequest(u *neturl.URL, key, extensions string) []byte {
	path := u.RequestURI()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, u.Host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if extensions != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", extensions)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// DialRaw opens a connection to a WebSocket server with the raw client,
// offering extensions, and returns the session (which masks what it sends)
// with what the handshake settled. timeout bounds the handshake and is
// each of the session's waits.
func DialRaw(ctx context.Context, rawURL, extensions string, timeout time.Duration, allowRemote bool) (*Session, Handshake, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, u, err := dialTCP(ctx, rawURL, allowRemote)
	if err != nil {
		return nil, Handshake{}, err
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(upgradeRequest(u, key, extensions)); err != nil {
		conn.Close()
		return nil, Handshake{}, fmt.Errorf("send upgrade request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		conn.Close()
		return nil, Handshake{}, fmt.Errorf("read upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, Handshake{}, fmt.Errorf("upgrade answered %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		conn.Close()
		return nil, Handshake{}, fmt.Errorf("upgrade answered Sec-WebSocket-Accept %q, want %q", got, acceptKey(key))
	}
	_ = conn.SetDeadline(time.Time{})
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	hs := Handshake{Offer: extensions, Extensions: strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")}
	hs.Deflate = hasExtension(hs.Extensions, "permessage-deflate")
	return newSession(conn, br, true, hs.Deflate, timeout), hs, nil
}

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params map[string]string
	order  []string // parameter names as they came, repeats included
}

// parseExtensions splits a Sec-WebSocket-Extensions value (§9.1).
func parseExtensions(v string) []extension {
	var out []extension
	for _, item := range strings.Split(v, ",") {
		parts := strings.Split(item, ";")
		name := strings.ToLower(strings.TrimSpace(parts[0]))
		if name == "" {
			continue
		}
		e := extension{name: name, params: map[string]string{}}
		for _, p := range parts[1:] {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			k = strings.ToLower(strings.TrimSpace(k))
			e.params[k] = strings.Trim(strings.TrimSpace(val), `"`)
			e.order = append(e.order, k)
		}
		out = append(out, e)
	}
	return out
}

func hasExtension(v, name string) bool {
	for _, e := range parseExtensions(v) {
		if e.name == name {
			return true
		}
	}
	return false
}
