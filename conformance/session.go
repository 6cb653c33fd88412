package conformance

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wsbench/wsbench/internal/deflate"
)

// maxFrame bounds what the raw peers read of one frame: the largest echo a
// case asks for (16 MiB) with room to spare.
const maxFrame = 64 << 20

// firstBytesKept is how many of the peer's first bytes a record keeps.
const firstBytesKept = 64

// Session is one connection of a case after the opening handshake, seen
// from the raw peer: it sends frames as the case writes them and reads the
// peer's frames in the background, so a case can wait for an answer with a
// deadline. The raw client masks what it sends (RFC 6455 §5.3); the raw
// server does not.
type Session struct {
	conn    net.Conn
	mask    bool
	deflate bool // permessage-deflate was negotiated
	start   time.Time
	timeout time.Duration

	events chan event
	done   chan struct{} // closed by Close: the reader stops delivering
	once   sync.Once
	// pending holds an event taken from events but not consumed.
	pending *event

	wmu sync.Mutex // one write at a time: replies to pings may race a case's sends

	mu        sync.Mutex
	sent      []string
	sentBytes int64
	first     []byte
	ended     bool // the stream from the peer ended
	gotClose  bool // a close frame came from the peer
	closeSent bool
}

// event is what the reader saw: a frame, or the end of the stream.
type event struct {
	frame Frame
	err   error // io.EOF, a reset, or a frame beyond maxFrame
	at    time.Time
}

// recorder keeps the first bytes read from the peer after the handshake.
type recorder struct {
	r io.Reader
	s *Session
}

func (rc recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	if n > 0 {
		rc.s.mu.Lock()
		if k := firstBytesKept - len(rc.s.first); k > 0 {
			rc.s.first = append(rc.s.first, p[:min(k, n)]...)
		}
		rc.s.mu.Unlock()
	}
	return n, err
}

// newSession starts reading frames from br, the connection's reader after
// the handshake (it may already hold frame bytes).
func newSession(conn net.Conn, br *bufio.Reader, mask, deflate bool, timeout time.Duration) *Session {
	s := &Session{conn: conn, mask: mask, deflate: deflate, start: time.Now(), timeout: timeout,
		events: make(chan event, 256), done: make(chan struct{})}
	r := bufio.NewReaderSize(recorder{r: br, s: s}, 64<<10)
	go func() {
		defer close(s.events)
		for {
			f, err := ReadFrame(r, maxFrame)
			ev := event{frame: f, err: err, at: time.Now()}
			select {
			case s.events <- ev:
			case <-s.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// Send writes frames in one write. Its error is returned but most cases
// ignore it: a peer that failed the connection early makes later writes
// fail, and that is judged from what it sent back.
func (s *Session) Send(frames ...Frame) error {
	var buf []byte
	for _, f := range frames {
		buf = s.appendFrame(buf, f)
	}
	return s.write(buf)
}

// SendChopped writes frames as one byte stream cut into chunk-byte writes,
// each its own TCP segment: a peer must not assume a frame arrives whole.
func (s *Session) SendChopped(chunk int, frames ...Frame) error {
	var buf []byte
	for _, f := range frames {
		buf = s.appendFrame(buf, f)
	}
	for len(buf) > 0 {
		n := min(chunk, len(buf))
		if err := s.write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// SendRaw writes bytes as they are, recorded as raw.
func (s *Session) SendRaw(p []byte, what string) error {
	s.note(fmt.Sprintf("raw %d bytes: %s", len(p), what))
	return s.write(p)
}

func (s *Session) appendFrame(buf []byte, f Frame) []byte {
	s.note(f.String())
	var key [4]byte
	if s.mask {
		_, _ = rand.Read(key[:])
	}
	if f.Opcode == OpClose {
		s.mu.Lock()
		s.closeSent = true
		s.mu.Unlock()
	}
	return f.Append(buf, s.mask, key)
}

// SendMasked writes f with the masking the role forbids: masked from the
// raw server, unmasked from the raw client (§5.1).
func (s *Session) SendWrongMask(f Frame) error {
	s.note(f.String() + " (masking reversed)")
	var key [4]byte
	if !s.mask {
		_, _ = rand.Read(key[:])
	}
	return s.write(f.Append(nil, !s.mask, key))
}

// sentKept is how many frame descriptions a record keeps.
const sentKept = 24

func (s *Session) note(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.sent) < sentKept:
		s.sent = append(s.sent, what)
	case len(s.sent) == sentKept:
		s.sent = append(s.sent, "…")
	}
}

func (s *Session) write(p []byte) error {
	s.mu.Lock()
	s.sentBytes += int64(len(p))
	s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.conn.Write(p)
	return err
}

// SendAsync sends frames from another goroutine, for messages a peer may
// refuse to read to the end (beyond its read limit): the case judges what
// comes back meanwhile. Later sends wait for it.
func (s *Session) SendAsync(frames ...Frame) {
	var buf []byte
	for _, f := range frames {
		buf = s.appendFrame(buf, f)
	}
	s.wmu.Lock()
	go func() {
		defer s.wmu.Unlock()
		s.mu.Lock()
		s.sentBytes += int64(len(buf))
		s.mu.Unlock()
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
		_, _ = s.conn.Write(buf)
	}()
}

// next returns the peer's next frame or end, or ok false when nothing came
// before deadline. After the end it keeps returning the end.
func (s *Session) next(deadline time.Time) (event, bool) {
	if s.pending != nil {
		ev := *s.pending
		if ev.err == nil {
			s.pending = nil
		}
		return ev, true
	}
	d := time.Until(deadline)
	if d <= 0 {
		d = time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case ev, ok := <-s.events:
		if !ok {
			ev = event{err: io.EOF, at: time.Now()}
		}
		if ev.err != nil {
			s.pending = &ev
			s.mu.Lock()
			s.ended = true
			s.mu.Unlock()
		} else if ev.frame.Opcode == OpClose {
			s.mu.Lock()
			s.gotClose = true
			s.mu.Unlock()
		}
		return ev, true
	case <-t.C:
		return event{}, false
	}
}

// Msg is one data message: its opcode (text or binary) and payload.
type Msg struct {
	Op   byte
	Data []byte
}

func (m Msg) String() string {
	return fmt.Sprintf("%s %d bytes %s", OpcodeName(m.Op), len(m.Data), quoteBytes(m.Data, 16))
}

// ending is how the peer ended the connection, or did not.
type ending struct {
	closeFrame *Frame // the peer sent a close frame
	err        error  // the stream ended (EOF, reset) without a close frame
	timeout    bool   // nothing more came before the deadline
	pong       *Frame // a pong arrived (readMessage stops at it when asked)
	unexpected *Frame // a frame a data reader cannot place (a reserved opcode from the peer)
}

func (e ending) String() string {
	switch {
	case e.closeFrame != nil:
		return "closed with " + closeDesc(e.closeFrame.Payload)
	case e.err != nil:
		return "dropped the connection (" + errWords(e.err) + ")"
	case e.timeout:
		return "sent nothing more"
	case e.pong != nil:
		return "answered with a pong"
	case e.unexpected != nil:
		return "sent " + e.unexpected.String()
	}
	return "?"
}

func closeDesc(p []byte) string {
	switch c := CloseCode(p); c {
	case 1005:
		return "an empty close frame"
	case -1:
		return "a 1-byte close payload"
	default:
		if len(p) > 2 {
			return fmt.Sprintf("%d %s", c, quoteBytes(p[2:], 40))
		}
		return fmt.Sprint(c)
	}
}

// errWords names a stream end for a reason line.
func errWords(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, errTooLarge):
		return err.Error()
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		return ne.Err.Error()
	}
	return err.Error()
}

// readMessage reads the peer's next data message, reassembling fragments and
// inflating a compressed one. Pongs are skipped unless stopAtPong; pings
// are answered. It stops at a close frame, the end of the stream, or the
// deadline, saying which in end.
func (s *Session) readMessage(deadline time.Time, stopAtPong bool) (Msg, *ending) {
	var m Msg
	var compressed, started bool
	for {
		ev, ok := s.next(deadline)
		if !ok {
			return m, &ending{timeout: true}
		}
		if ev.err != nil {
			return m, &ending{err: ev.err}
		}
		f := ev.frame
		switch f.Opcode {
		case OpPong:
			if stopAtPong {
				return m, &ending{pong: &f}
			}
			continue
		case OpPing:
			_ = s.Send(Frame{Fin: true, Opcode: OpPong, Payload: f.Payload})
			continue
		case OpClose:
			return m, &ending{closeFrame: &f}
		case OpText, OpBinary:
			if started {
				return m, &ending{unexpected: &f}
			}
			started, m.Op, compressed = true, f.Opcode, f.RSV&RSV1 != 0
			m.Data = append(m.Data, f.Payload...)
		case OpContinuation:
			if !started {
				return m, &ending{unexpected: &f}
			}
			m.Data = append(m.Data, f.Payload...)
		default:
			return m, &ending{unexpected: &f}
		}
		if f.Fin {
			if compressed && s.deflate {
				out, err := deflate.Decompress(nil, m.Data, maxFrame)
				if err != nil {
					return m, &ending{err: fmt.Errorf("its compressed message does not inflate: %w", err)}
				}
				m.Data = out
			}
			return m, nil
		}
	}
}

// Verdict is a case's judgement.
type Verdict struct {
	Outcome Outcome
	Reason  string
	Cost    *Cost
}

func pass(format string, a ...any) Verdict {
	return Verdict{Outcome: Pass, Reason: fmt.Sprintf(format, a...)}
}
func nonStrict(format string, a ...any) Verdict {
	return Verdict{Outcome: NonStrict, Reason: fmt.Sprintf(format, a...)}
}
func fail(format string, a ...any) Verdict {
	return Verdict{Outcome: Fail, Reason: fmt.Sprintf(format, a...)}
}
func timedOut(format string, a ...any) Verdict {
	return Verdict{Outcome: Timeout, Reason: fmt.Sprintf(format, a...)}
}

// deadline is the case's deadline from now.
func (s *Session) deadline() time.Time { return time.Now().Add(s.timeout) }

// Echo waits for the peer to echo want, in order: each message the same
// type and bytes. Anything else first is a fail, silence a timeout.
func (s *Session) Echo(want ...Msg) Verdict {
	dl := s.deadline()
	for i, w := range want {
		got, end := s.readMessage(dl, false)
		if end != nil {
			if end.timeout {
				return timedOut("no echo of message %d (%s) within %s", i+1, w, s.timeout)
			}
			return fail("%s instead of echoing message %d (%s)", end, i+1, w)
		}
		if got.Op != w.Op || !bytes.Equal(got.Data, w.Data) {
			return fail("echo of message %d is %s, want %s", i+1, got, w)
		}
	}
	if len(want) == 1 {
		return pass("echoed %s", want[0])
	}
	return pass("echoed all %d messages", len(want))
}

// probePayload marks the ping a case sends after a violation: a peer that
// answers it has carried on as if nothing happened.
var probePayload = []byte("probe")

// Fails sends a probe ping after the case's frames and waits for the peer
// to fail the connection (§7.1.7): a close frame with one of codes (any
// code when none are given), or dropping the TCP connection. The echoes of
// the valid messages sent before the violation (echoed) may come first.
// A close with another code is non-strict; an answer to the probe, or an
// echo of anything else, is a fail; silence is a timeout.
func (s *Session) Fails(echoed []Msg, codes ...int) Verdict {
	_ = s.Send(Frame{Fin: true, Opcode: OpPing, Payload: probePayload})
	return s.awaitFail(echoed, codes...)
}

// awaitFail is Fails without the probe ping, for cases still writing.
func (s *Session) awaitFail(echoed []Msg, codes ...int) Verdict {
	dl := s.deadline()
	for {
		got, end := s.readMessage(dl, true)
		if end == nil {
			if len(echoed) > 0 && got.Op == echoed[0].Op && bytes.Equal(got.Data, echoed[0].Data) {
				echoed = echoed[1:]
				continue
			}
			return fail("accepted the violation: sent %s", got)
		}
		switch {
		case end.timeout:
			return timedOut("neither failed the connection nor answered within %s", s.timeout)
		case end.pong != nil:
			if bytes.Equal(end.pong.Payload, probePayload) {
				return fail("carried on after the violation: answered the ping sent after it")
			}
			continue
		case end.err != nil:
			return pass("dropped the connection (%s)", errWords(end.err))
		case end.closeFrame != nil:
			s.replyClose(end.closeFrame)
			c := CloseCode(end.closeFrame.Payload)
			if len(codes) == 0 {
				return pass("closed with %s", closeDesc(end.closeFrame.Payload))
			}
			for _, w := range codes {
				if c == w {
					return pass("closed with %s", closeDesc(end.closeFrame.Payload))
				}
			}
			return nonStrict("failed the connection, but closed with %s where the RFC's status is %v", closeDesc(end.closeFrame.Payload), codesText(codes))
		case end.unexpected != nil:
			return fail("sent %s", end.unexpected)
		}
	}
}

func codesText(codes []int) string {
	if len(codes) == 1 {
		return fmt.Sprint(codes[0])
	}
	return fmt.Sprint(codes)
}

// replyClose answers the peer's close frame once, as §5.5.1 asks, so the
// peer under test sees a complete handshake.
func (s *Session) replyClose(f *Frame) {
	s.mu.Lock()
	sent := s.closeSent
	s.mu.Unlock()
	if sent {
		return
	}
	p := []byte{0x03, 0xe8}
	if len(f.Payload) == 0 {
		p = nil
	}
	_ = s.Send(Frame{Fin: true, Opcode: OpClose, Payload: p})
}

// AwaitClose waits for the peer's close frame after the case sent one and
// judges its status: one of codes passes, another non-strict, none or a
// dropped connection fail, silence a timeout. It returns the close frame
// for cases that look further (nil when none came).
func (s *Session) AwaitClose(codes ...int) (Verdict, *Frame) {
	dl := s.deadline()
	for {
		got, end := s.readMessage(dl, false)
		if end == nil {
			return fail("sent %s after the close frame", got), nil
		}
		switch {
		case end.timeout:
			return timedOut("no close frame in answer within %s", s.timeout), nil
		case end.err != nil:
			return fail("dropped the connection without answering the close frame (%s)", errWords(end.err)), nil
		case end.unexpected != nil:
			return fail("sent %s after the close frame", end.unexpected), nil
		case end.closeFrame != nil:
			c := CloseCode(end.closeFrame.Payload)
			for _, w := range codes {
				if c == w {
					return pass("answered with %s", closeDesc(end.closeFrame.Payload)), end.closeFrame
				}
			}
			return nonStrict("answered with %s, expected %s", closeDesc(end.closeFrame.Payload), codesText(codes)), end.closeFrame
		}
	}
}

// endsWithin reports whether the peer ended the connection (close frame or
// EOF) within d, without consuming data messages' meaning: frames read are
// discarded except the end, which stays pending for the next reader.
func (s *Session) endsWithin(d time.Duration) (bool, string) {
	dl := time.Now().Add(d)
	for {
		ev, ok := s.next(dl)
		if !ok {
			return false, ""
		}
		if ev.err != nil {
			return true, "dropped the connection (" + errWords(ev.err) + ")"
		}
		if ev.frame.Opcode == OpClose {
			s.replyClose(&ev.frame)
			return true, "closed with " + closeDesc(ev.frame.Payload)
		}
	}
}

// peerClosedTCP waits up to d for the stream to end after the close
// handshake, and says how long it took.
func (s *Session) peerClosedTCP(d time.Duration) (bool, time.Duration) {
	t0 := time.Now()
	dl := t0.Add(d)
	for {
		ev, ok := s.next(dl)
		if !ok {
			return false, d
		}
		if ev.err != nil {
			return true, time.Since(t0)
		}
	}
}

// record is what the session contributes to a case record.
func (s *Session) record() (sent []string, first []byte, bytesSent int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...), append([]byte(nil), s.first...), s.sentBytes
}

// droppedTCP reports whether the peer's stream ended without a close frame
// having been read first.
func (s *Session) droppedTCP() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended && !s.gotClose
}

// Close closes the TCP connection and stops the reader.
func (s *Session) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.conn.Close()
}
