package scenarios

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/wsbench/wsbench/drivers"
)

// keepsAlive marks a scenario whose connections ping the server (heartbeat,
// reconnect): the reference servers then get an idle timeout of a few ping
// intervals, and every connection must ping from the moment it is up, not
// only once the scenario runs. Otherwise the first connections of a slow
// connect phase sit silent until the last is up and the server, rightly,
// closes them: 19,000 connections took 9.3 s to open against nbio once, and
// 14,686 were cut, which measured our settings, not the library.
type keepsAlive interface{ keepsAlive() }

// KeepAlive is the runner's: for a scenario that pings, it returns what to
// call for every connection as soon as its handshake completes, which
// starts pinging it every --ping-interval (a random offset in, as the
// scenario does) with something to read the pongs, until the scenario
// takes the connection over in Run; nil for any other scenario. The
// connections of one call share one idle fleet: held without a goroutine
// where their driver allows it (fleet), else a keeper's reader and pinger
// each.
func KeepAlive(s Scenario, p Params) func(*Client) {
	if _, ok := s.(keepsAlive); !ok || pingOf(p).Interval <= 0 {
		return nil
	}
	f := newFleet(p)
	return func(c *Client) {
		if !f.hold(c) {
			keepWithGoroutines(c, p)
		}
	}
}

// keepWithGoroutines keeps c alive with a keeper: a reader and a pinger.
func keepWithGoroutines(c *Client, p Params) {
	// take cancels ctx: it stops the pinger, and a Ping waiting for its
	// pong with it, without a goroutine per connection to watch for take.
	ctx, cancel := context.WithCancel(context.Background())
	k := &keeper{dead: make(chan struct{}), stop: cancel, stopped: make(chan struct{})}
	c.keeper = k
	// The connection is read once, here: a reconnect may later hand the
	// slot a new one (Client.Replace) while these still run on the old.
	conn := c.Conn
	go k.read(conn)
	go k.ping(ctx, conn, p)
}

// keeper holds a connection's idle timer fed before the scenario runs. Its
// reader stays the connection's reader for the connection's life (a Ping
// needs one, and a blocked read cannot be handed over); the scenario waits
// on dead instead of reading itself. Its pinger stops when the scenario
// takes over (take).
type keeper struct {
	dead    chan struct{}      // closed once the reader's ReadMessage failed
	err     error              // that failure, set before dead is closed
	stop    context.CancelFunc // called by take
	stopped chan struct{}      // closed when the pinger has returned
}

// read reads (and drops) messages until the connection fails or closes.
func (k *keeper) read(conn drivers.Conn) {
	k.err = drainReads(conn)
	close(k.dead)
}

// drainReads reads (and drops) conn's messages until it fails or closes,
// and returns why.
func drainReads(conn drivers.Conn) error {
	buf := make([]byte, 512)
	for {
		_, got, err := conn.ReadMessage(buf)
		if err != nil {
			return err
		}
		buf = got[:cap(got)]
	}
}

// ping pings every interval until take, or the connection's end. A pong
// missing here is not counted: nothing is measured before the window.
func (k *keeper) ping(ctx context.Context, conn drivers.Conn, p Params) {
	ping := pingOf(p)
	defer close(k.stopped)
	defer k.stop() // release ctx when the connection ended first
	next := time.Now().Add(rand.N(ping.Interval))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		case <-k.dead:
			return
		}
		pctx, pcancel := context.WithTimeout(ctx, ping.Timeout)
		err := conn.Ping(pctx)
		pcancel()
		if err != nil && pctx.Err() == nil {
			return // the connection failed: the reader sees why
		}
		next = next.Add(ping.Interval)
		timer.Reset(time.Until(next))
	}
}

// take stops c's keeper's pinger and waits for it, so the scenario's own
// Ping never runs beside it; nothing when c has no keeper.
func (c *Client) take() {
	if k := c.keeper; k != nil {
		k.stop()
		<-k.stopped
	}
}

// readUntilDead reads c until it fails or closes and returns why: through
// its keeper's reader when it has one, else reading (and dropping
// messages) itself; a connection the idle fleet held must have been
// released (releaseFleet) first.
func (c *Client) readUntilDead() error {
	if s := c.idle; s != nil {
		// Held until the fleet released it: dead already, or read here.
		if s.dead {
			return s.err
		}
		return drainReads(c.Conn)
	}
	if k := c.keeper; k != nil {
		<-k.dead
		return k.err
	}
	return drainReads(c.Conn)
}

// pingOptions are the options of every scenario whose connections ping
// (heartbeat, reconnect): one declaration, listed by each.
// Their options structs hold a Ping (pinged).
var pingOptions = []Option{
	durationOption("ping-interval", "1s", "time between a connection's pings (reconnect detects a dead server by them)", false,
		func(p *Params) *time.Duration { return &p.Own.(pinged).pings().Interval }),
	{Name: "pong-timeout", Kind: KindDuration, Default: "",
		Usage: "a pong later than this is missed (default: the ping interval, at most 5s)",
		Apply: func(v string, p *Params) error {
			ping := p.Own.(pinged).pings()
			if v == "" {
				ping.Timeout = min(ping.Interval, 5*time.Second)
				return nil
			}
			d, err := ParseDuration("pong-timeout", v, false)
			ping.Timeout = d
			return err
		}},
}

// Ping is how the connections of a pinging scenario ping: every Interval,
// a pong later than Timeout missed.
type Ping struct {
	Interval time.Duration
	Timeout  time.Duration
}

// pinged is the options struct of a scenario whose connections ping.
type pinged interface{ pings() *Ping }

// pingOf is how p's connections ping; zero for a scenario that does not.
func pingOf(p Params) Ping {
	if o, ok := p.Own.(pinged); ok {
		return *o.pings()
	}
	return Ping{}
}

// fleetOf is the idle fleet that holds connections of clients (one per
// cell), nil when none does.
func fleetOf(clients []*Client) *fleet {
	for _, c := range clients {
		if c.idle != nil {
			return c.idle.f
		}
	}
	return nil
}

// releaseFleet hands every connection of clients held in an idle fleet
// back to its driver, for a scenario that reads them with goroutines of its
// own (reconnect, where the fleet cannot run).
func releaseFleet(clients []*Client) {
	if f := fleetOf(clients); f != nil {
		f.releaseAll() // one fleet per cell: every slot at once
	}
}
