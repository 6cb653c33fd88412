package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/profile"
)

func init() { Register(heartbeat{}) }

// heartbeat keeps many mostly idle connections alive with pings: each
// connection pings every PingInterval (from a random start, with ±10% jitter
// on each interval, so they never fire together) and records the pong round
// trip. Reference servers get an idle timeout of idleTimeoutIntervals ping
// intervals, so a connection that stays up through a longer run proves its
// pings kept it alive. Each connection pings from the moment it is up
// (KeepAlive), so no connection count or connect rate can make that
// timeout fire before the scenario runs.
type heartbeat struct{}

// idleTimeoutIntervals is the reference servers' idle timeout in ping
// intervals during a heartbeat cell: long enough for a ping or two to be
// late, short enough that a connection that stopped pinging is cut well
// inside any run.
const idleTimeoutIntervals = 3

// heartbeatIdleTimeout is the reference servers' idle timeout in a heartbeat
// cell: idleTimeoutIntervals ping intervals.
func heartbeatIdleTimeout(p Params) time.Duration {
	return idleTimeoutIntervals * pingOf(p).Interval
}

func (heartbeat) keepsAlive() {}

// HeartbeatOptions are the heartbeat scenario's own options.
type HeartbeatOptions struct{ Ping Ping }

func (o *HeartbeatOptions) pings() *Ping { return &o.Ping }

func (heartbeat) NewOptions() any { return new(HeartbeatOptions) }

// Options: the pinging scenarios' shared ones.
func (heartbeat) Options() []Option { return pingOptions }

func (heartbeat) Name() string { return "heartbeat" }
func (heartbeat) Description() string {
	return "idle fleet: every connection pings each --ping-interval; pong latency, missed pongs, memory per connection"
}
func (heartbeat) Path() string       { return "/echo" }
func (heartbeat) Mode(Params) string { return "heartbeat" }
func (heartbeat) Validate(p Params) error {
	if pingOf(p).Interval <= 0 {
		return fmt.Errorf("--ping-interval %s: must be more than zero", pingOf(p).Interval)
	}
	if pingOf(p).Timeout <= 0 {
		return fmt.Errorf("--pong-timeout %s: must be more than zero", pingOf(p).Timeout)
	}
	return nil
}
func (heartbeat) Measures() Measured                       { return Traffic }
func (heartbeat) ServerIdleTimeout(p Params) time.Duration { return heartbeatIdleTimeout(p) }

// Profile: pongs per second, the ping→pong round trip, and whether the
// connections stayed up.
func (heartbeat) Profile() profile.Profile {
	return profile.Profile{
		Scenario:   "heartbeat",
		Title:      "heartbeat · {conns} conns pinging every {ping_interval} (pong timeout {pong_timeout}, server idle timeout {idle_timeout}) · {window}",
		Throughput: profile.Throughput{Label: "pongs/s", Source: "messages"},
		Latency:    profile.Latency{Source: "latency", Prefix: "pong ", What: "ping→pong latency"},
		Columns: []profile.Column{{Key: "throughput"}, {Key: "latency"}, {Key: "missed_pongs"}, {Key: "stayed_up"},
			{Key: "closed_by_server"}, {Key: "errors"}},
		// Idle connections: what one costs the server, then (a --target,
		// whose memory is unknown) how fast its pongs come.
		Rank: []string{"mem_per_conn", "p99"},
		Noun: "sent",
		Unit: "messages",
	}
}

func (heartbeat) Run(ctx context.Context, env *Env) (*Outcome, error) {
	p := env.Params
	r := &heartbeatRun{env: env, out: &Outcome{Latency: env.Latency, Errors: map[string]uint64{}},
		hb: &measure.Heartbeat{PingIntervalS: pingOf(p).Interval.Seconds(), PongTimeoutS: pingOf(p).Timeout.Seconds()}}
	// Connections held in the idle fleet are pinged and read by its one
	// goroutine; the others each by a reader and a pinger.
	var fl *fleet
	for i, c := range env.Clients {
		if c.idle != nil {
			fl = c.idle.f
			continue
		}
		r.readers.Add(1)
		go r.read(c)
		r.pingers.Add(1)
		go r.ping(ctx, i, c)
	}
	var held *fleetHeartbeat
	if fl != nil {
		held = fl.startHeartbeat(r)
	}
	pingersDone := make(chan struct{})
	go func() { r.pingers.Wait(); close(pingersDone) }()
	env.Settle(func() bool {
		select {
		case <-pingersDone:
			return held == nil || held.active.Load() == 0
		default:
			return false
		}
	})
	<-env.Ending()
	<-pingersDone // once the window closes each pinger finishes its ping in flight and stops
	if held != nil {
		fl.endHeartbeat(ctx, held) // the same for the fleet's, which then lets go
	}
	r.mu.Lock()
	for _, c := range env.Clients {
		if !c.Broken.Load() {
			r.hb.StayedUp++
		}
	}
	r.mu.Unlock()
	env.Quiet()
	r.readers.Wait() // ends as the runner closes the connections
	if env.Server != nil {
		r.hb.ServerIdleTimeoutS = env.Server.IdleTimeout.Seconds()
	}
	r.out.Heartbeat = r.hb
	return r.out, nil
}

// heartbeatRun is one heartbeat cell under way.
type heartbeatRun struct {
	env              *Env
	readers, pingers sync.WaitGroup
	mu               sync.Mutex // guards out and hb while goroutines report
	out              *Outcome
	hb               *measure.Heartbeat
}

func (r *heartbeatRun) count(f func()) { r.mu.Lock(); f(); r.mu.Unlock() }

// read receives the pongs (and anything else) until the connection closes.
func (r *heartbeatRun) read(c *Client) {
	defer r.readers.Done()
	err := c.readUntilDead()
	c.Broken.Store(true)
	if !r.env.Ended() {
		if r.env.CountClose(err) {
			r.count(func() { r.hb.ClosedByServer++ })
		} else {
			r.count(func() { r.out.Errors["read"]++ })
		}
	}
}

// ping pings every interval, a random offset in, until the window closes.
func (r *heartbeatRun) ping(ctx context.Context, i int, c *Client) {
	defer r.pingers.Done()
	c.take() // from here this goroutine pings
	env, p := r.env, r.env.Params
	ping := pingOf(p)
	batch := r.out.Latency.Batch()
	defer batch.Flush()
	var pings, pongs, inWindow, inDrain, missed, lowerBounds uint64
	defer r.count(func() {
		r.hb.Pings += pings
		r.hb.Pongs += pongs
		r.hb.Missed += missed
		r.out.Messages += inWindow
		r.out.DrainMessages += inDrain
		r.out.LowerBounds += lowerBounds
	})
	next := time.Now().Add(rand.N(ping.Interval))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(next))
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		if env.Window.Over() || c.Broken.Load() {
			return
		}
		sent := env.Clock.Now()
		pctx, cancel := context.WithTimeout(ctx, ping.Timeout)
		err := c.Conn.Ping(pctx)
		cancel()
		pings++
		now := env.Clock.Now()
		switch {
		case err == nil:
			pongs++
			if env.Window.Contains(sent) {
				batch.Record(now, time.Duration(now-sent))
			}
			switch {
			case env.Window.Ended(now):
				inDrain++
			case env.Window.Contains(now):
				inWindow++
			}
			env.Done[i].Add(1)
		case errors.Is(err, context.DeadlineExceeded):
			missed++
			if env.Window.Contains(sent) {
				// No pong within the timeout: its round trip is at least
				// that, and the percentiles must say so.
				batch.Record(now, time.Duration(now-sent))
				lowerBounds++
			}
		default:
			if !env.Ended() && ctx.Err() == nil && !c.Broken.Load() {
				r.count(func() { r.out.Errors["ping"]++ })
			}
			return
		}
		jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(ping.Interval))
		next = next.Add(ping.Interval + jitter)
	}
}
