package scenarios

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
)

// pacerChunk bounds one sleep of a pacer, so it notices the end of the
// window, an abort or a cancelled context within this long.
const pacerChunk = 20 * time.Millisecond

// paced is a fixed-rate schedule released to n senders: one pacer goroutine
// sleeps precisely (measure.Pacer) until the next event is due and hands
// every event due by then, event k to sender k mod n as its message k div n. A sender busy with an earlier
// message (a blocked write) finds its backlog waiting when it returns and
// sends it at once, as wrk2 does; every message carries the time it was due.
// The pacer releases every event due before the window's end, even after
// the drain has begun, so messages due in the window are all offered.
type paced struct {
	sched measure.Schedule
	n     int
	due   []atomic.Uint64 // per sender: messages released so far
	wake  []chan struct{}
	done  chan struct{} // closed when the pacer has released its last event
	stop  chan struct{} // closed to stop the senders (the cell gave up)
	once  sync.Once
}

func startPaced(ctx context.Context, env *Env, rate float64, n int) *paced {
	p := &paced{
		// A millisecond's lead, so the first events are not late by the
		// time it takes to start the goroutines.
		// A shard's events come ScheduleOffset after the common start, so
		// the shards' schedules interleave into the single-machine one.
		sched: measure.Schedule{Start: env.Clock.Now() + int64(time.Millisecond+env.Params.ScheduleOffset), Rate: rate},
		n:     n, due: make([]atomic.Uint64, n), wake: make([]chan struct{}, n),
		done: make(chan struct{}), stop: make(chan struct{}),
	}
	for i := range p.wake {
		p.wake[i] = make(chan struct{}, 1)
	}
	go func() {
		defer close(p.done)
		pacer := measure.NewPacer(env.Clock)
		defer pacer.Close()
		for k := uint64(0); ; {
			if env.Window.Ended(p.sched.Due(k)) || ctx.Err() != nil || p.stopped() || env.Ended() {
				return
			}
			// Every event due by the wake leaves in this batch.
			for end := pacer.Next(p.sched, k, pacerChunk); k < end; k++ {
				if env.Window.Ended(p.sched.Due(k)) {
					return
				}
				i := int(k % uint64(n))
				p.due[i].Store(k/uint64(n) + 1)
				select {
				case p.wake[i] <- struct{}{}:
				default:
				}
			}
		}
	}()
	return p
}

func (p *paced) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// halt stops the senders, once.
func (p *paced) halt() { p.once.Do(func() { close(p.stop) }) }

// next waits until sender i's message seq is released; false when there
// will be none (the pacer is done and seq was never released, or the cell
// stopped).
func (p *paced) next(ctx context.Context, i int, seq uint64) bool {
	for seq >= p.due[i].Load() {
		select {
		case <-p.wake[i]:
		case <-p.done:
			if seq >= p.due[i].Load() {
				return false
			}
		case <-p.stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return !p.stopped()
}

// Due is when sender i's message seq was due.
func (p *paced) Due(i int, seq uint64) int64 { return p.sched.Due(seq*uint64(p.n) + uint64(i)) }

// windowSeqs is the range of sender i's messages due in the window.
func (p *paced) windowSeqs(w *measure.Span, i int) (from, to uint64) {
	kFrom, kTo := p.sched.First(w.Start()), p.sched.First(w.End())
	return measure.ConnSeqs(kFrom, kTo, i, p.n)
}

// sentInWindow is how many messages due in the window the senders wrote,
// from each sender's count of messages written (always a prefix: senders
// write in order).
func (p *paced) sentInWindow(w *measure.Span, sent []atomic.Uint64) uint64 {
	var n uint64
	for i := range sent {
		from, to := p.windowSeqs(w, i)
		if s := sent[i].Load(); s > from {
			n += min(s, to) - from
		}
	}
	return n
}

// writeBusy writes msg on c marked busy: a peer that does not read blocks
// the write, and the runner aborts busy connections when it ends the load.
func writeBusy(c *Client, typ drivers.MessageType, msg []byte) error {
	c.Busy.Store(true)
	defer c.Busy.Store(false)
	return c.Conn.WriteMessage(typ, msg)
}

// sendLateness records, for a message due in the window, how late its
// write began (began − due), and reports whether the write finished more
// than measure.BehindThreshold after it was due.
func sendLateness(env *Env, lb *measure.Batch, due, began int64) (behind bool) {
	if !env.Window.Contains(due) {
		return false
	}
	lb.Record(began, time.Duration(began-due))
	return time.Duration(env.Clock.Now()-due) > measure.BehindThreshold
}

// dueInWindow is how many events fell in the window.
func (p *paced) dueInWindow(w *measure.Span) uint64 {
	if w.Start() == 0 || w.End() == 0 {
		return 0
	}
	return p.sched.First(w.End()) - p.sched.First(w.Start())
}

// bitset is a growable set of message numbers, for one goroutine.
type bitset []uint64

func (b *bitset) set(i uint64) {
	for uint64(len(*b)) <= i/64 {
		*b = append(*b, 0)
	}
	(*b)[i/64] |= 1 << (i % 64)
}

func (b bitset) has(i uint64) bool { return i/64 < uint64(len(b)) && b[i/64]&(1<<(i%64)) != 0 }

// runOpenLoop is the open-loop echo: connection i of n sends every n/rate
// seconds, starting i/rate seconds in, on the shared paced schedule, and
// latency is measured from when each message was due (the corrected
// figure) as well as from when it actually left (the service time).
//
// Every message due in the window is accounted for: answered inside the
// window, answered during the drain, never sent, or never answered; the
// last two are recorded in the latency histogram at the age they had when
// the cell gave up on them, a lower bound. Throughput counts replies that
// arrived inside the window, whichever message they answer.
func runOpenLoop(ctx context.Context, env *Env, codec measure.Codec) (*Outcome, error) {
	n := len(env.Clients)
	r := &openLoopRun{env: env, codec: codec, lateness: measure.NewRecorder(),
		out: &Outcome{Latency: env.Latency, Service: measure.NewRecorder(), Errors: map[string]uint64{}},
		ol:  &measure.OpenLoop{TargetRate: env.Params.Rate}, acc: &measure.Accounting{},
		sent: make([]atomic.Uint64, n), answered: make([]bitset, n)}
	r.pace = startPaced(ctx, env, env.Params.Rate, n)
	for i, c := range env.Clients {
		tmpl := codec.Template(c.ID)
		r.readers.Add(1)
		go r.read(i, tmpl)
		r.senders.Add(1)
		go r.send(ctx, i, tmpl)
	}
	// Settled once the pacer has released what was due before the window's
	// end, every sender has sent its backlog and every message sent has
	// been answered (or found corrupt).
	sendersDone := make(chan struct{})
	go func() { r.senders.Wait(); close(sendersDone) }()
	env.Settle(func() bool {
		select {
		case <-sendersDone:
			return r.settledTotal.Load() >= r.sentTotal.Load()
		default:
			return false
		}
	})
	<-env.Ending()
	r.pace.halt()
	r.senders.Wait() // the runner aborted those blocked in a write
	env.Quiet()
	r.readers.Wait() // they end as the runner closes the connections
	return r.outcome(), nil
}

// openLoopRun is one open-loop echo cell under way.
type openLoopRun struct {
	env      *Env
	codec    measure.Codec
	pace     *paced
	lateness *measure.Recorder
	sent     []atomic.Uint64 // per connection: messages written, in order
	answered []bitset        // per connection, owned by its reader

	sentTotal, settledTotal atomic.Uint64
	senders, readers        sync.WaitGroup

	mu  sync.Mutex // guards out, ol, acc and sentInWindow while goroutines report
	out *Outcome
	ol  *measure.OpenLoop
	acc *measure.Accounting
	// sentInWindow counts the writes started inside the window: the
	// achieved rate. A backlog written after the window closes (a server
	// that stopped reading) is not sending at the rate asked.
	sentInWindow uint64
}

// read runs connection i's reader until its connection closes.
func (r *openLoopRun) read(i int, tmpl []byte) {
	defer r.readers.Done()
	c := r.env.Clients[i]
	rd := openReader{client: c, env: r.env, codec: r.codec, tmpl: tmpl, lat: r.out.Latency.Batch(),
		svc: r.out.Service.Batch(), done: &r.env.Done[i], settled: &r.settledTotal, answered: &r.answered[i]}
	rd.run()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.Messages += rd.inWindow
	r.out.DrainMessages += rd.inDrain
	r.acc.Answered += rd.answeredIn
	r.acc.AnsweredLate += rd.answeredLate
	r.out.Integrity.Add(rd.integrity)
	if rd.readErrs > 0 {
		r.out.Errors["read"] += rd.readErrs
	}
}

// send is connection i's sender: each message as the pacer releases it,
// stamped with the time it was due.
func (r *openLoopRun) send(ctx context.Context, i int, tmpl []byte) {
	defer r.senders.Done()
	env, c := r.env, r.env.Clients[i]
	typ := drivers.Binary
	if r.codec.Text {
		typ = drivers.Text
	}
	msg := append([]byte(nil), tmpl...)
	late := r.lateness.Batch()
	defer late.Flush()
	var behind, inWindow uint64
	defer func() {
		r.mu.Lock()
		r.out.Integrity.Sent += r.sent[i].Load()
		r.ol.Sent += r.sent[i].Load()
		r.ol.BehindSchedule += behind
		r.sentInWindow += inWindow
		r.mu.Unlock()
	}()
	for seq := uint64(0); r.pace.next(ctx, i, seq); seq++ {
		if c.Broken.Load() {
			return
		}
		due := r.pace.Due(i, seq)
		now := env.Clock.Now()
		r.codec.Stamp(msg, measure.Header{Conn: c.ID, Seq: seq, SentNs: due, LateNs: now - due})
		if err := writeBusy(c, typ, msg); err != nil {
			c.Broken.Store(true)
			if !env.Ended() {
				r.mu.Lock()
				r.out.Errors["write"]++
				r.mu.Unlock()
			}
			return
		}
		r.sent[i].Store(seq + 1)
		r.sentTotal.Add(1)
		if env.Window.Contains(now) {
			// Started inside the window, whenever it was due: a backlog
			// written once a stalled peer reads again comes after the
			// window and is not counted. The clock read before the write
			// serves, so a send costs no second one.
			inWindow++
		}
		if sendLateness(env, late, due, now) {
			behind++
		}
	}
}

// outcome accounts for every message due in the window once the load has
// ended: never sent and never answered ones go into the latency histogram
// at their age when the cell gave up on them, a lower bound.
func (r *openLoopRun) outcome() *Outcome {
	env, out, acc, ol := r.env, r.out, r.acc, r.ol
	in := &out.Integrity
	if got := in.Received + in.Corrupt; in.Sent > got {
		in.Lost = in.Sent - got
	}
	if w := env.Window; w.Start() != 0 && w.End() != 0 {
		gaveUp := env.GaveUpAt()
		acc.Due = r.pace.dueInWindow(w)
		acc.GaveUpAfterS = time.Duration(gaveUp - w.End()).Seconds()
		lb := out.Latency.Batch()
		for i := range env.Clients {
			from, to := r.pace.windowSeqs(w, i)
			for seq := from; seq < to; seq++ {
				switch {
				case seq >= r.sent[i].Load():
					acc.NeverSent++
				case !r.answered[i].has(seq):
					acc.NeverAnswered++
				default:
					continue
				}
				lb.Record(gaveUp, time.Duration(gaveUp-r.pace.Due(i, seq)))
				out.LowerBounds++
			}
		}
		lb.Flush()
		if d := time.Duration(w.End() - w.Start()); d > 0 {
			ol.AchievedRate = float64(r.sentInWindow) / d.Seconds()
		}
	}
	h, clamped := r.lateness.Snapshot()
	ol.SendLateness, _ = measure.NewLatency(h, clamped)
	out.OpenLoop, out.Accounting = ol, acc
	return out
}

// openReader is the receiving side of one open-loop connection.
type openReader struct {
	client   *Client
	env      *Env
	codec    measure.Codec
	tmpl     []byte
	lat, svc *measure.Batch
	done     *Counter
	settled  *atomic.Uint64
	answered *bitset // message numbers answered, of those due in the window

	seqs      measure.SeqTracker
	integrity measure.Integrity
	// Replies received inside the window and after it (throughput and
	// drain), and, of the messages due in the window, those answered
	// inside it and after it.
	inWindow, inDrain        uint64
	answeredIn, answeredLate uint64
	readErrs                 uint64
}

func (r *openReader) run() {
	defer r.lat.Flush()
	defer r.svc.Flush()
	buf := make([]byte, r.codec.Size)
	w := r.env.Window
	for {
		_, got, err := r.client.Conn.ReadMessage(buf)
		if err != nil {
			r.client.Broken.Store(true)
			if !r.env.Ended() {
				r.env.CountClose(err)
				r.readErrs++
			}
			return
		}
		buf = got[:cap(got)]
		now := r.env.Clock.Now()
		h, ok := r.codec.Parse(got, r.tmpl)
		if !ok || h.Conn != r.client.ID {
			r.integrity.Corrupt++
			r.settled.Add(1)
			continue
		}
		if !r.integrity.Arrive(&r.seqs, h.Seq) {
			continue
		}
		r.settled.Add(1)
		r.done.Add(1)
		switch {
		case w.Ended(now):
			r.inDrain++
		case w.Contains(now):
			r.inWindow++
		}
		if w.Contains(h.SentNs) {
			r.lat.Record(now, time.Duration(now-h.SentNs))
			r.svc.Record(now, time.Duration(now-h.SentNs-h.LateNs))
			r.answered.set(h.Seq)
			if w.Ended(now) {
				r.answeredLate++
			} else {
				r.answeredIn++
			}
		}
	}
}
