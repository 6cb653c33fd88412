// Package runner owns time in a benchmark: the plan and the matrix of cells
// it expands into, the reference server processes, the phases of a cell
// (connect, warmup, the measured window, the drain of replies in flight,
// close), ending the load, the capacity search, and the description of the
// machine. A scenario (package scenarios) only sends, receives and counts
// inside the window the runner opens and closes; the runner turns what it
// measured into a report.Record.
package runner

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/badclients"
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/internal/secret"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// Plan is everything a run needs: what to measure, against what, how often.
// The matrix's dimensions live here once (servers, connection counts,
// rates, runs); Cells expands them.
type Plan struct {
	Scenario scenarios.Scenario
	// Servers are the reference servers to start, one process per cell.
	Servers []string
	// Target is an external ws:// or wss:// URL measured instead of
	// reference servers; its path is used as given.
	Target string
	Driver drivers.Driver
	// Params are the cell parameters shared by every cell; Conns and Rate
	// are the defaults of the dimensions below.
	Params scenarios.Params
	// ConnsList, when set, runs every cell at each of these connection
	// counts (Params.Conns is then ignored), for memory-per-connection slopes.
	ConnsList []int
	// Runs repeats every cell, interleaved across servers (A B C A B C).
	Runs int
	// Variants, when set, make the run an A/B comparison: every server
	// cell is measured once per variant, its server started from that
	// variant's binary (see CheckVariant), alternating A B in odd runs and
	// B A in even ones.
	Variants []report.Variant
	Settings servers.Settings
	// TLS configures wss:// targets; nil verifies certificates as usual.
	TLS *tls.Config
	// Header is added to every upgrade request and Subprotocols offered in
	// it (drivers.DialOptions). Header values may be secrets: records keep
	// the names only.
	Header       http.Header
	Subprotocols []string
	// Secrets are the header values and the target's password and query
	// values: every record is scrubbed of them before it leaves Run, and
	// the target is recorded without them (ShownTarget).
	Secrets *secret.Set
	// BadClients, when not empty, pairs every cell with a bad one: the
	// same good clients with these misbehaving ones beside them (Cell.Bad).
	BadClients badclients.Spec
	// ServerMemCap kills a reference server whose RSS passes it (0: no
	// cap), so a library a bad client makes allocate without bound fails
	// its cell instead of the machine.
	ServerMemCap uint64
	// Serve starts `wsbench serve`; nil means SelfServe.
	Serve ServeCommand
	// RateSteps, with SLO, makes the run a capacity search: every server
	// is run at each rate in turn (Params.Rate is ignored) until a step
	// breaks the SLO; Capacity then says where each one stopped. The search
	// is repeated for every connection count and run.
	RateSteps []float64
	SLO       *report.Threshold
	// ServerCPUs, when set, pins every server process to these CPUs with
	// GOMAXPROCS to match (the CLI pins the load generator itself).
	ServerCPUs []int

	// Shard makes this process one of Shard.Count identical load
	// generators: it takes an exact share of the connections and of the
	// rate, its schedule interleaved with the others' (Shard.Count 0: the
	// whole run). StartAt, when set, opens the first cell's measured window
	// at that wall-clock instant on every shard.
	Shard   Shard
	StartAt time.Time
	// Sources spreads the connections' source addresses round-robin
	// (--source): past the ~28,000 ephemeral ports of one address.
	Sources []net.IP

	// Zero values of the knobs below pick the defaults.
	ConnectParallel int           // concurrent dials (default 64; 512 with a --connect-rate)
	DrainTimeout    time.Duration // wait for replies in flight (default 2 s)
	CloseTimeout    time.Duration // per-connection close handshake (default 2 s)
	SampleInterval  time.Duration // server /proc sampling (default 100 ms)

	connectParallelSet bool // ConnectParallel was given, not defaulted
}

// Cell is one entry of the run matrix.
type Cell struct {
	Index, Total int // 1-based position in the run order
	Server       string
	Conns        int
	Run          int
	// Variant is the A/B variant whose binary serves this cell ("" when
	// the run is not A/B).
	Variant string
	// Rate is the cell's rate (Params.Rate, or a capacity search's step).
	Rate float64
	// Bad is the bad cell of a --bad-clients pair: Plan.BadClients run
	// beside the good clients.
	Bad bool
}

// Label names the cell's server, with its variant in an A/B run
// ("gorilla@pr").
func (c Cell) Label() string {
	label := c.Server
	if c.Variant != "" {
		label += "@" + c.Variant
	}
	if c.Bad {
		label += " +bad clients"
	}
	return label
}

// Shard is this process's place among identical load generators.
type Shard struct{ Index, Count int }

// Share is shard i's part of total: total/n, the remainder spread over the
// first shards, so the shares add up to the whole.
func (s Shard) Share(total int) int {
	if s.Count <= 1 {
		return total
	}
	n := total / s.Count
	if s.Index < total%s.Count {
		n++
	}
	return n
}

// cellParams are the scenario parameters of one cell (this shard's share
// of them).
func (p *Plan) cellParams(c Cell) scenarios.Params {
	q := p.Params
	q.Conns, q.Rate = c.Conns, c.Rate
	if s := p.Shard; s.Count > 1 {
		q.Conns = s.Share(c.Conns)
		if q.Rate > 0 {
			q.ScheduleOffset = time.Duration(float64(s.Index) / q.Rate * float64(time.Second))
			q.Rate /= float64(s.Count)
		}
		q.ConnectRate /= float64(s.Count)
	}
	return q
}

// names are the servers of the matrix, or the target.
func (p *Plan) names() []string {
	if p.Target != "" {
		return []string{"target"}
	}
	return p.Servers
}

// counts are the connection counts of the matrix.
func (p *Plan) counts() []int {
	if len(p.ConnsList) > 0 {
		return p.ConnsList
	}
	return []int{p.Params.Conns}
}

// rates are the rates of the matrix: a capacity search's steps, or the one
// rate.
func (p *Plan) rates() []float64 {
	if len(p.RateSteps) > 0 {
		return p.RateSteps
	}
	return []float64{p.Params.Rate}
}

// Cells lists the matrix in run order: runs outermost, then connection
// counts, then rates, then servers, so repeated runs of a server are spread
// across the whole invocation and machine drift falls on every server
// alike. An A/B run's variants are innermost, so the two halves of a pair
// run back to back, and in reverse order every other run (A B, B A, A B,
// …): drift that is linear over a pair then favours neither side over the
// whole run, nor does anything that favours the first (or second) of two
// server starts. A capacity search walks the same order and leaves out
// the steps of a server after its first broken one.
func (p Plan) Cells() []Cell {
	var cells []Cell
	for run := 1; run <= max(p.Runs, 1); run++ {
		variants := p.variantOrder(run)
		for _, n := range p.counts() {
			for _, r := range p.rates() {
				for _, s := range p.names() {
					for _, v := range variants {
						for _, bad := range p.badOrder() {
							cells = append(cells, Cell{Server: s, Conns: n, Run: run, Rate: r, Variant: v, Bad: bad})
						}
					}
				}
			}
		}
	}
	for i := range cells {
		cells[i].Index, cells[i].Total = i+1, len(cells)
	}
	return cells
}

// badOrder is a --bad-clients pair, the clean cell first, innermost so
// the two run back to back; one clean cell when there are no bad clients.
func (p *Plan) badOrder() []bool {
	if len(p.BadClients.Entries) == 0 {
		return []bool{false}
	}
	return []bool{false, true}
}

// variantOrder is the order of the variants in a run: as given in odd
// runs, reversed in even ones; one unnamed variant when the run is not A/B.
func (p *Plan) variantOrder(run int) []string {
	if len(p.Variants) == 0 {
		return []string{""}
	}
	var names []string
	for _, v := range p.Variants {
		names = append(names, v.Name)
	}
	if run%2 == 0 {
		slices.Reverse(names)
	}
	return names
}

// cellID names a cell the same way on every shard of a plan, whatever
// became of it (report.Shard.Cell): the whole cell's parameters, not this
// shard's share.
func (p *Plan) cellID(c Cell) string {
	q := p.Params
	parts := []string{p.Scenario.Name(), "target=" + p.ShownTarget(), "server=" + c.Label(), "driver=" + p.Driver.Name(),
		fmt.Sprintf("conns=%d", c.Conns), fmt.Sprintf("rate=%g", c.Rate), fmt.Sprintf("payload=%d", q.Payload),
		fmt.Sprintf("text=%t", q.Text), fmt.Sprintf("deflate=%t", q.Compression), fmt.Sprintf("connect_rate=%g", q.ConnectRate),
		fmt.Sprintf("warmup=%s", q.Warmup), fmt.Sprintf("duration=%s", q.Duration), fmt.Sprintf("run=%d", c.Run)}
	if c.Bad {
		parts = append(parts, "bad_clients="+p.BadClients.String())
	}
	if own := scenarios.OwnKey(q); own != "" {
		parts = append(parts, "options="+own)
	}
	return strings.Join(parts, "/")
}

// ShownTarget is the --target as records and messages show it: without a
// password or query values (secret.URL).
func (p *Plan) ShownTarget() string {
	shown, _ := secret.URL(p.Target)
	return shown
}

// Validate checks the parameters of every connection count and rate of the
// matrix with the scenario before anything starts, naming the cell at
// fault, refuses a sharded plan its shards could not measure as one, and
// an option the driver's library cannot do (drivers.CheckOptions).
func (p Plan) Validate() error {
	if err := p.validateShards(); err != nil {
		return err
	}
	if p.Driver != nil {
		if err := drivers.CheckOptions(p.Driver, p.Params.Compression); err != nil {
			return err
		}
	}
	for _, n := range p.counts() {
		for _, r := range p.rates() {
			q := p.cellParams(Cell{Conns: n, Rate: r})
			if err := p.Scenario.Validate(q); err != nil {
				if len(p.counts()) > 1 || len(p.rates()) > 1 {
					return fmt.Errorf("%w (at %d conns, rate %g)", err, n, r)
				}
				return err
			}
		}
	}
	return nil
}

// validateShards refuses what shards cannot yet do together: step a
// capacity search (each shard would judge its own share and stop on its
// own), run more than one cell (only the first opens its window at the
// common --start-at; the others would drift apart), play a fault without
// a common start (only shard 0 plays it; the others take its instant from
// the common start), or run a shard with no connection.
func (p Plan) validateShards() error {
	s := p.Shard
	if s.Count <= 1 {
		return nil
	}
	if len(p.RateSteps) > 0 {
		return fmt.Errorf("--rate START:END:STEP (a capacity search) with --shard/--shards: the shards cannot yet step the rate together, " +
			"so each would judge its own share; run one sharded invocation per rate (--rate N) and merge them")
	}
	// Shards measure one --target, so the cells are runs × counts (×
	// variants).
	if cells := max(p.Runs, 1) * len(p.counts()) * len(p.rates()) * max(len(p.Variants), 1); cells > 1 {
		return fmt.Errorf("--shard/--shards with %d cells (--runs %d, --conns %s): only the first cell opens its window at the shards' common --start-at, "+
			"the later ones would not line up; run each cell as its own sharded invocation", cells, max(p.Runs, 1), joinInts(p.counts()))
	}
	if scenarios.FaultOf(p.Params).Kind != "" && p.StartAt.IsZero() {
		return fmt.Errorf("--fault with --shard/--shards needs --start-at: only shard 0 plays the fault, " +
			"the others take its instant from the shards' common start")
	}
	for _, n := range p.counts() {
		if share := s.Share(n); share == 0 {
			return fmt.Errorf("--conns %d over %d shards leaves shard %d of %d no connection (the first %d shards take one each): "+
				"give --conns %d or more, or fewer shards", n, s.Count, s.Index, s.Count, n, s.Count)
		}
	}
	return nil
}

func joinInts(xs []int) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ",")
}

// Event reports progress to whoever displays it.
type Event struct {
	Cell  Cell
	Phase string // "starting", "connecting", "warmup", "measure", "closing", "done"
	// Messages completed so far in this cell and the rate over the last
	// second; Elapsed is time in the current phase, Length its planned length.
	Messages        uint64
	Rate            float64
	Elapsed, Length time.Duration
	Errors          uint64
	// Record is set with Phase "done".
	Record *report.Record
}

func (p *Plan) defaults() {
	if p.Serve == nil {
		p.Serve = SelfServe
	}
	p.connectParallelSet = p.ConnectParallel > 0
	if p.ConnectParallel <= 0 {
		p.ConnectParallel = 64
	}
	if p.DrainTimeout <= 0 {
		p.DrainTimeout = 2 * time.Second
	}
	if p.CloseTimeout <= 0 {
		p.CloseTimeout = 2 * time.Second
	}
	if p.SampleInterval <= 0 {
		p.SampleInterval = 100 * time.Millisecond
	}
}

// Describe is a one-line summary of a cell for progress output.
func (c Cell) Describe(driver string) string {
	run := ""
	if c.Run > 1 {
		run = fmt.Sprintf(" run %d", c.Run)
	}
	return strings.TrimSpace(fmt.Sprintf("[%d/%d] %s ← %s, %d conns%s", c.Index, c.Total, c.Label(), driver, c.Conns, run))
}
