package servers

import (
	"flag"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestServeConfigArgsRoundTrip(t *testing.T) {
	want := ServeConfig{Name: "gobwas", Listen: "127.0.0.1:0", Settings: Settings{
		ReadLimit: 12345, ReadBufferSize: 111, WriteBufferSize: 222, HandshakeTimeout: 3 * time.Second,
		IdleTimeout: 250 * time.Millisecond, BroadcastQueue: 7, SlowConsumer: SlowDisconnect,
		WriteTimeout: 4 * time.Second, Compression: true, CompressionLevel: 6, GOMAXPROCS: 3, GOGC: 50, GOMEMLIMIT: 1 << 30}}
	var got ServeConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	got.RegisterFlags(fs)
	if err := fs.Parse(want.Args()); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if err := got.Check(); err != nil {
		t.Fatal(err)
	}
	got.Settings.SlowConsumer = "explode"
	if err := got.Check(); err == nil || !strings.Contains(err.Error(), "--slow-consumer") {
		t.Fatalf("want an error naming --slow-consumer, got %v", err)
	}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	got.RegisterFlags(fs)
	if err := fs.Parse([]string{"--idle-timeout", "soon"}); err == nil || !strings.Contains(err.Error(), "idle-timeout") {
		t.Fatalf("want a parse error naming idle-timeout, got %v", err)
	}
}

// TestListenBeyondLoopbackNeedsAllowRemote: a reference server reachable
// from other machines only when asked for.
func TestListenBeyondLoopbackNeedsAllowRemote(t *testing.T) {
	for listen, ok := range map[string]bool{"127.0.0.1:0": true, "[::1]:8080": true, "localhost:80": true,
		"0.0.0.0:8080": false, ":8080": false, "10.1.2.3:80": false} {
		c := ServeConfig{Name: "gorilla", Listen: listen, Settings: DefaultSettings()}
		if err := c.Check(); (err == nil) != ok {
			t.Errorf("--listen %s: %v", listen, err)
		}
		c.AllowRemote = true
		if err := c.Check(); err != nil {
			t.Errorf("--listen %s --allow-remote: %v", listen, err)
		}
	}
}

// TestRemoteStatsAreReadOnlyAndBounded: a server listening beyond
// loopback forces no GC for ?gc=1 and refuses a burst.
func TestRemoteStatsAreReadOnlyAndBounded(t *testing.T) {
	h := statsHandler("x", &Live{}, RuntimeSettings{}, true)
	codes := map[int]int{}
	var gcBefore, gcAfter runtime.MemStats
	runtime.ReadMemStats(&gcBefore)
	for range 5 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/stats?gc=1", nil))
		codes[rec.Code]++
	}
	runtime.ReadMemStats(&gcAfter)
	if codes[200] != 1 || codes[429] != 4 {
		t.Errorf("answers %v to a burst of 5: want one 200 and 429s", codes)
	}
	if gcAfter.NumForcedGC != gcBefore.NumForcedGC {
		t.Error("?gc=1 forced a GC on a remote server")
	}
}

// TestReusePortSharesOnePort: two listeners on one port, as two serve
// processes sharing it hold more connections than one may.
func TestReusePortSharesOnePort(t *testing.T) {
	a, err := ListenReusePort("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ListenReusePort(a.Addr().String())
	if err != nil {
		t.Fatalf("a second listener on %s: %v", a.Addr(), err)
	}
	b.Close()
	if _, err := net.Listen("tcp", a.Addr().String()); err == nil {
		t.Fatal("a listener without SO_REUSEPORT got the port too")
	}
}
