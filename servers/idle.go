package servers

import (
	"io"
	"math"
	"net"
	"sync/atomic"
	"time"
)

// idleCloseReason is the reason sent with the 1001 close frame of a
// connection closed for idleness.
const idleCloseReason = "idle timeout"

// slowCloseReason is the reason sent with the 1008 close frame of a
// subscriber disconnected as a slow consumer.
const slowCloseReason = "slow consumer"

// idleTimer closes a connection from which nothing has arrived for timeout.
// Arrivals are reported with touch, which costs a clock read and an atomic
// store, not a timer update; the timer, when it expires, looks at the last
// arrival and either re-arms itself for the rest or closes the connection.
// Closing runs the library's close handshake (1001 "idle timeout") from the
// timer's goroutine, while the connection's reader still reads, so the peer's
// close reply is read and the socket is not reset under the close frame.
//
// A nil *idleTimer (timeout <= 0) is valid and does nothing.
type idleTimer struct {
	timeout time.Duration
	base    time.Time    // base of last; carries the monotonic clock
	last    atomic.Int64 // when bytes last arrived, in ns since base
	stopped atomic.Bool  // stop was called, or fire ran
	t       *time.Timer
	fire    func()
}

// newIdleTimer returns a timer for timeout, or nil if timeout <= 0, which
// disables it. It does not run until start.
func newIdleTimer(timeout time.Duration) *idleTimer {
	if timeout <= 0 {
		return nil
	}
	return &idleTimer{timeout: timeout, base: time.Now()}
}

// start arms the timer: fire runs, once and in its own goroutine, when
// nothing has arrived for the timeout since start or the last touch. It must
// close the connection.
func (it *idleTimer) start(fire func()) {
	if it == nil {
		return
	}
	it.fire = fire
	it.touch()
	// Made idle, then Reset: the Reset orders the assignment of it.t
	// before check runs and reads it.
	it.t = time.AfterFunc(math.MaxInt64, it.check)
	it.t.Reset(it.timeout)
}

// touch records that bytes have arrived.
func (it *idleTimer) touch() {
	if it != nil {
		it.last.Store(int64(time.Since(it.base)))
	}
}

// stop disarms the timer; call it when the connection has ended.
func (it *idleTimer) stop() {
	if it == nil {
		return
	}
	it.stopped.Store(true)
	if it.t != nil {
		it.t.Stop()
	}
}

func (it *idleTimer) check() {
	if it.stopped.Load() {
		return
	}
	idle := time.Since(it.base) - time.Duration(it.last.Load())
	if idle < it.timeout {
		it.t.Reset(it.timeout - idle)
		return
	}
	it.stopped.Store(true)
	it.fire()
}

// wrap returns conn with every Read that returns bytes touching the timer, or
// conn itself when the timer is nil. Used where the library reads the socket
// through the net.Conn it hijacked, so every byte counts, control frames
// and partial frames included. Writes are not wrapped: they go straight to
// conn's own methods.
func (it *idleTimer) wrap(conn net.Conn) net.Conn {
	if it == nil || conn == nil {
		return conn
	}
	return &idleConn{Conn: conn, it: it}
}

// idleConn is a net.Conn whose reads touch an idleTimer.
type idleConn struct {
	net.Conn
	it *idleTimer
}

func (c *idleConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.it.touch()
	}
	return n, err
}

// touchReader is an io.Reader whose reads touch an idleTimer. One per
// connection, its r set per use, so wrapping costs no allocation.
type touchReader struct {
	r  io.Reader
	it *idleTimer
}

func (t *touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.it.touch()
	}
	return n, err
}
