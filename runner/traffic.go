package runner

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// ran is what the scenario's Run returned.
type ran struct {
	out *scenarios.Outcome
	err error
}

// traffic runs the scenario through warmup, the measured window, the drain
// and the close, and records what it measured.
func (c *cellRun) traffic() report.Record {
	env := scenarios.NewEnv(c.clients, c.p)
	env.Server = c.serverInfo()
	var redials atomic.Uint64
	env.Dial = func(ctx context.Context) (drivers.Conn, error) {
		o := c.opts
		if src := c.plan.Sources; len(src) > 0 {
			o.LocalAddr = src[redials.Add(1)%uint64(len(src))]
		}
		return c.plan.Driver.Dial(ctx, c.url, o)
	}
	c.awaitStart()
	stopBad := c.startBad()
	finished := make(chan ran, 1)
	go func() {
		out, err := c.plan.Scenario.Run(c.ctx, env)
		env.Quiet()
		finished <- ran{out, err}
	}()
	var exited <-chan struct{}
	if c.srv != nil && scenarios.FaultOf(c.p).Kind == "" { // a fault's planned exit is no death
		exited = c.srv.cur().exited
	}
	watch := phaseWatch{ctx: c.ctx, exited: exited, env: env, cell: c.cell, progress: c.progress, srv: c.srv}
	measured := watch.wait("warmup", c.p.Warmup)
	if measured {
		c.window(env, &watch)
	} else {
		env.Window.Close(env.Clock.Now())
	}
	c.drain(env)
	// The steady-state memory snapshot forces a GC in both processes: taken
	// only now, after the drain, so it cannot stall replies still in flight.
	if measured {
		takeSnapshot(c.ctx, c.srv).perConn(&c.rec, c.idle, float64(len(c.clients)))
	}
	c.rec.ServerStatsEnd = endStats(c.ctx, c.srv)
	stopBad()
	c.emit("closing")
	closePhase(&c.rec, c.clients, c.plan)
	var r ran
	select {
	case r = <-finished:
	case <-time.After(c.plan.CloseTimeout + time.Second):
		abortAll(c.clients)
		r = <-finished
	}
	if r.err != nil {
		return c.fail("scenario %s: %v", c.plan.Scenario.Name(), r.err)
	}
	c.outcome(env, r.out)
	if f := c.rec.Fault; f != nil && f.Error != "" && c.ctx.Err() == nil {
		rec := c.rec
		// As report's verdict words it; decided here, since a server
		// that did not come back would otherwise read as one that died.
		rec.Status, rec.Reason = report.StatusFailed, "fault "+f.Kind+" not played: "+f.Error
		return rec
	}
	return finish(c.ctx, c.rec, c.srv)
}

// awaitStart holds the first cell, once connected, until its warmup must
// begin for the measured window to open at Plan.StartAt (every shard's
// common instant); a shard that connected too late for it starts at once
// and says how late in its record.
func (c *cellRun) awaitStart() {
	at := c.plan.StartAt
	if at.IsZero() || c.cell.Index != 1 {
		return
	}
	if c.rec.Shard == nil {
		c.rec.Shard = &report.Shard{Index: c.plan.Shard.Index, Count: max(c.plan.Shard.Count, 1)}
	}
	c.rec.Shard.StartAt = at.UTC()
	begin := at.Add(-c.p.Warmup)
	if late := time.Since(begin); late > 0 {
		c.rec.Shard.LateS = late.Seconds()
		return
	}
	c.emit("waiting for --start-at")
	sleep(c.ctx, time.Until(begin))
}

// serverInfo is what the scenario may know of the reference server.
func (c *cellRun) serverInfo() *scenarios.Server {
	if c.srv == nil {
		return nil
	}
	addr := c.srv.cur().addr
	return &scenarios.Server{IdleTimeout: c.settings.IdleTimeout, SlowConsumer: c.settings.SlowConsumer,
		Counters: func(ctx context.Context) (map[string]uint64, error) {
			st, err := servers.FetchStats(ctx, addr, false)
			if err != nil {
				return nil, err
			}
			return map[string]uint64{
				"broadcast_published": st.BroadcastPublished, "broadcast_enqueued": st.BroadcastEnqueued,
				"broadcast_dropped": st.BroadcastDropped, "broadcast_disconnected": st.BroadcastDisconnected,
				"idle_closed": st.IdleClosed,
			}, nil
		}}
}

// window opens the measured window, waits out its length and closes it,
// recording the CPU both processes spent in it. A window cut short (Ctrl-C,
// the server died) is recorded all the same; finish says why.
func (c *cellRun) window(env *scenarios.Env, watch *phaseWatch) {
	probe := measure.StartSchedProbe()
	origin := max(env.Clock.Now(), 1)
	env.Latency.StartSeries(origin)
	env.Window.Open(origin)
	t0, cpu0, gc0 := time.Now(), measure.SelfCPU(), measure.GCPauseTotal()
	probe.Reset()
	var s0, s1 measure.ProcSample
	if c.srv != nil {
		s0, _ = c.srv.samp().Sample()
	}
	r0, remote := c.remoteStats()
	watch.series, watch.seriesStart, watch.prevServer = &c.rec.Series, t0, s0
	c.windowAt = t0
	if c.rec.Shard != nil {
		c.rec.Shard.OpenedAt = t0.UTC()
	}
	faultOver := c.startFault(env, t0)
	watch.wait("measure", c.p.Duration)
	watch.series = nil
	// A reference server is back (or its cell failed) before its figures
	// are read. A user's command never stretches the window: it is waited
	// for once the window has closed, within its bound.
	if scenarios.FaultOf(c.p).Kind != "cmd" {
		<-faultOver
	}
	defer func() {
		select {
		case <-faultOver:
		default:
			c.emit("waiting for --fault-cmd to end")
			<-faultOver
		}
	}()
	if c.srv != nil {
		s1, _ = c.srv.samp().Sample()
	}
	t1, cpu1 := time.Now(), measure.SelfCPU()
	end := env.Clock.Now()
	env.Latency.EndSeries(end)
	env.Window.Close(end)
	rec := &c.rec
	rec.DurationS = t1.Sub(t0).Seconds()
	rec.ClientCPUS = (cpu1 - cpu0).Seconds()
	rec.ClientCPUUtil = rec.ClientCPUS / rec.DurationS / float64(numCPU())
	sched, schedClamped := probe.Snapshot()
	rec.Client = &report.ClientGuard{CPUs: allowedCPUs(), GCPauseS: (measure.GCPauseTotal() - gc0).Seconds()}
	rec.Client.CPUUtil = rec.ClientCPUS / rec.DurationS / float64(rec.Client.CPUs)
	rec.Client.SchedDelay, _ = report.NewLatency(sched, schedClamped)
	if r1, ok := c.remoteStats(); remote && ok {
		cpu := r1.CPUSeconds - r0.CPUSeconds
		peak := max(r0.RSSBytes, r1.RSSBytes)
		rec.ServerCPUS, rec.ServerRSSPeakBytes = &cpu, &peak
	}
	if c.srv != nil && s0.CPU > 0 && s1.CPU > 0 {
		w := c.srv.window(t0, t1)
		cpu := (s1.CPU - s0.CPU).Seconds()
		if c.srv.restarted() {
			cpu = w.CPU.Seconds() // per process, between its first and last sample in the window
		}
		rec.ServerCPUS = &cpu
		rec.ServerRSSPeakBytes, rec.ServerRSSMeanBytes = &w.PeakRSS, &w.MeanRSS
		rec.ServerSamples = w.Samples
	}
}

// drain waits, once the window has closed, until the scenario has nothing
// more in flight or the drain timeout passes (200 ms once interrupted),
// then ends the load: connections blocked in a call only the peer could
// end are aborted, and the scenario stops writing. Should it not (a
// goroutine stuck in a write the driver does not let go), every connection
// is aborted.
func (c *cellRun) drain(env *scenarios.Env) {
	timeout := c.plan.DrainTimeout
	if c.ctx.Err() != nil {
		timeout = min(timeout, 200*time.Millisecond)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(timeout)
	for !env.Settled() && time.Now().Before(deadline) {
		select {
		case <-tick.C:
		case <-c.ctx.Done():
			if soon := time.Now().Add(200 * time.Millisecond); soon.Before(deadline) {
				deadline = soon
			}
			<-tick.C
		}
	}
	env.End(env.Clock.Now())
	for _, cl := range c.clients {
		if cl.Busy.Load() {
			cl.Abort()
		}
	}
	select {
	case <-env.Quieted():
	case <-time.After(3 * time.Second):
		abortAll(c.clients)
		c.rec.Errors["drain_abort"]++
	}
}

// outcome fills the record from what the scenario measured.
func (c *cellRun) outcome(env *scenarios.Env, out *scenarios.Outcome) {
	rec := &c.rec
	rec.Messages, rec.DrainMessages = out.Messages, out.DrainMessages
	rec.LatencyLowerBounds, rec.Accounting, rec.Integrity = out.LowerBounds, out.Accounting, out.Integrity
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
		rec.Client.Judge(rec.Latency) // the rules are report's, so tables can name the one that fired
	}
	if out.Service != nil {
		h, cl := out.Service.Snapshot()
		svc, _ := report.NewLatency(h, cl)
		rec.ServiceTime = &svc
	}
	rec.OpenLoop, rec.Broadcast, rec.Heartbeat = out.OpenLoop, out.Broadcast, out.Heartbeat
	rec.Figures, rec.Labels, rec.Timeline = out.Figures, out.Labels, out.Timeline
	c.timelineServer(rec.Timeline, c.windowAt)
	for code, n := range env.CloseCodes() {
		if rec.CloseCodes == nil {
			rec.CloseCodes = map[string]uint64{}
		}
		rec.CloseCodes[strconv.Itoa(code)] = n
	}
	for name, d := range out.Distributions {
		if rec.Distributions == nil {
			rec.Distributions = map[string]report.Latency{}
		}
		h, cl := d.Snapshot()
		rec.Distributions[name], _ = report.NewLatency(h, cl)
	}
	if rec.DurationS > 0 {
		rec.ThroughputMsgsPerS = float64(out.Messages) / rec.DurationS
		rec.ThroughputBytesPerS = rec.ThroughputMsgsPerS * float64(c.p.Payload)
	}
	if out.Messages > 0 {
		rec.ClientCPUPerMillion = rec.ClientCPUS / float64(out.Messages) * 1e6
	}
	// A shard's server CPU is the whole server's, serving every shard:
	// divided by this shard's messages it would read N times too high.
	// The merge divides it by all of them (report.Merge).
	if rec.ServerCPUS != nil && out.Messages > 0 && !rec.Sharded() {
		perM := *rec.ServerCPUS / float64(out.Messages) * 1e6
		rec.ServerCPUPerMillion = &perM
	}
}
