package conformance

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// RawServer is the raw-frame server that plays cases against a client
// driver: it accepts one connection at a time on a loopback port, answers
// the opening handshake itself and hands the case a session that sends
// frames unmasked, as a server does.
type RawServer struct {
	ln net.Listener
}

// ListenRaw opens the raw server on a free port of 127.0.0.1.
func ListenRaw() (*RawServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("raw server: listen: %w", err)
	}
	return &RawServer{ln: ln}, nil
}

// URL is the ws:// URL clients dial.
func (s *RawServer) URL() string { return "ws://" + s.ln.Addr().String() + "/echo" }

// Close stops listening.
func (s *RawServer) Close() error { return s.ln.Close() }

// DeflateAnswer is the raw server's acceptance of permessage-deflate: no
// context takeover either way, which §7.1.1.1–2 let a server state whether
// or not the client offered it, and the one mode every driver supports.
const DeflateAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// Answer chooses the raw server's Sec-WebSocket-Extensions response from
// the client's offer ("" declines every extension).
type Answer func(offer string) string

// acceptTCP waits for the next connection until ctx ends.
func (s *RawServer) acceptTCP(ctx context.Context) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := s.ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("raw server: accept: %w", r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		// Unblock Accept with a connection of our own, and drop whatever
		// it returns.
		if c, err := net.Dial("tcp", s.ln.Addr().String()); err == nil {
			c.Close()
		}
		if r := <-ch; r.c != nil {
			r.c.Close()
		}
		return nil, fmt.Errorf("raw server: no client connected: %w", ctx.Err())
	}
}

// Accept takes the next client, reads its upgrade request and answers it
// (101 with answer's extensions). It returns the session and the client's
// extension offer. timeout bounds the handshake and each of the session's
// waits.
func (s *RawServer) Accept(ctx context.Context, answer Answer, timeout time.Duration) (*Session, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := s.acceptTCP(ctx)
	if err != nil {
		return nil, "", err
	}
	sess, offer, err := serverHandshake(conn, answer, timeout)
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	return sess, offer, nil
}

// serverHandshake answers one opening handshake on conn (§4.2.2).
func serverHandshake(conn net.Conn, answer Answer, timeout time.Duration) (*Session, string, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", fmt.Errorf("raw server: read upgrade request: %w", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") || key == "" {
		_, _ = conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
		return nil, "", fmt.Errorf("raw server: not a WebSocket upgrade request")
	}
	offer := strings.Join(req.Header.Values("Sec-WebSocket-Extensions"), ", ")
	ext := ""
	if answer != nil {
		ext = answer(offer)
	}
	var b strings.Builder
	b.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&b, "Sec-WebSocket-Accept: %s\r\n", acceptKey(key))
	if ext != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", ext)
	}
	if p := req.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		first, _, _ := strings.Cut(p, ",")
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", strings.TrimSpace(first))
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return nil, "", fmt.Errorf("raw server: answer upgrade: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	deflate := hasExtension(ext, "permessage-deflate")
	return newSession(conn, br, false, deflate, timeout), offer, nil
}
