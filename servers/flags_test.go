package servers

import (
	"flag"
	"io"
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
