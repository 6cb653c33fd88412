package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Outcome is a case's result.
type Outcome string

// The outcomes. NonStrict is an alternative the RFC allows but that is not
// its first reading (failing after the whole message rather than at the
// first invalid byte, say); Unsupported is an extension the peer did not
// negotiate, never a failure.
const (
	Pass        Outcome = "pass"
	NonStrict   Outcome = "non-strict"
	Fail        Outcome = "fail"
	Timeout     Outcome = "timeout"
	Unsupported Outcome = "unsupported"
)

// Outcomes lists the outcomes in the order tables show them.
var Outcomes = []Outcome{Pass, NonStrict, Fail, Timeout, Unsupported}

// ParseOutcome checks an outcome name.
func ParseOutcome(s string) (Outcome, error) {
	for _, o := range Outcomes {
		if string(o) == s {
			return o, nil
		}
	}
	return "", fmt.Errorf("outcome %q: want one of pass, non-strict, fail, timeout, unsupported", s)
}

// Groups are the case groups in the order of the Autobahn|Testsuite, so
// results can be read side by side with it.
var Groups = []string{"framing", "pingpong", "rsv", "opcodes", "fragmentation", "utf8", "close", "limits", "deflate", "safety"}

// Side says which peer a case tests.
type Side uint8

// ServerSide cases are played by the raw client against a server;
// ClientSide cases by the raw server against a client driver.
const (
	ServerSide Side = 1 << iota
	ClientSide
	BothSides = ServerSide | ClientSide
)

func (s Side) String() string {
	switch s {
	case ServerSide:
		return "server"
	case ClientSide:
		return "client"
	}
	return "both"
}

// Peer is what a case plays against: the session, and what the opening
// handshake settled.
type Peer struct {
	*Session
	// Side is the side under test.
	Side Side
	// Handshake is the server's answer to the raw client's offer (server
	// side only).
	Handshake Handshake
	// Offer is the driver's Sec-WebSocket-Extensions offer (client side only).
	Offer string
	// ReadLimit is the largest message the peer is configured to accept
	// (wsbench's setting for reference servers and drivers); zero when
	// unknown, as for --target.
	ReadLimit int64
	// PlainDeflate, server side, reports whether the server accepts a plain
	// permessage-deflate offer on a new connection: a server that declined
	// a bad offer may simply not do compression.
	PlainDeflate func() bool
}

// Case is one conformance case.
type Case struct {
	// ID is "group.N", stable across runs so results can be compared.
	ID    string
	Group string
	// Title says what the case sends.
	Title string
	// Requirement quotes or paraphrases the RFC's requirement, with its
	// section, and says what counts as pass, non-strict and fail.
	Requirement string
	// Setting names a wsbench setting the outcome depends on (the read
	// limit), so a reader does not blame the library for it.
	Setting string
	// Sides is which sides the case applies to.
	Sides Side
	// Timeout bounds each wait of the case (default DefaultTimeout).
	Timeout time.Duration
	// Offer is the raw client's Sec-WebSocket-Extensions offer (server side).
	Offer string
	// Answer is the raw server's extension answer (client side); nil
	// accepts permessage-deflate when the case needs it and the driver
	// offered it, and declines everything otherwise.
	Answer Answer
	// Deflate says the case needs permessage-deflate: a peer that did not
	// negotiate it makes the case unsupported.
	Deflate bool
	// Probe marks a safety probe, whose cost is measured.
	Probe bool
	// Refused is the outcome when the server refuses the whole opening
	// handshake (server side); empty means a fail. A server told to
	// decline an extension offer that refuses the connection instead has
	// not accepted it, but has not declined it either.
	Refused Outcome
	// Play runs the case on an open connection.
	Play func(p *Peer) Verdict
	// ServerRaw, when set, replaces the opening handshake and Play on the
	// server side: it gets the server's URL and does its own TCP work.
	ServerRaw func(ctx context.Context, url string, timeout time.Duration) Verdict
	// ClientRaw, when set, replaces the opening handshake and Play on the
	// client side: it gets the raw server's listener and a func that makes
	// the driver dial it, which returns when the dial has ended.
	ClientRaw func(ctx context.Context, srv *RawServer, dial func() error, timeout time.Duration) Verdict
}

// DefaultTimeout bounds each wait of a case unless it sets its own.
const DefaultTimeout = 2 * time.Second

func (c Case) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// caseList builds the catalogue once: cases are data, built from tables of
// lengths, codes and sequences.
var caseList = sync.OnceValue(func() []Case {
	var all []Case
	for _, g := range []func() []Case{framingCases, pingpongCases, rsvCases, opcodeCases, fragmentationCases, utf8Cases, closeCases, limitCases, deflateCases, safetyCases} {
		all = append(all, g()...)
	}
	return all
})

// All returns every case, in group order (a copy the caller may keep).
func All() []Case { return slices.Clone(caseList()) }

// Select returns the cases of the named groups (all groups when none) whose
// ID starts with one of ids (all when none), for one side.
func Select(groups, ids []string, side Side) ([]Case, error) {
	for _, g := range groups {
		if !slices.Contains(Groups, g) {
			return nil, fmt.Errorf("group %q: want one of %s", g, strings.Join(Groups, ", "))
		}
	}
	var out []Case
	for _, c := range caseList() {
		if c.Sides&side == 0 {
			continue
		}
		if len(groups) > 0 && !slices.Contains(groups, c.Group) {
			continue
		}
		if len(ids) > 0 && !slices.ContainsFunc(ids, func(id string) bool { return c.ID == id || strings.HasPrefix(c.ID, id+".") }) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// numbered assigns IDs "group.1", "group.2"… in order and the group name.
func numbered(group string, cs []Case) []Case {
	for i := range cs {
		cs[i].Group = group
		cs[i].ID = fmt.Sprintf("%s.%d", group, i+1)
		if cs[i].Sides == 0 {
			cs[i].Sides = BothSides
		}
	}
	return cs
}

// Frame constructors for the case tables.
func text(p string) Frame          { return Frame{Fin: true, Opcode: OpText, Payload: []byte(p)} }
func textB(p []byte) Frame         { return Frame{Fin: true, Opcode: OpText, Payload: p} }
func binFrame(p []byte) Frame      { return Frame{Fin: true, Opcode: OpBinary, Payload: p} }
func ping(p string) Frame          { return Frame{Fin: true, Opcode: OpPing, Payload: []byte(p)} }
func pong(p string) Frame          { return Frame{Fin: true, Opcode: OpPong, Payload: []byte(p)} }
func closeFrame(p []byte) Frame    { return Frame{Fin: true, Opcode: OpClose, Payload: p} }
func frag(op byte, p []byte) Frame { return Frame{Opcode: op, Payload: p} }
func cont(p []byte, fin bool) Frame {
	return Frame{Fin: fin, Opcode: OpContinuation, Payload: p}
}
func textMsg(p string) Msg  { return Msg{Op: OpText, Data: []byte(p)} }
func binMsg(p []byte) Msg   { return Msg{Op: OpBinary, Data: p} }
func textMsgB(p []byte) Msg { return Msg{Op: OpText, Data: p} }

// pattern is n bytes of a repeating, non-text pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// letters is n bytes of ASCII text.
func letters(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// fragments cuts p into frames of at most size bytes: the first with op,
// the rest continuations, the last with FIN.
func fragments(op byte, p []byte, size int) []Frame {
	var out []Frame
	for first := true; first || len(p) > 0; first = false {
		n := min(size, len(p))
		f := Frame{Opcode: OpContinuation, Payload: p[:n]}
		if first {
			f.Opcode = op
		}
		p = p[n:]
		f.Fin = len(p) == 0
		out = append(out, f)
	}
	return out
}

// sendEcho is the most common case: send frames, expect the messages back.
func sendEcho(frames []Frame, want ...Msg) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		_ = p.Send(frames...)
		return p.Echo(want...)
	}
}

// sendFails sends frames after which the peer must fail the connection;
// echoed are the valid messages before the violation, codes the statuses
// the RFC names for it.
func sendFails(frames []Frame, echoed []Msg, codes ...int) func(p *Peer) Verdict {
	return func(p *Peer) Verdict {
		_ = p.Send(frames...)
		return p.Fails(echoed, codes...)
	}
}
