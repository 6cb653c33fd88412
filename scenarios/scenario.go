// Package scenarios owns what a benchmark does: the Scenario contract and
// the built-in scenarios (echo, broadcast, heartbeat, connect), written
// against the drivers.Conn contract and measure only, each with the profile
// (package profile) that says what it measures, and the built-in presets
// (*.yaml, embedded). The runner (package runner) owns time: it opens and
// closes the measured window, waits for replies in flight and ends the load;
// a scenario reads the window and reports when nothing more is expected.
package scenarios

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/registry"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/profile"
)

// Params are the parameters of one cell that a scenario reads.
type Params struct {
	Conns    int
	Payload  int  // message size in bytes, header included
	Text     bool // text instead of binary messages
	Warmup   time.Duration
	Duration time.Duration
	// ConnectRate paces the connect phase in connections per second; 0
	// dials as fast as the parallel dialers go.
	ConnectRate float64

	// Rate is messages per second across all connections on a fixed
	// schedule: open-loop echo, or broadcast publishes. 0 means a closed
	// loop for echo.
	Rate float64

	// Compression offers permessage-deflate from every connection, has the
	// reference server accept it, and makes message fillers compressible
	// (measure.Codec.Compressible).
	Compression bool

	// Own holds the running scenario's own options: the value its
	// NewOptions returned (a pointer to its options struct), set by its
	// declarations' Apply and its Resolve in ApplyOptions, read-only
	// after that (cells and shards share it). nil for a scenario without
	// options.
	Own any

	// ScheduleOffset delays this load generator's fixed-rate schedule
	// from the common start: shard i of n runs events i, i+n, i+2n… of
	// the whole schedule, so its share starts i/(n·Rate) later.
	ScheduleOffset time.Duration
}

// Client is one connection of the load generator.
type Client struct {
	// ID is unique within a cell and travels in every message header.
	ID   uint32
	Conn drivers.Conn
	// Broken is set when the connection failed or was aborted; the close
	// phase counts it as an abrupt close.
	Broken atomic.Bool
	// Busy is set by a scenario while the connection is inside a call
	// that only the peer can end (a write the peer does not read, a reply
	// awaited): when the runner ends the load it aborts busy connections.
	Busy atomic.Bool
	// keeper pings the connection from the moment it is up until the
	// scenario takes it over (KeepAlive); nil for scenarios that do not ping.
	keeper *keeper
	// idle is the connection's place in the cell's idle fleet when it is
	// held there without goroutines (instead of a keeper).
	idle *idleSlot
	// handMu orders a scenario handing back a connection it dialled again
	// (Replace) with an abort from another goroutine (Abort): Ctrl-C can
	// come at any moment, the hand-back included.
	handMu sync.Mutex
}

// Replace hands the runner conn in place of the connection the client
// was given (a scenario that dials again), broken or not, once the
// scenario has finished with it.
func (c *Client) Replace(conn drivers.Conn, broken bool) {
	c.handMu.Lock()
	defer c.handMu.Unlock()
	c.Conn = conn
	c.Broken.Store(broken)
}

// Current is the connection and whether it is broken, read under the
// hand-back lock: the runner's close phase may meet a reconnecting
// scenario that outlived its drain.
func (c *Client) Current() (conn drivers.Conn, broken bool) {
	c.handMu.Lock()
	defer c.handMu.Unlock()
	return c.Conn, c.Broken.Load()
}

// Abort drops the connection at once, without a close handshake, and
// marks it broken. Safe from any goroutine, a hand-back under way
// included.
func (c *Client) Abort() {
	c.handMu.Lock()
	defer c.handMu.Unlock()
	c.Broken.Store(true)
	_ = c.Conn.Abort()
}

// Counter is a per-connection progress counter padded to its own cache line,
// so connections on different cores do not contend for it.
type Counter struct {
	n atomic.Uint64
	_ [56]byte
}

// Add counts n more.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Load is the count so far.
func (c *Counter) Load() uint64 { return c.n.Load() }

// Server is what a scenario may know of the reference server it runs
// against; Env.Server is nil for a --target.
type Server struct {
	// IdleTimeout is the server's idle timeout, SlowConsumer its policy for
	// subscribers that fall behind ("drop" or "disconnect").
	IdleTimeout  time.Duration
	SlowConsumer string
	// Counters reads the server's counters once the traffic is over
	// ("broadcast_dropped", "broadcast_disconnected", ...).
	Counters func(ctx context.Context) (map[string]uint64, error)
}

// Env is what the runner hands a scenario for one cell.
type Env struct {
	Clients []*Client
	Params  Params
	Clock   measure.Clock
	// Done has one counter per client: messages completed so far, read by
	// the progress display.
	Done []Counter
	// Latency is where the scenario records its main latency; the runner
	// reads per-second intervals from it for the time series.
	Latency *measure.Recorder
	// Window is the measured window on Clock: a message sent at t belongs
	// to it when Window.Contains(t). The runner opens and closes it.
	Window *measure.Span
	// Server describes the reference server, nil for a --target.
	Server *Server
	// Dial opens one more connection like the cell's own: same driver,
	// URL and options (a reconnect).
	Dial func(ctx context.Context) (drivers.Conn, error)

	ended, quiet      chan struct{}
	gaveUp, faultAt   atomic.Int64
	closeMu           sync.Mutex
	closeCodes        map[int]uint64
	settled           atomic.Pointer[func() bool]
	endOnce, quietOne sync.Once
}

// NewEnv returns a cell's environment, its window not yet open.
func NewEnv(clients []*Client, p Params) *Env {
	return &Env{Clients: clients, Params: p, Clock: measure.NewClock(), Done: make([]Counter, len(clients)),
		Latency: measure.NewRecorder(), Window: &measure.Span{}, ended: make(chan struct{}), quiet: make(chan struct{})}
}

// Settle tells the runner how to know that nothing more is expected once
// the window has closed (every reply in, every sender stopped); without it
// the runner waits out its whole drain timeout.
func (e *Env) Settle(settled func() bool) { e.settled.Store(&settled) }

// Settled reports what the scenario's Settle function says (false when it
// set none).
func (e *Env) Settled() bool {
	f := e.settled.Load()
	return f != nil && (*f)()
}

// End is the runner's: it ends the load at clock time gaveUp (all settled,
// or the drain timeout passed), once.
func (e *Env) End(gaveUp int64) {
	e.endOnce.Do(func() {
		e.gaveUp.Store(gaveUp)
		close(e.ended)
	})
}

// Ending is closed when the runner has ended the load: senders stop, and
// errors from here on are the teardown's, not the server's.
func (e *Env) Ending() <-chan struct{} { return e.ended }

// Ended reports whether the runner has ended the load.
func (e *Env) Ended() bool {
	select {
	case <-e.ended:
		return true
	default:
		return false
	}
}

// MarkFault is the runner's: it acted on the server (--fault) at clock
// time t.
func (e *Env) MarkFault(t int64) { e.faultAt.Store(max(t, 1)) }

// FaultAt is the clock time the runner acted on the server, 0 if it has
// not (yet).
func (e *Env) FaultAt() int64 { return e.faultAt.Load() }

// CountClose counts err by its close code when it is the peer's close
// frame (a *drivers.CloseError), and reports whether it was. Every scenario
// passes its read errors through it, so close codes are counted for all.
func (e *Env) CountClose(err error) bool {
	var ce *drivers.CloseError
	if !errors.As(err, &ce) {
		return false
	}
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closeCodes == nil {
		e.closeCodes = map[int]uint64{}
	}
	e.closeCodes[ce.Code]++
	return true
}

// CloseCodes are the close frames the peers sent, by code.
func (e *Env) CloseCodes() map[int]uint64 {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	return maps.Clone(e.closeCodes)
}

// Quiet is the scenario's: once the load has ended, it says that none of
// its goroutines will write again, so the runner may close the
// connections (a close handshake must not race a write). Run returning
// says so too.
func (e *Env) Quiet() { e.quietOne.Do(func() { close(e.quiet) }) }

// Quieted is closed once the scenario has called Quiet.
func (e *Env) Quieted() <-chan struct{} { return e.quiet }

// GaveUpAt is the clock time the runner ended the load (0: not yet).
// Messages never sent or never answered are at least this old.
func (e *Env) GaveUpAt() int64 { return e.gaveUp.Load() }

// Outcome is what a scenario measured in one cell.
type Outcome struct {
	// Messages completed within the measured window; DrainMessages after
	// it, while replies in flight were awaited (not throughput).
	Messages      uint64
	DrainMessages uint64
	// LowerBounds counts latency values recorded at the age a message
	// had when the cell gave up on it (never sent, never answered).
	LowerBounds uint64
	// Accounting follows every message due in the window to its end.
	Accounting *measure.Accounting
	Latency    *measure.Recorder
	Integrity  measure.Integrity
	// Errors counts failures by class ("read", "write", ...).
	Errors map[string]uint64
	// Service is the open-loop service time: from when a message actually
	// left to its reply, without the wait behind a late schedule.
	Service *measure.Recorder
	// Labels are the scenario's own parameters worth a table title
	// ("backoff": "full-jitter"), title placeholders {label.NAME}.
	Labels map[string]string
	// Timeline is the scenario's own counts in fixed intervals.
	Timeline *measure.Timeline
	// Figures and Distributions are the scenario's own numbers and
	// latency distributions, by the names its profile's columns use
	// ("figure.NAME", "dist.NAME"): a new scenario reports what it
	// measures here, with no new field anywhere else.
	Figures       map[string]float64
	Distributions map[string]*measure.Recorder
	// OpenLoop, Broadcast and Heartbeat carry the figures particular to
	// those modes (from before Figures existed; their files still load).
	OpenLoop  *measure.OpenLoop
	Broadcast *measure.Broadcast
	Heartbeat *measure.Heartbeat
}

// Measured says which part of a cell is its measured window.
type Measured int

// The measured windows a scenario may declare.
const (
	// Traffic: the runner connects, warms up, and measures Duration of
	// the scenario's traffic.
	Traffic Measured = iota
	// Connecting: the connect phase is the measured work; nothing else is
	// sent, and Run is not called.
	Connecting
)

// Scenario is one kind of workload.
type Scenario interface {
	// Name is the name used on the command line ("echo").
	Name() string
	// Description is one line for `wsbench list`.
	Description() string
	// Path is the server endpoint the scenario's connections dial ("/echo").
	Path() string
	// Mode says how load is offered: "closed-loop", "open-loop",
	// "heartbeat" or "connect"; records and tables are grouped by it.
	Mode(p Params) string
	// Validate checks the parameters before anything starts; errors name
	// the flag at fault.
	Validate(p Params) error
	// Measures says which part of the cell is measured.
	Measures() Measured
	// ServerIdleTimeout is the idle timeout the reference servers need
	// for this scenario (heartbeat proves connections survive it); 0
	// keeps the servers' setting.
	ServerIdleTimeout(p Params) time.Duration
	// Profile declares what the scenario measures, for the renderers.
	Profile() profile.Profile
	// Run drives env.Clients from warmup through the window the runner
	// opens and closes, tells the runner through env.Settle when nothing
	// more is expected, and returns once the runner has ended the load
	// (env.Ending) and every connection's goroutine has finished.
	Run(ctx context.Context, env *Env) (*Outcome, error)
}

var known = registry.New[Scenario]("scenario")

// Register adds a scenario and its profile; a duplicate name panics at init.
func Register(x Scenario) {
	known.Register(x)
	profile.Register(x.Profile())
}

// Names lists the registered scenarios in alphabetical order.
func Names() []string { return known.Names() }

// Lookup returns the named scenario, or an error that lists the known ones.
func Lookup(name string) (Scenario, error) { return known.Lookup(name) }
