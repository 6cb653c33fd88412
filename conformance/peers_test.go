package conformance

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// echoServer is a small echo server over gobwas/ws for the tests: strict,
// it checks what RFC 6455 asks (gobwas's ws.CheckHeader for bits, opcodes,
// masking and fragmentation, ws.CheckCloseFrameData for close codes, and
// UTF-8 fragment by fragment); sloppy, it skips the UTF-8 checks and
// accepts reserved bits, as a fast and careless library would.
type echoServer struct {
	ln        net.Listener
	checkUTF8 bool
	checkRSV  bool
	readLimit int64
	// exitOn, when set, makes the process exit on a close with this
	// status: a server that crashes on one case.
	exitOn ws.StatusCode
}

func startEchoServer(t *testing.T, strict bool) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, checkUTF8: strict, checkRSV: strict, readLimit: 1 << 20}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *echoServer) url() string { return "ws://" + s.ln.Addr().String() + "/echo" }

// fail sends a close frame with code and closes the connection.
func failWith(c net.Conn, code ws.StatusCode) {
	_ = ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))
	c.Close()
}

// utf8Prefix reports whether b[from:] is valid UTF-8 save for an
// incomplete code point at its end (final: none allowed), and where that
// incomplete rest begins: the next call starts there, so a message of many
// fragments is checked once, not once per fragment.
func utf8Prefix(b []byte, from int, final bool) (bool, int) {
	i := from
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return !final && !utf8.FullRune(b[i:]), i
		}
		i += n
	}
	return true, i
}

func (s *echoServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond)) // the handshake timeout
	if _, err := ws.Upgrade(c); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	r := bufio.NewReader(c)
	var state ws.State = ws.StateServerSide
	var msg []byte
	var msgOp ws.OpCode
	var checked int // msg is valid UTF-8 up to here
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			if errors.Is(err, ws.ErrHeaderLengthMSB) {
				failWith(c, ws.StatusProtocolError)
			}
			return
		}
		if !s.checkRSV {
			h.Rsv = 0
		}
		if err := ws.CheckHeader(h, state); err != nil {
			failWith(c, ws.StatusProtocolError)
			return
		}
		if h.Length > s.readLimit || (!h.OpCode.IsControl() && int64(len(msg))+h.Length > s.readLimit) {
			failWith(c, ws.StatusMessageTooBig)
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return
		}
		ws.Cipher(p, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing:
			_ = ws.WriteFrame(c, ws.NewPongFrame(p))
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			if len(p) == 0 {
				_ = ws.WriteFrame(c, ws.NewCloseFrame(nil))
				return
			}
			if len(p) == 1 {
				failWith(c, ws.StatusProtocolError)
				return
			}
			code, reason := ws.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
			if s.exitOn != 0 && code == s.exitOn {
				os.Exit(3)
			}
			if err := ws.CheckCloseFrameData(code, reason); err != nil {
				switch {
				case errors.Is(err, ws.ErrProtocolInvalidUTF8) && s.checkUTF8:
					failWith(c, ws.StatusInvalidFramePayloadData)
					return
				case !errors.Is(err, ws.ErrProtocolInvalidUTF8):
					failWith(c, ws.StatusProtocolError)
					return
				}
			}
			_ = ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))
			return
		case ws.OpText, ws.OpBinary:
			msg, msgOp, checked = p, h.OpCode, 0
		case ws.OpContinuation:
			msg = append(msg, p...)
		}
		if h.Fin {
			state = state.Clear(ws.StateFragmented)
		} else {
			state = state.Set(ws.StateFragmented)
		}
		if s.checkUTF8 && msgOp == ws.OpText {
			ok, upTo := utf8Prefix(msg, checked, h.Fin)
			if !ok {
				failWith(c, ws.StatusInvalidFramePayloadData)
				return
			}
			checked = upTo
		}
		if h.Fin {
			if err := ws.WriteFrame(c, ws.NewFrame(msgOp, true, msg)); err != nil {
				return
			}
			msg = nil
		}
	}
}
