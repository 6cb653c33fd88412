package conformance

import (
	"bytes"
	"fmt"
	"strings"
)

// RFC 6455 sentences the framing, ping/pong, reserved-bit and opcode cases
// rest on.
const (
	reqLength     = "§5.2: the payload length is 7 bits, 7+16 bits or 7+64 bits; an endpoint echoing it must read every encoding. Pass: the message comes back byte for byte. Fail: anything else."
	reqChopped    = "§5.2/§5.4: a frame is a byte stream, not a packet; TCP may deliver it in any pieces. Pass: the message comes back. Fail: anything else."
	reqMinimal    = "§5.2: \"the minimal number of bytes MUST be used to encode the length\" binds the sender; the RFC does not tell a receiver to reject a longer encoding. Pass: echoed. Non-strict: the connection failed (a strict reading)."
	reqMSB        = "§5.2: in a 64-bit length \"the most significant bit MUST be 0\". Pass: the connection fails (1002 or 1009, or dropped). Fail: it carries on."
	reqMask       = "§5.1: \"a server MUST close the connection upon receiving a frame that is not masked\"; \"a client MUST close a connection if it detects a masked frame\". Pass: fails with 1002 or drops. Non-strict: another status. Fail: carries on."
	reqPong       = "§5.5.2/§5.5.3: on a Ping an endpoint MUST send a Pong \"with identical Application data\". Pass: the pong carries the same bytes. Fail: another payload or none. Timeout: no pong."
	reqControlLen = "§5.5: \"All control frames MUST have a payload length of 125 bytes or less\". Pass: the connection fails (1002, or dropped). Non-strict: another status. Fail: it carries on."
	reqUnsolicit  = "§5.5.3: \"A Pong frame MAY be sent unsolicited … A response to an unsolicited Pong frame is not expected.\" Pass: nothing answers the pong and the message after it is echoed. Fail: anything else."
	reqPingMany   = "§5.5.3: an endpoint that has not yet answered earlier pings \"MAY elect to send a Pong frame for only the most recently processed Ping frame\". Pass: the last ping's pong arrives, any earlier ones in order. Fail: a pong with a payload never sent."
	reqRSV        = "§5.2: RSV1–3 \"MUST be 0 unless an extension is negotiated that defines meanings for non-zero values … the receiving endpoint MUST _Fail the WebSocket Connection_\" (no extension is negotiated here). Pass: fails with 1002 or drops. Non-strict: another status. Fail: echoes or answers the probe ping."
	reqOpcode     = "§5.2: \"If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_\". Pass: fails with 1002 or drops. Non-strict: another status. Fail: carries on (answers the probe ping)."
)

func framingCases() []Case {
	var cs []Case
	for _, n := range []int{0, 1, 125, 126, 127, 128, 65535, 65536} {
		cs = append(cs, Case{
			Title: fmt.Sprintf("text message of %d bytes", n), Requirement: reqLength,
			Play: sendEcho([]Frame{textB(letters(n))}, textMsgB(letters(n))),
		}, Case{
			Title: fmt.Sprintf("binary message of %d bytes", n), Requirement: reqLength,
			Play: sendEcho([]Frame{binFrame(pattern(n))}, binMsg(pattern(n))),
		})
	}
	cs = append(cs,
		Case{Title: "binary message of 512 KiB", Requirement: reqLength,
			Play: sendEcho([]Frame{binFrame(pattern(512 << 10))}, binMsg(pattern(512<<10)))},
		Case{Title: "text message of 125 bytes written one byte per TCP segment", Requirement: reqChopped,
			Play: func(p *Peer) Verdict {
				_ = p.SendChopped(1, textB(letters(125)))
				return p.Echo(textMsgB(letters(125)))
			}},
		Case{Title: "binary message of 65536 bytes written in 997-byte pieces", Requirement: reqChopped,
			Play: func(p *Peer) Verdict {
				_ = p.SendChopped(997, binFrame(pattern(65536)))
				return p.Echo(binMsg(pattern(65536)))
			}},
		Case{Title: "header split after its first byte, payload later", Requirement: reqChopped,
			Play: func(p *Peer) Verdict {
				var key [4]byte
				b := textB(letters(300)).Append(nil, p.mask, key)
				_ = p.SendRaw(b[:1], "first header byte of a 300-byte text frame")
				_ = p.SendRaw(b[1:], "the rest of it")
				return p.Echo(textMsgB(letters(300)))
			}},
		Case{Title: "three messages in one TCP write", Requirement: reqChopped,
			Play: sendEcho([]Frame{text("one"), binFrame([]byte{2}), text("three")}, textMsg("one"), binMsg([]byte{2}), textMsg("three"))},
		Case{Title: "5-byte text with its length in the 16-bit encoding", Requirement: reqMinimal,
			Play: minimalLength(Frame{Fin: true, Opcode: OpText, Payload: []byte("hello"), LengthBytes: 2})},
		Case{Title: "5-byte text with its length in the 64-bit encoding", Requirement: reqMinimal,
			Play: minimalLength(Frame{Fin: true, Opcode: OpText, Payload: []byte("hello"), LengthBytes: 8})},
		Case{Title: "200-byte binary with its length in the 64-bit encoding", Requirement: reqMinimal,
			Play: minimalLength(Frame{Fin: true, Opcode: OpBinary, Payload: pattern(200), LengthBytes: 8})},
		Case{Title: "64-bit length with its most significant bit set (2^63+5), 5 bytes sent", Requirement: reqMSB,
			Play: sendFails([]Frame{{Fin: true, Opcode: OpBinary, Payload: []byte("hello"), Length: 1<<63 + 5}}, nil, 1002, 1009)},
		Case{Title: "a frame with the masking its direction forbids", Requirement: reqMask,
			Play: func(p *Peer) Verdict {
				_ = p.SendWrongMask(text("masking"))
				return p.Fails(nil, 1002)
			}},
	)
	return numbered("framing", cs)
}

// minimalLength judges a frame whose length uses a longer encoding than needed.
func minimalLength(f Frame) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		_ = p.Send(f)
		v := p.Echo(Msg{Op: f.Opcode, Data: f.Payload})
		if v.Outcome == Fail && !strings.HasPrefix(v.Reason, "echo of") {
			return nonStrict("rejected the longer length encoding (%s)", v.Reason)
		}
		return v
	}
}

// pongs waits for pongs until one carries last, failing on a payload that
// is not among sent.
func pongs(p *Peer, sent []string) Verdict {
	dl := p.deadline()
	last := sent[len(sent)-1]
	got := 0
	for {
		_, end := p.readMessage(dl, true)
		switch {
		case end == nil:
			return fail("answered a ping with a data message")
		case end.timeout:
			return timedOut("no pong for %q within %s (%d pongs before)", last, p.timeout, got)
		case end.pong != nil:
			got++
			pl := string(end.pong.Payload)
			if pl == last {
				if len(sent) > 1 {
					return pass("answered %d of %d pings, the last one included", got, len(sent))
				}
				return pass("pong with the ping's %d bytes", len(pl))
			}
			known := false
			for _, s := range sent {
				known = known || s == pl
			}
			if !known {
				return fail("pong carries %s, the ping carried %s", quoteBytes(end.pong.Payload, 16), quoteBytes([]byte(last), 16))
			}
		default:
			return fail("%s instead of a pong", end)
		}
	}
}

func pingpongCases() []Case {
	pingWith := func(payload string) func(p *Peer) Verdict {
		return func(p *Peer) Verdict {
			_ = p.Send(ping(payload))
			return pongs(p, []string{payload})
		}
	}
	all := make([]byte, 125)
	for i := range all {
		all[i] = byte(i * 2)
	}
	manyPings := func(chop bool) func(p *Peer) Verdict {
		return func(p *Peer) Verdict {
			var fs []Frame
			var sent []string
			for i := range 10 {
				s := fmt.Sprintf("ping-%d", i)
				fs, sent = append(fs, ping(s)), append(sent, s)
			}
			if chop {
				_ = p.SendChopped(1, fs...)
			} else {
				_ = p.Send(fs...)
			}
			return pongs(p, sent)
		}
	}
	unsolicited := func(payload string, thenPing bool) func(p *Peer) Verdict {
		return func(p *Peer) Verdict {
			_ = p.Send(pong(payload), text("after the pong"))
			v := p.Echo(textMsg("after the pong"))
			if v.Outcome != Pass || !thenPing {
				return v
			}
			_ = p.Send(ping("then a ping"))
			return pongs(p, []string{"then a ping"})
		}
	}
	cs := []Case{
		{Title: "ping without payload", Requirement: reqPong, Play: pingWith("")},
		{Title: "ping with a short text payload", Requirement: reqPong, Play: pingWith("Hello, world!")},
		{Title: "ping with 125 bytes of binary payload", Requirement: reqPong, Play: pingWith(string(all))},
		{Title: "ping with 125 bytes of text payload", Requirement: reqPong, Play: pingWith(strings.Repeat("*", 125))},
		{Title: "ping with 126 bytes of payload", Requirement: reqControlLen,
			Play: sendFails([]Frame{ping(strings.Repeat("*", 126))}, nil, 1002)},
		{Title: "ping with 64 KiB of payload", Requirement: reqControlLen,
			Play: sendFails([]Frame{ping(strings.Repeat("*", 65536))}, nil, 1002)},
		{Title: "pong with 126 bytes of payload", Requirement: reqControlLen,
			Play: sendFails([]Frame{pong(strings.Repeat("*", 126))}, nil, 1002)},
		{Title: "unsolicited empty pong, then a text message", Requirement: reqUnsolicit, Play: unsolicited("", false)},
		{Title: "unsolicited pong with payload, then a text message", Requirement: reqUnsolicit, Play: unsolicited("unsolicited", false)},
		{Title: "unsolicited pong, then a ping", Requirement: reqUnsolicit, Play: unsolicited("unsolicited", true)},
		{Title: "ten pings in one write", Requirement: reqPingMany, Play: manyPings(false)},
		{Title: "ten pings written one byte per TCP segment", Requirement: reqPingMany, Play: manyPings(true)},
		{Title: "ping written one byte per TCP segment", Requirement: reqPong,
			Play: func(p *Peer) Verdict {
				_ = p.SendChopped(1, ping("chopped ping"))
				return pongs(p, []string{"chopped ping"})
			}},
		{Title: "ping, text message, ping", Requirement: reqPong + " Every answer must arrive; the data message must be echoed.",
			Play: func(p *Peer) Verdict {
				_ = p.Send(ping("first"), text("between"), ping("second"))
				dl := p.deadline()
				var gotPongs []string
				echoed := false
				for len(gotPongs) < 2 || !echoed {
					m, end := p.readMessage(dl, true)
					switch {
					case end == nil:
						if m.Op != OpText || string(m.Data) != "between" {
							return fail("echoed %s, want the text \"between\"", m)
						}
						echoed = true
					case end.timeout:
						return timedOut("after %d pongs and echo %v, nothing more within %s", len(gotPongs), echoed, p.timeout)
					case end.pong != nil:
						gotPongs = append(gotPongs, string(end.pong.Payload))
					default:
						return fail("%s", end)
					}
				}
				if gotPongs[0] != "first" || gotPongs[1] != "second" {
					return fail("pongs carried %q, want [first second]", gotPongs)
				}
				return pass("both pongs and the echo")
			}},
	}
	return numbered("pingpong", cs)
}

func rsvCases() []Case {
	var cs []Case
	for rsv := byte(1); rsv <= 7; rsv++ {
		cs = append(cs, Case{Title: fmt.Sprintf("text message with RSV=%d", rsv), Requirement: reqRSV,
			Play: sendFails([]Frame{{Fin: true, RSV: rsv, Opcode: OpText, Payload: []byte("reserved bits")}}, nil, 1002)})
	}
	for _, rsv := range []byte{RSV1, RSV2, RSV3} {
		cs = append(cs, Case{Title: fmt.Sprintf("binary message with RSV=%d", rsv), Requirement: reqRSV,
			Play: sendFails([]Frame{{Fin: true, RSV: rsv, Opcode: OpBinary, Payload: pattern(16)}}, nil, 1002)})
	}
	for _, rsv := range []byte{RSV1, RSV2, RSV3} {
		cs = append(cs, Case{Title: fmt.Sprintf("ping with RSV=%d", rsv), Requirement: reqRSV,
			Play: sendFails([]Frame{{Fin: true, RSV: rsv, Opcode: OpPing, Payload: []byte("rsv ping")}}, nil, 1002)})
	}
	cs = append(cs,
		Case{Title: "pong with RSV=2", Requirement: reqRSV,
			Play: sendFails([]Frame{{Fin: true, RSV: RSV2, Opcode: OpPong}}, nil, 1002)},
		Case{Title: "close with RSV=2", Requirement: reqRSV + " (A peer that answers the close normally has ignored the bits.)",
			Play: func(p *Peer) Verdict {
				_ = p.Send(Frame{Fin: true, RSV: RSV2, Opcode: OpClose, Payload: ClosePayload(1000, "")})
				v, f := p.AwaitClose(1002)
				if f != nil && CloseCode(f.Payload) != 1002 {
					return fail("answered the close with %s: the reserved bit went unnoticed", closeDesc(f.Payload))
				}
				if v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped") {
					return pass("%s", strings.Replace(v.Reason, " without answering the close frame", "", 1))
				}
				return v
			}},
		Case{Title: "continuation frame with RSV=3", Requirement: reqRSV,
			Play: sendFails([]Frame{frag(OpText, []byte("first ")), {Fin: true, RSV: 3, Opcode: OpContinuation, Payload: []byte("second")}}, nil, 1002)},
		Case{Title: "valid text, then a text message with RSV=1, then valid text", Requirement: reqRSV + " The first message may be echoed; the last must not.",
			Play: sendFails([]Frame{text("before"), {Fin: true, RSV: RSV1, Opcode: OpText, Payload: []byte("reserved")}, text("after")}, []Msg{textMsg("before")}, 1002)},
		Case{Title: "text message with RSV=5 written one byte per TCP segment", Requirement: reqRSV,
			Play: func(p *Peer) Verdict {
				_ = p.SendChopped(1, Frame{Fin: true, RSV: 5, Opcode: OpText, Payload: []byte("chopped")})
				return p.Fails(nil, 1002)
			}},
	)
	return numbered("rsv", cs)
}

func opcodeCases() []Case {
	var cs []Case
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cs = append(cs, Case{Title: fmt.Sprintf("frame with reserved opcode %d", op), Requirement: reqOpcode,
			Play: sendFails([]Frame{{Fin: true, Opcode: op}}, nil, 1002)})
	}
	for _, op := range []byte{5, 0xD} {
		cs = append(cs, Case{Title: fmt.Sprintf("valid text, reserved opcode %d with payload, valid text", op), Requirement: reqOpcode + " The first message may be echoed; the last must not.",
			Play: sendFails([]Frame{text("before"), {Fin: true, Opcode: op, Payload: []byte("reserved opcode")}, text("after")}, []Msg{textMsg("before")}, 1002)})
	}
	cs = append(cs, Case{Title: "reserved opcode 4 inside a fragmented text message", Requirement: reqOpcode,
		Play: sendFails([]Frame{frag(OpText, []byte("first ")), {Fin: true, Opcode: 4, Payload: []byte("x")}, cont([]byte("last"), true)}, nil, 1002)})
	return numbered("opcodes", cs)
}

func fragmentationCases() []Case {
	const (
		reqFrag       = "§5.4: a message may be split into a first frame and continuation frames, the last with FIN; the receiver reassembles it. Pass: the whole message comes back. Fail: anything else."
		reqInterleave = "§5.4: \"Control frames … MAY be injected in the middle of a fragmented message\" and \"An endpoint MUST be capable of handling control frames in the middle of a fragmented message.\" Pass: each control frame is handled and the message comes back whole."
		reqNoStart    = "§5.4: continuation frames continue a message in progress; a frame outside those rules is a protocol error and the receiver MUST _Fail the WebSocket Connection_ (§5.4, §7.1.7). Pass: fails with 1002 or drops. Non-strict: another status. Fail: carries on."
		reqCtlFrag    = "§5.4: \"Control frames themselves MUST NOT be fragmented.\" Pass: fails with 1002 or drops. Non-strict: another status. Fail: carries on."
	)
	hello := []byte("Hello, fragmented world!")
	many := letters(1000)
	cs := []Case{
		{Title: "text message in two fragments", Requirement: reqFrag,
			Play: sendEcho([]Frame{frag(OpText, []byte("fragment one, ")), cont([]byte("fragment two"), true)}, textMsg("fragment one, fragment two"))},
		{Title: "binary message in two fragments", Requirement: reqFrag,
			Play: sendEcho(fragments(OpBinary, pattern(64), 32), binMsg(pattern(64)))},
		{Title: "text message in ten fragments", Requirement: reqFrag,
			Play: sendEcho(fragments(OpText, letters(100), 10), textMsgB(letters(100)))},
		{Title: "binary message in 100 fragments", Requirement: reqFrag,
			Play: sendEcho(fragments(OpBinary, pattern(1000), 10), binMsg(pattern(1000)))},
		{Title: "text message whose first fragment is empty", Requirement: reqFrag,
			Play: sendEcho([]Frame{frag(OpText, nil), cont(hello, true)}, textMsgB(hello))},
		{Title: "text message whose last fragment is empty", Requirement: reqFrag,
			Play: sendEcho([]Frame{frag(OpText, hello), cont(nil, true)}, textMsgB(hello))},
		{Title: "text message of three empty fragments", Requirement: reqFrag,
			Play: sendEcho([]Frame{frag(OpText, nil), cont(nil, false), cont(nil, true)}, textMsg(""))},
		{Title: "two fragmented messages back to back", Requirement: reqFrag,
			Play: sendEcho(append(fragments(OpText, hello, 5), fragments(OpBinary, pattern(40), 7)...), textMsgB(hello), binMsg(pattern(40)))},
		{Title: "fragmented text message written one byte per TCP segment", Requirement: reqFrag,
			Play: func(p *Peer) Verdict {
				_ = p.SendChopped(1, fragments(OpText, hello, 4)...)
				return p.Echo(textMsgB(hello))
			}},
		{Title: "ping between two fragments", Requirement: reqInterleave,
			Play: func(p *Peer) Verdict {
				_ = p.Send(frag(OpText, []byte("fragment one, ")), ping("in between"), cont([]byte("fragment two"), true))
				return pongThenEcho(p, []string{"in between"}, textMsg("fragment one, fragment two"))
			}},
		{Title: "pong between two fragments", Requirement: reqInterleave,
			Play: sendEcho([]Frame{frag(OpText, []byte("fragment one, ")), pong("unsolicited"), cont([]byte("fragment two"), true)}, textMsg("fragment one, fragment two"))},
		{Title: "a ping between each of five fragments", Requirement: reqInterleave,
			Play: func(p *Peer) Verdict {
				fs := fragments(OpText, letters(50), 10)
				var out []Frame
				var sent []string
				for i, f := range fs {
					out = append(out, f)
					if i < len(fs)-1 {
						s := fmt.Sprintf("ping %d", i)
						out, sent = append(out, ping(s)), append(sent, s)
					}
				}
				_ = p.Send(out...)
				return pongThenEcho(p, sent, textMsgB(letters(50)))
			}},
		{Title: "ping between fragments, written one byte per TCP segment", Requirement: reqInterleave,
			Play: func(p *Peer) Verdict {
				_ = p.SendChopped(1, frag(OpText, []byte("fragment one, ")), ping("chopped"), cont([]byte("fragment two"), true))
				return pongThenEcho(p, []string{"chopped"}, textMsg("fragment one, fragment two"))
			}},
		{Title: "close between two fragments", Requirement: "§5.4 and §5.5.1: a close frame may come inside a fragmented message and is answered; the unfinished message is not delivered. Pass: a close answers, nothing is echoed. Fail: the partial message is echoed.",
			Play: func(p *Peer) Verdict {
				_ = p.Send(frag(OpText, []byte("never finished")), closeFrame(ClosePayload(1000, "")))
				v, _ := p.AwaitClose(1000)
				return v
			}},
		{Title: "continuation frame with FIN and no message in progress", Requirement: reqNoStart,
			Play: sendFails([]Frame{cont([]byte("orphan"), true)}, nil, 1002)},
		{Title: "continuation frames without FIN and no message in progress", Requirement: reqNoStart,
			Play: sendFails([]Frame{cont([]byte("orphan "), false), cont([]byte("continued"), true)}, nil, 1002)},
		{Title: "continuation after a complete message", Requirement: reqNoStart + " The complete message may be echoed.",
			Play: sendFails([]Frame{text("complete"), cont([]byte("orphan"), true)}, []Msg{textMsg("complete")}, 1002)},
		{Title: "a new text message starts while a fragmented one is in progress", Requirement: reqNoStart,
			Play: sendFails([]Frame{frag(OpText, []byte("first ")), text("interloper")}, nil, 1002)},
		{Title: "a new binary message starts while a fragmented text is in progress", Requirement: reqNoStart,
			Play: sendFails([]Frame{frag(OpText, []byte("first ")), frag(OpBinary, []byte{1, 2}), cont([]byte{3}, true)}, nil, 1002)},
		{Title: "fragmented ping", Requirement: reqCtlFrag,
			Play: sendFails([]Frame{{Opcode: OpPing, Payload: []byte("frag")}, cont([]byte("mented"), true)}, nil, 1002)},
		{Title: "fragmented pong", Requirement: reqCtlFrag,
			Play: sendFails([]Frame{{Opcode: OpPong, Payload: []byte("frag")}, cont([]byte("mented"), true)}, nil, 1002)},
		{Title: "fragmented close", Requirement: reqCtlFrag,
			Play: sendFails([]Frame{{Opcode: OpClose, Payload: ClosePayload(1000, "frag")}, cont([]byte("mented"), true)}, nil, 1002)},
		{Title: "ping with FIN unset, alone", Requirement: reqCtlFrag,
			Play: sendFails([]Frame{{Opcode: OpPing, Payload: []byte("no fin")}}, nil, 1002)},
		{Title: "text message in 1000 one-byte fragments", Requirement: reqFrag,
			Play: sendEcho(fragments(OpText, many, 1), textMsgB(many))},
	}
	return numbered("fragmentation", cs)
}

// pongThenEcho waits for the pongs of sent (all of them, in order, none
// skipped since each was answered before the next) and the echo of want,
// in whichever order they interleave.
func pongThenEcho(p *Peer, sent []string, want Msg) Verdict {
	dl := p.deadline()
	var got []string
	echoed := false
	for len(got) < len(sent) || !echoed {
		m, end := p.readMessage(dl, true)
		switch {
		case end == nil:
			if m.Op != want.Op || !bytes.Equal(m.Data, want.Data) {
				return fail("echoed %s, want %s", m, want)
			}
			echoed = true
		case end.timeout:
			return timedOut("got %d of %d pongs, echo %v, then nothing within %s", len(got), len(sent), echoed, p.timeout)
		case end.pong != nil:
			got = append(got, string(end.pong.Payload))
		default:
			return fail("%s", end)
		}
	}
	for i := range sent {
		if got[i] != sent[i] {
			return fail("pong %d carried %q, want %q", i+1, got[i], sent[i])
		}
	}
	return pass("%d pong(s) and the message reassembled", len(got))
}
