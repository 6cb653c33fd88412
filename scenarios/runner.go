package scenarios

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// Plan is everything a run needs: what to measure, against what, how often.
type Plan struct {
	Scenario Scenario
	// Servers are the reference servers to start, one process per cell.
	Servers []string
	// Target is an external ws:// or wss:// URL measured instead of
	// reference servers; its path is used as given.
	Target string
	Driver drivers.Driver
	Params Params
	// ConnsList, when set, runs every cell at each of these connection
	// counts (Params.Conns is then ignored), for memory-per-connection slopes.
	ConnsList []int
	// Runs repeats every cell, interleaved across servers (A B C A B C).
	Runs     int
	Settings servers.Settings
	// TLS configures wss:// targets; nil verifies certificates as usual.
	TLS *tls.Config
	// Serve starts `wsbench serve`; nil means SelfServe.
	Serve ServeCommand
	// RateSteps, with SLO, makes the run a capacity search: every server
	// is run at each rate in turn (Params.Rate is ignored) until a step
	// breaks the SLO; Capacity then says where each one stopped.
	RateSteps []float64
	SLO       *SLO
	// ServerCPUs, when set, pins every server process to these CPUs with
	// GOMAXPROCS to match (the CLI pins the load generator itself).
	ServerCPUs []int

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
	// Rate overrides Params.Rate in a capacity search (0: no override).
	Rate float64
}

// SLO is a latency objective: the Percentile of the main latency must not
// exceed Limit.
type SLO struct {
	Percentile string // p50, p90, p99, p999 or max
	Limit      time.Duration
}

// Value reads the SLO's percentile from a latency summary.
func (s SLO) Value(l report.Latency) (int64, bool) {
	switch s.Percentile {
	case "p50":
		return l.P50, true
	case "p90":
		return l.P90, true
	case "p99":
		return l.P99, true
	case "p999":
		return l.P999, true
	case "max":
		return l.Max, true
	}
	return 0, false
}

func (s SLO) String() string { return fmt.Sprintf("%s ≤ %s", s.Percentile, s.Limit) }

// Cells lists the matrix in run order: runs outermost, so repeated runs of a
// server are spread across the whole invocation and machine drift falls on
// every server alike.
func (p Plan) Cells() []Cell {
	names := p.Servers
	if p.Target != "" {
		names = []string{"target"}
	}
	counts := p.ConnsList
	if len(counts) == 0 {
		counts = []int{p.Params.Conns}
	}
	var cells []Cell
	for run := 1; run <= max(p.Runs, 1); run++ {
		for _, n := range counts {
			for _, s := range names {
				cells = append(cells, Cell{Server: s, Conns: n, Run: run})
			}
		}
	}
	for i := range cells {
		cells[i].Index, cells[i].Total = i+1, len(cells)
	}
	return cells
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

// Run measures every cell of the plan in order and returns their records.
// A cell that fails is recorded as failed and the matrix goes on; when ctx
// is cancelled the cell under way is cut short, recorded as interrupted, and
// Run returns what it has.
func Run(ctx context.Context, plan Plan, progress func(Event)) []report.Record {
	plan.defaults()
	if progress == nil {
		progress = func(Event) {}
	}
	if len(plan.RateSteps) > 0 && plan.SLO != nil {
		return searchCapacity(ctx, plan, progress)
	}
	var records []report.Record
	for _, cell := range plan.Cells() {
		if ctx.Err() != nil {
			break
		}
		rec := runCell(ctx, &plan, cell, progress)
		records = append(records, rec)
		progress(Event{Cell: cell, Phase: "done", Record: &rec})
	}
	return records
}

// searchCapacity steps the rate up, every server still meeting the SLO at
// each step (interleaved, so drift falls on all alike), and stops a server
// at its first step that breaks the SLO, fails, is incomplete, or at which
// the load generator, not the server, was the limit.
func searchCapacity(ctx context.Context, plan Plan, progress func(Event)) []report.Record {
	names := plan.Servers
	if plan.Target != "" {
		names = []string{"target"}
	}
	active := slices.Clone(names)
	total := len(names) * len(plan.RateSteps)
	var records []report.Record
	i := 0
	for _, step := range plan.RateSteps {
		var still []string
		for _, name := range active {
			if ctx.Err() != nil {
				return records
			}
			i++
			cell := Cell{Index: i, Total: total, Server: name, Conns: plan.Params.Conns, Run: 1, Rate: step}
			rec := runCell(ctx, &plan, cell, progress)
			rec.SLO = judgeSLO(*plan.SLO, rec)
			records = append(records, rec)
			progress(Event{Cell: cell, Phase: "done", Record: &rec})
			if rec.SLO.Pass {
				still = append(still, name)
			}
		}
		if active = still; len(active) == 0 {
			break
		}
	}
	return records
}

// judgeSLO says whether one step of a capacity search met the objective. A
// saturated load generator can only make latency look worse or the rate
// fall short, never better, so a step that passes stands; a step that fails
// while the generator was saturated says so, since the server may not be at
// fault.
func judgeSLO(slo SLO, rec report.Record) *report.SLOCheck {
	c := &report.SLOCheck{Objective: slo.String(), LimitUs: slo.Limit.Microseconds(), Rate: rec.TargetRate()}
	v, _ := slo.Value(rec.Latency)
	c.ValueUs = v
	achieved := rec.AchievedRate()
	switch {
	case rec.Status != report.StatusOK:
		c.Reason = rec.Status + ": " + rec.Reason
	case rec.ErrorCount() > 0 || rec.Integrity.Faults() > 0:
		c.Reason = "errors or lost messages"
	case rec.Accounting.Missing() > 0:
		c.Reason = fmt.Sprintf("%d messages due in the window never sent or never answered", rec.Accounting.Missing())
	case rec.Latency.Count == 0:
		c.Reason = "nothing measured"
	case achieved < 0.95*c.Rate:
		c.Reason = fmt.Sprintf("achieved only %.0f of %.0f/s", achieved, c.Rate)
	case v > c.LimitUs:
		c.Reason = fmt.Sprintf("%s was %s", slo.Percentile, time.Duration(v)*time.Microsecond)
	default:
		c.Pass = true
	}
	if !c.Pass && rec.Client != nil && rec.Client.Bound {
		c.Reason += " (client-bound: the load generator may be the limit)"
	}
	return c
}

func runCell(ctx context.Context, plan *Plan, cell Cell, progress func(Event)) report.Record {
	p := plan.Params
	p.Conns = cell.Conns
	if cell.Rate > 0 {
		p.Rate = cell.Rate
	}
	settings := plan.Scenario.ServerSettings(p, plan.Settings)
	settings.Compression = p.Compression
	if len(plan.ServerCPUs) > 0 && settings.GOMAXPROCS == 0 {
		settings.GOMAXPROCS = len(plan.ServerCPUs)
	}
	rec := report.Record{
		Scenario:     plan.Scenario.Name(),
		Mode:         plan.Scenario.Mode(p),
		Server:       cell.Server,
		Target:       plan.Target,
		Driver:       plan.Driver.Name(),
		Conns:        p.Conns,
		PayloadBytes: p.Payload,
		Text:         p.Text,
		Run:          cell.Run,
		Status:       report.StatusOK,
		StartedAt:    time.Now().UTC(),
		WarmupS:      p.Warmup.Seconds(),
		Errors:       map[string]uint64{},
	}
	fail := func(format string, args ...any) report.Record {
		rec.Status = report.StatusFailed
		if ctx.Err() != nil {
			rec.Status = report.StatusInterrupted
		}
		rec.Reason = fmt.Sprintf(format, args...)
		return rec
	}
	emit := func(phase string) { progress(Event{Cell: cell, Phase: phase}) }

	// Start the server, or aim at the target.
	url := plan.Target
	var srv *serverUnderTest
	if plan.Target == "" {
		emit("starting")
		// GOMAXPROCS, GOGC and GOMEMLIMIT travel in the settings, which
		// the server applies itself.
		cmd := plan.Serve(ServeArgs(cell.Server, settings))
		proc, err := startServer(ctx, cmd, 10*time.Second)
		if err != nil {
			return fail("server %s did not start: %v", cell.Server, err)
		}
		if len(plan.ServerCPUs) > 0 {
			if err := measure.PinProcess(proc.pid, plan.ServerCPUs); err != nil {
				proc.stop(time.Second)
				return fail("pin server %s: %v", cell.Server, err)
			}
		}
		defer proc.stop(5 * time.Second)
		srv = &serverUnderTest{proc: proc, sampler: measure.StartProcSampler(proc.pid, plan.SampleInterval)}
		defer srv.sampler.Stop()
		url = "ws://" + proc.addr + plan.Scenario.Path()
		rec.ServerSampleIntervalMs = int(plan.SampleInterval / time.Millisecond)
	}
	idle := takeSnapshot(ctx, srv)

	// Connect.
	emit("connecting")
	opts := drivers.DialOptions{
		TLSConfig:        plan.TLS,
		HandshakeTimeout: settings.HandshakeTimeout,
		ReadLimit:        settings.ReadLimit,
		ReadBufferSize:   settings.ReadBufferSize,
		WriteBufferSize:  settings.WriteBufferSize,
		Compression:      p.Compression,
		CompressionLevel: settings.CompressionLevel,
	}
	parallel := plan.ConnectParallel
	if p.ConnectRate > 0 && !plan.connectParallelSet {
		parallel = max(parallel, 512) // a paced storm must not be capped by too few dialers
	}
	cpu0 := measure.SelfCPU()
	cr := connectAll(ctx, plan.Driver, url, p.Conns, parallel, p.ConnectRate, opts)
	cpuConnect := measure.SelfCPU() - cpu0
	for k, v := range cr.errors {
		rec.Errors[k] += v
	}
	rec.Connect = report.Connect{Attempted: p.Conns, Established: len(cr.clients),
		Failed: p.Conns - len(cr.clients), DurationS: cr.duration.Seconds(),
		RatePerS: float64(len(cr.clients)) / cr.duration.Seconds(), TargetRatePerS: p.ConnectRate}
	hs, clamped := cr.handshake.Snapshot()
	rec.Handshake, _ = report.NewLatency(hs, clamped)
	if cr.service != nil {
		h, c := cr.service.Snapshot()
		svc, _ := report.NewLatency(h, c)
		rec.HandshakeService = &svc
	}
	if len(cr.clients) == 0 {
		if srv != nil && !srv.proc.alive() {
			return fail("%s", srv.proc.deathReason())
		}
		return fail("no connection established to %s: %v", url, cr.firstErr)
	}
	// Ctrl-C drops every connection at once, without a close handshake, so
	// the cell stops within moments whatever the size of the messages in
	// flight.
	stopAbort := context.AfterFunc(ctx, func() {
		for _, c := range cr.clients {
			_ = c.Conn.Abort()
		}
	})
	defer stopAbort()
	if p.Compression {
		rec.Compression = &report.Compression{Offered: true}
		for _, c := range cr.clients {
			if c.Conn.Compressed() {
				rec.Compression.NegotiatedConns++
			}
		}
	}
	n := float64(len(cr.clients))
	if srv != nil {
		connected, _ := srv.sampler.Sample()
		rss, idleRSS := connected.RSS, idle.serverRSS
		rec.ServerRSSIdleBytes, rec.ServerRSSConnectedBytes = &idleRSS, &rss
		perConn := (float64(connected.RSS) - float64(idle.serverRSS)) / n
		rec.ServerMemPerConnBytes = &perConn
		rec.ServerMemPerConnMethod = "rss-delta/conns"
		if st, err := servers.FetchStats(ctx, srv.proc.addr, true); err == nil {
			rec.ServerStats = toReportStats(st)
			if rec.Compression != nil {
				rec.Compression.ServerCounted = &st.CompressedConns
			}
		}
	}

	if co, ok := plan.Scenario.(ConnectOnly); ok && co.ConnectOnly() {
		// The connect phase was the measured window.
		rec.DurationS = cr.duration.Seconds()
		rec.ClientCPUS = cpuConnect.Seconds()
		rec.ClientCPUUtil = rec.ClientCPUS / rec.DurationS / float64(numCPU())
		if srv != nil {
			w := srv.sampler.Window(idle.at, time.Now())
			if w.Samples >= 2 {
				cpu := w.CPU.Seconds()
				rec.ServerCPUS = &cpu
				rec.ServerRSSPeakBytes, rec.ServerRSSMeanBytes = &w.PeakRSS, &w.MeanRSS
				rec.ServerSamples = w.Samples
			}
		}
		steady := takeSnapshot(ctx, srv)
		steady.perConn(&rec, idle, n)
		rec.ServerStatsEnd = endStats(ctx, srv)
		emit("closing")
		closePhase(&rec, cr.clients, plan)
		return finish(ctx, rec, srv)
	}

	env := &Env{
		Clients:      cr.clients,
		Params:       p,
		Phases:       &Phases{},
		Clock:        measure.NewClock(),
		Done:         make([]Counter, len(cr.clients)),
		DrainTimeout: plan.DrainTimeout,
		Drained:      make(chan struct{}),
		Latency:      measure.NewRecorder(),
	}
	probe := measure.StartSchedProbe()
	type ran struct {
		out *Outcome
		err error
	}
	finished := make(chan ran, 1)
	go func() {
		out, err := plan.Scenario.Run(ctx, env)
		env.MarkDrained()
		finished <- ran{out, err}
	}()

	var exited <-chan struct{}
	if srv != nil {
		exited = srv.proc.exited
	}
	watch := phaseWatch{ctx: ctx, exited: exited, env: env, cell: cell, progress: progress, srv: srv}
	measured := false
	if watch.wait("warmup", p.Warmup) {
		measured = true
		origin := max(env.Clock.Now(), 1)
		env.Window.start.Store(origin)
		env.Latency.StartSeries(origin)
		env.Phases.Set(Measure)
		t0, cpu0, gc0 := time.Now(), measure.SelfCPU(), measure.GCPauseTotal()
		probe.Reset()
		var s0 measure.ProcSample
		if srv != nil {
			s0, _ = srv.sampler.Sample()
		}
		watch.series, watch.seriesStart, watch.prevServer = &rec.Series, t0, s0
		watch.wait("measure", p.Duration)
		watch.series = nil
		var s1 measure.ProcSample
		if srv != nil {
			s1, _ = srv.sampler.Sample()
		}
		t1, cpu1 := time.Now(), measure.SelfCPU()
		end := env.Clock.Now()
		env.Latency.EndSeries(end)
		env.Window.end.Store(end)
		env.Phases.Set(Drain)
		rec.DurationS = t1.Sub(t0).Seconds()
		rec.ClientCPUS = (cpu1 - cpu0).Seconds()
		rec.ClientCPUUtil = rec.ClientCPUS / rec.DurationS / float64(numCPU())
		sched, schedClamped := probe.Snapshot()
		rec.Client = &report.ClientGuard{CPUs: allowedCPUs(), GCPauseS: (measure.GCPauseTotal() - gc0).Seconds()}
		rec.Client.CPUUtil = rec.ClientCPUS / rec.DurationS / float64(rec.Client.CPUs)
		rec.Client.SchedDelay, _ = report.NewLatency(sched, schedClamped)
		if srv != nil && s0.CPU > 0 && s1.CPU > 0 {
			w := srv.sampler.Window(t0, t1)
			cpu := (s1.CPU - s0.CPU).Seconds()
			rec.ServerCPUS = &cpu
			rec.ServerRSSPeakBytes, rec.ServerRSSMeanBytes = &w.PeakRSS, &w.MeanRSS
			rec.ServerSamples = w.Samples
		}
	} else {
		env.Phases.Set(Drain)
	}

	// Drain: the scenario awaits its replies in flight for DrainTimeout and
	// then marks itself drained. Should it not (a goroutine stuck in a write
	// that the driver does not let go), the runner aborts every connection.
	var r ran
	backstop := time.NewTimer(plan.DrainTimeout + 3*time.Second)
	select {
	case <-env.Drained:
	case r = <-finished:
		finished <- r
	case <-backstop.C:
		env.Phases.Set(Abort)
		for _, c := range cr.clients {
			c.Broken.Store(true)
			_ = c.Conn.Abort()
		}
		rec.Errors["drain_abort"]++
	}
	backstop.Stop()
	// The steady-state memory snapshot forces a GC in both processes: taken
	// only now, after the drain, so it cannot stall replies still in flight.
	if measured {
		takeSnapshot(ctx, srv).perConn(&rec, idle, n)
	}
	rec.ServerStatsEnd = endStats(ctx, srv)
	emit("closing")
	if env.Phases.Load() < Closing {
		env.Phases.Set(Closing)
	}
	closePhase(&rec, cr.clients, plan)
	select {
	case r = <-finished:
	case <-time.After(plan.CloseTimeout + time.Second):
		env.Phases.Set(Abort)
		for _, c := range cr.clients {
			_ = c.Conn.Abort()
		}
		r = <-finished
	}
	if r.err != nil {
		return fail("scenario %s: %v", plan.Scenario.Name(), r.err)
	}
	out := r.out

	rec.Messages = out.Messages
	rec.DrainMessages = out.DrainMessages
	rec.LatencyLowerBounds = out.LowerBounds
	rec.Accounting = out.Accounting
	rec.Integrity = out.Integrity
	// Each second of the series gets the latencies taken in it, now that
	// every recording goroutine has flushed.
	for j := range rec.Series {
		if h := env.Latency.Second(j); h.TotalCount() > 0 {
			rec.Series[j].P99Us = h.ValueAtQuantile(99)
			rec.Series[j].Latencies = uint64(h.TotalCount())
		}
	}
	for k, v := range out.Errors {
		rec.Errors[k] += v
	}
	lat, clamped := out.Latency.Snapshot()
	rec.Latency, _ = report.NewLatency(lat, clamped)
	if rec.Client != nil {
		rec.Client.Bound, rec.Client.Reasons = clientBound(rec.Client, rec.Latency)
	}
	if out.Service != nil {
		h, c := out.Service.Snapshot()
		svc, _ := report.NewLatency(h, c)
		rec.ServiceTime = &svc
	}
	rec.OpenLoop = out.OpenLoop
	if rec.DurationS > 0 {
		rec.ThroughputMsgsPerS = float64(out.Messages) / rec.DurationS
		rec.ThroughputBytesPerS = rec.ThroughputMsgsPerS * float64(p.Payload)
	}
	if out.Messages > 0 {
		rec.ClientCPUPerMillion = rec.ClientCPUS / float64(out.Messages) * 1e6
	}
	if rec.ServerCPUS != nil && out.Messages > 0 {
		perM := *rec.ServerCPUS / float64(out.Messages) * 1e6
		rec.ServerCPUPerMillion = &perM
	}
	if b := out.Broadcast; b != nil {
		if st := rec.ServerStatsEnd; st != nil {
			b.ServerDropped, b.ServerDisconnected = &st.BroadcastDropped, &st.BroadcastDisconnected
			b.SlowConsumer = settings.SlowConsumer
		}
		rec.Broadcast = b
	}
	if h := out.Heartbeat; h != nil {
		if srv != nil {
			h.ServerIdleTimeoutS = settings.IdleTimeout.Seconds()
		}
		rec.Heartbeat = h
	}
	return finish(ctx, rec, srv)
}

// finish marks a record whose server died or whose run was cut short, and
// judges the rest from their counts (report.ApplyVerdict: ok, degraded or
// failed).
func finish(ctx context.Context, rec report.Record, srv *serverUnderTest) report.Record {
	switch {
	case srv != nil && !srv.proc.alive():
		rec.Status, rec.Reason = report.StatusFailed, srv.proc.deathReason()
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

// closePhase closes every connection with a close handshake and records how
// that went.
func closePhase(rec *report.Record, clients []*Client, plan *Plan) {
	start := time.Now()
	clean, abrupt := closeAll(clients, plan.ConnectParallel, plan.CloseTimeout)
	rec.Close = report.Close{Clean: clean, Abrupt: abrupt}
	rec.Connect.CloseDurationS = time.Since(start).Seconds()
}

// serverUnderTest is a reference server process and its sampler.
type serverUnderTest struct {
	proc    *serverProc
	sampler *measure.ProcSampler
}

// snapshot is the memory of both processes at one moment, after a forced
// GC in each, for per-connection costs.
type snapshot struct {
	at              time.Time
	serverRSS       uint64
	server          *servers.Stats
	clientRSS       uint64
	clientHeapBytes uint64
}

func takeSnapshot(ctx context.Context, srv *serverUnderTest) snapshot {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := snapshot{at: time.Now(), clientHeapBytes: ms.HeapAlloc}
	if self, err := measure.ReadProc(os.Getpid()); err == nil {
		s.clientRSS = self.RSS
	}
	if srv != nil {
		if st, err := servers.FetchStats(ctx, srv.proc.addr, true); err == nil {
			s.server = &st
		}
		if ps, err := srv.sampler.Sample(); err == nil {
			s.serverRSS = ps.RSS
		}
	}
	return s
}

// perConn fills the steady-state per-connection costs: (s − idle) / n.
func (s snapshot) perConn(rec *report.Record, idle snapshot, n float64) {
	rec.ClientMemPerConnBytes = (float64(s.clientRSS) - float64(idle.clientRSS)) / n
	rec.ClientHeapPerConnBytes = (float64(s.clientHeapBytes) - float64(idle.clientHeapBytes)) / n
	if s.server != nil {
		rss, heap := s.serverRSS, s.server.HeapAllocBytes
		rec.ServerRSSSteadyBytes, rec.ServerHeapSteadyBytes = &rss, &heap
	}
	if s.server != nil && idle.server != nil {
		heap := (float64(s.server.HeapAllocBytes) - float64(idle.server.HeapAllocBytes)) / n
		gor := float64(s.server.Goroutines-idle.server.Goroutines) / n
		rss := (float64(s.serverRSS) - float64(idle.serverRSS)) / n
		rec.ServerHeapPerConnBytes, rec.ServerGoroutinesPerConn, rec.ServerRSSPerConnSteady = &heap, &gor, &rss
	}
}

// endStats reads the server's counters once the traffic is over.
func endStats(ctx context.Context, srv *serverUnderTest) *report.ServerStats {
	if srv == nil {
		return nil
	}
	st, err := servers.FetchStats(ctx, srv.proc.addr, false)
	if err != nil {
		return nil
	}
	return toReportStats(st)
}

func toReportStats(st servers.Stats) *report.ServerStats {
	return &report.ServerStats{Goroutines: st.Goroutines, HeapAllocBytes: st.HeapAllocBytes,
		HeapInuseBytes: st.HeapInuseBytes, NumGC: st.NumGC,
		BroadcastPublished: st.BroadcastPublished, BroadcastEnqueued: st.BroadcastEnqueued,
		BroadcastDropped: st.BroadcastDropped, BroadcastDisconnected: st.BroadcastDisconnected,
		IdleClosed: st.IdleClosed, CompressedConns: st.CompressedConns,
		GOMAXPROCS: st.Runtime.GOMAXPROCS, GOGC: st.Runtime.GOGC, GOMEMLIMIT: st.Runtime.GOMEMLIMIT}
}

// phaseWatch waits out a phase while reporting progress once a second and
// watching for cancellation and for the server process dying.
type phaseWatch struct {
	ctx      context.Context
	exited   <-chan struct{}
	env      *Env
	cell     Cell
	progress func(Event)
	srv      *serverUnderTest
	last     uint64
	lastAt   time.Time

	// While series is set (the measured window), each second is appended
	// to it.
	series      *[]report.Second
	seriesStart time.Time
	prevServer  measure.ProcSample
}

// wait returns true when the phase ran its full length. In the measured
// window it closes the series with the last (possibly partial) second, so
// the end of the window never races the last tick away.
func (w *phaseWatch) wait(phase string, length time.Duration) bool {
	start := time.Now()
	end := time.NewTimer(length)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w.report(phase, start, length)
	for {
		select {
		case <-end.C:
			if w.series != nil {
				w.report(phase, start, length)
			}
			return true
		case <-w.ctx.Done():
			return false
		case <-w.exited:
			return false
		case <-tick.C:
			w.report(phase, start, length)
		}
	}
}

func (w *phaseWatch) report(phase string, start time.Time, length time.Duration) {
	var n uint64
	for i := range w.env.Done {
		n += w.env.Done[i].n.Load()
	}
	now := time.Now()
	rate := 0.0
	if !w.lastAt.IsZero() {
		rate = float64(n-w.last) / now.Sub(w.lastAt).Seconds()
	}
	// The first report of a phase comes at its start; a report within
	// 10 ms of the previous point (the end of the window right after a
	// tick) adds nothing.
	if w.series != nil && !w.lastAt.IsZero() && now.Sub(w.seriesStart) > 10*time.Millisecond &&
		(len(*w.series) == 0 || now.Sub(w.seriesStart).Seconds()-(*w.series)[len(*w.series)-1].T > 0.01) {
		w.second(n-w.last, now, rate)
	}
	w.last, w.lastAt = n, now
	w.progress(Event{Cell: w.cell, Phase: phase, Messages: n, Rate: rate, Elapsed: now.Sub(start), Length: length})
}

// second appends one second of the measured window to the series; its
// latency figures are filled in from the recorder once the cell is over.
func (w *phaseWatch) second(msgs uint64, now time.Time, rate float64) {
	sec := report.Second{T: now.Sub(w.seriesStart).Seconds(), Messages: msgs, MsgsPerS: rate}
	for _, c := range w.env.Clients {
		if c.Broken.Load() {
			sec.BrokenConn++
		}
	}
	if w.srv != nil {
		if s, err := w.srv.sampler.Sample(); err == nil {
			rss := s.RSS
			sec.ServerRSSBytes = &rss
			if !w.prevServer.At.IsZero() {
				util := (s.CPU - w.prevServer.CPU).Seconds() / s.At.Sub(w.prevServer.At).Seconds()
				sec.ServerCPUUtil = &util
			}
			w.prevServer = s
		}
	}
	*w.series = append(*w.series, sec)
}

// clientBound judges whether the load generator was saturated: its CPU
// near the CPUs it may use, or its own goroutines waiting for a CPU so long
// that the measured tail is largely the generator's. The delay is compared
// with the latency p99, not p50: any busy machine has a scheduling tail
// above a fast server's median, but only when it rivals the measured tail
// does that tail stop describing the server.
func clientBound(g *report.ClientGuard, lat report.Latency) (bool, []string) {
	var reasons []string
	if g.CPUUtil >= 0.9 {
		reasons = append(reasons, fmt.Sprintf("load generator CPU at %.0f%% of its %d CPUs", 100*g.CPUUtil, g.CPUs))
	}
	if d := g.SchedDelay; d.Count > 0 && lat.Count > 0 && d.P99 >= 200 && float64(d.P99) >= 0.5*float64(lat.P99) {
		reasons = append(reasons, fmt.Sprintf("load generator scheduling delay p99 %dµs is at least half the latency p99 %dµs", d.P99, lat.P99))
	}
	return len(reasons) > 0, reasons
}

// allowedCPUs is how many CPUs this process may run on.
func allowedCPUs() int {
	if cpus, err := measure.AllowedCPUs(0); err == nil && len(cpus) > 0 {
		return len(cpus)
	}
	return numCPU()
}

// Describe is a one-line summary of a cell for progress output.
func (c Cell) Describe(driver string) string {
	run := ""
	if c.Run > 1 {
		run = fmt.Sprintf(" run %d", c.Run)
	}
	return strings.TrimSpace(fmt.Sprintf("[%d/%d] %s ← %s, %d conns%s", c.Index, c.Total, c.Server, driver, c.Conns, run))
}
