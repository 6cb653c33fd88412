package drivers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// plainHTTPServer answers every request with status and never upgrades, as a
// web server that is not a WebSocket endpoint would.
func plainHTTPServer(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintln(w, "<html>not a websocket endpoint</html>")
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/echo"
}

// http10Server answers every request with an HTTP/1.0 status line and
// closes, as some simple web servers (Python's http.server) do.
func http10Server(t *testing.T, status int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for { // read the request head
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.0 %d %s\r\nContent-Type: text/html\r\nConnection: close\r\n\r\nnot here\n", status, http.StatusText(status))
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/echo"
}

// TestPlainHTTPTarget checks that a server which answers HTTP without
// upgrading is reported by its status with every driver, whatever its HTTP
// version: it is reachable, it just is not a WebSocket endpoint.
func TestPlainHTTPTarget(t *testing.T) {
	cases := []struct {
		name   string
		url    string
		status int
	}{
		{"404", plainHTTPServer(t, http.StatusNotFound), 404},
		{"200", plainHTTPServer(t, http.StatusOK), 200},
		{"http1.0-404", http10Server(t, http.StatusNotFound), 404},
	}
	forEachDriver(t, func(t *testing.T, d Driver) {
		for _, c := range cases {
			conn, err := d.Dial(context.Background(), c.url, testOpts)
			if err == nil {
				conn.Abort()
				t.Errorf("%s: dial succeeded", c.name)
				continue
			}
			var hse *HandshakeStatusError
			if !errors.As(err, &hse) || hse.Status != c.status {
				t.Errorf("%s: dial error %v (%T), want a *HandshakeStatusError with status %d", c.name, err, err, c.status)
				continue
			}
			want := fmt.Sprintf("answered HTTP %d (want 101 Switching Protocols)", c.status)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", c.name, err, want)
			}
			if got := DialErrorClass(err); got != "dial_handshake_status" {
				t.Errorf("%s: class %s, want dial_handshake_status", c.name, got)
			}
		}
	})
}
