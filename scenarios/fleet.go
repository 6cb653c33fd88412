package scenarios

import (
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
)

// fleet holds a cell's idle connections (heartbeat, reconnect) with no
// goroutine of their own: one goroutine waits on a drivers.Poller, which
// watches every socket with one epoll set, and keeps every connection's
// next ping or pong deadline, and a reconnect cell's backoff waits, in one
// heap. A goroutine blocked in a read per connection, its stack and its
// library's read buffer, cost the load generator about 25 KiB a
// connection; held, a connection costs its socket and a few hundred bytes
// of state. Connections whose driver cannot be held (drivers.Holdable)
// keep the goroutines of keeper, heartbeatRun and reconnectRun.
//
// The loop runs while it holds a live connection, has work queued or runs
// a reconnect cell (whose connections may all be down at once, waiting out
// their backoff on the same heap), and starts again on the next one, so a
// cell that never reaches its scenario (an aborted connect phase) leaves
// nothing behind once its connections are gone. Its pings run on the
// loop's clock; pong latency is read on the cell's clock from the ping's
// write to the pong's arrival, as Conn.Ping's callers read it.
type fleet struct {
	ping  Ping
	clock measure.Clock

	mu      sync.Mutex
	running bool
	failed  bool // no Poller on this platform: every connection keeps its goroutines
	poller  *drivers.Poller
	inbox   []*idleSlot
	cmds    []func(*drivers.Poller)

	// Owned by the loop.
	slots  []*idleSlot
	timers timerHeap
	live   int // slots held and not dead
	hb     *fleetHeartbeat
	rc     *fleetReconnect // the reconnect cell the slots run, from its window to its end
}

// idleSlot is one held connection.
type idleSlot struct {
	f      *fleet
	client *Client
	token  uint32
	envIx  int // the client's index in the cell's Env (heartbeat)
	heapIx int // in f.timers, -1 when no timer is set
	at     int64
	// next is when the next ping is due (fleet clock); sent when the ping
	// awaiting its pong left (the cell's clock while measured).
	next, sent int64
	awaiting   bool
	measured   bool // pings are the heartbeat's, counted
	stopped    bool // no more pings
	released   bool
	// dead is set once the connection ended, err is why (the read side's
	// final error); read by others only after the loop let go (release).
	// A reconnect cell's slot is dead whenever the Poller does not hold
	// its connection of the moment.
	dead bool
	err  error

	// A reconnect cell's slot (reconnect_fleet.go): rec is set, and the
	// connection held is the cell's r.slots[envIx].conn, one after another.
	rec      bool
	phase    rcPhase
	attempt  int   // the next dial's attempt number (Backoff.Delay's k)
	failedAt int64 // when a ping's write failed (the cell's clock)
}

// errNotHeld is why a connection that ended before the loop could hold it
// is dead to the fleet.
var errNotHeld = errors.New("connection ended before the idle fleet held it")

// fleetHeartbeat is what the heartbeat scenario counts through the fleet,
// owned by the loop until release.
type fleetHeartbeat struct {
	r      *heartbeatRun
	batch  *measure.Batch
	active atomic.Int64 // measured slots still pinging
	idle   chan struct{}
	once   sync.Once

	pings, pongs, missed, inWindow, inDrain, lowerBounds uint64
	closedByServer, readErrs, pingErrs                   uint64
}

func newFleet(p Params) *fleet { return &fleet{ping: pingOf(p), clock: measure.NewClock()} }

// hold adds c to the fleet and starts pinging it; false when c must keep
// goroutines (its driver cannot be held, or there is no Poller here).
func (f *fleet) hold(c *Client) bool {
	if !drivers.Holdable(c.Conn) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.startLocked() {
		return false
	}
	s := &idleSlot{f: f, client: c, heapIx: -1}
	c.idle = s
	f.wakeLocked()
	f.inbox = append(f.inbox, s)
	return true
}

// startLocked starts the loop unless it runs; false when there is no
// Poller here. f.mu must be held.
func (f *fleet) startLocked() bool {
	if f.failed {
		return false
	}
	if !f.running {
		p, err := drivers.NewPoller()
		if err != nil {
			f.failed = true
			return false
		}
		f.poller, f.running = p, true
		go f.loop(p)
	}
	return true
}

// post runs cmd on the loop without waiting for it; inline when the loop
// is not running.
func (f *fleet) post(cmd func(*drivers.Poller)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		cmd(nil)
		return
	}
	f.wakeLocked()
	f.cmds = append(f.cmds, cmd)
}

// wakeLocked wakes the loop for what is about to be queued, unless
// something queued already did: the loop takes every queue at once.
// f.mu must be held.
func (f *fleet) wakeLocked() {
	if len(f.inbox) == 0 && len(f.cmds) == 0 {
		f.poller.Wake()
	}
}

// do runs cmd on the loop and waits for it; inline when the loop is not
// running (then nothing else touches the slots).
func (f *fleet) do(cmd func(*drivers.Poller)) {
	f.mu.Lock()
	if !f.running {
		defer f.mu.Unlock()
		cmd(nil)
		return
	}
	done := make(chan struct{})
	f.wakeLocked()
	f.cmds = append(f.cmds, func(p *drivers.Poller) { cmd(p); close(done) })
	f.mu.Unlock()
	<-done
}

// releaseAll hands every live connection back to its driver's ReadMessage
// and Close and stops the loop; the slots keep what they learned.
func (f *fleet) releaseAll() { f.do(f.letGo) }

// letGo is releaseAll's, on the loop.
func (f *fleet) letGo(p *drivers.Poller) {
	for _, s := range f.slots {
		if !s.released && !s.dead && p != nil {
			p.Release(s.token)
		}
		s.released, s.stopped = true, true
		f.unschedule(s)
	}
	f.live = 0
}

func (f *fleet) loop(p *drivers.Poller) {
	for {
		f.mu.Lock()
		adds, cmds := f.inbox, f.cmds
		f.inbox, f.cmds = nil, nil
		if len(adds) == 0 && len(cmds) == 0 && f.idle() {
			// Nothing held and nothing asked: stop until the next hold.
			f.running, f.poller = false, nil
			f.mu.Unlock()
			p.Close()
			return
		}
		f.mu.Unlock()
		for _, s := range adds {
			f.add(p, s)
		}
		for _, cmd := range cmds {
			cmd(p)
		}
		if f.idle() {
			continue // let go of everything (releaseAll): stop, unless more came meanwhile
		}
		timeout := time.Duration(-1)
		if len(f.timers) > 0 {
			timeout = max(time.Duration(f.timers[0].at-f.clock.Now()), 0)
		}
		events, err := p.Wait(timeout)
		if err != nil {
			// The epoll set is unusable: every connection is as good as
			// dead to the load generator, but a reconnect cell's go on
			// with goroutines of their own.
			if f.rc != nil {
				f.rc.abandon(p)
			}
			for _, s := range f.slots {
				if !s.dead && !s.released {
					f.died(s, err)
				}
			}
			continue
		}
		for _, ev := range events {
			s := f.slots[ev.Token]
			if ev.Pong {
				f.ponged(s)
			}
			if ev.Err != nil {
				f.died(s, ev.Err)
			}
		}
		f.fire(p)
		f.windowOver()
	}
}

// idle: nothing held and no reconnect cell running, so nothing to wait
// for; the loop stops unless a hold or a command is queued.
func (f *fleet) idle() bool {
	return f.live == 0 && len(f.slots) > 0 && (f.rc == nil || f.rc.abandoned)
}

// add holds s's connection and schedules its first ping a random part of
// the interval in, so the fleet's pings spread evenly.
func (f *fleet) add(p *drivers.Poller, s *idleSlot) {
	s.token = uint32(len(f.slots))
	f.slots = append(f.slots, s)
	if !p.Hold(s.client.Conn, s.token) {
		// Ended (or being read) before the loop took it: dead to the fleet.
		s.dead, s.err = true, errNotHeld
		return
	}
	f.live++
	s.next = f.clock.Now() + int64(rand.N(f.ping.Interval))
	f.schedule(s, s.next)
}

// fire handles every timer due: pings to send and pong deadlines passed.
func (f *fleet) fire(p *drivers.Poller) {
	for len(f.timers) > 0 {
		now := f.clock.Now()
		s := f.timers[0]
		if s.at > now {
			return
		}
		f.unschedule(s)
		switch {
		case s.rec:
			f.rc.due(p, s)
		case s.awaiting:
			f.missed(s)
		default:
			f.sendPing(p, s)
		}
	}
}

func (f *fleet) sendPing(p *drivers.Poller, s *idleSlot) {
	hb := f.hb
	if s.measured && (hb.r.env.Window.Over() || hb.r.env.Ended() || s.client.Broken.Load()) {
		f.stop(s)
		return
	}
	sent := f.clock.Now()
	if s.measured {
		sent = hb.r.env.Clock.Now()
	}
	err := p.Ping(s.token)
	if s.measured {
		hb.pings++
	}
	if err != nil {
		// The connection failed under the write. Its socket may be closed
		// already (an abort), which no readiness reports: let go of it
		// here, so the loop does not wait for it.
		if s.measured && !hb.r.env.Ended() && !s.client.Broken.Load() {
			hb.pingErrs++
		}
		p.Release(s.token)
		s.dead, s.err = true, err
		f.live--
		f.stop(s)
		if s.measured {
			s.client.Broken.Store(true)
		}
		return
	}
	s.sent, s.awaiting = sent, true
	interval := f.ping.Interval
	if s.measured {
		interval += time.Duration((rand.Float64()*0.2 - 0.1) * float64(f.ping.Interval))
	}
	s.next += int64(interval)
	f.schedule(s, f.clock.Now()+int64(f.ping.Timeout))
}

// ponged: the pong of s's ping in flight arrived.
func (f *fleet) ponged(s *idleSlot) {
	if s.rec {
		f.rc.ponged(s)
		return
	}
	if !s.awaiting {
		return // a ping abandoned before the heartbeat took over
	}
	s.awaiting = false
	if s.measured {
		hb, env := f.hb, f.hb.r.env
		now := env.Clock.Now()
		hb.pongs++
		if env.Window.Contains(s.sent) {
			hb.batch.Record(now, time.Duration(now-s.sent))
		}
		switch {
		case env.Window.Ended(now):
			hb.inDrain++
		case env.Window.Contains(now):
			hb.inWindow++
		}
		env.Done[s.envIx].Add(1)
	}
	f.unschedule(s)
	f.schedule(s, s.next)
}

// missed: no pong within the timeout. Measured, its round trip is at least
// the timeout, and the percentiles must say so.
func (f *fleet) missed(s *idleSlot) {
	s.awaiting = false
	if s.measured {
		hb, env := f.hb, f.hb.r.env
		now := env.Clock.Now()
		hb.missed++
		if env.Window.Contains(s.sent) {
			hb.batch.Record(now, time.Duration(now-s.sent))
			hb.lowerBounds++
		}
	}
	f.schedule(s, s.next)
}

// died: the connection ended; measured, counted as the heartbeat's reader
// counts it.
func (f *fleet) died(s *idleSlot, err error) {
	if s.rec {
		f.rc.died(s, err)
		return
	}
	s.dead, s.err = true, err
	f.live--
	f.stop(s)
	if s.measured {
		f.hb.dead(s, err)
	}
}

func (hb *fleetHeartbeat) dead(s *idleSlot, err error) {
	s.client.Broken.Store(true)
	if hb.r.env.Ended() {
		return
	}
	if hb.r.env.CountClose(err) {
		hb.closedByServer++
	} else {
		hb.readErrs++
	}
}

// stop ends s's pinging.
func (f *fleet) stop(s *idleSlot) {
	f.unschedule(s)
	s.awaiting = false
	if !s.stopped && s.measured {
		if f.hb.active.Add(-1) == 0 {
			f.hb.once.Do(func() { close(f.hb.idle) })
		}
	}
	s.stopped = true
}

// windowOver stops, once the window has closed or the load ended, every
// measured slot with no ping in flight: it would send none.
func (f *fleet) windowOver() {
	hb := f.hb
	if hb == nil || hb.active.Load() == 0 || !(hb.r.env.Window.Over() || hb.r.env.Ended()) {
		return
	}
	for _, s := range f.slots {
		if s.measured && !s.stopped && !s.awaiting {
			f.stop(s)
		}
	}
}

func (f *fleet) schedule(s *idleSlot, at int64) {
	f.unschedule(s)
	s.at = at
	heap.Push(&f.timers, s)
}

func (f *fleet) unschedule(s *idleSlot) {
	if s.heapIx >= 0 {
		heap.Remove(&f.timers, s.heapIx)
	}
}

// timerHeap orders the slots by their next timer: one structure for every
// ping and pong deadline of the fleet.
type timerHeap []*idleSlot

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIx, h[j].heapIx = i, j
}
func (h *timerHeap) Push(x any) {
	s := x.(*idleSlot)
	s.heapIx = len(*h)
	*h = append(*h, s)
}
func (h *timerHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.heapIx = -1
	return s
}

// startHeartbeat turns the fleet's pings into the heartbeat's, counted for
// r: each live connection's first a random part of the interval in (as a
// heartbeat pinger starts), its ping in flight abandoned; a connection that
// died before is counted as its reader would count it now.
func (f *fleet) startHeartbeat(r *heartbeatRun) *fleetHeartbeat {
	env := r.env
	hb := &fleetHeartbeat{r: r, batch: r.out.Latency.Batch(), idle: make(chan struct{})}
	f.do(func(*drivers.Poller) {
		f.hb = hb
		for i, c := range env.Clients {
			if c.idle != nil {
				c.idle.envIx = i
			}
		}
		var n int64
		for _, s := range f.slots {
			if s.released {
				continue
			}
			if s.dead {
				hb.dead(s, s.err)
				continue
			}
			s.measured, s.stopped, s.awaiting = true, false, false
			s.next = f.clock.Now() + int64(rand.N(f.ping.Interval))
			f.schedule(s, s.next)
			n++
		}
		hb.active.Store(n)
		if n == 0 {
			hb.once.Do(func() { close(hb.idle) })
		}
	})
	return hb
}

// endHeartbeat stops the heartbeat's pinging once the load has ended: at
// once when ctx is done, else after each ping in flight has its pong or
// its timeout; then it hands the connections back (the runner closes them)
// and adds what the fleet counted to r.
func (f *fleet) endHeartbeat(ctx context.Context, hb *fleetHeartbeat) {
	f.do(func(*drivers.Poller) { f.windowOver() })
	select {
	case <-hb.idle:
	case <-ctx.Done():
	}
	f.releaseAll()
	hb.batch.Flush()
	r := hb.r
	r.count(func() {
		r.hb.Pings += hb.pings
		r.hb.Pongs += hb.pongs
		r.hb.Missed += hb.missed
		r.hb.ClosedByServer += hb.closedByServer
		r.out.Messages += hb.inWindow
		r.out.DrainMessages += hb.inDrain
		r.out.LowerBounds += hb.lowerBounds
		if hb.readErrs > 0 {
			r.out.Errors["read"] += hb.readErrs
		}
		if hb.pingErrs > 0 {
			r.out.Errors["ping"] += hb.pingErrs
		}
	})
}
