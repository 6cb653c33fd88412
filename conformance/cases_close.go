package conformance

import (
	"fmt"
	"strings"
	"time"
)

const (
	reqCloseValid   = "§5.5.1: an endpoint that receives a Close frame MUST send a Close frame in response (\"typically echoing the status code it received\"); §7.4.1 defines this code, §7.4.2 reserves 3000–4999 for libraries and applications. Pass: a close answers with the same code, 1000 or none. Non-strict: another code. Fail: no close frame."
	reqCloseIANA    = "§7.4.2 and the IANA registry: 1012–1014 were registered after RFC 6455, so an RFC-era endpoint may treat them as reserved. Pass: a close answers, with any code, or the connection fails with 1002."
	reqCloseInvalid = "§7.4.1/§7.4.2: codes below 1000, 1004–1006, 1015 and the unassigned 1016–2999 are not valid on the wire (1005, 1006, 1015 \"MUST NOT be set as a status code in a Close control frame\"); receiving one is a protocol error. Pass: fails with 1002 or drops. Non-strict: a close with another code. Fail: the invalid code is echoed back."
	reqCloseBeyond  = "§7.4.2 defines status ranges up to 4999 and none beyond; Autobahn reports this as informational. Pass: fails with 1002 or drops. Non-strict: any close answer (the RFC does not forbid accepting it). Fail: no close frame."
	reqCloseReason  = "§5.5.1: the close body \"MAY contain UTF-8-encoded data with value /reason/\" after the status code. Pass: a close answers with 1000. Non-strict: another code. Fail: no close frame."
	reqCloseBadUTF8 = "§5.5.1 and §8.1: the close reason is UTF-8; an invalid one MUST _Fail the WebSocket Connection_ with 1007. Pass: a close with 1007, or a drop. Non-strict: 1002. Fail: a normal answer (the invalid reason went unnoticed)."
	reqAfterClose   = "§5.5.1: \"After sending a Close frame, the endpoint MUST NOT send any more data frames\"; §1.4: after receiving and answering a close the endpoint discards what follows. Pass: a close answers and nothing follows it. Fail: data or a pong after the close."
)

func closeCases() []Case {
	var cs []Case
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cs = append(cs, Case{Title: fmt.Sprintf("close with status %d", code), Requirement: reqCloseValid,
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame(ClosePayload(code, "")))
				v, _ := p.AwaitClose(int(code), 1000, 1005)
				return v
			}})
	}
	for _, code := range []uint16{1012, 1013, 1014} {
		cs = append(cs, Case{Title: fmt.Sprintf("close with status %d (registered after the RFC)", code), Requirement: reqCloseIANA,
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame(ClosePayload(code, "")))
				v, f := p.AwaitClose(int(code))
				if f != nil {
					return pass("answered with %s", closeDesc(f.Payload))
				}
				if v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped") {
					return pass("dropped the connection: treated the code as invalid")
				}
				return v
			}})
	}
	for _, code := range []uint16{5000, 65535} {
		cs = append(cs, Case{Title: fmt.Sprintf("close with status %d, beyond the ranges the RFC defines", code), Requirement: reqCloseBeyond,
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame(ClosePayload(code, "")))
				v, f := p.AwaitClose(1002)
				switch {
				case f != nil && CloseCode(f.Payload) != 1002:
					return nonStrict("answered with %s", closeDesc(f.Payload))
				case v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped"):
					return pass("dropped the connection")
				}
				return v
			}})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999} {
		cs = append(cs, Case{Title: fmt.Sprintf("close with invalid status %d", code), Requirement: reqCloseInvalid,
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame(ClosePayload(code, "")))
				v, f := p.AwaitClose(1002)
				switch {
				case f != nil && CloseCode(f.Payload) == int(code):
					return fail("echoed the invalid status %d", code)
				case v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped"):
					return pass("dropped the connection")
				}
				return v
			}})
	}
	invalidReason := func(reason string) func(p *Peer) Verdict {
		return func(p *Peer) Verdict {
			_ = p.Send(closeFrame(ClosePayload(1000, reason)))
			v, f := p.AwaitClose(1007)
			switch {
			case f == nil && v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped"):
				return pass("dropped the connection")
			case f != nil && CloseCode(f.Payload) == 1002:
				return nonStrict("closed with 1002 where §7.4.1 names 1007")
			case f != nil && CloseCode(f.Payload) != 1007:
				return fail("answered with %s: the invalid reason went unnoticed", closeDesc(f.Payload))
			}
			return v
		}
	}
	cs = append(cs,
		Case{Title: "close without payload", Requirement: "§5.5.1: a close body is optional; the answer is a close frame. Pass: a close with 1000 or none. Non-strict: another code. Fail: no close frame.",
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame(nil))
				v, _ := p.AwaitClose(1000, 1005)
				return v
			}},
		Case{Title: "close with a 1-byte payload", Requirement: "§5.5.1: \"If there is a body, the first two bytes of the body MUST be a 2-byte unsigned integer\"; one byte cannot be. Pass: fails with 1002 or drops. Non-strict: another status. Fail: no close.",
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame([]byte{0x03}))
				v, f := p.AwaitClose(1002)
				if f == nil && v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped") {
					return pass("dropped the connection")
				}
				return v
			}},
		Case{Title: "close with a short reason", Requirement: reqCloseReason,
			Play: closeReason("Hello World!")},
		Case{Title: "close with a 123-byte reason (125-byte payload)", Requirement: reqCloseReason,
			Play: closeReason(strings.Repeat("*", 123))},
		Case{Title: "close with a valid UTF-8 reason κόσμε", Requirement: reqCloseReason,
			Play: closeReason("κόσμε")},
		Case{Title: "close with a 124-byte reason (126-byte payload)", Requirement: reqControlLen,
			Play: func(p *Peer) Verdict {
				_ = p.Send(closeFrame(ClosePayload(1000, strings.Repeat("*", 124))))
				v, f := p.AwaitClose(1002)
				switch {
				case f == nil && v.Outcome == Fail && strings.HasPrefix(v.Reason, "dropped"):
					return pass("dropped the connection")
				case f != nil && CloseCode(f.Payload) == 1000:
					return fail("answered with %s: the oversized control frame went unnoticed", closeDesc(f.Payload))
				}
				return v
			}},
		Case{Title: "close reason with a surrogate (ED A0 80)", Requirement: reqCloseBadUTF8, Setting: utf8Setting, Play: invalidReason("bad \xed\xa0\x80 reason")},
		Case{Title: "close reason with byte FF", Requirement: reqCloseBadUTF8, Setting: utf8Setting, Play: invalidReason("\xff")},
		Case{Title: "close reason with an overlong NUL", Requirement: reqCloseBadUTF8, Setting: utf8Setting, Play: invalidReason("a\xc0\x80b")},
		Case{Title: "close reason ending in a truncated sequence", Requirement: reqCloseBadUTF8, Setting: utf8Setting, Play: invalidReason("κόσμε\xce")},
		Case{Title: "text message, then close", Requirement: reqCloseValid + " The message before the close is echoed first; §5.5.1 lets an endpoint answer the close before its own pending message (non-strict).",
			Play: func(p *Peer) Verdict {
				_ = p.Send(text("before the close"), closeFrame(ClosePayload(1000, "")))
				v := p.Echo(textMsg("before the close"))
				if v.Outcome == Fail && strings.HasPrefix(v.Reason, "closed with") {
					return nonStrict("answered the close before the echo of the message could be sent (%s)", v.Reason)
				}
				if v.Outcome != Pass {
					return v
				}
				v, _ = p.AwaitClose(1000, 1005)
				return v
			}},
		Case{Title: "close, then a text message", Requirement: reqAfterClose,
			Play: closeThen(text("after the close"))},
		Case{Title: "close, then a ping", Requirement: reqAfterClose,
			Play: closeThen(ping("after the close"))},
		Case{Title: "close, then a fragmented message", Requirement: reqAfterClose,
			Play: closeThen(fragments(OpText, []byte("after the close"), 4)...)},
		Case{Title: "two close frames", Requirement: reqAfterClose + " The second close is ignored.",
			Play: closeThen(closeFrame(ClosePayload(1000, "again")))},
		Case{Title: "close handshake: the answer, then the TCP close", Requirement: "§5.5.1 and §7.1.1: the close is answered, and \"the underlying TCP connection, in most normal cases, SHOULD be closed first by the server\"; a client SHOULD wait for it. Pass: a close answers within the timeout and, server side, the TCP connection closes within a second. Non-strict: a server that leaves TCP open.",
			Play: func(p *Peer) Verdict {
				t0 := time.Now()
				_ = p.Send(closeFrame(ClosePayload(1000, "")))
				v, f := p.AwaitClose(1000, 1005)
				if f == nil {
					return v
				}
				answered := time.Since(t0)
				if p.Side == ClientSide {
					return pass("answered in %s", answered.Round(time.Microsecond))
				}
				if ok, d := p.peerClosedTCP(time.Second); ok {
					return pass("answered in %s, closed TCP %s later", answered.Round(time.Microsecond), d.Round(time.Microsecond))
				}
				return nonStrict("answered in %s but left TCP open for more than a second", answered.Round(time.Microsecond))
			}},
	)
	return numbered("close", cs)
}

// closeReason sends a close with a valid reason and expects 1000 back.
func closeReason(reason string) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		_ = p.Send(closeFrame(ClosePayload(1000, reason)))
		v, _ := p.AwaitClose(1000, 1005)
		return v
	}
}

// closeThen sends a close and more frames after it: the peer answers the
// close and nothing after.
func closeThen(after ...Frame) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		_ = p.Send(append([]Frame{closeFrame(ClosePayload(1000, ""))}, after...)...)
		v, f := p.AwaitClose(1000, 1005)
		if f == nil {
			return v
		}
		dl := time.Now().Add(300 * time.Millisecond)
		for {
			m, end := p.readMessage(dl, true)
			switch {
			case end == nil:
				return fail("sent %s after its close frame", m)
			case end.pong != nil:
				return fail("answered a ping after the close")
			case end.closeFrame != nil:
				return fail("sent a second close frame")
			case end.unexpected != nil:
				return fail("sent %s after its close frame", end.unexpected)
			}
			return v // timeout or the end of the stream: nothing followed
		}
	}
}
