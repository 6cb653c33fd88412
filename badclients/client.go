package badclients

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"time"
)

const (
	// statePoll is how often a client that does not read looks at its TCP
	// state, and so the resolution of its time to drop.
	statePoll = 100 * time.Millisecond
	// finalDrain bounds how long a non-reading client reads, once the
	// fleet stops, to find a FIN or close frame queued behind unread data.
	finalDrain = 200 * time.Millisecond
	// handshakeTimeout bounds a handshake that should have been answered.
	handshakeTimeout = 10 * time.Second
	// slowReadStep is the step of a slow-reader's rate.
	slowReadStep = 100 * time.Millisecond
	// nonReaderRcvbuf is the SO_RCVBUF of a non-reader.
	nonReaderRcvbuf = 4096
)

// longAgo is a deadline already past: setting it wakes any blocked call.
var longAgo = time.Unix(1, 0)

// client is one bad connection: one goroutine, a 512-byte buffer, no
// goroutine per byte. Its fields are touched by that goroutine only.
type client struct {
	ctx    context.Context
	e      Entry
	u      *url.URL
	c      *net.TCPConn
	buf    []byte
	fr     frameReader
	start  time.Time
	sent   uint64
	halted chan struct{} // closed once the fleet's stop has set a past deadline
	unhalt func() bool   // stops the context.AfterFunc
}

// run plays one bad client of kind e.Kind against u until the server
// drops it or ctx ends; started is called once its misbehaviour begins
// (or it failed to begin).
func run(ctx context.Context, u *url.URL, e Entry, started func()) (out end) {
	cl := &client{ctx: ctx, e: e, u: u, buf: make([]byte, readBufSize), halted: make(chan struct{})}
	once := false
	begin := func() {
		if !once {
			once = true
			cl.start = time.Now()
			started()
		}
	}
	defer func() {
		begin() // a client that failed early still counts as started
		out.sent = cl.sent
		out.received = cl.fr.messages
	}()

	d := net.Dialer{}
	if e.Kind == NonReader {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = smallRcvbuf(fd) }); err != nil {
				return err
			}
			return serr
		}
	}
	nc, err := d.DialContext(ctx, "tcp", hostPort(u))
	if err != nil {
		return failed("dial", err)
	}
	cl.c = nc.(*net.TCPConn)
	defer cl.c.Close()
	// The fleet's stop wakes any blocked call by a past deadline rather
	// than closing the socket, so a non-reader can still drain what was
	// queued for it.
	cl.unhalt = context.AfterFunc(ctx, func() {
		_ = cl.c.SetDeadline(longAgo)
		close(cl.halted)
	})
	defer cl.unhalt()

	switch e.Kind {
	case IdleTCP:
		begin()
		return cl.watch(false)
	case StalledUpgrade:
		if _, err := cl.c.Write(stalledRequest(u)); err != nil {
			return failed("write", err)
		}
		begin()
		return cl.watch(false)
	}

	deflate := e.Kind == DeflateBomb
	key := newKey()
	if !cl.setDeadline(time.Now().Add(handshakeTimeout)) {
		return failed("handshake", context.Canceled)
	}
	if _, err := cl.c.Write(upgradeRequest(u, key, deflate)); err != nil {
		return failed("handshake", err)
	}
	n, err := readUpgrade(cl.c, cl.buf, key, deflate)
	if err != nil {
		return failed("handshake", err)
	}
	if !cl.setDeadline(time.Time{}) {
		return failed("handshake", context.Canceled)
	}
	if code := cl.fr.feed(cl.buf[:n]); code != 0 {
		begin()
		return cl.closed(code)
	}

	begin()
	switch e.Kind {
	case NonReader:
		return cl.nonReader()
	case SlowReader:
		return cl.slowReader()
	case Trickle:
		return cl.trickle(trickleFrame, true)
	case Oversize:
		if _, err := cl.c.Write(oversizeHeader); err != nil {
			return cl.ended(err)
		}
		return cl.trickle(oversizePayload[:], false)
	case PingFlood:
		return cl.pingFlood()
	case DeflateBomb:
		return cl.deflateBomb()
	}
	return failed("start", fmt.Errorf("kind %s cannot be played", e.Kind))
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func failed(stage string, err error) end {
	return end{outcome: Failed, errClass: errClass(stage, err), errText: err.Error()}
}

func (cl *client) since() time.Duration { return time.Since(cl.start) }

func (cl *client) closed(code int) end {
	return end{outcome: Closed, code: code, after: cl.since(), timed: true}
}

// stopped is the end of a client the fleet stopped. A client that does not
// read first drains what is queued (waiting for the stop to have set its
// deadline, so the drain's own deadline is not overwritten), to tell a
// connection the server still holds from one it closed behind unread data.
func (cl *client) stopped(drain bool) end {
	if !drain {
		return end{outcome: Open}
	}
	if !cl.unhalt() {
		<-cl.halted
	}
	_ = cl.c.SetDeadline(time.Now().Add(finalDrain))
	for {
		n, err := cl.c.Read(cl.buf)
		if code := cl.fr.feed(cl.buf[:n]); code != 0 {
			return end{outcome: Closed, code: code, seenAtEnd: true}
		}
		switch {
		case err == io.EOF:
			return end{outcome: EOF, seenAtEnd: true}
		case err != nil && isReset(err):
			return end{outcome: Reset, seenAtEnd: true}
		case err != nil:
			return end{outcome: Open}
		}
	}
}

// ended turns the error that ended a read or write into an end. A write
// that finds the connection reset may have a close frame waiting before
// the reset: it is read first (briefly) so its code is not lost.
func (cl *client) ended(err error) end {
	after := cl.since()
	switch {
	case cl.ctx.Err() != nil && isTimeout(err):
		return cl.stopped(false)
	case err == io.EOF:
		return end{outcome: EOF, after: after, timed: true}
	case isReset(err):
		_ = cl.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			n, rerr := cl.c.Read(cl.buf)
			if code := cl.fr.feed(cl.buf[:n]); code != 0 {
				return end{outcome: Closed, code: code, after: after, timed: true}
			}
			if rerr != nil {
				break
			}
		}
		return end{outcome: Reset, after: after, timed: true}
	}
	return end{outcome: Reset, after: after, timed: true, errClass: errClass("io", err), errText: err.Error()}
}

// watch reads until the server ends the connection: frames when it is a
// WebSocket, raw bytes (an HTTP error response, say) before the upgrade.
func (cl *client) watch(frames bool) end {
	for {
		n, err := cl.c.Read(cl.buf)
		if frames {
			if code := cl.fr.feed(cl.buf[:n]); code != 0 {
				return cl.closed(code)
			}
		}
		if err != nil {
			return cl.ended(err)
		}
	}
}

// setDeadline sets the read and write deadline to t, unless the fleet has
// stopped: its past deadline must not be overwritten (a client would then
// outlive the stop by t), so it is put back and false returned. The stop
// makes ctx.Err non-nil before it sets its deadline, so a nil ctx.Err
// after setting t means the stop is still to come.
func (cl *client) setDeadline(t time.Time) bool {
	_ = cl.c.SetDeadline(t)
	return cl.keepStop()
}

// readUntil is setDeadline for reads only.
func (cl *client) readUntil(t time.Time) bool {
	_ = cl.c.SetReadDeadline(t)
	return cl.keepStop()
}

func (cl *client) keepStop() bool {
	if cl.ctx.Err() != nil {
		_ = cl.c.SetDeadline(longAgo)
		return false
	}
	return true
}

// sleep waits d or until the fleet stops; false when it stopped.
func (cl *client) sleep(t *time.Timer, d time.Duration) bool {
	t.Reset(d)
	select {
	case <-cl.ctx.Done():
		t.Stop()
		return false
	case <-t.C:
		return true
	}
}

// checkPeer turns a FIN or reset seen in the TCP state into an end: after
// a FIN what was queued is read (it is finite now) to find a close frame.
func (cl *client) checkPeer() (end, bool) {
	fin, reset := peerState(cl.c)
	switch {
	case reset:
		return end{outcome: Reset, after: cl.since(), timed: true}, true
	case fin:
		after := cl.since()
		_ = cl.c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := cl.c.Read(cl.buf)
			if code := cl.fr.feed(cl.buf[:n]); code != 0 {
				return end{outcome: Closed, code: code, after: after, timed: true}, true
			}
			if err != nil {
				return end{outcome: EOF, after: after, timed: true}, true
			}
		}
	}
	return end{}, false
}

func (cl *client) nonReader() end {
	t := time.NewTimer(statePoll)
	defer t.Stop()
	for cl.sleep(t, statePoll) {
		if e, ok := cl.checkPeer(); ok {
			return e
		}
	}
	return cl.stopped(true)
}

func (cl *client) slowReader() end {
	step := int64(slowReadStep)
	budgetPerStep := max(1, cl.e.Rate*step/int64(time.Second))
	t := time.NewTimer(slowReadStep)
	defer t.Stop()
	next := time.Now()
	for {
		next = next.Add(slowReadStep)
		if !cl.readUntil(next) {
			return cl.stopped(false)
		}
		for budget := budgetPerStep; budget > 0; {
			n, err := cl.c.Read(cl.buf[:min(budget, int64(len(cl.buf)))])
			budget -= int64(n)
			if code := cl.fr.feed(cl.buf[:n]); code != 0 {
				return cl.closed(code)
			}
			if err != nil {
				if isTimeout(err) && cl.ctx.Err() == nil {
					break
				}
				return cl.ended(err)
			}
		}
		if wait := time.Until(next); wait > 0 && !cl.sleep(t, wait) {
			return cl.stopped(false)
		}
	}
}

// trickle writes frame one byte per interval, over and over when repeat
// (trickle's whole messages) or once (oversize's payload, which never
// ends), reading what comes back between the bytes.
func (cl *client) trickle(frame []byte, repeat bool) end {
	pos := 0
	for {
		if _, err := cl.c.Write(frame[pos : pos+1]); err != nil {
			return cl.ended(err)
		}
		pos++
		if pos == len(frame) {
			pos = 0
			if repeat {
				cl.sent++
			}
		}
		if !repeat {
			cl.sent++
		}
		if !cl.readUntil(time.Now().Add(cl.e.Interval)) {
			return cl.stopped(false)
		}
		for {
			n, err := cl.c.Read(cl.buf)
			if code := cl.fr.feed(cl.buf[:n]); code != 0 {
				return cl.closed(code)
			}
			if err != nil {
				if isTimeout(err) && cl.ctx.Err() == nil {
					break
				}
				return cl.ended(err)
			}
		}
	}
}

func (cl *client) pingFlood() end {
	lastCheck := time.Now()
	for {
		if cl.ctx.Err() != nil {
			return cl.stopped(true)
		}
		_ = cl.c.SetWriteDeadline(time.Now().Add(statePoll))
		n, err := cl.c.Write(pingBatch)
		cl.sent += uint64(n / pingFrameLen)
		if err != nil && !isTimeout(err) {
			return cl.ended(err)
		}
		if time.Since(lastCheck) >= statePoll {
			lastCheck = time.Now()
			if e, ok := cl.checkPeer(); ok {
				return e
			}
		}
	}
}

func (cl *client) deflateBomb() end {
	if _, err := cl.c.Write(bomb().header); err != nil {
		return cl.ended(err)
	}
	b := bomb()
	for i := 0; i < b.copies; i++ {
		chunk := b.chunk
		if i == b.copies-1 {
			chunk = chunk[:len(chunk)-len(syncTail)]
		}
		for len(chunk) > 0 {
			_ = cl.c.SetWriteDeadline(time.Now().Add(statePoll))
			n, err := cl.c.Write(chunk)
			chunk = chunk[n:]
			cl.sent += uint64(n)
			if err != nil && !(isTimeout(err) && cl.ctx.Err() == nil) {
				return cl.ended(err)
			}
			if err != nil {
				if e, ok := cl.checkPeer(); ok {
					return e
				}
			}
		}
	}
	_ = cl.c.SetWriteDeadline(time.Time{})
	return cl.watch(true)
}
