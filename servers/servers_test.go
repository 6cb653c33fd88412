package servers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testSettings differ from the defaults, so a server that ignores Settings
// (and keeps its library's defaults) fails the limit tests.
func testSettings() Settings {
	s := DefaultSettings()
	s.ReadLimit = 400_000
	s.ReadBufferSize = 1024
	s.WriteBufferSize = 2048
	return s
}

// testServer is a reference server run in-process by Serve.
type testServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{} // closed when Serve has returned
	err    error         // Serve's result, once done is closed
}

// stop cancels Serve and requires it to return cleanly within limit; it
// reports how long the shutdown took.
func (ts *testServer) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ts.cancel()
	select {
	case <-ts.done:
		if ts.err != nil {
			t.Errorf("Serve: %v", ts.err)
		}
	case <-time.After(limit):
		t.Fatalf("Serve did not return within %s of cancel", limit)
	}
	return time.Since(start)
}

func startServe(t *testing.T, name string, s Settings) *testServer {
	t.Helper()
	srv, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	ts := &testServer{cancel: cancel, done: make(chan struct{})}
	go func() {
		ts.err = Serve(ctx, srv, "127.0.0.1:0", s, pw)
		pw.Close()
		close(ts.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ts.done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: Serve did not return after cancel", name)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: reading ready line: %v", name, err)
	}
	go io.Copy(io.Discard, pr)
	addr, pid, err := ParseReady(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := "server=" + name + " "; !strings.Contains(line, want) {
		t.Errorf("ready line %q lacks %q", line, want)
	}
	if pid != os.Getpid() {
		t.Errorf("ready pid = %d, want %d", pid, os.Getpid())
	}
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Errorf("ready addr = %s, want 127.0.0.1", addr)
	}
	ts.addr = addr
	return ts
}

// dial opens a WebSocket to /echo that the test closes when it ends.
func dial(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	return dialPath(t, addr, "/echo")
}

// dialPath opens a WebSocket to path that the test closes when it ends.
func dialPath(t *testing.T, addr, path string) *websocket.Conn {
	t.Helper()
	return dialWith(t, &websocket.Dialer{HandshakeTimeout: 2 * time.Second}, addr, path)
}

func dialWith(t *testing.T, d *websocket.Dialer, addr, path string) *websocket.Conn {
	t.Helper()
	c, _, err := d.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial %s%s: %v", addr, path, err)
	}
	t.Cleanup(func() { c.Close() })
	// No test here waits on the network for long; a hang becomes an error.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c
}

func echoOnce(t *testing.T, c *websocket.Conn, typ int, msg []byte) {
	t.Helper()
	if err := c.WriteMessage(typ, msg); err != nil {
		t.Fatalf("write %d bytes: %v", len(msg), err)
	}
	gotTyp, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(msg), err)
	}
	if gotTyp != typ {
		t.Errorf("echo of %d bytes: type %d, want %d", len(msg), gotTyp, typ)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("echo of %d bytes: got %d bytes, not the same", len(msg), len(got))
	}
}

// waitConns polls /stats until the server counts want connections.
func waitConns(t *testing.T, addr string, want int) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := FetchStats(ctx, addr, false)
		if err != nil {
			t.Fatal(err)
		}
		if st.Conns == want {
			return st
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("stats: conns = %d, want %d", st.Conns, want)
		}
	}
}

func TestServers(t *testing.T) {
	if len(Names()) == 0 {
		t.Fatal("no servers registered")
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			ts := startServe(t, name, s)
			rng := rand.New(rand.NewPCG(1, 2))

			t.Run("echo", func(t *testing.T) {
				c := dial(t, ts.addr)
				for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 300_000, int(s.ReadLimit)} {
					msg := make([]byte, n)
					for i := range msg {
						msg[i] = byte(rng.Uint32())
					}
					echoOnce(t, c, websocket.BinaryMessage, msg)
				}
				echoOnce(t, c, websocket.TextMessage, []byte("héllo, wörld ✓"))
				echoOnce(t, c, websocket.TextMessage, []byte{})
			})

			t.Run("ping", func(t *testing.T) {
				c := dial(t, ts.addr)
				pongs := make(chan string, 1)
				c.SetPongHandler(func(p string) error { pongs <- p; return nil })
				if err := c.WriteControl(websocket.PingMessage, []byte("alone"), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				// The pong is read (and handled) on the way to the echo.
				echoOnce(t, c, websocket.BinaryMessage, []byte("after ping"))
				select {
				case p := <-pongs:
					if p != "alone" {
						t.Errorf("pong payload %q, want %q", p, "alone")
					}
				default:
					t.Error("no pong before the echo")
				}
			})

			t.Run("ping between fragments", func(t *testing.T) {
				c := dial(t, ts.addr)
				pongs := make(chan string, 1)
				c.SetPongHandler(func(p string) error { pongs <- p; return nil })
				msg := bytes.Repeat([]byte("0123456789"), 3000)
				w, err := c.NextWriter(websocket.BinaryMessage)
				if err != nil {
					t.Fatal(err)
				}
				// The client's 4 KiB buffer sends the first half as
				// fragments; the ping goes out between them.
				w.Write(msg[:15000])
				if err := c.WriteControl(websocket.PingMessage, []byte("mid"), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				w.Write(msg[15000:])
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				_, got, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) {
					t.Errorf("fragmented echo: got %d bytes, not the same", len(got))
				}
				// The server answers the ping before it has the whole
				// message, so the pong precedes the echo.
				select {
				case p := <-pongs:
					if p != "mid" {
						t.Errorf("pong payload %q, want %q", p, "mid")
					}
				default:
					t.Error("no pong before the echo")
				}
			})

			t.Run("close answered", func(t *testing.T) {
				c := dial(t, ts.addr)
				echoOnce(t, c, websocket.BinaryMessage, []byte("x"))
				msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
				if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
					t.Errorf("after close: %v, want close 1000 answered", err)
				}
			})

			t.Run("over read limit", func(t *testing.T) {
				c := dial(t, ts.addr)
				echoOnce(t, c, websocket.BinaryMessage, []byte("warm"))
				// The server may close mid-message; the write's error
				// does not matter, only that the connection ends.
				go c.WriteMessage(websocket.BinaryMessage, make([]byte, s.ReadLimit+1))
				_, _, err := c.ReadMessage()
				var ce *websocket.CloseError
				var ne net.Error
				switch {
				case err == nil:
					t.Fatal("a message over the read limit was echoed")
				case errors.As(err, &ce):
					if ce.Code != websocket.CloseMessageTooBig {
						t.Errorf("close code %d, want 1009", ce.Code)
					}
				case errors.As(err, &ne) && ne.Timeout():
					t.Fatalf("connection still open: %v", err)
				default:
					t.Logf("connection ended without a close frame: %v", err)
				}
			})

			t.Run("broadcast mounted", func(t *testing.T) {
				// A plain GET is refused as not a WebSocket upgrade
				// (400 or 426 by library), no longer answered 501.
				resp, err := statsClient.Get("http://" + ts.addr + "/broadcast")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Errorf("/broadcast without upgrade: %s, want a 4xx refusal", resp.Status)
				}
				// A lone subscriber gets its own publishes, like an echo.
				c := dialPath(t, ts.addr, "/broadcast")
				echoOnce(t, c, websocket.BinaryMessage, []byte("to myself"))
				echoOnce(t, c, websocket.TextMessage, []byte("héllo"))
			})

			t.Run("stats", func(t *testing.T) {
				resp, err := statsClient.Get("http://" + ts.addr + "/stats")
				if err != nil {
					t.Fatal(err)
				}
				var raw map[string]json.RawMessage
				err = json.NewDecoder(resp.Body).Decode(&raw)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				keys := slices.Sorted(maps.Keys(raw))
				want := []string{"broadcast_disconnected", "broadcast_dropped", "broadcast_enqueued",
					"broadcast_published", "compressed_conns", "conns", "cpu_s", "gc_pause_total_ns", "goroutines", "heap_alloc_bytes",
					"heap_inuse_bytes", "heap_sys_bytes", "idle_closed", "num_gc", "pid", "rss_bytes", "runtime", "server", "time"}
				if !slices.Equal(keys, want) {
					t.Errorf("stats keys %v, want %v", keys, want)
				}

				conns := []*websocket.Conn{dial(t, ts.addr), dial(t, ts.addr), dial(t, ts.addr)}
				st := waitConns(t, ts.addr, 3)
				if st.CPUSeconds <= 0 || st.RSSBytes == 0 || time.Since(st.Time).Abs() > time.Minute {
					t.Errorf("stats cpu %gs, rss %d, time %s: want the process's own", st.CPUSeconds, st.RSSBytes, st.Time)
				}
				if st.Server != name || st.PID != os.Getpid() {
					t.Errorf("stats server=%q pid=%d, want %q %d", st.Server, st.PID, name, os.Getpid())
				}
				if st.Runtime.GOGC != DefaultSettings().GOGC || st.Runtime.GOMAXPROCS < 1 {
					t.Errorf("stats runtime %+v, want GOGC %d as the settings say", st.Runtime, DefaultSettings().GOGC)
				}
				if st.Goroutines < 3 || st.HeapAllocBytes == 0 || st.HeapInuseBytes == 0 || st.HeapSysBytes < st.HeapInuseBytes {
					t.Errorf("implausible stats %+v", st)
				}
				gc, err := FetchStats(context.Background(), ts.addr, true)
				if err != nil {
					t.Fatal(err)
				}
				if gc.NumGC <= st.NumGC {
					t.Errorf("?gc=1: num_gc %d, was %d: no GC forced", gc.NumGC, st.NumGC)
				}
				conns[0].Close()
				conns[1].Close()
				waitConns(t, ts.addr, 1)
			})

			t.Run("going away", func(t *testing.T) {
				c := dial(t, ts.addr)
				echoOnce(t, c, websocket.BinaryMessage, []byte("before shutdown"))
				waitConns(t, ts.addr, 1)
				start := time.Now()
				ts.cancel()
				_, _, err := c.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
					t.Errorf("on shutdown: %v, want close 1001", err)
				}
				select {
				case <-ts.done:
					if ts.err != nil {
						t.Errorf("Serve: %v", ts.err)
					}
				case <-time.After(3*time.Second - time.Since(start)):
					t.Fatal("Serve did not return within 3s of cancel")
				}
				if c, _, err := (&websocket.Dialer{HandshakeTimeout: time.Second}).Dial("ws://"+ts.addr+"/echo", nil); err == nil {
					c.Close()
					t.Error("still accepting after shutdown")
				}
			})
		})
	}
}

// TestShutdownWithStuckClient: a client that sends but never reads leaves the
// server blocked writing its echo; shutdown must still end within 3 s.
func TestShutdownWithStuckClient(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServe(t, name, testSettings())
			c := dial(t, ts.addr)
			// Write until a write times out: then the server has stopped
			// reading, because its own echo write is blocked on us.
			msg := make([]byte, 64<<10)
			for {
				c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					break
				}
			}
			t.Logf("shutdown took %s", ts.stop(t, 3*time.Second).Round(time.Millisecond))
		})
	}
}

// TestServerMetadata checks what the runner reports about each server: its
// module is required in go.mod (so its version can be reported), and each
// exception names a real setting. (Test binaries carry no dependency list in
// their build info, hence go.mod.)
func TestServerMetadata(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	deps := map[string]bool{}
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && strings.HasPrefix(f[1], "v") {
			deps[f[0]] = true
		}
	}
	settings := map[string]bool{}
	st := reflect.TypeFor[Settings]()
	for i := range st.NumField() {
		settings[st.Field(i).Tag.Get("json")] = true
	}
	for _, name := range Names() {
		srv, _ := Lookup(name)
		if srv.Name() != name {
			t.Errorf("%s: Name() = %q", name, srv.Name())
		}
		if !deps[srv.Module()] {
			t.Errorf("%s: module %q is not a dependency", name, srv.Module())
		}
		for _, e := range srv.Exceptions() {
			key, reason, ok := strings.Cut(e, ": ")
			if !ok || !settings[key] || reason == "" {
				t.Errorf("%s: exception %q is not \"setting: reason\"", name, e)
			}
		}
	}
}

func TestServeErrors(t *testing.T) {
	srv, err := Lookup(Names()[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Serve(ctx, srv, "127.0.0.1:notaport", DefaultSettings(), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "listen") {
		t.Errorf("bad listen address: %v, want a listen error", err)
	}
	if err := Serve(ctx, srv, "127.0.0.1:0", DefaultSettings(), failWriter{}); err == nil ||
		!strings.Contains(err.Error(), "ready line") {
		t.Errorf("failing ready writer: %v, want a ready line error", err)
	}
	if err := Serve(ctx, nil, "127.0.0.1:0", DefaultSettings(), io.Discard); err == nil {
		t.Error("nil server: no error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestLiveLateAddGoesAway(t *testing.T) {
	var l Live
	early := make(chan struct{})
	remove := l.Add(func() { close(early) })
	l.GoingAway()
	select {
	case <-early:
	default:
		t.Fatal("GoingAway returned before telling an open connection")
	}
	remove()
	late := make(chan struct{})
	defer l.Add(func() { close(late) })()
	select {
	case <-late:
	case <-time.After(2 * time.Second):
		t.Fatal("a connection added after GoingAway was not told to go away")
	}
	if n := l.Count(); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
}

func TestParseReady(t *testing.T) {
	good := []struct {
		line string
		addr string
		pid  int
	}{
		{"wsbench serve: ready server=gorilla addr=127.0.0.1:41234 pid=4242\n", "127.0.0.1:41234", 4242},
		{"wsbench serve: ready server=coder addr=127.0.0.1:1 pid=1", "127.0.0.1:1", 1},
		{"wsbench serve: ready server=gobwas addr=[::1]:8080 pid=7\r\n", "[::1]:8080", 7},
		{"wsbench serve: ready server=x addr=localhost:9 pid=3 version=v1.2.3", "localhost:9", 3},
	}
	for _, g := range good {
		addr, pid, err := ParseReady(g.line)
		if err != nil || addr != g.addr || pid != g.pid {
			t.Errorf("ParseReady(%q) = %q, %d, %v; want %q, %d", g.line, addr, pid, err, g.addr, g.pid)
		}
	}
	bad := []string{
		"",
		"listening on 127.0.0.1:80",
		"wsbench serve: ready",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:80",
		"wsbench serve: ready server=gorilla pid=12",
		"wsbench serve: ready addr=127.0.0.1:80 pid=12",
		"wsbench serve: ready server=gorilla addr=127.0.0.1 pid=12",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:0 pid=12",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:http pid=12",
		"wsbench serve: ready server=gorilla addr=:80 pid=12",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:80 pid=abc",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:80 pid=0",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:80 pid=-5",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:80 pid=1 pid=2",
		"wsbench serve: ready server=gorilla addr=127.0.0.1:80 pid",
		"  wsbench serve: ready server=gorilla addr=127.0.0.1:80 pid=1",
	}
	for _, line := range bad {
		if addr, pid, err := ParseReady(line); err == nil {
			t.Errorf("ParseReady(%q) = %q, %d, nil; want an error", line, addr, pid)
		}
	}
}

// BenchmarkEcho round-trips 1 KiB messages through each server in-process.
// Allocations counted include the gorilla client's (one message reader per
// message); the difference between servers is theirs.
func BenchmarkEcho(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			srv, _ := Lookup(name)
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				if err := Serve(ctx, srv, "127.0.0.1:0", DefaultSettings(), pw); err != nil {
					b.Error(err)
				}
				pw.Close()
			}()
			defer func() { cancel(); <-done }()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			go io.Copy(io.Discard, pr)
			addr, _, err := ParseReady(line)
			if err != nil {
				b.Fatal(err)
			}
			c, _, err := (&websocket.Dialer{HandshakeTimeout: time.Second}).Dial("ws://"+addr+"/echo", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := make([]byte, 1024)
			got := make([]byte, len(msg))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					b.Fatal(err)
				}
				_, r, err := c.NextReader()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sideless is a server that serves nothing; twoSided one that claims both
// ways of serving.
type sideless struct{}

func (sideless) Name() string         { return "sideless" }
func (sideless) Module() string       { return "example.com/none" }
func (sideless) Exceptions() []string { return nil }

type twoSided struct{ sideless }

func (twoSided) Handlers(Settings, *Live) Handlers { return Handlers{} }
func (twoSided) Run(context.Context, net.Listener, Settings, *Live, http.Handler) error {
	return nil
}

// TestEveryServerServesOneWay: each registered server is a Mounter or an
// Engine, never both, never neither; Register refuses the others by name.
func TestEveryServerServesOneWay(t *testing.T) {
	for _, name := range Names() {
		srv, _ := Lookup(name)
		if err := checkSides(srv); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range []Server{sideless{}, twoSided{}} {
		err := checkSides(bad)
		if err == nil || !strings.Contains(err.Error(), `"sideless"`) {
			t.Errorf("%T: %v", bad, err)
		}
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Register(%T) did not refuse it", bad)
				}
			}()
			Register(bad)
		}()
	}
}
