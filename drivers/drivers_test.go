package drivers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The echo server is gorilla on the server side. Query parameters select
// behaviours the tests need:
//
//	status=N  answer the upgrade with HTTP N instead of 101
//	frag=1    echo in ~1 KiB fragments with a ping between two of them
//	ping=1    send a ping before every echo; the text message "pongs?" is
//	          answered with the number of pongs received so far
//	noclose=1 never answer a close frame; hold the TCP conn until the
//	          client drops it
//	away=1    answer a close frame with 1001 (going away) instead of an echo
//	noping=1  never answer a ping
//	latepong=1 leave the first ping unanswered, answer the second with the
//	          first one's pong only (a late pong), answer the others
//
// The text message "close-me" makes the server start the close handshake
// with 1000 "bye"; "close-me:N" with status N and reason "bye", and
// "close-me:none" with an empty close frame (status 1005 for the client).
var testUpgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 1024, // small, so that frag=1 produces many frames
	CheckOrigin:     func(*http.Request) bool { return true },
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := q.Get("status"); s != "" {
		code, _ := strconv.Atoi(s)
		http.Error(w, "refused by test", code)
		return
	}
	c, err := testUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	var pongs atomic.Int64
	c.SetPongHandler(func(string) error { pongs.Add(1); return nil })
	if q.Has("noclose") {
		c.SetCloseHandler(func(int, string) error { return nil })
	}
	if q.Has("away") {
		c.SetCloseHandler(func(int, string) error {
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
			return c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(2*time.Second))
		})
	}
	deadline := func() time.Time { return time.Now().Add(2 * time.Second) }
	if q.Has("noping") {
		c.SetPingHandler(func(string) error { return nil })
	}
	if q.Has("latepong") {
		// Ping handlers run in this handler's read loop: no locking.
		var pings int
		var first string
		c.SetPingHandler(func(data string) error {
			pings++
			switch pings {
			case 1:
				first = data
				return nil
			case 2:
				data = first
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), deadline())
		})
	}
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			if q.Has("noclose") {
				io.Copy(io.Discard, c.NetConn()) // until the client drops the conn
			}
			return
		}
		if typ == websocket.TextMessage {
			switch msg := string(p); {
			case msg == "close-me" || strings.HasPrefix(msg, "close-me:"):
				frame := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
				switch arg := strings.TrimPrefix(msg, "close-me:"); {
				case arg == "none":
					frame = nil
				case arg != msg:
					code, _ := strconv.Atoi(arg)
					frame = websocket.FormatCloseMessage(code, "bye")
				}
				c.WriteControl(websocket.CloseMessage, frame, deadline())
				// Read until the client's answer (or anything else) ends
				// the connection.
				c.SetReadDeadline(deadline())
				for {
					if _, _, err := c.NextReader(); err != nil {
						return
					}
				}
			case msg == "pongs?":
				p = strconv.AppendInt(nil, pongs.Load(), 10)
			}
		}
		if q.Has("ping") {
			if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), deadline()); err != nil {
				return
			}
		}
		if q.Has("frag") {
			err = writeFragmented(c, typ, p, deadline())
		} else {
			err = c.WriteMessage(typ, p)
		}
		if err != nil {
			return
		}
	}
}

// writeFragmented writes p in 1000-byte pieces; gorilla flushes a frame each
// time its 1 KiB buffer fills. A ping goes out after the second piece, which
// puts it between two frames of any message longer than about 1 KiB.
func writeFragmented(c *websocket.Conn, typ int, p []byte, deadline time.Time) error {
	w, err := c.NextWriter(typ)
	if err != nil {
		return err
	}
	for i := 0; i < len(p); i += 1000 {
		if _, err := w.Write(p[i:min(i+1000, len(p))]); err != nil {
			return err
		}
		if i == 1000 {
			if err := c.WriteControl(websocket.PingMessage, []byte("mid-message"), deadline); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

func newEchoServer(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool

var testOpts = DialOptions{
	HandshakeTimeout: 2 * time.Second,
	ReadLimit:        1 << 20,
	ReadBufferSize:   4096,
	WriteBufferSize:  4096,
}

func dialT(t testing.TB, d Driver, url string, opts DialOptions) Conn {
	t.Helper()
	// The dial context is cancelled as soon as Dial returns: it must bound
	// the handshake only, not the connection.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Abort() })
	return c
}

// forEachDriver runs f as a parallel subtest for every registered driver.
func forEachDriver(t *testing.T, f func(t *testing.T, d Driver)) {
	if len(Names()) == 0 {
		t.Fatal("no drivers registered")
	}
	for _, name := range Names() {
		d, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// payload returns n bytes of varied content, different for every n.
func payload(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// roundTrip sends p and checks that the echo comes back byte for byte with
// the same type. It returns the buffer to read the next echo into.
func roundTrip(t *testing.T, c Conn, typ MessageType, p, buf []byte) []byte {
	t.Helper()
	if err := c.WriteMessage(typ, p); err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	gotTyp, got, err := c.ReadMessage(buf)
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(p), err)
	}
	if gotTyp != typ {
		t.Errorf("echo of %d bytes: type %v, want %v", len(p), gotTyp, typ)
	}
	if !bytes.Equal(got, p) {
		t.Errorf("echo of %d bytes: got %d bytes, content differs", len(p), len(got))
	}
	return got
}

var echoSizes = []int{0, 1, 125, 126, 65535, 65536, 200000}

func TestEcho(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		var buf []byte
		for _, n := range echoSizes {
			buf = roundTrip(t, c, Binary, payload(n), buf)
		}
		buf = roundTrip(t, c, Text, []byte("héllo, wörld"), buf)
		roundTrip(t, c, Text, bytes.Repeat([]byte("text "), 20000), buf)
	})
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(echoHandler))
	t.Cleanup(srv.Close)
	url := "wss" + strings.TrimPrefix(srv.URL, "https")
	opts := testOpts
	// The test server's certificate is trusted by its own client's config.
	opts.TLSConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, opts)
		buf := roundTrip(t, c, Binary, payload(70000), nil)
		roundTrip(t, c, Text, []byte("over tls"), buf)
		if clean, err := c.Close(2 * time.Second); !clean || err != nil {
			t.Errorf("Close = %v, %v; want true, nil", clean, err)
		}
	})
}

func TestEchoFragmented(t *testing.T) {
	url := newEchoServer(t) + "/?frag=1"
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		var buf []byte
		for _, n := range []int{1, 1500, 5000, 200000} {
			buf = roundTrip(t, c, Binary, payload(n), buf)
		}
		roundTrip(t, c, Text, bytes.Repeat([]byte("fragmented text "), 500), buf)
	})
}

// TestPingAnswered checks that ReadMessage answers the server's pings, also
// while WriteMessage runs in another goroutine (run with -race: the pongs
// and the data frames share one connection).
func TestPingAnswered(t *testing.T) {
	url := newEchoServer(t) + "/?ping=1"
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		// 32 KiB messages, several writes each for a 4 KiB write buffer,
		// and more of them than the socket buffers hold, so that the writer
		// is still busy when ReadMessage answers pings.
		const n = 200
		msg := payload(32 << 10)
		werr := make(chan error, 1)
		go func() {
			for range n {
				if err := c.WriteMessage(Binary, msg); err != nil {
					werr <- err
					return
				}
			}
			werr <- nil
		}()
		buf := make([]byte, len(msg))
		for i := range n {
			_, got, err := c.ReadMessage(buf)
			if err != nil {
				t.Fatalf("read echo %d: %v", i, err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("echo %d differs", i)
			}
		}
		if err := <-werr; err != nil {
			t.Fatalf("write: %v", err)
		}
		// Every pong was written before this message, so the server has
		// counted them all when it reads it.
		if err := c.WriteMessage(Text, []byte("pongs?")); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != strconv.Itoa(n) {
			t.Errorf("server received %s pongs, want %d", got, n)
		}
	})
}

func TestReadReusesBuf(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		buf := make([]byte, 4096)
		for _, n := range []int{1, 1000, 4096} { // 4096: an exact fit must not grow
			got := roundTrip(t, c, Binary, payload(n), buf)
			if &got[0] != &buf[0] {
				t.Errorf("%d-byte message in a %d-byte buf: buf not reused", n, len(buf))
			}
		}
		// A zero-length buf with capacity is used through its capacity.
		got := roundTrip(t, c, Binary, payload(100), buf[:0])
		if &got[0] != &buf[0] {
			t.Errorf("buf[:0] with capacity %d not reused", cap(buf))
		}
		got = roundTrip(t, c, Binary, payload(10000), buf)
		if len(got) != 10000 {
			t.Errorf("grown read: got %d bytes, want 10000", len(got))
		}
	})
}

func TestReadLimit(t *testing.T) {
	opts := testOpts
	opts.ReadLimit = 4096
	for _, tc := range []struct {
		name  string
		query string
	}{
		{
			name:  "single-frame",
			query: "",
		},
		{
			// Every ~1 KiB frame is under the limit, the message is not.
			name:  "fragmented",
			query: "/?frag=1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := newEchoServer(t) + tc.query
			forEachDriver(t, func(t *testing.T, d Driver) {
				c := dialT(t, d, url, opts)
				buf := roundTrip(t, c, Binary, payload(4096), nil) // exactly at the limit
				if err := c.WriteMessage(Binary, payload(4097)); err != nil {
					t.Fatal(err)
				}
				if _, _, err := c.ReadMessage(buf); err == nil {
					t.Fatal("4097-byte message with ReadLimit 4096: no error")
				}
				// The connection is broken now; Close must still end it
				// within its timeout, whatever it reports.
				start := time.Now()
				c.Close(500 * time.Millisecond)
				if el := time.Since(start); el > 2*time.Second {
					t.Errorf("Close(500ms) after a read limit error took %v", el)
				}
			})
		})
	}
}

func TestCloseClean(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		t.Run("idle", func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			roundTrip(t, c, Binary, payload(10), nil)
			clean, err := c.Close(2 * time.Second)
			if !clean || err != nil {
				t.Errorf("Close = %v, %v; want true, nil", clean, err)
			}
		})
		t.Run("echoes-in-flight", func(t *testing.T) {
			// Close must skip the data the server still sends before its
			// close frame.
			c := dialT(t, d, url, testOpts)
			for _, n := range []int{10, 70000, 10} {
				if err := c.WriteMessage(Binary, payload(n)); err != nil {
					t.Fatal(err)
				}
			}
			clean, err := c.Close(2 * time.Second)
			if !clean || err != nil {
				t.Errorf("Close = %v, %v; want true, nil", clean, err)
			}
		})
		t.Run("peer-answers-1001", func(t *testing.T) {
			// A completed handshake with another code is not clean, but
			// not an error either.
			c := dialT(t, d, url+"/?away=1", testOpts)
			clean, err := c.Close(2 * time.Second)
			if clean || err != nil {
				t.Errorf("Close = %v, %v; want false, nil", clean, err)
			}
		})
		t.Run("peer-initiated", func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			if err := c.WriteMessage(Text, []byte("close-me")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ReadMessage(nil); err == nil {
				t.Fatal("ReadMessage after the server's close frame: no error")
			}
			clean, err := c.Close(2 * time.Second)
			if !clean || err != nil {
				t.Errorf("Close after the server closed with 1000 = %v, %v; want true, nil", clean, err)
			}
		})
	})
}

func TestCloseTimeout(t *testing.T) {
	url := newEchoServer(t) + "/?noclose=1"
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		start := time.Now()
		clean, _ := c.Close(200 * time.Millisecond)
		if clean {
			t.Error("Close against a server that never answers: clean = true")
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("Close(200ms) took %v", el)
		}
	})
}

func TestHandshakeStatus(t *testing.T) {
	url := newEchoServer(t) + "/?status=403"
	forEachDriver(t, func(t *testing.T, d Driver) {
		c, err := d.Dial(context.Background(), url, testOpts)
		if err == nil {
			c.Abort()
			t.Fatal("dial against a 403 answer: no error")
		}
		var hse *HandshakeStatusError
		if !errors.As(err, &hse) {
			t.Fatalf("dial error %v (%T) is not a *HandshakeStatusError", err, err)
		}
		if hse.Status != http.StatusForbidden {
			t.Errorf("Status = %d, want 403", hse.Status)
		}
	})
}

func TestAbortUnblocksRead(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		done := make(chan error, 1)
		go func() {
			_, _, err := c.ReadMessage(make([]byte, 1024))
			done <- err
		}()
		if err := c.Abort(); err != nil {
			t.Errorf("Abort: %v", err)
		}
		select {
		case err := <-done:
			if err == nil {
				t.Error("ReadMessage returned no error after Abort")
			}
		case <-time.After(time.Second):
			t.Fatal("ReadMessage still blocked 1s after Abort")
		}
	})
}

// roundTripAllocs is the most allocations a 1 KiB echo round trip may cost
// each driver (WriteMessage plus ReadMessage into a large enough buf).
// gorilla allocates a message writer and a message reader per message inside
// NextWriter and NextReader; its public API has no way around that.
// fasthttp/websocket, a gorilla fork, does the same and also allocates the
// masking key of every frame it sends (crypto/rand, where gorilla uses
// math/rand). gws boxes the payload of every write into an interface that
// escapes and hands each message read to OnMessage as a new *gws.Message.
// nbio 1.6.8: mempool.Malloc heap-allocates its slice header on every call
// (the frame written, the bytes read, the message assembled), writeFrame's
// buffer pointer escapes into a closure, and every message is wrapped in a
// closure for the executor, even an inline one.
var roundTripAllocs = map[string]float64{
	"coder":    0,
	"fasthttp": 3,
	"gobwas":   0,
	"gorilla":  2,
	"gws":      2,
	"nbio":     5,
}

func TestRoundTripAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	srv := httptest.NewServer(http.HandlerFunc(rawEchoHandler))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	msg := payload(1024)
	for _, name := range Names() {
		want, ok := roundTripAllocs[name]
		if !ok {
			continue // a new driver: no budget yet, BenchmarkRoundTrip shows its cost
		}
		d, _ := Lookup(name)
		t.Run(name, func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			buf := make([]byte, 4096)
			var err error
			got := testing.AllocsPerRun(200, func() {
				if err == nil {
					err = c.WriteMessage(Binary, msg)
				}
				if err == nil {
					_, _, err = c.ReadMessage(buf)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got > want {
				t.Errorf("%v allocations per round trip, want at most %v", got, want)
			}
		})
	}
}

// BenchmarkRoundTrip measures one 1 KiB binary echo per op. The server is
// rawEcho, which allocates nothing per message, so B/op and allocs/op are the
// client driver's alone.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(rawEchoHandler))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	msg := payload(1024)
	for _, name := range Names() {
		d, _ := Lookup(name)
		b.Run(name, func(b *testing.B) {
			c := dialT(b, d, url, testOpts)
			buf := make([]byte, 4096)
			// One round trip before measuring, so that the server's
			// per-connection setup is done and not charged to the loop.
			if err := c.WriteMessage(Binary, msg); err != nil {
				b.Fatal(err)
			}
			if _, _, err := c.ReadMessage(buf); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteMessage(Binary, msg); err != nil {
					b.Fatal(err)
				}
				_, got, err := c.ReadMessage(buf)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != len(msg) {
					b.Fatalf("echo of %d bytes has %d", len(msg), len(got))
				}
			}
			b.StopTimer()
			c.Close(time.Second)
		})
	}
}

// rawEchoHandler upgrades with gorilla, then echoes frames by hand on the
// net.Conn: unmask and send back each frame as it came (opcode, FIN), with
// buffers allocated once per connection. A close frame is echoed and ends
// the connection; pings get a pong.
func rawEchoHandler(w http.ResponseWriter, r *http.Request) {
	c, err := testUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	// Upgrade fails if the client sent anything before the 101, so the
	// net.Conn holds the whole frame stream.
	nc := c.NetConn()
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 64<<10)
	// Declared out of the loop: they escape through io.ReadFull, and a
	// per-frame allocation would be charged to the client in B/op.
	var hdr [14]byte
	var mask [4]byte
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0f
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[2:4]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(br, hdr[2:10]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[2:10])
		}
		mask = [4]byte{}
		if hdr[1]&0x80 != 0 {
			if _, err := io.ReadFull(br, mask[:]); err != nil {
				return
			}
		}
		if n > uint64(len(buf)-10) {
			return // the benchmark sends 1 KiB
		}
		// Build the unmasked answer in place: header, then payload.
		out := buf[:0]
		fin := hdr[0] & 0x80
		if op == 0x9 { // ping -> pong
			op = 0xA
		}
		out = append(out, fin|op)
		switch {
		case n < 126:
			out = append(out, byte(n))
		case n <= 0xffff:
			out = append(out, 126)
			out = binary.BigEndian.AppendUint16(out, uint16(n))
		default:
			out = append(out, 127)
			out = binary.BigEndian.AppendUint64(out, n)
		}
		h := len(out)
		out = out[:h+int(n)]
		if _, err := io.ReadFull(br, out[h:]); err != nil {
			return
		}
		for i := range out[h:] {
			out[h+i] ^= mask[i%4]
		}
		if op == 0xA && hdr[0]&0x0f == 0xA {
			continue // an unsolicited pong needs no answer
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
		if op == 0x8 {
			return
		}
	}
}

// TestLocalAddr: every driver dials from the source address it is given.
func TestLocalAddr(t *testing.T) {
	var mu sync.Mutex
	from := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host]++
		mu.Unlock()
		echoHandler(w, r)
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	t.Run("drivers", func(t *testing.T) {
		forEachDriver(t, func(t *testing.T, d Driver) {
			c := dialT(t, d, url, DialOptions{HandshakeTimeout: 5 * time.Second, LocalAddr: net.ParseIP("127.0.0.2")})
			roundTrip(t, c, Binary, payload(64), nil)
			_ = c.Abort()
		})
	})
	mu.Lock()
	defer mu.Unlock()
	if len(from) != 1 || from["127.0.0.2"] != len(Names()) {
		t.Fatalf("connections came from %v, want all %d from 127.0.0.2", from, len(Names()))
	}
}
