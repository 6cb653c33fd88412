package drivers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// readSide coordinates the goroutine calling ReadMessage with Close, Ping and
// Abort, which may run in other goroutines. It records whether a
// ReadMessage is running, which decides who reads the peer's answer to
// Close, and the read side's final error, which every later ReadMessage
// returns and which ends a pending Ping.
//
// Close reads the peer's close frame itself only when no ReadMessage runs
// (closeSelf); a ReadMessage called meanwhile does not touch the stream but
// waits for Close and returns what Close found. When a ReadMessage runs
// (closeWait), Close leaves the stream to it and waits for it to finish the
// read side. Either way there is never more than one reader, which gorilla
// (it panics) and gobwas (the frame stream would be corrupted) need.
//
// A readSide must be set up with init before use and not copied after.
type readSide struct {
	state atomic.Uint32
	once  sync.Once
	done  chan struct{} // closed by finish
	err   error         // the final error, set by finish before done closes
	peer  *CloseError   // the peer's close frame if err carries one
}

// Bits of readSide.state.
const (
	rsReading   = 1 << iota // a ReadMessage is running
	rsCloseWait             // Close runs and a ReadMessage reads its answer
	rsCloseSelf             // Close runs and reads its answer itself
	rsDone                  // finish was called: err is final
)

func (r *readSide) init() { r.done = make(chan struct{}) }

// enter is called when ReadMessage starts. It returns true when
// ReadMessage may read. Otherwise it returns the error ReadMessage must
// return: the final one, after waiting for Close when Close owns the stream.
func (r *readSide) enter() (bool, error) {
	old := r.state.Or(rsReading)
	if old&(rsDone|rsCloseSelf) == 0 {
		return true, nil
	}
	r.state.And(^uint32(rsReading))
	<-r.done // Close always finishes the read side before it returns
	return false, r.err
}

// exit is called when a ReadMessage that enter let read returns.
func (r *readSide) exit() { r.state.And(^uint32(rsReading)) }

// fail finishes the read side with err unless it is finished already, and
// returns the final error. A reader whose socket Close or Abort cut under it
// thus reports why it was cut, not "use of closed network connection".
func (r *readSide) fail(err error) error {
	r.finish(err)
	return r.err
}

// finish records err as the read side's final error; the first call wins.
func (r *readSide) finish(err error) {
	r.once.Do(func() {
		r.err = err
		errors.As(err, &r.peer)
		r.state.Or(rsDone)
		close(r.done)
	})
}

// closing reports whether Close has started.
func (r *readSide) closing() bool {
	return r.state.Load()&(rsCloseWait|rsCloseSelf) != 0
}

// awaitReader waits, until deadline, for the ReadMessage running in another
// goroutine to read the peer's close reply (a second reader would corrupt
// the stream, or panic in gorilla), and returns the close result. On
// timeout the caller's deferred socket close unblocks that reader, which
// then returns the timeout error recorded here.
func (r *readSide) awaitReader(driver string, deadline time.Time, timeout time.Duration) (clean bool, err error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-r.done:
	case <-timer.C:
		r.finish(fmt.Errorf("%s: close: no close frame from peer within %v: %w", driver, timeout, os.ErrDeadlineExceeded))
	}
	return r.result()
}

type closeMode int

const (
	closeAfterDone closeMode = iota // the read side had finished already
	closeWait                       // a ReadMessage runs: it reads the answer
	closeSelf                       // no ReadMessage runs: Close reads the answer
)

// beginClose is called when Close starts and tells it who reads the peer's
// close frame. A second Close, while the first reads, waits for it.
func (r *readSide) beginClose() closeMode {
	for {
		s := r.state.Load()
		if s&rsDone != 0 {
			return closeAfterDone
		}
		bit, mode := uint32(rsCloseSelf), closeSelf
		if s&(rsReading|rsCloseSelf) != 0 {
			bit, mode = rsCloseWait, closeWait
		}
		if r.state.CompareAndSwap(s, s|bit) {
			return mode
		}
	}
}

// result is Close's answer once the read side has finished: clean when the
// peer's close frame carried 1000, (false, nil) for another code, and the
// final error when no close frame was read.
func (r *readSide) result() (clean bool, err error) {
	if r.peer != nil {
		return r.peer.Code == closeNormal, nil
	}
	return false, r.err
}

// closeNormal is status 1000, normal closure.
const closeNormal = 1000

// pinger matches pongs to the outstanding Ping for the drivers that route
// control frames themselves (gorilla, gobwas). Each ping carries a sequence
// number as its 8-byte payload and only the pong echoing the current one
// completes the Ping, so that the late pong of an abandoned ping is ignored.
// Ping is not concurrent with itself, so seq and payload belong to it; want
// and pong are shared with the read path. Nothing here allocates.
type pinger struct {
	seq     uint64
	payload [8]byte
	want    atomic.Uint64 // seq of the ping awaiting its pong, 0 when none
	pong    chan struct{} // capacity 1: the read path saw want's pong
	// held: the connection is held by a Poller, which reports the pong
	// itself; nobody waits on pong, so it is not signalled (a signal left
	// there would complete a later Ping at once).
	held bool
}

func (p *pinger) init() { p.pong = make(chan struct{}, 1) }

// next starts a ping and returns the payload to send. It must be called
// before the ping is written, or a fast pong could arrive unmatched.
func (p *pinger) next() []byte {
	p.seq++
	binary.BigEndian.PutUint64(p.payload[:], p.seq)
	p.want.Store(p.seq)
	return p.payload[:]
}

// gotPong is called by the read path with the payload of every pong, and
// reports whether it answered the outstanding ping.
func (p *pinger) gotPong(b []byte) bool {
	return len(b) == len(p.payload) && p.match(binary.BigEndian.Uint64(b))
}

// gotPongString is gotPong for gorilla's pong handler, without converting
// the string back to a slice.
func (p *pinger) gotPongString(s string) {
	if len(s) != len(p.payload) {
		return
	}
	var seq uint64
	for i := range len(s) {
		seq = seq<<8 | uint64(s[i])
	}
	p.match(seq)
}

func (p *pinger) match(seq uint64) bool {
	// One signal per matched seq, and Ping consumes it (in wait or cancel)
	// before it starts the next ping: the channel is always empty here.
	// The default case is only a guard against blocking the reader.
	if seq == 0 || !p.want.CompareAndSwap(seq, 0) {
		return false
	}
	if !p.held {
		select {
		case p.pong <- struct{}{}:
		default:
		}
	}
	return true
}

// cancel withdraws the outstanding ping. When the read path matched its pong
// in the meantime, the signal it sends (at once, right after the match) is
// consumed so that it can not complete the next Ping.
func (p *pinger) cancel() {
	if !p.want.CompareAndSwap(p.seq, 0) {
		<-p.pong
	}
}

// wait waits for the pong of the ping next started. It returns ctx.Err() as
// it is when ctx ends first, and an error naming driver when the read side
// finishes first, since no pong can arrive after that.
func (p *pinger) wait(ctx context.Context, rs *readSide, driver string) error {
	select {
	case <-p.pong:
		return nil
	case <-ctx.Done():
		p.cancel()
		return ctx.Err()
	case <-rs.done:
		p.cancel()
		return fmt.Errorf("%s: ping: connection ended before the pong: %w", driver, rs.err)
	}
}
