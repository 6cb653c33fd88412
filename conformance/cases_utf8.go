package conformance

import (
	"fmt"
	"strings"
	"time"
)

const (
	reqUTF8Valid   = "§5.6: text data is UTF-8; a valid message must be delivered. Pass: echoed byte for byte. Fail: anything else."
	reqUTF8Invalid = "§8.1: \"When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_\", with status 1007 (§7.4.1). Pass: fails with 1007 or drops. Non-strict: fails with another status. Fail: echoes the message or answers the probe ping."
	// utf8Setting names the wsbench setting the invalid-UTF-8 verdicts
	// depend on.
	utf8Setting = "UTF-8 validation: wsbench's reference servers and drivers turn it off where the library has a switch, so the benchmark measures transport, not validation (see each library's file in servers/ and drivers/); a fail there is that setting where a switch exists"
	reqUTF8Fast = reqUTF8Invalid + " Checked fragment by fragment: pass when it fails on the fragment holding the invalid bytes, non-strict when only after the whole message."
)

// validUTF8 are well-formed sequences at the encoding boundaries.
var validUTF8 = []struct{ name, s string }{
	{"ASCII and Latin-1 letters", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"Greek κόσμε", "κόσμε"},
	{"U+0080, the first 2-byte code point", "\u0080"},
	{"U+07FF, the last 2-byte code point", "\u07ff"},
	{"U+0800, the first 3-byte code point", "\u0800"},
	{"U+FFFF, a noncharacter (still valid UTF-8)", "\uffff"},
	{"U+10000, the first 4-byte code point", "\U00010000"},
	{"U+10FFFF, the last code point", "\U0010ffff"},
	{"U+FEFF byte-order mark", "\ufeff"},
	{"U+E000, after the surrogates", "\ue000"},
	{"U+D7FF, before the surrogates", "\ud7ff"},
	{"emoji (4 bytes)", "😀"},
	{"mixed scripts, 1 KiB", func() string {
		s := ""
		for len(s) < 1024 {
			s += "κόσμε-😀-ü-ж-中文-"
		}
		return s
	}()},
}

// invalidUTF8 are ill-formed sequences (RFC 3629 §3, Unicode §3.9).
var invalidUTF8 = []struct{ name, b string }{
	{"lone continuation byte 0x80", "\x80"},
	{"lone continuation byte 0xBF", "\xbf"},
	{"three continuation bytes", "\x80\xbf\x80"},
	{"overlong NUL (C0 80)", "\xc0\x80"},
	{"overlong '/' (C0 AF)", "\xc0\xaf"},
	{"overlong 2-byte (C1 BF)", "\xc1\xbf"},
	{"overlong 3-byte (E0 80 80)", "\xe0\x80\x80"},
	{"overlong 3-byte, the largest (E0 9F BF)", "\xe0\x9f\xbf"},
	{"overlong 4-byte (F0 80 80 80)", "\xf0\x80\x80\x80"},
	{"overlong 4-byte, the largest (F0 8F BF BF)", "\xf0\x8f\xbf\xbf"},
	{"5-byte sequence (F8 88 80 80 80)", "\xf8\x88\x80\x80\x80"},
	{"6-byte sequence (FC 84 80 80 80 80)", "\xfc\x84\x80\x80\x80\x80"},
	{"surrogate U+D800 (ED A0 80)", "\xed\xa0\x80"},
	{"surrogate U+DFFF (ED BF BF)", "\xed\xbf\xbf"},
	{"surrogate pair encoded as two 3-byte sequences", "\xed\xa0\x80\xed\xb0\x80"},
	{"beyond U+10FFFF (F4 90 80 80)", "\xf4\x90\x80\x80"},
	{"lead byte F5", "\xf5\x80\x80\x80"},
	{"byte FE", "\xfe"},
	{"byte FF", "\xff"},
	{"FE FE FF FF", "\xfe\xfe\xff\xff"},
	{"truncated 2-byte sequence at the end", "ab\xc2"},
	{"truncated 3-byte sequence at the end", "ab\xe0\xa0"},
	{"truncated 4-byte sequence at the end", "ab\xf0\x90\x80"},
	{"2-byte lead followed by ASCII", "\xc2\x41"},
	{"invalid bytes between valid text", "κόσμε\xed\xa0\x80edited"},
	{"valid text ending in 0xFF", "Hello, world\xff"},
}

func utf8Cases() []Case {
	var cs []Case
	for _, v := range validUTF8 {
		cs = append(cs, Case{Title: "valid text: " + v.name, Requirement: reqUTF8Valid,
			Play: sendEcho([]Frame{text(v.s)}, textMsg(v.s))})
	}
	for _, v := range invalidUTF8 {
		cs = append(cs, Case{Title: "invalid text: " + v.name, Requirement: reqUTF8Invalid,
			Play: sendFails([]Frame{text(v.b)}, nil, 1007)})
	}
	// Valid text split inside a code point: the receiver must not judge a
	// fragment on its own.
	greek := "κόσμε"
	for i := 1; i < len(greek); i++ {
		cs = append(cs, Case{Title: fmt.Sprintf("valid text %q split after byte %d", greek, i), Requirement: reqUTF8Valid + " §5.4: a code point may straddle fragments.",
			Play: sendEcho([]Frame{frag(OpText, []byte(greek[:i])), cont([]byte(greek[i:]), true)}, textMsg(greek))})
	}
	emoji := "😀!"
	for i := 1; i <= 3; i++ {
		cs = append(cs, Case{Title: fmt.Sprintf("valid 4-byte code point split after byte %d", i), Requirement: reqUTF8Valid + " §5.4: a code point may straddle fragments.",
			Play: sendEcho([]Frame{frag(OpText, []byte(emoji[:i])), cont([]byte(emoji[i:]), true)}, textMsg(emoji))})
	}
	cs = append(cs, Case{Title: "valid text, every byte its own fragment", Requirement: reqUTF8Valid,
		Play: sendEcho(fragments(OpText, []byte(strings.Repeat("κόσμε-😀-", 10)), 1), textMsg(strings.Repeat("κόσμε-😀-", 10)))})
	// Invalid bytes in the first fragment: fail fast, or at the end.
	for _, v := range []struct{ name, first, rest string }{
		{"surrogate", "κόσμε\xed\xa0\x80", "edited"},
		{"byte FF", "Hello\xff", ", world"},
		{"overlong NUL", "abc\xc0\x80", "def"},
		{"beyond U+10FFFF", "abc\xf4\x90\x80\x80", "def"},
		{"lone continuation", "\x80", "abc"},
	} {
		cs = append(cs, Case{Title: "invalid text in the first of two fragments: " + v.name, Requirement: reqUTF8Fast,
			Play: failFast([]Frame{frag(OpText, []byte(v.first))}, []Frame{cont([]byte(v.rest), true)})})
	}
	cs = append(cs,
		Case{Title: "surrogate split across fragments (ED | A0 80)", Requirement: reqUTF8Invalid,
			Play: sendFails([]Frame{frag(OpText, []byte("ab\xed")), cont([]byte("\xa0\x80cd"), true)}, nil, 1007)},
		Case{Title: "4-byte sequence beyond U+10FFFF split across fragments (F4 | 90 80 80)", Requirement: reqUTF8Invalid,
			Play: sendFails([]Frame{frag(OpText, []byte("ab\xf4")), cont([]byte("\x90\x80\x80"), true)}, nil, 1007)},
		Case{Title: "truncated sequence at the end of the last fragment", Requirement: reqUTF8Invalid,
			Play: sendFails([]Frame{frag(OpText, []byte("κόσμε")), cont([]byte("ab\xe0\xa0"), true)}, nil, 1007)},
		Case{Title: "invalid text, every byte its own fragment", Requirement: reqUTF8Fast,
			Play: func(p *Peer) Verdict {
				all := fragments(OpText, []byte("κόσμε\xed\xa0\x80edited"), 1)
				return failFast(all[:14], all[14:])(p)
			}},
		Case{Title: "valid text, then invalid text, then valid text", Requirement: reqUTF8Invalid + " The first message may be echoed; the last must not.",
			Play: sendFails([]Frame{text("valid"), text("in\xffvalid"), text("valid again")}, []Msg{textMsg("valid")}, 1007)},
	)
	for i := range cs {
		if strings.HasPrefix(cs[i].Requirement, reqUTF8Invalid) {
			cs[i].Setting = utf8Setting
		}
	}
	return numbered("utf8", cs)
}

// failFast sends first (a message's opening fragments, holding invalid
// UTF-8), waits a little for the peer to fail the connection, then sends
// rest. Failing on first is pass; failing only after rest non-strict.
func failFast(first, rest []Frame) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		_ = p.Send(first...)
		if ended, how := p.endsWithin(300 * time.Millisecond); ended {
			return pass("%s on the fragment holding the invalid bytes", how)
		}
		_ = p.Send(rest...)
		v := p.Fails(nil, 1007)
		if v.Outcome == Pass {
			return nonStrict("%s, only after the whole message", v.Reason)
		}
		return v
	}
}
