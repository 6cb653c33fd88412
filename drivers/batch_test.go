package drivers

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gobwas/ws"
)

// TestWriteMessagesEveryDriver: a batch sent through the generic
// WriteMessages comes back whole and in order from a real echo server,
// whether the driver batches or falls back to one write per message.
func TestWriteMessagesEveryDriver(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		var msgs [][]byte
		for i := range 8 {
			msgs = append(msgs, payload(100+i*300))
		}
		if err := WriteMessages(c, Binary, msgs); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for i, want := range msgs {
			_, got, err := c.ReadMessage(buf)
			if err != nil {
				t.Fatalf("echo %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echo %d: %d bytes, want message %d (%d bytes) in order", i, len(got), i, len(want))
			}
			buf = got[:cap(got)]
		}
	})
}

// TestPreparedFramesEcho: every driver that prepares frames sends the
// template with each head in front, byte for byte, in order.
func TestPreparedFramesEcho(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		p, ok := c.(FramePreparer)
		if !ok {
			t.Skipf("%s does not prepare frames", d.Name())
		}
		for _, size := range []int{28, 1024, 70000} { // short, 16-bit and 64-bit lengths; the last is written unbatched
			tmpl := payload(size)
			if !p.PrepareFrames(Binary, tmpl, 28) {
				t.Fatalf("%d bytes: not prepared", size)
			}
			heads := make([][]byte, 5)
			for i := range heads {
				heads[i] = bytes.Repeat([]byte{byte('a' + i)}, 28)
			}
			if err := p.WritePrepared(heads); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, size)
			for i, h := range heads {
				_, got, err := c.ReadMessage(buf)
				if err != nil {
					t.Fatal(err)
				}
				want := append(append([]byte(nil), h...), tmpl[28:]...)
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes, message %d: echo differs from the template with its head", size, i)
				}
			}
		}
	})
}

// countingConn counts the writes that reach a real socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestGobwasBatchLeavesInOneWrite: gathered frames leave in one socket
// write up to gobwasBatchBytes; each is a masked final frame the peer
// unmasks to the message.
func TestGobwasBatchLeavesInOneWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	cc := &countingConn{Conn: nc}
	g := &gobwasConn{nc: cc, wbuf: make([]byte, gobwasDefaultBuffer)}

	readFrames := func(want [][]byte) {
		t.Helper()
		for i, w := range want {
			f, err := ws.ReadFrame(peer)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Header.Masked || !f.Header.Fin || f.Header.OpCode != ws.OpBinary {
				t.Fatalf("frame %d: header %+v, want a masked final binary frame", i, f.Header)
			}
			ws.Cipher(f.Payload, f.Header.Mask, 0)
			if !bytes.Equal(f.Payload, w) {
				t.Fatalf("frame %d: payload differs from message %d", i, i)
			}
		}
	}

	var msgs [][]byte
	for i := range 8 {
		msgs = append(msgs, payload(1000+i))
	}
	if err := g.WriteMessages(Binary, msgs); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 1 {
		t.Fatalf("8 messages of 1 KiB took %d writes, want 1", n)
	}
	readFrames(msgs)

	tmpl := payload(1024)
	if !g.PrepareFrames(Binary, tmpl, 28) {
		t.Fatal("not prepared")
	}
	// 100 frames of 1032 bytes: two writes of at most 64 KiB.
	heads := make([][]byte, 100)
	var want [][]byte
	for i := range heads {
		heads[i] = []byte(fmt.Sprintf("%028d", i))
		want = append(want, append(append([]byte(nil), heads[i]...), tmpl[28:]...))
	}
	cc.writes.Store(0)
	go func() { _ = g.WritePrepared(heads) }() // more than the socket buffers may hold unread
	readFrames(want)
	if n := cc.writes.Load(); n != 2 {
		t.Fatalf("100 prepared 1 KiB frames took %d writes, want 2", n)
	}
}

// TestPreparedWriteAllocatesNothing: the pipelined closed loop's hot path
// (prepared frames out, echoes in) allocates nothing per message.
func TestPreparedWriteAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	srv := httptest.NewServer(http.HandlerFunc(rawEchoHandler))
	defer srv.Close()
	d, _ := Lookup("gobwas")
	c := dialT(t, d, "ws"+strings.TrimPrefix(srv.URL, "http"), testOpts)
	p := c.(FramePreparer)
	tmpl := payload(1024)
	if !p.PrepareFrames(Binary, tmpl, 28) {
		t.Fatal("not prepared")
	}
	heads := make([][]byte, 8)
	for i := range heads {
		heads[i] = make([]byte, 28)
	}
	buf := make([]byte, 4096)
	var err error
	got := testing.AllocsPerRun(100, func() {
		if err == nil {
			err = p.WritePrepared(heads)
		}
		for range heads {
			if err == nil {
				_, _, err = c.ReadMessage(buf)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != 0 {
		t.Errorf("%v allocations per batch of 8, want 0", got)
	}
}

// BenchmarkWritePath is the generator's cost to send 8 messages of 1 KiB
// to a socket whose peer discards them: one WriteMessage each, one
// batched write, and prepared frames in one write. Run it with the
// machine otherwise idle; ns/op is per 8 messages.
func BenchmarkWritePath(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1<<16)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	tmpl := payload(1024)
	msgs := make([][]byte, 8)
	heads := make([][]byte, 8)
	for i := range msgs {
		msgs[i] = append([]byte(nil), tmpl...)
		heads[i] = make([]byte, 28)
	}
	newConn := func(b *testing.B) *gobwasConn {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { nc.Close() })
		return &gobwasConn{nc: nc, wbuf: make([]byte, gobwasDefaultBuffer)}
	}
	b.Run("single", func(b *testing.B) {
		g := newConn(b)
		b.SetBytes(int64(8 * len(tmpl)))
		b.ReportAllocs()
		for b.Loop() {
			for _, m := range msgs {
				if err := g.WriteMessage(Binary, m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("batched", func(b *testing.B) {
		g := newConn(b)
		b.SetBytes(int64(8 * len(tmpl)))
		b.ReportAllocs()
		for b.Loop() {
			if err := g.WriteMessages(Binary, msgs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prepared", func(b *testing.B) {
		g := newConn(b)
		if !g.PrepareFrames(Binary, tmpl, 28) {
			b.Fatal("not prepared")
		}
		b.SetBytes(int64(8 * len(tmpl)))
		b.ReportAllocs()
		for b.Loop() {
			if err := g.WritePrepared(heads); err != nil {
				b.Fatal(err)
			}
		}
	})
}
