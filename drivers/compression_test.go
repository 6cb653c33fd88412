package drivers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsbench/wsbench/servers"
)

// startReference runs the named reference server in this process, as
// `wsbench serve` would, and returns its address.
func startReference(t *testing.T, name string, s servers.Settings) string {
	t.Helper()
	srv, err := servers.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- servers.Serve(ctx, srv, "127.0.0.1:0", s, pw)
		pw.Close()
	}()
	line := make([]byte, 256)
	n, err := pr.Read(line)
	if err != nil {
		cancel()
		t.Fatalf("%s: no ready line: %v (serve: %v)", name, err, <-done)
	}
	go io.Copy(io.Discard, pr)
	addr, _, err := servers.ParseReady(string(line[:n]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: serve: %v", name, err)
		}
	})
	return addr
}

// countingProxy forwards TCP connections to addr and counts the bytes that
// pass each way.
type countingProxy struct {
	addr     string
	up, down atomic.Int64 // client to server, server to client
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &countingProxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			pipe := func(dst, src net.Conn, n *atomic.Int64) {
				k, _ := io.Copy(dst, src)
				n.Add(k)
				dst.Close()
				src.Close()
			}
			go pipe(s, c, &p.up)
			go pipe(c, s, &p.down)
		}
	}()
	return p
}

// compressible is what compression runs send: text that deflates well.
func compressible(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString(`{"room":"lobby","user":"user-`)
		b.WriteByte(byte('a' + i%26))
		b.WriteString(`","text":"the quick brown fox jumps over the lazy dog"},`)
	}
	return b.Bytes()[:n]
}

// TestCompressionMatrix dials every reference server with every driver,
// permessage-deflate offered: each pair must negotiate it (read from the
// handshake) and echo compressible and incompressible messages of several
// sizes intact; the server must count the compressed connection. With the
// server's compression off the same offer must be declined. A server whose
// exceptions name compression declines it always; a driver that lacks it
// refuses the offer at Dial with a *LackError.
func TestCompressionMatrix(t *testing.T) {
	opts := testOpts
	opts.Compression = true
	opts.CompressionLevel = 1
	msgs := [][]byte{{}, []byte("hi"), compressible(1024), compressible(70000), payload(3000)}
	for _, srvName := range servers.Names() {
		t.Run(srvName, func(t *testing.T) {
			srv, _ := servers.Lookup(srvName)
			declines := slices.ContainsFunc(srv.Exceptions(), func(e string) bool { return strings.HasPrefix(e, "compression:") })
			on := servers.DefaultSettings()
			on.Compression = true
			off := servers.DefaultSettings()
			addrOn := startReference(t, srvName, on)
			addrOff := startReference(t, srvName, off)
			var mu sync.Mutex
			dialled := 0
			for _, drvName := range Names() {
				d, _ := Lookup(drvName)
				t.Run(drvName, func(t *testing.T) {
					if LacksOf(d).Compression != "" {
						c, err := d.Dial(t.Context(), "ws://"+addrOn+"/echo", opts)
						var le *LackError
						if !errors.As(err, &le) {
							if c != nil {
								c.Abort()
							}
							t.Fatalf("a driver that lacks compression, offered it: %v, want a *LackError", err)
						}
						return
					}
					proxy := startCountingProxy(t, addrOn)
					c := dialT(t, d, "ws://"+proxy.addr+"/echo", opts)
					if declines {
						if c.Compressed() {
							t.Fatal("a server without permessage-deflate negotiated it")
						}
						roundTrip(t, c, Text, compressible(2000), nil)
						c.Close(2 * time.Second)
						return
					}
					mu.Lock()
					dialled++
					mu.Unlock()
					if !c.Compressed() {
						t.Fatal("permessage-deflate offered to a server with compression on: not negotiated")
					}
					var buf []byte
					for i, m := range msgs {
						typ := Binary
						if i%2 == 1 {
							typ = Text
						}
						buf = roundTrip(t, c, typ, m, buf)
					}
					if clean, err := c.Close(2 * time.Second); !clean || err != nil {
						t.Errorf("close: clean=%v err=%v", clean, err)
					}
					// 74 KiB of messages, 71 KiB of them repetitive text:
					// deflated, well under 20 KB each way with the
					// handshake, on both sides of the proxy.
					deadline := time.Now().Add(2 * time.Second)
					for (proxy.up.Load() == 0 || proxy.down.Load() == 0) && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
					if up, down := proxy.up.Load(), proxy.down.Load(); up == 0 || up > 20000 || down == 0 || down > 20000 {
						t.Errorf("bytes on the wire: %d up, %d down; want each in (0, 20000] if messages were compressed", up, down)
					}

					c = dialT(t, d, "ws://"+addrOff+"/echo", opts)
					if c.Compressed() {
						t.Error("a server with compression off negotiated permessage-deflate")
					}
					roundTrip(t, c, Text, compressible(2000), nil)
					c.Close(2 * time.Second)

					plain := testOpts
					c = dialT(t, d, "ws://"+addrOn+"/echo", plain)
					if c.Compressed() {
						t.Error("compression negotiated though the driver did not offer it")
					}
					roundTrip(t, c, Binary, compressible(2000), nil)
					c.Close(2 * time.Second)
				})
			}
			st, err := servers.FetchStats(context.Background(), addrOn, false)
			if err != nil {
				t.Fatal(err)
			}
			if int(st.CompressedConns) != dialled {
				t.Errorf("server counted %d compressed connections, %d were dialled with compression", st.CompressedConns, dialled)
			}
		})
	}
}
