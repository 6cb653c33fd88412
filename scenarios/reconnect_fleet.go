package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
)

// A reconnect cell runs the connections its idle fleet holds on the
// fleet's one goroutine, as it runs the others with a session and a reader
// goroutine each (reconnectRun.slot): the same pings, the same detections,
// the same backoff and the same records, without a goroutine or a read
// buffer per connection while it is up. A connection found dead waits out
// its backoff on the fleet's heap; only its dial, which blocks, runs in a
// goroutine, one of at most redialParallel dialers. The connection it brings
// back is held again and pinged from a random part of the interval in, as
// a new session starts. A connection the Poller cannot take (bytes already
// read past its handshake) goes on with goroutines of its own, and so does
// every connection of a fleet whose epoll set failed.

// rcPhase is where a reconnect cell's slot stands in the fleet.
type rcPhase uint8

const (
	rcUp        rcPhase = iota // held and pinging
	rcFailing                  // a ping's write failed: the read side has pingErrorGrace to say why
	rcWaiting                  // found dead: its backoff runs before dial attempt s.attempt
	rcDialing                  // its dial is queued or under way (dialer)
	rcOff                      // the load has ended: no more pings or dials
	rcHandedOff                // goroutines of its own run it (reconnectRun.goOn)
)

// fleetReconnect is the reconnect cell a fleet runs, owned by the loop.
type fleetReconnect struct {
	f     *fleet
	r     *reconnectRun
	ctx   context.Context
	batch *measure.Batch
	dials sync.WaitGroup // dialers under way

	dialMu  sync.Mutex
	dialQ   []dialJob // dials due, first due first dialed
	dialers int       // goroutines dialing, at most redialParallel
	// abandoned: the epoll set failed and every slot was handed to
	// goroutines; the loop may stop, and what comes back from a dial goes
	// to goroutines too.
	abandoned bool
}

// startReconnect has the fleet run r's connections that it holds, from
// now until endReconnect: ctx ends their pings and dials with the load.
// taken says which of the cell's clients the fleet runs (the others are
// not its own, or it let go of them); nil when the fleet cannot run (no
// Poller here), and every connection must go on with goroutines.
func (f *fleet) startReconnect(ctx context.Context, r *reconnectRun) (*fleetReconnect, []bool) {
	rc := &fleetReconnect{f: f, r: r, ctx: ctx, batch: r.out.Latency.Batch()}
	env := r.env
	taken := make([]bool, len(env.Clients))
	done := make(chan struct{})
	// Started and queued at once: a loop with every connection dead would
	// otherwise stop in between.
	f.mu.Lock()
	if !f.startLocked() {
		f.mu.Unlock()
		return nil, nil
	}
	f.wakeLocked()
	f.cmds = append(f.cmds, func(p *drivers.Poller) {
		defer close(done)
		f.rc = rc
		for i, c := range env.Clients {
			s := c.idle
			if s == nil || s.f != f || s.released {
				continue
			}
			taken[i] = true
			s.envIx, s.rec, s.measured, s.stopped = i, true, false, false
			// A keep-alive ping in flight is abandoned: its pong, if it
			// comes, answers no ping of the cell's.
			s.awaiting = false
			f.unschedule(s)
			if s.dead {
				// Ended while kept alive: found now, as a reader of its
				// own would have found it.
				rc.lost(p, s, rc.howEnded(s.err), env.Clock.Now())
				continue
			}
			rc.ping(s)
		}
	})
	f.mu.Unlock()
	<-done
	return rc, taken
}

// over: the load has ended, or ctx was cancelled; nothing more is
// started, as a session or redial of the goroutine path returns then.
func (rc *fleetReconnect) over() bool { return rc.r.env.Ended() || rc.ctx.Err() != nil }

// howEnded is how a connection whose read side ended with err was found
// dead: "close_CODE" for the peer's close frame (counted by code), else
// "read_error".
func (rc *fleetReconnect) howEnded(err error) string {
	env := rc.r.env
	if !env.Ended() && env.CountClose(err) {
		var ce *drivers.CloseError
		errors.As(err, &ce)
		return fmt.Sprintf("close_%d", ce.Code)
	}
	return "read_error"
}

// ping schedules s's first ping a random part of the interval in, as a
// session starts.
func (rc *fleetReconnect) ping(s *idleSlot) {
	f := rc.f
	s.phase, s.awaiting = rcUp, false
	s.next = f.clock.Now() + int64(rand.N(f.ping.Interval))
	f.schedule(s, s.next)
}

// due handles s's timer: a ping to send, a pong not in time, a failed
// ping's grace over, or the backoff over.
func (rc *fleetReconnect) due(p *drivers.Poller, s *idleSlot) {
	if rc.over() {
		s.phase, s.awaiting = rcOff, false
		return
	}
	env, f := rc.r.env, rc.f
	switch s.phase {
	case rcUp:
		if s.awaiting {
			s.awaiting = false
			rc.lost(p, s, "missed_pong", env.Clock.Now())
			return
		}
		rs := &rc.r.slots[s.envIx]
		sent, at := env.Clock.Now(), f.clock.Now()
		err := p.Ping(s.token)
		rs.pings++
		if err != nil {
			// The read side may know why the write failed (a close frame,
			// a reset): it has pingErrorGrace to say so.
			s.phase, s.failedAt = rcFailing, env.Clock.Now()
			f.schedule(s, f.clock.Now()+int64(pingErrorGrace))
			return
		}
		// The next ping an interval after this one, or at its pong when
		// that is later: no jitter after the first (a connection frozen
		// just after a pong is found within one interval and the pong
		// timeout).
		s.sent, s.awaiting, s.next = sent, true, at+int64(f.ping.Interval)
		f.schedule(s, f.clock.Now()+int64(f.ping.Timeout))
	case rcFailing:
		rc.lost(p, s, "ping_error", s.failedAt)
	case rcWaiting:
		s.phase = rcDialing
		rc.queueDial(dialJob{s, s.attempt})
	}
}

// ponged: the pong of s's ping in flight arrived.
func (rc *fleetReconnect) ponged(s *idleSlot) {
	if s.phase != rcUp || !s.awaiting || rc.over() {
		return
	}
	s.awaiting = false
	env := rc.r.env
	rs := &rc.r.slots[s.envIx]
	now := env.Clock.Now()
	rs.pongs++
	if env.Window.Contains(s.sent) {
		rc.batch.Record(now, time.Duration(now-s.sent))
	}
	if env.Window.Ended(now) {
		rs.inDrain++
	} else if env.Window.Contains(now) {
		rs.inWindow++
	}
	env.Done[s.envIx].Add(1)
	rc.f.schedule(s, s.next)
}

// died: s's connection ended, the Poller has let go of it.
func (rc *fleetReconnect) died(s *idleSlot, err error) {
	f := rc.f
	s.dead = true
	f.live--
	f.unschedule(s)
	at := rc.r.env.Clock.Now()
	switch {
	case s.phase == rcFailing:
		at = s.failedAt // found when the ping's write failed, as the read side says
	case s.phase != rcUp:
		return
	}
	if rc.over() {
		s.phase, s.awaiting = rcOff, false
		return
	}
	rc.lost(nil, s, rc.howEnded(err), at)
}

// lost records s's connection found dead at at, how, drops it, and starts
// the backoff before its first dial. p is nil when the Poller no longer
// holds the connection.
func (rc *fleetReconnect) lost(p *drivers.Poller, s *idleSlot, how string, at int64) {
	f := rc.f
	if !s.dead && p != nil {
		p.Release(s.token)
		s.dead = true
		f.live--
	}
	f.unschedule(s)
	s.awaiting = false
	rc.r.lose(&rc.r.slots[s.envIx], how, at)
	rc.backoff(s, 0)
}

// backoff schedules dial attempt k after the policy's wait.
func (rc *fleetReconnect) backoff(s *idleSlot, k int) {
	f := rc.f
	s.phase, s.attempt = rcWaiting, k
	f.schedule(s, f.clock.Now()+int64(reconnectOf(rc.r.env.Params).Backoff.Delay(k, rand.Float64)))
}

// redialParallel bounds a fleet's dials under way at once. A dial blocks,
// so it runs in a goroutine; but unbounded, a restart's storm put all
// 19,000 connections in flight together (on a generator with one CPU,
// every dial's connect waits its turn behind all the others), each with
// a goroutine's stack and the library's handshake buffers: about 23 KiB
// of RSS a connection, which the process keeps. Dials due beyond the bound
// wait in line, in the order they fell due, and each attempt is timed from
// when it starts. One generator CPU opened about 1,200 connections a
// second here; 512 in flight keep that pace up to handshakes of about
// 400 ms.
const redialParallel = 512

// dialJob is dial attempt k of s's connection.
type dialJob struct {
	s *idleSlot
	k int
}

// queueDial queues j and starts a dialer for it while fewer than
// redialParallel run.
func (rc *fleetReconnect) queueDial(j dialJob) {
	rc.dialMu.Lock()
	defer rc.dialMu.Unlock()
	rc.dialQ = append(rc.dialQ, j)
	if rc.dialers < redialParallel {
		rc.dialers++
		rc.dials.Add(1)
		go rc.dialer()
	}
}

// dialer dials what is queued until nothing is.
func (rc *fleetReconnect) dialer() {
	defer rc.dials.Done()
	for {
		rc.dialMu.Lock()
		if len(rc.dialQ) == 0 {
			rc.dialQ = nil // let go of the storm's backing array
			rc.dialers--
			rc.dialMu.Unlock()
			return
		}
		j := rc.dialQ[0]
		rc.dialQ[0] = dialJob{}
		rc.dialQ = rc.dialQ[1:]
		rc.dialMu.Unlock()
		rc.dial(j.s, j.k)
	}
}

// dial is attempt k of s's connection, on a dialer; the loop takes what
// it brought. Whether the load had ended is read here, as the goroutine
// path's redial reads it, the moment the dial returns: the loop may take
// the outcome later.
func (rc *fleetReconnect) dial(s *idleSlot, k int) {
	env := rc.r.env
	if rc.over() {
		// Waited in line past the end of the load: no dial, as a redial's
		// backoff that outlasts the load makes none.
		rc.f.post(func(*drivers.Poller) { s.phase = rcOff })
		return
	}
	at := env.Clock.Now()
	conn, err := env.Dial(rc.ctx)
	a := attempt{at: at, took: env.Clock.Now() - at}
	cut := false
	switch {
	case err == nil && env.Ended():
		_ = conn.Abort()
		conn, cut = nil, true
	case err != nil && (env.Ended() || rc.ctx.Err() != nil):
		// Cut short by the end of the load, not a failure: not recorded.
		rc.f.post(func(*drivers.Poller) { s.phase = rcOff })
		return
	case err != nil:
		a.class = drivers.DialErrorClass(err)
	}
	rc.f.post(func(p *drivers.Poller) { rc.dialed(p, s, k, conn, a, cut) })
}

// dialed takes attempt k's outcome a, as the goroutine path's redial
// does: the connection back (conn), held again; or, the dial failed, the
// next attempt after the backoff; cut: it succeeded as the load ended,
// and nothing follows. p is nil when the loop stopped (its epoll set
// failed).
func (rc *fleetReconnect) dialed(p *drivers.Poller, s *idleSlot, k int, conn drivers.Conn, a attempt, cut bool) {
	r := rc.r
	rs := &r.slots[s.envIx]
	rs.attempts = append(rs.attempts, a)
	switch {
	case cut:
		s.phase = rcOff
		return
	case a.class != "" && (p == nil || rc.abandoned):
		rc.handOff(s, k+1)
		return
	case a.class != "":
		rc.backoff(s, k+1)
		return
	}
	r.regain(rs, conn, a.at+a.took)
	switch {
	case p == nil || rc.abandoned || !p.Hold(conn, s.token):
		rc.handOff(s, -1)
	case rc.over():
		s.dead, s.phase = false, rcOff // held until the end, not pinged
		rc.f.live++
	default:
		s.dead = false
		rc.f.live++
		rc.ping(s)
	}
}

// handOff gives s to goroutines of its own: a session on its connection
// (from < 0) or a redial from attempt from on. The Poller must not hold it.
func (rc *fleetReconnect) handOff(s *idleSlot, from int) {
	rc.f.unschedule(s)
	s.phase, s.awaiting = rcHandedOff, false
	rc.r.wg.Add(1)
	go rc.r.goOn(rc.ctx, s.envIx, nil, from)
}

// abandon hands every slot to goroutines of its own once the epoll set
// failed: a held connection to a session of its own, one found dead to
// its redial; a dial under way hands its outcome over itself.
func (rc *fleetReconnect) abandon(p *drivers.Poller) {
	rc.abandoned = true
	if rc.over() {
		return
	}
	for _, s := range rc.f.slots {
		if !s.rec {
			continue
		}
		switch s.phase {
		case rcUp:
			p.Release(s.token)
			s.dead = true
			rc.f.live--
			rc.handOff(s, -1)
		case rcFailing:
			p.Release(s.token)
			s.dead = true
			rc.f.live--
			rc.r.lose(&rc.r.slots[s.envIx], "ping_error", s.failedAt)
			rc.handOff(s, 0)
		case rcWaiting:
			rc.handOff(s, s.attempt)
		}
	}
}

// endReconnect stops the fleet's part of the cell once the load has
// ended: it waits for the dials under way (ctx ended them), hands the
// connections up back to their driver (the runner closes them), and adds
// what the fleet counted to r.
func (rc *fleetReconnect) endReconnect() {
	f, r := rc.f, rc.r
	// Whatever the loop does now sees the load over: no dial starts after
	// this returns.
	f.do(func(*drivers.Poller) {})
	rc.dials.Wait()
	var inWindow, inDrain uint64
	f.do(func(p *drivers.Poller) {
		for _, s := range f.slots {
			if !s.rec || s.phase == rcHandedOff {
				continue
			}
			rs := &r.slots[s.envIx]
			inWindow += rs.inWindow
			inDrain += rs.inDrain
			s.phase = rcOff
		}
		if f.rc == rc {
			f.rc = nil
		}
		f.letGo(p)
	})
	rc.batch.Flush()
	r.mu.Lock()
	r.out.Messages += inWindow
	r.out.DrainMessages += inDrain
	r.mu.Unlock()
}
