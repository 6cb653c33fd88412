package drivers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// requestServer upgrades on 127.0.0.1 and keeps the request each upgrade
// came with. Its answer to Sec-WebSocket-Protocol is the query's answer=
// (none: no header), else the first subprotocol offered.
type requestServer struct {
	url string
	mu  sync.Mutex
	got []*http.Request
}

func newRequestServer(t *testing.T) *requestServer {
	t.Helper()
	rs := &requestServer{}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.got = append(rs.got, r)
		rs.mu.Unlock()
		resp := http.Header{}
		switch answer := r.URL.Query().Get("answer"); answer {
		case "none":
		case "":
			if offered := websocket.Subprotocols(r); len(offered) > 0 {
				resp.Set("Sec-WebSocket-Protocol", offered[0])
			}
		default:
			resp.Set("Sec-WebSocket-Protocol", answer)
		}
		c, err := up.Upgrade(w, r, resp)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, p); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	rs.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return rs
}

func (rs *requestServer) last(t *testing.T) *http.Request {
	t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.got) == 0 {
		t.Fatal("the server saw no upgrade request")
	}
	return rs.got[len(rs.got)-1]
}

// TestRequestReachesServer: every driver sends the user's headers (two
// values of one name included), Origin, Host and subprotocols, and reports
// the subprotocol the server chose.
func TestRequestReachesServer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d Driver) {
		rs := newRequestServer(t)
		opts := testOpts
		opts.Header = http.Header{
			"Authorization": {"Bearer tok-" + d.Name()},
			"Origin":        {"https://app.example.internal"},
			"X-Trace":       {"a", "b"},
			"Host":          {"chat.example.internal"},
		}
		opts.Subprotocols = []string{"chat.v2", "chat.v1"}
		before := http.Header{}
		for k, v := range opts.Header {
			before[k] = append([]string(nil), v...)
		}
		c := dialT(t, d, rs.url, opts)
		r := rs.last(t)
		if got := r.Header.Get("Authorization"); got != "Bearer tok-"+d.Name() {
			t.Errorf("Authorization: server got %q", got)
		}
		if got := r.Header.Get("Origin"); got != "https://app.example.internal" {
			t.Errorf("Origin: server got %q", got)
		}
		if got := strings.Join(r.Header.Values("X-Trace"), ","); got != "a,b" && got != "a, b" {
			t.Errorf("X-Trace: server got %q, want both values", got)
		}
		if r.Host != "chat.example.internal" {
			t.Errorf("Host: server got %q", r.Host)
		}
		if got := websocket.Subprotocols(r); strings.Join(got, ",") != "chat.v2,chat.v1" {
			t.Errorf("subprotocols offered: server got %q", got)
		}
		if got := c.Subprotocol(); got != "chat.v2" {
			t.Errorf("Subprotocol() = %q, want chat.v2", got)
		}
		for k, v := range before {
			if strings.Join(opts.Header[k], "\x00") != strings.Join(v, "\x00") {
				t.Errorf("Dial changed the caller's header %s", k)
			}
		}
		roundTrip(t, c, Binary, payload(100), nil)
	})
}

// TestSubprotocolRefused: a server that chooses none of the offered
// subprotocols, or another, fails the dial with a *SubprotocolError saying
// which, classed dial_subprotocol.
func TestSubprotocolRefused(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d Driver) {
		rs := newRequestServer(t)
		opts := testOpts
		opts.Subprotocols = []string{"chat.v2"}
		for _, answer := range []string{"none", "chat.v9"} {
			c, err := d.Dial(t.Context(), rs.url+"?answer="+answer, opts)
			if err == nil {
				c.Abort()
				t.Errorf("answer %s: dial succeeded, want a subprotocol error", answer)
				continue
			}
			var se *SubprotocolError
			if !errors.As(err, &se) {
				t.Errorf("answer %s: %v, want a *SubprotocolError", answer, err)
				continue
			}
			want := answer
			if answer == "none" {
				want = ""
			}
			if se.Other != (answer != "none") {
				t.Errorf("answer %s: Other = %t", answer, se.Other)
			}
			// gobwas does not say which subprotocol it refused.
			if se.Got != want && !(d.Name() == "gobwas" && se.Got == "") {
				t.Errorf("answer %s: error says the server chose %q", answer, se.Got)
			}
			if cls := DialErrorClass(err); cls != "dial_subprotocol" {
				t.Errorf("answer %s: class %s", answer, cls)
			}
		}
		// Nothing offered: whatever the server says, no subprotocol is
		// required.
		c := dialT(t, d, rs.url+"?answer=none", testOpts)
		if got := c.Subprotocol(); got != "" {
			t.Errorf("nothing offered: Subprotocol() = %q", got)
		}
	})
}

// TestCheckRequest: what no driver can send is refused before dialing,
// naming the driver and the header but never the header's value.
func TestCheckRequest(t *testing.T) {
	d, err := Lookup("gorilla")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-value"
	cases := []struct {
		name   string
		header http.Header
		protos []string
		want   string
	}{
		{"ok", http.Header{"Authorization": {secret}, "Host": {"h"}}, []string{"chat.v2"}, ""},
		{"handshake header", http.Header{"Sec-Websocket-Key": {secret}}, nil, "Sec-Websocket-Key is written by the WebSocket handshake"},
		{"protocol header", http.Header{"Sec-Websocket-Protocol": {secret}}, nil, "--subprotocol"},
		{"bad name", http.Header{"Bad Name": {secret}}, nil, "not an HTTP token"},
		{"line break", http.Header{"X-Token": {secret + "\r\nX-Evil: 1"}}, nil, "header X-Token: its value holds a line break"},
		{"two hosts", http.Header{"Host": {"a", "b"}}, nil, "Host given 2 times"},
		{"bad subprotocol", nil, []string{"chat v2"}, `subprotocol "chat v2" is not an HTTP token`},
		{"twice", nil, []string{"a", "a"}, "offered twice"},
	}
	for _, tc := range cases {
		err := CheckRequest(d, tc.header, tc.protos)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: accepted", tc.name)
		case err != nil && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want it to say %q", tc.name, err, tc.want)
		case err != nil && !strings.HasPrefix(err.Error(), "driver gorilla: "):
			t.Errorf("%s: %v, want it to name the driver", tc.name, err)
		case err != nil && strings.Contains(err.Error(), secret):
			t.Errorf("%s: the error shows the header value: %v", tc.name, err)
		}
	}
}
