package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/report"
)

// The secrets of the guarded service: one read from the environment, one
// given on the command line, one in a header file.
const (
	testToken  = "tok-4f1c9e7a2b"
	testAPIKey = "key-93b0d5e1c8"
	testCookie = "sess-7d2a6f0b31"
)

// newGuardedService is an echo service on 127.0.0.1 that wants what a real
// one does: a bearer token (401 without), an API key and a session cookie
// (403 without), and the subprotocol chat.v2 (400 without). It counts the
// upgrades it accepted.
func newGuardedService(t *testing.T) (url string, upgrades *atomic.Int64) {
	t.Helper()
	upgrades = &atomic.Int64{}
	up := websocket.Upgrader{
		Subprotocols: []string{"chat.v2"},
		CheckOrigin:  func(r *http.Request) bool { return r.Header.Get("Origin") == "https://app.example.internal" },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if c, err := r.Cookie("session"); err != nil || c.Value != testCookie || r.Header.Get("X-Api-Key") != testAPIKey {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if !slices.Contains(websocket.Subprotocols(r), "chat.v2") {
			http.Error(w, "subprotocol chat.v2 required", http.StatusBadRequest)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		upgrades.Add(1)
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
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat", upgrades
}

// TestSecretsNeverReachAFile runs wsbench against a service that wants a
// bearer token and a subprotocol: refused without them (the error names the
// 401), measured with them, and none of the secrets appears in stdout,
// stderr, the result file or the HTML report.
func TestSecretsNeverReachAFile(t *testing.T) {
	url, upgrades := newGuardedService(t)
	dir := t.TempDir()
	t.Setenv("WSBENCH_TEST_TOKEN", testToken)
	headerFile := filepath.Join(dir, "headers.txt")
	if err := os.WriteFile(headerFile, []byte("# the session of a test user\n\nCookie: session="+testCookie+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--target", url, "--conns", "3", "--warmup", "0s", "--duration", "1s"}

	// Refused without credentials: one clear line naming the 401.
	code, out, errOut := wsbench(t, append(base, "--out", filepath.Join(dir, "refused.json"))...)
	if code != exitUsage || !strings.Contains(errOut, "HTTP 401 Unauthorized") || !strings.Contains(errOut, "--header") {
		t.Fatalf("without a token: exit %d, want %d naming HTTP 401 and --header\nstdout:\n%s\nstderr:\n%s", code, exitUsage, out, errOut)
	}
	t.Logf("without credentials: exit %d: %s", code, strings.TrimSpace(errOut))
	// With the credentials but not the subprotocol: the service's 400.
	creds := []string{"--header", "Authorization: Bearer $WSBENCH_TEST_TOKEN", "--header", "X-Api-Key: " + testAPIKey,
		"--header-file", headerFile, "--origin", "https://app.example.internal"}
	code, _, errOut = wsbench(t, slices.Concat(base, creds, []string{"--out", filepath.Join(dir, "noproto.json")})...)
	if code != exitUsage || !strings.Contains(errOut, "HTTP 400") {
		t.Fatalf("without the subprotocol: exit %d, want %d naming HTTP 400\nstderr:\n%s", code, exitUsage, errOut)
	}
	if upgrades.Load() != 0 {
		t.Fatalf("%d upgrades accepted before the credentials were complete", upgrades.Load())
	}

	file, html := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	// The token also rides in the target's query, as some services want it.
	withQuery := slices.Clone(base)
	withQuery[2] = url + "?access_token=" + testToken
	code, out, errOut = wsbench(t, slices.Concat(withQuery, creds, []string{"--subprotocol", "chat.v2", "--out", file, "--html", html})...)
	if code != exitOK {
		t.Fatalf("with credentials: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	res, err := report.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 {
		t.Fatalf("%d records, want 1", len(res.Records))
	}
	r := res.Records[0]
	if r.Status != report.StatusOK || r.Messages == 0 || r.ErrorCount() > 0 {
		t.Errorf("status %s, %d messages, errors %v", r.Status, r.Messages, r.Errors)
	}
	wantReq := report.Request{Headers: []string{"Authorization", "Cookie", "Origin", "X-Api-Key"}, Subprotocols: []string{"chat.v2"}, Subprotocol: "chat.v2"}
	if r.Request == nil || !slices.Equal(r.Request.Headers, wantReq.Headers) || !slices.Equal(r.Request.Subprotocols, wantReq.Subprotocols) ||
		r.Request.Subprotocol != wantReq.Subprotocol {
		t.Errorf("request recorded as %+v, want %+v", r.Request, wantReq)
	}
	if !strings.HasSuffix(r.Target, "?access_token=[redacted]") {
		t.Errorf("target recorded as %q, want its query value redacted", r.Target)
	}
	if cmd := strings.Join(res.Command, " "); !strings.Contains(cmd, "X-Api-Key: [redacted]") || !strings.Contains(cmd, "Authorization: [redacted]") {
		t.Errorf("command recorded as %q: want header names with values redacted", cmd)
	}
	if n := upgrades.Load(); n < 3 {
		t.Errorf("the service accepted %d upgrades, want at least the 3 connections", n)
	}

	// grep every output for every secret.
	fileData, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	htmlData, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"stdout": out, "stderr": errOut, "result file": string(fileData), "HTML report": string(htmlData)}
	t.Logf("with credentials: exit %d; record: request %+v, %d messages; command %q", code, *r.Request, r.Messages, res.Command)
	for name, text := range outputs {
		if text == "" {
			t.Errorf("%s is empty: nothing was checked", name)
		}
		for _, secret := range []string{testToken, testAPIKey, testCookie} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds the secret %s", name, secret)
			}
		}
		t.Logf("grep %s (%d bytes) for the 3 secrets: %d hits", name, len(text),
			strings.Count(text, testToken)+strings.Count(text, testAPIKey)+strings.Count(text, testCookie))
	}
}

// TestConnFlagErrors: every refusal names the flag, file:line, header name
// or variable at fault, and none quotes a header's value.
func TestConnFlagErrors(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cr3t-b7e2"
	badFile := filepath.Join(dir, "h.txt")
	if err := os.WriteFile(badFile, []byte("# ok\nX-One: 1\n\n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("WSBENCH_TEST_UNSET")
	target := []string{"--target", "ws://127.0.0.1:1/echo"}
	cases := []struct {
		args []string
		want string
	}{
		{slices.Concat(target, []string{"--header", "Authorization: Bearer $WSBENCH_TEST_UNSET"}), "header Authorization: $WSBENCH_TEST_UNSET is not set"},
		{slices.Concat(target, []string{"--header", "X-Ok: 1", "--header", secret}), "--header #2: want 'Name: value'"},
		{slices.Concat(target, []string{"--header-file", badFile}), badFile + ":4: want 'Name: value'"},
		{slices.Concat(target, []string{"--header-file", filepath.Join(dir, "missing.txt")}), "--header-file: open"},
		{slices.Concat(target, []string{"--header", "Sec-WebSocket-Key: " + secret}), "driver gobwas: header Sec-Websocket-Key is written by the WebSocket handshake"},
		{slices.Concat(target, []string{"--driver", "coder", "--header", "Sec-WebSocket-Protocol: " + secret}), "driver coder: header Sec-Websocket-Protocol"},
		{slices.Concat(target, []string{"--subprotocol", "chat v2"}), `driver gobwas: subprotocol "chat v2" is not an HTTP token`},
		{slices.Concat(target, []string{"--origin", "app.example"}), "--origin \"app.example\": want an origin"},
		{slices.Concat(target, []string{"--origin", "https://a.example", "--header", "Origin: https://b.example"}), "give it once"},
		{[]string{"--subprotocol", "chat.v2"}, "--subprotocol applies to a --target"},
	}
	for _, tc := range cases {
		code, _, errOut := wsbench(t, append([]string{"run"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errOut, exitUsage, tc.want)
		}
		if strings.Contains(errOut, secret) {
			t.Errorf("%q: the error quotes a header value: %q", tc.args, errOut)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	in := []string{"--target", "ws://h/x", "--header", "Authorization: Bearer abc", "-header=Cookie: a=b", "--header", "novalue",
		"--origin", "https://o.example", "--header-file", "h.txt"}
	want := []string{"--target", "ws://h/x", "--header", "Authorization: [redacted]", "-header=Cookie: [redacted]", "--header", "[redacted]",
		"--origin", "https://o.example", "--header-file", "h.txt"}
	got := redactArgs(in)
	if !slices.Equal(got, want) {
		t.Errorf("redactArgs:\n got %q\nwant %q", got, want)
	}
	if in[3] != "Authorization: Bearer abc" {
		t.Errorf("redactArgs changed its input: %q", in)
	}
}

// TestPreflightSubprotocolRefusal: a target that upgrades but chooses none
// of the subprotocols offered is refused before the first cell, saying so.
func TestPreflightSubprotocolRefusal(t *testing.T) {
	up := websocket.Upgrader{} // chooses no subprotocol
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r, nil); err == nil {
			c.Close()
		}
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	code, _, errOut := wsbench(t, "run", "--target", url, "--subprotocol", "chat.v2", "--conns", "1", "--warmup", "0s", "--duration", "1s",
		"--out", filepath.Join(t.TempDir(), "r.json"))
	if code != exitUsage || !strings.Contains(errOut, "upgraded, but server chose no subprotocol (offered chat.v2)") {
		t.Errorf("exit %d, stderr %q: want exit %d naming the subprotocol refusal", code, errOut, exitUsage)
	}
}
