package scenarios

import (
	"math/bits"
	"runtime"
	"time"

	"github.com/wsbench/wsbench/drivers"
)

// runPipelined is the closed loop with n messages outstanding per
// connection (--inflight n), as wrk and tcpkali pipeline: it sends n, then
// each time it has read a reply, and every further reply already received
// (drivers.Readier), it tops the connection up to n in one write. Whenever
// it waits on the network, n messages are outstanding. Each message's
// latency runs from its own send to its own reply; order and integrity are
// checked as with one in flight.
func (w *echoWorker) runPipelined(n int) {
	defer w.batch.Flush()
	defer w.countLost()
	c := w.client
	typ := drivers.Binary
	if w.codec.Text {
		typ = drivers.Text
	}
	tmpl := w.codec.Template(c.ID)
	send := newSender(c.Conn, typ, w.codec, c.ID, tmpl, n)
	ready, _ := c.Conn.(drivers.Readier)
	low, _ := c.Conn.(drivers.LowWater)
	if low != nil {
		lw := low
		defer func() {
			lw.SetReadLowWater(0) // a close's reads wake on the first byte
			w.stalls = lw.Stalls()
		}()
	}
	frame := replyFrameBytes(w.codec.Size)
	buf := make([]byte, w.codec.Size)
	clock := w.env.Clock
	win := w.env.Window
	out := newOutstanding(n)
	var next uint64 // the next sequence number to send
	turn := 0       // replies since this connection last yielded (drivers without LowWater)
	for {
		if k := n - out.count; k > 0 && !win.Over() {
			sent := clock.Now()
			measured := win.Contains(sent)
			c.Busy.Store(true) // until every reply is in: a lost one leaves it waiting
			m, err := send.send(next, k, sent)
			for range m {
				if seq, sent, measured, ok := out.add(next, sent, measured); ok {
					w.neverAnswered(seq, sent, measured) // a slot's worth of later replies came first
				}
				next++
				w.integrity.Sent++
				if measured {
					w.acc.Due++
				}
			}
			if err != nil {
				w.fail(&w.writeErrs)
				w.giveUp(out)
				return
			}
		}
		if out.count == 0 {
			// The window is over and every reply is in.
			c.Busy.Store(false)
			return
		}
		// The replies, waited for, then read together: where the driver
		// can (drivers.LowWater), the kernel wakes this connection once
		// all but one of those outstanding are in, as wrk's pipelining
		// waits for its whole batch. One short, so a message the server
		// never answers stalls nothing: later replies keep coming, and it
		// is given up on as below. Then every reply already here is read,
		// so the top-up answers them all in one write.
		if low != nil && !low.SetReadLowWater(max(out.count-1, 1)*frame) {
			low = nil
		}
		if low == nil {
			// A driver that wakes for every reply has a goroutine that
			// need never block while its server keeps answering: it
			// holds the generator's CPU while other connections'
			// replies wait unread, and their latency is the generator's.
			// After each window's worth of replies it yields, so the
			// connections take turns as gobwas's batches do.
			if turn++; turn >= n {
				turn = 0
				runtime.Gosched()
			}
		}
		now, ok := w.readReply(out, tmpl, &buf, 0)
		if !ok {
			w.giveUp(out)
			return
		}
		for ready != nil && out.count > 0 && ready.Buffered() {
			if _, ok := w.readReply(out, tmpl, &buf, now); !ok {
				w.giveUp(out)
				return
			}
		}
	}
}

// readReply reads one message and settles the outstanding one it answers,
// as arrived at clock time at: a reply already buffered came in with the
// read of the one before it, so it is timed as that one was, not by a
// clock read of its own; 0 reads the clock once the message is in. It
// returns the time taken; ok false: the connection failed (counted).
func (w *echoWorker) readReply(out *outstanding, tmpl []byte, buf *[]byte, at int64) (now int64, ok bool) {
	c := w.client
	_, got, err := c.Conn.ReadMessage(*buf)
	if err != nil {
		if !w.env.Ended() {
			w.env.CountClose(err)
		}
		w.fail(&w.readErrs)
		return 0, false
	}
	*buf = got[:cap(got)]
	now = at
	if now == 0 {
		now = w.env.Clock.Now()
	}
	h, valid := w.codec.Parse(got, tmpl)
	if !valid || h.Conn != c.ID {
		// Corrupt: taken as the reply to the oldest outstanding message,
		// the one an in-order echo answers next; no completed round trip.
		w.integrity.Corrupt++
		if seq, sent, measured, ok := out.oldest(); ok {
			out.answer(seq)
			w.neverAnswered(seq, sent, measured)
		}
		return now, true
	}
	if !w.integrity.Arrive(&w.seqs, h.Seq) {
		return now, true // a duplicate
	}
	sent, measured, answered := out.answer(h.Seq)
	if !answered {
		return now, true // given up on already (counted then), or never sent
	}
	w.settle(now, sent, measured)
	return now, true
}

// neverAnswered counts a message due in the window that got no valid
// reply: its latency is at least its age now.
func (w *echoWorker) neverAnswered(_ uint64, sent int64, measured bool) {
	if !measured {
		return
	}
	now := w.env.Clock.Now()
	w.acc.NeverAnswered++
	w.batch.Record(now, time.Duration(now-sent))
}

// giveUp counts every message still outstanding as never answered.
func (w *echoWorker) giveUp(out *outstanding) {
	for {
		seq, sent, measured, ok := out.oldest()
		if !ok {
			return
		}
		out.answer(seq)
		w.neverAnswered(seq, sent, measured)
	}
}

// countLost derives Lost: sent, and neither a valid nor a corrupt reply
// came back.
func (w *echoWorker) countLost() {
	in := &w.integrity
	if got := in.Received + in.Corrupt; in.Sent > got {
		in.Lost = in.Sent - got
	}
}

// outstanding is the messages a pipelined connection has sent and not yet
// had answered: a ring by sequence number from the oldest unanswered
// (base) to the next to send. The ring holds four times the messages kept
// in flight, so a message whose reply never comes is given up once that
// many later ones have come back (an in-order echo has lost it), and the
// connection keeps its n in flight meanwhile.
type outstanding struct {
	slots      []outSlot
	mask       uint64
	base, next uint64
	count      int
}

type outSlot struct {
	sent     int64
	open     bool
	measured bool // sent inside the window
}

func newOutstanding(n int) *outstanding {
	size := uint64(1) << bits.Len(uint(4*n-1))
	return &outstanding{slots: make([]outSlot, size), mask: size - 1}
}

// add records message seq (the next in order) as sent. When the ring is
// full, the oldest outstanding message is given up to make room and
// returned (gave).
func (o *outstanding) add(seq uint64, sent int64, measured bool) (gSeq uint64, gSent int64, gMeasured, gave bool) {
	if o.next-o.base == uint64(len(o.slots)) {
		gSeq, gSent, gMeasured, gave = o.oldest()
		o.answer(gSeq)
	}
	o.slots[seq&o.mask] = outSlot{sent: sent, open: true, measured: measured}
	o.next = seq + 1
	o.count++
	return
}

// answer settles seq if it is outstanding and says when it was sent.
func (o *outstanding) answer(seq uint64) (sent int64, measured, ok bool) {
	if seq < o.base || seq >= o.next {
		return 0, false, false
	}
	s := &o.slots[seq&o.mask]
	if !s.open {
		return 0, false, false
	}
	s.open = false
	o.count--
	for o.base < o.next && !o.slots[o.base&o.mask].open {
		o.base++
	}
	return s.sent, s.measured, true
}

// oldest is the oldest outstanding message, if any.
func (o *outstanding) oldest() (seq uint64, sent int64, measured, ok bool) {
	if o.count == 0 {
		return 0, 0, false, false
	}
	s := o.slots[o.base&o.mask] // base is open whenever count > 0
	return o.base, s.sent, s.measured, true
}

// replyFrameBytes is the size on the wire of an unmasked, uncompressed
// server frame carrying size bytes of payload (RFC 6455 §5.2).
func replyFrameBytes(size int) int {
	switch {
	case size <= 125:
		return 2 + size
	case size <= 0xffff:
		return 4 + size
	}
	return 10 + size
}
