// Package scenarios owns what a benchmark does: the Scenario contract, the
// built-in scenarios (echo so far) written against the drivers.Conn contract
// only, and the runner that plans the matrix of cells, starts each reference
// server in its own process, connects, warms up, measures, closes and turns
// every cell into a report.Record.
package scenarios

import (
	"context"
	"github.com/wsbench/wsbench/internal/registry"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// ConnectOnly is implemented by scenarios whose measured work is the connect
// phase itself (connect storms): the runner skips warmup and measure and
// reports the connect phase as the measured window.
type ConnectOnly interface {
	ConnectOnly() bool
}

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
	// Broadcast: Publishers of the connections publish at Rate.
	Publishers int

	// Heartbeat: each connection pings every PingInterval and counts a
	// pong missing after PongTimeout.
	PingInterval time.Duration
	PongTimeout  time.Duration

	// Compression offers permessage-deflate from every connection, has the
	// reference server accept it, and makes message fillers compressible
	// (measure.Codec.Compressible).
	Compression bool
}

// Client is one connection of the load generator.
type Client struct {
	// ID is unique within a cell and travels in every message header.
	ID   uint32
	Conn drivers.Conn
	// Broken is set when the connection failed or was aborted; the close
	// phase counts it as an abrupt close.
	Broken atomic.Bool
}

// Phase is where a cell is in its life; scenarios read it on every message.
type Phase int32

// The phases a scenario sees, in order.
const (
	Warmup  Phase = iota // send, but record nothing
	Measure              // send and record
	Drain                // send nothing new; wait for replies in flight
	Closing              // close handshakes under way: close errors are expected
	Abort                // connections are being torn down: errors are expected
)

// Phases is the current phase, shared by the runner (which moves it) and the
// scenario's goroutines (which read it).
type Phases struct{ v atomic.Int32 }

// Load returns the current phase.
func (p *Phases) Load() Phase { return Phase(p.v.Load()) }

// Set moves to phase ph.
func (p *Phases) Set(ph Phase) { p.v.Store(int32(ph)) }

// Counter is a per-connection progress counter padded to its own cache line,
// so connections on different cores do not contend for it.
type Counter struct {
	n atomic.Uint64
	_ [56]byte
}

// Add counts n more.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Env is what the runner hands a scenario for one cell.
type Env struct {
	Clients []*Client
	Params  Params
	Phases  *Phases
	Clock   measure.Clock
	// Done has one counter per client: messages completed so far, all
	// phases, read by the progress display.
	Done []Counter
	// Latency is where the scenario records its main latency; the runner
	// reads per-second intervals from it for the time series.
	Latency *measure.Recorder
	// DrainTimeout bounds how long replies in flight are awaited after the
	// measured window before the connections are aborted.
	DrainTimeout time.Duration
	// Window is the measured window on Clock: a message sent at t belongs
	// to it when Window.Contains(t). Set by the runner.
	Window Window
	// Drained is closed by the scenario (through MarkDrained) once nothing
	// more is expected after Drain began; the runner then closes the
	// connections, which ends goroutines still blocked reading.
	Drained   chan struct{}
	drainOnce sync.Once
}

// MarkDrained closes Drained, once.
func (e *Env) MarkDrained() { e.drainOnce.Do(func() { close(e.Drained) }) }

// Window is the measured window on the scenario's Clock, in nanoseconds.
type Window struct{ start, end atomic.Int64 }

// Start is the clock time the window began (0: not yet).
func (w *Window) Start() int64 { return w.start.Load() }

// End is the clock time the window ended (0: not yet).
func (w *Window) End() int64 { return w.end.Load() }

// Ended reports whether clock time t is at or after the window's end.
func (w *Window) Ended(t int64) bool {
	e := w.end.Load()
	return e != 0 && t >= e
}

// Contains reports whether clock time t falls in the window: after its start
// and, once the window has ended, before its end.
func (w *Window) Contains(t int64) bool {
	s := w.start.Load()
	if s == 0 || t < s {
		return false
	}
	e := w.end.Load()
	return e == 0 || t < e
}

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
	Accounting *report.Accounting
	Latency    *measure.Recorder
	Integrity  measure.Integrity
	// Errors counts failures by class ("read", "write", ...).
	Errors map[string]uint64
	// Service is the open-loop service time: from when a message actually
	// left to its reply, without the wait behind a late schedule.
	Service *measure.Recorder
	// OpenLoop, Broadcast and Heartbeat carry the figures particular to
	// those modes; the runner fills in what only it knows (server counters).
	OpenLoop  *report.OpenLoop
	Broadcast *report.Broadcast
	Heartbeat *report.Heartbeat
}

// Scenario is one kind of workload.
type Scenario interface {
	// Name is the name used on the command line ("echo").
	Name() string
	// Description is one line for `wsbench list`.
	Description() string
	// Path is the server endpoint the scenario's connections dial ("/echo").
	Path() string
	// Mode says how load is offered: "closed-loop" or "open-loop".
	Mode(p Params) string
	// Validate checks the parameters before anything starts; errors name
	// the flag at fault.
	Validate(p Params) error
	// ServerSettings adjusts the reference servers' settings for this
	// scenario (heartbeat sets the idle timeout it proves it survives).
	ServerSettings(p Params, s servers.Settings) servers.Settings
	// Run drives env.Clients through warmup, measure and drain as the runner
	// moves env.Phases, and returns once every connection's goroutine has
	// finished (at most env.DrainTimeout after Drain begins).
	Run(ctx context.Context, env *Env) (*Outcome, error)
}

var known = registry.New[Scenario]("scenario")

// Register adds a scenario; a duplicate name panics at init.
func Register(x Scenario) { known.Register(x) }

// Names lists the registered scenarios in alphabetical order.
func Names() []string { return known.Names() }

// Lookup returns the named scenario, or an error that lists the known ones.
func Lookup(name string) (Scenario, error) { return known.Lookup(name) }
