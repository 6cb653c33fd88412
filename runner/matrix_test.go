package runner

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/servers"
)

// startInProcess runs a reference server in this process and returns its
// address; the runner uses separate processes, this test needs only sockets.
func startInProcess(t *testing.T, name string) string {
	t.Helper()
	srv, err := servers.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- servers.Serve(ctx, srv, "127.0.0.1:0", servers.DefaultSettings(), pw) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: Serve did not return after cancel", name)
		}
	})
	line := make([]byte, 256)
	n, err := pr.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	addr, _, err := servers.ParseReady(strings.TrimSpace(string(line[:n])))
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestEveryDriverWithEveryServer runs the driver × server matrix: every
// pairing must carry binary and text messages of awkward sizes byte for byte.
func TestEveryDriverWithEveryServer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 24, 125, 126, 127, 1024, 65535, 65536, 100_000}
	for _, sname := range servers.Names() {
		addr := startInProcess(t, sname)
		for _, dname := range drivers.Names() {
			t.Run(sname+"/"+dname, func(t *testing.T) {
				d, _ := drivers.Lookup(dname)
				s := servers.DefaultSettings()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, err := d.Dial(ctx, "ws://"+addr+"/echo", drivers.DialOptions{HandshakeTimeout: time.Second,
					ReadLimit: s.ReadLimit, ReadBufferSize: s.ReadBufferSize, WriteBufferSize: s.WriteBufferSize})
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 64)
				for _, size := range sizes {
					for _, typ := range []drivers.MessageType{drivers.Binary, drivers.Text} {
						msg := make([]byte, size)
						for i := range msg {
							if typ == drivers.Text {
								msg[i] = 'a' + byte(rng.IntN(26))
							} else {
								msg[i] = byte(rng.Uint32())
							}
						}
						if err := c.WriteMessage(typ, msg); err != nil {
							t.Fatalf("write %d-byte %s: %v", size, typ, err)
						}
						gotTyp, got, err := c.ReadMessage(buf)
						if err != nil {
							t.Fatalf("read %d-byte %s: %v", size, typ, err)
						}
						buf = got[:cap(got)]
						if gotTyp != typ || !bytes.Equal(got, msg) {
							t.Fatalf("%d-byte %s came back as %d-byte %s, differing", size, typ, len(got), gotTyp)
						}
					}
				}
				if clean, err := c.Close(2 * time.Second); !clean {
					t.Fatalf("close handshake not clean: %v", err)
				}
			})
		}
	}
}
