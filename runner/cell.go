package runner

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// cellRun is one cell under way.
type cellRun struct {
	ctx      context.Context
	plan     *Plan
	cell     Cell
	p        scenarios.Params
	settings servers.Settings
	progress func(Event)

	rec        report.Record
	srv        *serverUnderTest // nil for a --target
	url        string
	clients    []*scenarios.Client
	idle       snapshot
	cpuConnect time.Duration
	opts       drivers.DialOptions // as the connect phase dialed, for reconnects
	remote     string              // host:port of a --target that is a wsbench serve
	windowAt   time.Time           // when the measured window opened
}

func newCellRun(ctx context.Context, plan *Plan, cell Cell, progress func(Event)) *cellRun {
	p := plan.cellParams(cell)
	settings := plan.Settings
	if t := plan.Scenario.ServerIdleTimeout(p); t > 0 {
		settings.IdleTimeout = t
	}
	settings.Compression = p.Compression
	if len(plan.ServerCPUs) > 0 && settings.GOMAXPROCS == 0 {
		settings.GOMAXPROCS = len(plan.ServerCPUs)
	}
	c := &cellRun{ctx: ctx, plan: plan, cell: cell, p: p, settings: settings, progress: progress, url: plan.Target,
		rec: report.Record{
			Scenario: plan.Scenario.Name(), Mode: plan.Scenario.Mode(p), Server: cell.Server, Variant: cell.Variant, Target: plan.ShownTarget(),
			Driver: plan.Driver.Name(), Conns: p.Conns, PayloadBytes: p.Payload, Text: p.Text, Run: cell.Run,
			Status: report.StatusOK, StartedAt: time.Now().UTC(), WarmupS: p.Warmup.Seconds(), Errors: map[string]uint64{},
		}}
	if s := plan.Shard; s.Count > 1 {
		c.rec.Shard = &report.Shard{Index: s.Index, Count: s.Count, Cell: plan.cellID(cell)}
	}
	return c
}

// runCell measures one cell: server, connect, then the scenario's measured
// window (its traffic, or the connect phase itself), close.
func runCell(ctx context.Context, plan *Plan, cell Cell, progress func(Event)) report.Record {
	c := newCellRun(ctx, plan, cell, progress)
	if err := plan.Scenario.Validate(c.p); err != nil {
		return c.fail("%v", err)
	}
	if plan.Target == "" {
		if err := c.startServer(); err != nil {
			return c.fail("%v", err)
		}
		defer c.srv.shutdown()
	}
	c.idle = takeSnapshot(ctx, c.srv)
	if err := c.connect(); err != nil {
		return c.fail("%v", err)
	}
	// Ctrl-C drops every connection at once, without a close handshake, so
	// the cell stops within moments whatever the size of the messages in
	// flight.
	stopAbort := context.AfterFunc(ctx, func() { abortAll(c.clients) })
	defer stopAbort()
	c.connected()
	if plan.Scenario.Measures() == scenarios.Connecting {
		c.connectWindow()
		return finish(ctx, c.rec, c.srv)
	}
	return c.traffic()
}

func (c *cellRun) emit(phase string) { c.progress(Event{Cell: c.cell, Phase: phase}) }

// fail records the cell as failed, or interrupted when the run was.
func (c *cellRun) fail(format string, args ...any) report.Record {
	c.rec.Status = report.StatusFailed
	if c.ctx.Err() != nil {
		c.rec.Status = report.StatusInterrupted
	}
	c.rec.Reason = fmt.Sprintf(format, args...)
	return c.rec
}

// startServer starts the cell's reference server process, pinned if asked.
func (c *cellRun) startServer() error {
	c.emit("starting")
	// GOMAXPROCS, GOGC and GOMEMLIMIT travel in the settings, which the
	// server applies itself.
	proc, err := startServer(c.ctx, c.plan.serveCmd(c.cell.Variant, ServeArgs(c.cell.Server, c.settings)), 10*time.Second)
	if err != nil {
		return fmt.Errorf("server %s did not start: %w", c.cell.Label(), err)
	}
	if len(c.plan.ServerCPUs) > 0 {
		if err := measure.PinProcess(proc.pid, c.plan.ServerCPUs); err != nil {
			proc.stop(time.Second)
			return fmt.Errorf("pin server %s: %w", c.cell.Label(), err)
		}
	}
	c.srv = &serverUnderTest{proc: proc, sampler: measure.StartProcSampler(proc.pid, c.plan.SampleInterval), interval: c.plan.SampleInterval}
	proc.capMemory(c.srv.samp(), c.plan.ServerMemCap)
	c.url = "ws://" + proc.addr + c.plan.Scenario.Path()
	c.rec.ServerSampleIntervalMs = int(c.plan.SampleInterval / time.Millisecond)
	return nil
}

// connect opens the cell's connections and records the connect phase.
func (c *cellRun) connect() error {
	c.emit("connecting")
	opts := drivers.DialOptions{
		TLSConfig: c.plan.TLS, HandshakeTimeout: c.settings.HandshakeTimeout, ReadLimit: c.settings.ReadLimit,
		ReadBufferSize: c.settings.ReadBufferSize, WriteBufferSize: c.settings.WriteBufferSize,
		Compression: c.p.Compression, CompressionLevel: c.settings.CompressionLevel,
		Header: c.plan.Header, Subprotocols: c.plan.Subprotocols,
	}
	c.opts = opts
	parallel := c.plan.ConnectParallel
	if c.p.ConnectRate > 0 && !c.plan.connectParallelSet {
		parallel = max(parallel, 512) // a paced storm must not be capped by too few dialers
	}
	cpu0 := measure.SelfCPU()
	// A scenario that pings starts on each connection the moment it is up,
	// so the server's idle timeout never sees it silent (KeepAlive).
	keep := scenarios.KeepAlive(c.plan.Scenario, c.p)
	cr := connectAll(c.ctx, c.plan.Driver, c.url, c.p.Conns, parallel, c.p.ConnectRate, opts, c.plan.Sources, keep)
	c.cpuConnect = measure.SelfCPU() - cpu0
	for k, v := range cr.errors {
		c.rec.Errors[k] += v
	}
	c.rec.Connect = report.Connect{Attempted: c.p.Conns, Established: len(cr.clients),
		Failed: c.p.Conns - len(cr.clients), DurationS: cr.duration.Seconds(),
		RatePerS: float64(len(cr.clients)) / cr.duration.Seconds(), TargetRatePerS: c.p.ConnectRate}
	hs, clamped := cr.handshake.Snapshot()
	c.rec.Handshake, _ = report.NewLatency(hs, clamped)
	if cr.service != nil {
		h, cl := cr.service.Snapshot()
		svc, _ := report.NewLatency(h, cl)
		c.rec.HandshakeService = &svc
	}
	c.clients = cr.clients
	if len(cr.clients) == 0 {
		// A server the memory cap killed may not have been reaped yet
		// when the dials fail: the kill, not the refusals, is the reason.
		if srv := c.srv; srv != nil && (!srv.cur().alive() || srv.cur().killedAtCap() > 0) {
			return fmt.Errorf("%s", srv.cur().deathReason())
		}
		return fmt.Errorf("no connection established to %s: %v", c.url, cr.firstErr)
	}
	return nil
}

// connected records what the connections cost at rest: compression
// negotiated, server memory once connected.
func (c *cellRun) connected() {
	if c.p.Compression {
		c.rec.Compression = &report.Compression{Offered: true}
		for _, cl := range c.clients {
			if cl.Conn.Compressed() {
				c.rec.Compression.NegotiatedConns++
			}
		}
	}
	c.rec.Request = requestRecord(c.plan.Header, c.plan.Subprotocols, c.clients)
	if c.srv == nil {
		c.probeRemote()
		return
	}
	connected, _ := c.srv.samp().Sample()
	rss, idleRSS := connected.RSS, c.idle.serverRSS
	c.rec.ServerRSSIdleBytes, c.rec.ServerRSSConnectedBytes = &idleRSS, &rss
	perConn := (float64(connected.RSS) - float64(c.idle.serverRSS)) / float64(len(c.clients))
	c.rec.ServerMemPerConnBytes = &perConn
	c.rec.ServerMemPerConnMethod = "rss-delta/conns"
	if st, err := servers.FetchStats(c.ctx, c.srv.cur().addr, true); err == nil {
		c.rec.ServerStats = toReportStats(st)
		if c.rec.Compression != nil {
			c.rec.Compression.ServerCounted = &st.CompressedConns
		}
	}
}

// connectWindow reports the connect phase as the measured window, for a
// scenario whose work is connecting.
func (c *cellRun) connectWindow() {
	rec := &c.rec
	rec.DurationS = rec.Connect.DurationS
	rec.ClientCPUS = c.cpuConnect.Seconds()
	rec.ClientCPUUtil = rec.ClientCPUS / rec.DurationS / float64(numCPU())
	if c.srv != nil {
		w := c.srv.samp().Window(c.idle.at, time.Now())
		if w.Samples >= 2 {
			cpu := w.CPU.Seconds()
			rec.ServerCPUS = &cpu
			rec.ServerRSSPeakBytes, rec.ServerRSSMeanBytes = &w.PeakRSS, &w.MeanRSS
			rec.ServerSamples = w.Samples
		}
	}
	takeSnapshot(c.ctx, c.srv).perConn(rec, c.idle, float64(len(c.clients)))
	rec.ServerStatsEnd = endStats(c.ctx, c.srv)
	c.emit("closing")
	closePhase(rec, c.clients, c.plan)
}

// closePhase closes every connection with a close handshake and records how
// that went.
func closePhase(rec *report.Record, clients []*scenarios.Client, plan *Plan) {
	start := time.Now()
	clean, abrupt := closeAll(clients, plan.ConnectParallel, plan.CloseTimeout)
	rec.Close = report.Close{Clean: clean, Abrupt: abrupt}
	rec.Connect.CloseDurationS = time.Since(start).Seconds()
}

// abortAll drops every connection without a close handshake.
func abortAll(clients []*scenarios.Client) {
	for _, c := range clients {
		c.Abort()
	}
}

// finish marks a record whose server died or whose run was cut short, and
// judges the rest from their counts (report.ApplyVerdict: ok, degraded or
// failed).
func finish(ctx context.Context, rec report.Record, srv *serverUnderTest) report.Record {
	switch {
	// A server a fault stopped is no death once the run was interrupted
	// before it was started again.
	case srv != nil && (!srv.cur().alive() || srv.cur().killedAtCap() > 0) && (ctx.Err() == nil || rec.Fault == nil):
		rec.Status, rec.Reason = report.StatusFailed, srv.cur().deathReason()
	case ctx.Err() != nil:
		rec.Status, rec.Reason = report.StatusInterrupted, "interrupted"
		if rec.DurationS == 0 {
			rec.Reason = "interrupted before the measured window"
		}
	default:
		report.ApplyVerdict(&rec)
	}
	return rec
}

// requestRecord says what the upgrade requests carried: header names (never
// values: they may be secrets), the subprotocols offered and the one the
// open connections got. nil when nothing was added to the handshake.
func requestRecord(h http.Header, offered []string, clients []*scenarios.Client) *report.Request {
	if len(h) == 0 && len(offered) == 0 {
		return nil
	}
	r := &report.Request{Subprotocols: offered}
	for name := range h {
		r.Headers = append(r.Headers, http.CanonicalHeaderKey(name))
	}
	slices.Sort(r.Headers)
	var chosen []string
	for _, cl := range clients {
		if p := cl.Conn.Subprotocol(); p != "" && !slices.Contains(chosen, p) {
			chosen = append(chosen, p)
		}
	}
	slices.Sort(chosen)
	r.Subprotocol = strings.Join(chosen, ",")
	return r
}
