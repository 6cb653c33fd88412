package conformance

import (
	"bytes"
	"compress/flate"
	"fmt"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/internal/deflate"
)

// offerNoContext is the raw client's offer for the data cases: no context
// takeover either way, so every message inflates on its own.
const offerNoContext = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

const (
	reqDeflateEcho = "RFC 7692 §6/§7.2: a message with RSV1 set on its first frame is compressed (DEFLATE, the 00 00 FF FF tail removed); the receiver inflates it. Pass: the same message comes back (compressed or not). Fail: anything else. Unsupported: permessage-deflate not negotiated."
	reqDeflateRSV  = "RFC 7692 §6.1: \"An endpoint MUST NOT set the 'Per-Message Compressed' bit of control frames and non-first fragments of a data message\"; RFC 6455 §5.2 makes an undefined RSV bit a protocol error. Pass: fails with 1002 or drops. Non-strict: another status. Fail: carries on."
	reqDeflateBad  = "RFC 7692 §8: a compressed message that does not inflate is an error and the receiver MUST _Fail the WebSocket Connection_. Pass: fails (any status) or drops. Fail: carries on."
	reqNegotiate   = "RFC 7692 §7.1: a server that accepts answers with parameters valid for the offer: no unknown or repeated parameter, window bits 8–15, server_no_context_takeover when offered, server_max_window_bits (at most the offered value) when offered, client_max_window_bits only when offered. Pass: a valid acceptance. Fail: an invalid one. Unsupported: declined."
	reqMustDecline = "RFC 7692 §7.1: \"A server MUST decline an extension negotiation offer for this extension if … the negotiation offer contains an extension parameter not defined for use in an offer\", an invalid value, or a parameter given twice. Pass: declined (the connection goes on uncompressed). Fail: accepted. Unsupported: the server declines permessage-deflate altogether."
	reqBadAnswer   = "RFC 7692 §7.1 / RFC 6455 §9.1: \"a client MUST _Fail the WebSocket Connection_\" when the server's answer holds an extension it did not offer, an unknown or repeated parameter, an invalid value, or client_max_window_bits it did not offer. Pass: the driver fails the connection. Fail: it carries on (echoes a message). Unsupported: the driver did not offer permessage-deflate."
)

// compressed is a data frame carrying p deflated, RSV1 set.
func compressed(op byte, p []byte) Frame {
	out, err := deflate.Compress(nil, p, flate.BestSpeed)
	if err != nil {
		panic(err)
	}
	return Frame{Fin: true, RSV: RSV1, Opcode: op, Payload: out}
}

// compressedFragments is p deflated and cut into frames of size bytes,
// RSV1 on the first only.
func compressedFragments(op byte, p []byte, size int) []Frame {
	fs := fragments(op, compressed(op, p).Payload, size)
	fs[0].RSV = RSV1
	return fs
}

// storedBlock is p in a DEFLATE stream of stored blocks (flate level 0),
// sync-flushed and its tail removed as RFC 7692 §7.2.1 asks.
func storedBlock(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.NoCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// checkAnswer validates a server's permessage-deflate answer against the
// offer; accepted is false when it declined.
func checkAnswer(offer, answer string) (accepted bool, problem string) {
	var offered map[string]string
	for _, e := range parseExtensions(offer) {
		if e.name == "permessage-deflate" && offered == nil {
			offered = e.params
		}
	}
	var acc []extension
	for _, e := range parseExtensions(answer) {
		if e.name == "permessage-deflate" {
			acc = append(acc, e)
		} else if !hasExtension(offer, e.name) {
			return true, fmt.Sprintf("answered with %q, which was not offered", e.name)
		}
	}
	switch len(acc) {
	case 0:
		return false, ""
	case 1:
	default:
		return true, "accepted permessage-deflate twice"
	}
	a := acc[0]
	seen := map[string]bool{}
	for _, k := range a.order {
		if seen[k] {
			return true, fmt.Sprintf("repeated %s", k)
		}
		seen[k] = true
		switch k {
		case "server_no_context_takeover", "client_no_context_takeover":
			if a.params[k] != "" {
				return true, fmt.Sprintf("%s=%s: it takes no value", k, a.params[k])
			}
		case "server_max_window_bits", "client_max_window_bits":
			n, err := strconv.Atoi(a.params[k])
			if err != nil || n < 8 || n > 15 {
				return true, fmt.Sprintf("%s=%q: want 8–15", k, a.params[k])
			}
			if k == "client_max_window_bits" {
				if _, ok := offered[k]; !ok {
					return true, "client_max_window_bits in the answer, not in the offer"
				}
			}
			if v, ok := offered[k]; ok && v != "" {
				if o, _ := strconv.Atoi(v); k == "server_max_window_bits" && n > o {
					return true, fmt.Sprintf("server_max_window_bits=%d above the offered %d", n, o)
				}
			}
		default:
			return true, fmt.Sprintf("unknown parameter %s", k)
		}
	}
	if _, ok := offered["server_no_context_takeover"]; ok && !seen["server_no_context_takeover"] {
		return true, "server_no_context_takeover was offered but is not in the answer"
	}
	if v, ok := offered["server_max_window_bits"]; ok && v != "" && !seen["server_max_window_bits"] {
		return true, "server_max_window_bits was offered but is not in the answer"
	}
	return true, ""
}

// negotiate judges the server's answer to the case's offer, then checks the
// connection works with a message.
func negotiate(mustDecline bool) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		offer := p.Handshake.Offer
		accepted, problem := checkAnswer(offer, p.Handshake.Extensions)
		switch {
		case problem != "":
			return fail("%s (answer %q)", problem, p.Handshake.Extensions)
		case mustDecline && accepted:
			return fail("accepted the offer %q with %q", offer, p.Handshake.Extensions)
		case !accepted && !mustDecline:
			return Verdict{Outcome: Unsupported, Reason: "declined permessage-deflate"}
		case !accepted && p.PlainDeflate != nil && !p.PlainDeflate():
			return Verdict{Outcome: Unsupported, Reason: "declined permessage-deflate, even a plain offer"}
		}
		m := "negotiated"
		f := text(m)
		if accepted {
			f = compressed(OpText, []byte(m))
		}
		_ = p.Send(f)
		v := p.Echo(textMsg(m))
		if v.Outcome == Pass {
			if accepted {
				v.Reason = fmt.Sprintf("accepted with %q and echoed a compressed message", p.Handshake.Extensions)
			} else {
				v.Reason = "declined and went on uncompressed"
			}
		}
		return v
	}
}

// badAnswer is a client-side case: the raw server answers the driver's
// offer with answer, which the driver must refuse.
func badAnswer(title, answer string, needsOffer bool, allowedIf func(offer string) bool) Case {
	return Case{Title: title, Requirement: reqBadAnswer, Sides: ClientSide,
		Answer: func(string) string { return answer },
		Play: func(p *Peer) Verdict {
			if needsOffer && !hasExtension(p.Offer, "permessage-deflate") {
				return Verdict{Outcome: Unsupported, Reason: "the driver did not offer permessage-deflate"}
			}
			if allowedIf != nil && allowedIf(p.Offer) {
				return pass("the offer %q allows the answer", p.Offer)
			}
			_ = p.Send(text("accepted?"))
			v := p.Fails(nil)
			if v.Outcome == Fail {
				v.Reason = fmt.Sprintf("accepted the answer %q: %s", answer, v.Reason)
			}
			return v
		}}
}

func deflateCases() []Case {
	neg := func(title, offer string, mustDecline bool) Case {
		req := reqNegotiate
		if mustDecline {
			req = reqMustDecline
		}
		c := Case{Title: "offer " + offer + ": " + title, Requirement: req, Sides: ServerSide, Offer: offer, Play: negotiate(mustDecline)}
		if mustDecline {
			c.Refused = NonStrict
			c.Requirement += " Non-strict: the whole handshake refused."
		}
		return c
	}
	dc := func(title string, c Case) Case {
		c.Title, c.Deflate, c.Offer = title, true, offerNoContext
		if c.Requirement == "" {
			c.Requirement = reqDeflateEcho
		}
		return c
	}
	hello := []byte("Hello, compressed world!")
	finalBlock := func(p []byte) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestSpeed)
		_, _ = w.Write(p)
		_ = w.Close()
		return b.Bytes()
	}
	cs := []Case{
		neg("a plain offer", "permessage-deflate", false),
		neg("client_max_window_bits without a value", "permessage-deflate; client_max_window_bits", false),
		neg("no context takeover both ways", offerNoContext, false),
		neg("a server window of 10 bits", "permessage-deflate; server_max_window_bits=10", false),
		neg("a client window of 10 bits", "permessage-deflate; client_max_window_bits=10", false),
		neg("an unknown parameter", "permessage-deflate; foo=1", true),
		neg("server window 16 bits (invalid)", "permessage-deflate; server_max_window_bits=16", true),
		neg("server window 7 bits (invalid)", "permessage-deflate; server_max_window_bits=7", true),
		neg("client window 16 bits (invalid)", "permessage-deflate; client_max_window_bits=16", true),
		neg("a repeated parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", true),
		neg("a value on a parameter that takes none", "permessage-deflate; server_no_context_takeover=1", true),
		neg("server_max_window_bits without its value", "permessage-deflate; server_max_window_bits", true),
		{Title: "two offers, the first with an unknown parameter", Requirement: reqNegotiate + " The first offer must not be the one accepted. Non-strict: the whole handshake refused.", Sides: ServerSide, Refused: NonStrict,
			Offer: "permessage-deflate; foo=1, permessage-deflate",
			Play: func(p *Peer) Verdict {
				if strings.Contains(p.Handshake.Extensions, "foo") {
					return fail("accepted the offer with foo=1: %q", p.Handshake.Extensions)
				}
				return negotiate(false)(p)
			}},
		{Title: "answer declines the extension", Requirement: "RFC 7692 §5: a server may decline; the connection goes on uncompressed. Pass: echoes uncompressed. Fail: anything else.", Sides: ClientSide,
			Answer: func(string) string { return "" },
			Play:   sendEcho([]Frame{text("uncompressed")}, textMsg("uncompressed"))},
		badAnswer("answer with an unknown parameter", "permessage-deflate; foo=1", true, nil),
		badAnswer("answer with server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7", true, nil),
		badAnswer("answer with an extension never offered", "x-wsbench-unknown", false, nil),
		badAnswer("answer with client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10", true, func(offer string) bool {
			for _, e := range parseExtensions(offer) {
				if _, ok := e.params["client_max_window_bits"]; ok && e.name == "permessage-deflate" {
					return true
				}
			}
			return false
		}),
		badAnswer("answer repeating a parameter", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", true, nil),
		badAnswer("answer accepting twice", DeflateAnswer+", "+DeflateAnswer, true, nil),
		dc("compressed text message", Case{Play: sendEcho([]Frame{compressed(OpText, hello)}, textMsgB(hello))}),
		dc("compressed binary message of 16 KiB", Case{Play: sendEcho([]Frame{compressed(OpBinary, pattern(16<<10))}, binMsg(pattern(16<<10)))}),
		dc("compressed text message of 256 KiB", Case{Play: sendEcho([]Frame{compressed(OpText, letters(256<<10))}, textMsgB(letters(256<<10)))}),
		dc("compressed empty message", Case{Play: sendEcho([]Frame{compressed(OpText, nil)}, textMsg(""))}),
		dc("compressed message in three fragments, RSV1 on the first", Case{Play: sendEcho(compressedFragments(OpText, letters(3000), 400), textMsgB(letters(3000)))}),
		dc("compressed message in one-byte fragments", Case{Play: sendEcho(compressedFragments(OpText, hello, 1), textMsgB(hello))}),
		dc("uncompressed message in a compressed session", Case{Play: sendEcho([]Frame{text("plain")}, textMsg("plain"))}),
		dc("compressed and uncompressed messages alternating", Case{Play: sendEcho(
			[]Frame{compressed(OpText, []byte("one")), text("two"), compressed(OpBinary, pattern(100)), binFrame(pattern(50))},
			textMsg("one"), textMsg("two"), binMsg(pattern(100)), binMsg(pattern(50)))}),
		dc("ten compressed messages, each on its own context", Case{Play: func(p *Peer) Verdict {
			var fs []Frame
			var want []Msg
			for i := range 10 {
				m := strings.Repeat(fmt.Sprintf("message %d ", i), 20)
				fs, want = append(fs, compressed(OpText, []byte(m))), append(want, textMsg(m))
			}
			_ = p.Send(fs...)
			return p.Echo(want...)
		}}),
		dc("compressed with a final (BFINAL) block", Case{Requirement: reqDeflateEcho + " §7.2.3.5: a sender may use a block with BFINAL set; the receiver inflates it the same.",
			Play: sendEcho([]Frame{{Fin: true, RSV: RSV1, Opcode: OpText, Payload: finalBlock(hello)}}, textMsgB(hello))}),
		dc("compressed with a stored (uncompressed) DEFLATE block", Case{Requirement: reqDeflateEcho + " §7.2.3.4: a sender may use a DEFLATE block with no compression; the receiver inflates it the same.",
			Play: sendEcho([]Frame{{Fin: true, RSV: RSV1, Opcode: OpText, Payload: storedBlock(hello)}}, textMsgB(hello))}),
		dc("compressed 1 MiB of zeros, inflating to the read limit", Case{Setting: limitSetting, Timeout: 5e9,
			Play: limitCase([]Frame{compressed(OpBinary, make([]byte, 1<<20))}, binMsg(make([]byte, 1<<20)))}),
		dc("compressed 2 MiB of zeros, inflating beyond the read limit", Case{Setting: limitSetting, Timeout: 5e9, Requirement: reqLimitEcho,
			Play: limitCase([]Frame{compressed(OpBinary, make([]byte, 2<<20))}, binMsg(make([]byte, 2<<20)))}),
		dc("RSV1 on a continuation frame", Case{Requirement: reqDeflateRSV,
			Play: sendFails([]Frame{{Opcode: OpText, RSV: RSV1, Payload: compressed(OpText, hello).Payload[:4]}, {Fin: true, RSV: RSV1, Opcode: OpContinuation, Payload: compressed(OpText, hello).Payload[4:]}}, nil, 1002)}),
		dc("RSV1 on a ping", Case{Requirement: reqDeflateRSV,
			Play: sendFails([]Frame{{Fin: true, RSV: RSV1, Opcode: OpPing, Payload: []byte("compressed?")}}, nil, 1002)}),
		dc("RSV1 on a pong", Case{Requirement: reqDeflateRSV,
			Play: sendFails([]Frame{{Fin: true, RSV: RSV1, Opcode: OpPong}}, nil, 1002)}),
		dc("RSV1 on a close", Case{Requirement: reqDeflateRSV + " A close answered normally means the bit went unnoticed.",
			Play: func(p *Peer) Verdict {
				_ = p.Send(Frame{Fin: true, RSV: RSV1, Opcode: OpClose, Payload: ClosePayload(1000, "")})
				v, f := p.AwaitClose(1002)
				if f != nil && CloseCode(f.Payload) != 1002 {
					return fail("answered with %s: RSV1 on a control frame went unnoticed", closeDesc(f.Payload))
				}
				if f == nil && strings.HasPrefix(v.Reason, "dropped") {
					return pass("dropped the connection")
				}
				return v
			}}),
		dc("compressed payload that is not DEFLATE", Case{Requirement: reqDeflateBad,
			Play: sendFails([]Frame{{Fin: true, RSV: RSV1, Opcode: OpBinary, Payload: []byte{0xff, 0xff, 0xff, 0xff, 0xff}}}, nil)}),
		dc("compressed text that inflates to invalid UTF-8", Case{Requirement: reqUTF8Invalid, Setting: utf8Setting,
			Play: sendFails([]Frame{compressed(OpText, []byte("κόσμε\xed\xa0\x80edited"))}, nil, 1007)}),
	}
	return numbered("deflate", cs)
}
