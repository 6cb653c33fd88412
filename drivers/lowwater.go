package drivers

import (
	"bufio"
	"sync/atomic"
	"syscall"
	"time"
)

// lowWater is a gobwas connection's SO_RCVLOWAT state: want is what the
// reader asked for (SetReadLowWater), set what the socket holds now.
type lowWater struct {
	raw  syscall.RawConn // nil until the first SetReadLowWater; off when unusable
	off  bool
	want int
	set  int // 0: not known (the guard may have lowered it)

	// The guard (see bound) runs while a read waits on the socket under
	// a mark above one byte.
	guard   *time.Timer
	queued  atomic.Int64 // the socket's bytes when the guard fired; -1 not known
	armed   bool
	since   time.Time     // when the guarded wait began
	typical time.Duration // a moving average of this connection's guarded waits
	stalls  uint64        // guarded waits the guard ended
}

// The guard ends a wait under a low-water mark that lasts far longer than
// this connection's waits do, by lowering the mark to one byte: the
// kernel then wakes the reader for whatever has arrived. A mark counts on
// every reply waited for coming without more being sent, and a server
// may not keep that bargain: one that answers only once it has a batch of
// its own (the rest of it still unsent here), that drops two messages of
// a batch, or whose replies are shorter than the messages, would otherwise
// leave the connection waiting, with replies unread in its socket, until
// the window closed.
//
// A wait's bound is eight times the connection's average wait, at least
// 2 ms and at most a second. When the guard fires, the socket says which
// case it is. Nothing queued: the server is merely slower than the bound,
// no reply was held back, and the whole wait becomes the connection's
// pace at once; so does a connection's first fire, whatever was queued
// (its first waits, at 2 ms, knew nothing of the server's pace, and at
// the start a busy server's batch comes in pieces). Some bytes queued,
// short of the mark: a stall, ended at the cost of its bound, and the
// bound stays where the connection's waits put it, so a server that
// stalls every batch costs the bound each time, not a growing one. A fire
// costs an early, smaller read, never an error.
const (
	stallGuardFactor = 8
	stallGuardMin    = 2 * time.Millisecond
	stallGuardMax    = time.Second
)

func (l *lowWater) bound() time.Duration {
	return min(max(stallGuardFactor*l.typical, stallGuardMin), stallGuardMax)
}

// arm starts the guard as a read is about to wait under a mark above one
// byte; rawIO calls it each time the socket has nothing (once armed, a
// wait goes on under the same guard).
func (l *lowWater) arm() {
	if l.armed || l.set <= 1 {
		return
	}
	l.armed, l.since = true, time.Now()
	l.queued.Store(-1)
	if l.guard == nil {
		l.guard = time.AfterFunc(l.bound(), l.fire)
		return
	}
	l.guard.Reset(l.bound())
}

// fire runs on a goroutine of its own: it notes what the socket holds and
// lowers the mark, which wakes a reader with bytes queued.
func (l *lowWater) fire() {
	if q, ok := queuedBytes(l.raw); ok {
		l.queued.Store(int64(q))
	}
	setRcvLowat(l.raw, 1)
}

// disarm ends the guard once the read is back, and learns the wait's
// length. A guard that fired may set the mark to one byte at any moment
// (its function may still be running), so the mark is set anew before the
// next read; should that land first, the next wait merely wakes early.
func (l *lowWater) disarm() {
	if !l.armed {
		return
	}
	l.armed = false
	if !l.guard.Stop() {
		l.set = 0
		if l.queued.Load() == 0 || l.typical == 0 {
			// Slower than the bound, or than the first bound, which
			// knew nothing of the server's pace: catch up.
			l.typical = max(l.typical, time.Since(l.since))
		} else {
			l.stalls++ // or not known yet: taken as one
		}
		return
	}
	l.typical += (time.Since(l.since) - l.typical) / 8
}

// lowWaterSource is what the read buffer fills from: before each read of
// the socket it sets the socket's low-water mark to the bytes still
// missing from what the reader waits for, the frame bytes the buffer
// already holds taken off, so a wait never asks for bytes that are not
// coming.
type lowWaterSource struct{ g *gobwasConn }

func (s lowWaterSource) Read(p []byte) (int, error) {
	g := s.g
	l := &g.low
	if l.raw != nil && (l.want > 1 || l.set != 1) {
		want := 1
		if l.want > 1 {
			want = max(l.want-g.br.Buffered(), 1)
		}
		if want != l.set && setRcvLowat(l.raw, want) {
			l.set = want
		}
	}
	if g.rio != nil {
		n, err := g.rio.read(p)
		l.disarm()
		return n, err
	}
	return g.nc.Read(p)
}

func (g *gobwasConn) SetReadLowWater(bytes int) bool {
	l := &g.low
	if l.off {
		return false
	}
	if l.raw == nil {
		rc, ok := g.rawConn()
		if !ok || g.compressed || g.rio == nil {
			l.off = true // TLS, or deflated frames: sizes are not the wire's
			return false
		}
		l.raw, l.set = rc, 1
		g.rio.wait = l.arm
	}
	l.want = bytes
	// One read should take the whole batch in: a buffer twice the mark
	// (at most 256 KiB), made anew only while it holds nothing (between
	// messages).
	if size := min(2*bytes, gobwasBatchBytes*4); size > g.rsize {
		if g.br == nil || g.br.Buffered() == 0 {
			g.rsize = size
			g.br = bufio.NewReaderSize(lowWaterSource{g}, g.rsize)
			g.rd.Source = g.br
		}
	}
	return true
}

func (g *gobwasConn) Stalls() uint64 { return g.low.stalls }

var _ LowWater = (*gobwasConn)(nil)
