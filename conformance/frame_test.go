package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestFrameBytesRFCExamples checks Append against the examples of RFC 6455
// §5.7, byte for byte.
func TestFrameBytesRFCExamples(t *testing.T) {
	for _, c := range []struct {
		name string
		f    Frame
		mask bool
		key  [4]byte
		want string
	}{
		{"unmasked text Hello", text("Hello"), false, [4]byte{}, "810548656c6c6f"},
		{"masked text Hello", text("Hello"), true, [4]byte{0x37, 0xfa, 0x21, 0x3d}, "818537fa213d7f9f4d5158"},
		{"first fragment Hel", frag(OpText, []byte("Hel")), false, [4]byte{}, "010348656c"},
		{"last fragment lo", cont([]byte("lo"), true), false, [4]byte{}, "80026c6f"},
		{"unmasked ping Hello", ping("Hello"), false, [4]byte{}, "890548656c6c6f"},
		{"256-byte binary header", binFrame(make([]byte, 256)), false, [4]byte{}, "827e0100"},
		{"65536-byte binary header", binFrame(make([]byte, 65536)), false, [4]byte{}, "827f0000000000010000"},
		{"RSV1|RSV3 text", Frame{Fin: true, RSV: RSV1 | RSV3, Opcode: OpText}, false, [4]byte{}, "d100"},
		{"5 bytes in the 16-bit encoding", Frame{Fin: true, Opcode: OpText, Payload: []byte("hello"), LengthBytes: 2}, false, [4]byte{}, "817e000568656c6c6f"},
		{"announced 2^63-1, nothing sent", Frame{Fin: true, Opcode: OpBinary, Length: 1<<63 - 1, LengthSet: true}, false, [4]byte{}, "827f7fffffffffffffff"},
	} {
		got := hex.EncodeToString(c.f.Append(nil, c.mask, c.key))
		if !strings.HasPrefix(got, c.want) || (len(c.f.Payload) < 16 && got != c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestReadFrameRoundTrip reads back what Append wrote, at every length
// encoding, masked and not, and refuses a frame beyond its bound.
func TestReadFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 70000} {
		for _, mask := range []bool{false, true} {
			in := Frame{Fin: n%2 == 0, RSV: RSV2, Opcode: OpBinary, Payload: pattern(n)}
			b := in.Append(nil, mask, [4]byte{1, 2, 3, 4})
			out, err := ReadFrame(bufio.NewReader(bytes.NewReader(b)), 1<<20)
			if err != nil {
				t.Fatalf("%d bytes, mask %v: %v", n, mask, err)
			}
			if out.Fin != in.Fin || out.RSV != in.RSV || out.Opcode != in.Opcode || out.Masked != mask || !bytes.Equal(out.Payload, in.Payload) {
				t.Errorf("%d bytes, mask %v: read %s, wrote %s", n, mask, out, in)
			}
		}
	}
	big := binFrame(make([]byte, 2000)).Append(nil, false, [4]byte{})
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(big)), 1000); !errors.Is(err, errTooLarge) {
		t.Errorf("a 2000-byte frame with a 1000-byte bound: %v, want errTooLarge", err)
	}
}

// TestRawServerAgainstLibraryClient has gobwas/ws's client talk to the raw
// server: the handshake completes, the raw server's frames arrive unmasked
// and the client's arrive masked.
func TestRawServerAgainstLibraryClient(t *testing.T) {
	srv, err := ListenRaw()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	type dialed struct {
		err  error
		got  []byte
		op   ws.OpCode
		werr error
	}
	done := make(chan dialed, 1)
	go func() {
		conn, br, _, err := ws.Dial(ctx, srv.URL())
		if err != nil {
			done <- dialed{err: err}
			return
		}
		defer conn.Close()
		// Frame bytes that came with the 101 response wait in br.
		var rw io.ReadWriter = conn
		if br != nil {
			rw = struct {
				io.Reader
				io.Writer
			}{io.MultiReader(br, conn), conn}
		}
		p, op, err := wsutil.ReadServerData(rw)
		werr := wsutil.WriteClientMessage(conn, ws.OpBinary, []byte("from the client"))
		done <- dialed{err: err, got: p, op: op, werr: werr}
	}()
	s, offer, err := srv.Accept(ctx, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if offer != "" {
		t.Errorf("gobwas offered %q, want nothing", offer)
	}
	if err := s.Send(text("from the raw server")); err != nil {
		t.Fatal(err)
	}
	d := <-done
	if d.err != nil || d.werr != nil {
		t.Fatalf("client: %v / %v", d.err, d.werr)
	}
	if d.op != ws.OpText || string(d.got) != "from the raw server" {
		t.Errorf("client read %v %q", d.op, d.got)
	}
	ev, ok := s.next(time.Now().Add(2 * time.Second))
	if !ok || ev.err != nil {
		t.Fatalf("raw server read nothing: %v", ev.err)
	}
	if !ev.frame.Masked || string(ev.frame.Payload) != "from the client" || ev.frame.Opcode != OpBinary {
		t.Errorf("raw server read %s", ev.frame)
	}
	_, first, _ := s.record()
	if len(first) == 0 || first[0] != 0x82 {
		t.Errorf("first bytes recorded %x, want a binary FIN frame first", first)
	}
}

// TestRawClientHandshake dials the strict test server, and refuses a
// non-loopback URL without dialling it.
func TestRawClientHandshake(t *testing.T) {
	srv := startEchoServer(t, true)
	s, hs, err := DialRaw(context.Background(), srv.url(), "", time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if hs.Deflate {
		t.Errorf("deflate negotiated with a server that has none")
	}
	_ = s.Send(text("hi"))
	if v := s.Echo(textMsg("hi")); v.Outcome != Pass {
		t.Errorf("echo: %s %s", v.Outcome, v.Reason)
	}
	if _, _, err := DialRaw(context.Background(), "ws://192.0.2.1/echo", "", time.Second, false); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a non-loopback URL: %v, want a refusal naming loopback", err)
	}
}

// TestCheckAnswer covers the permessage-deflate answer rules of RFC 7692 §7.1.
func TestCheckAnswer(t *testing.T) {
	for _, c := range []struct {
		offer, answer string
		accepted      bool
		problem       string
	}{
		{"permessage-deflate", "", false, ""},
		{"permessage-deflate", "permessage-deflate", true, ""},
		{"permessage-deflate", "permessage-deflate; client_max_window_bits=10", true, "not in the offer"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10", true, ""},
		{"permessage-deflate; server_max_window_bits=10", "permessage-deflate", true, "server_max_window_bits was offered"},
		{"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=12", true, "above the offered"},
		{offerNoContext, "permessage-deflate; client_no_context_takeover", true, "server_no_context_takeover was offered"},
		{"permessage-deflate", "permessage-deflate; foo", true, "unknown parameter"},
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", true, "repeated"},
		{"permessage-deflate", "x-other", true, "not offered"},
	} {
		acc, problem := checkAnswer(c.offer, c.answer)
		if acc != c.accepted || (c.problem == "") != (problem == "") || !strings.Contains(problem, c.problem) {
			t.Errorf("offer %q answer %q: accepted %v problem %q; want %v %q", c.offer, c.answer, acc, problem, c.accepted, c.problem)
		}
	}
}
