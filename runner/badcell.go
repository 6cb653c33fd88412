package runner

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wsbench/wsbench/badclients"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// Bad clients (Plan.BadClients) and the server memory cap (Plan.ServerMemCap).

// badStartBound is how long the bad clients have to connect and begin
// misbehaving before the good clients' warmup starts regardless.
const badStartBound = 15 * time.Second

// capMemory has the sampler of p kill it once its RSS passes capBytes, so
// a library that lets a bad client allocate without bound is a result
// (killed at the cap), not a machine out of memory. It reads nothing
// itself: it sees the readings the sampler takes every SampleInterval.
func (p *serverProc) capMemory(smp *measure.ProcSampler, capBytes uint64) {
	if capBytes == 0 {
		return
	}
	smp.OnSample(func(s measure.ProcSample) {
		if s.RSS <= capBytes || p.killedAt.Load() > 0 {
			return
		}
		p.capBytes = capBytes // before the store deathReason loads
		p.killedAt.Store(s.RSS)
		_ = p.cmd.Process.Kill()
	})
}

// killedAtCap is the RSS at which capMemory killed p; 0 if it did not.
func (p *serverProc) killedAtCap() uint64 { return p.killedAt.Load() }

// footprint reads what the server holds now: RSS, heap and goroutines from
// its stats endpoint, open files from /proc.
func (c *cellRun) footprint() report.ServerFootprint {
	proc := c.srv.cur()
	var f report.ServerFootprint
	if s, err := measure.ReadProc(proc.pid); err == nil {
		f.RSSBytes = s.RSS
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	if st, err := servers.FetchStats(ctx, proc.addr, false); err == nil {
		f.HeapBytes, f.Goroutines = st.HeapAllocBytes, st.Goroutines
	}
	if fds, err := os.ReadDir("/proc/" + strconv.Itoa(proc.pid) + "/fd"); err == nil {
		f.OpenFiles = len(fds)
	}
	return f
}

// startBad starts the cell's bad clients, if it has any, once the good
// ones are connected, and waits (within badStartBound) until every one has
// begun misbehaving, reading the server's footprint before and after. The
// returned func stops them and fills the record; it is called once the
// window and the drain are over.
func (c *cellRun) startBad() (stop func()) {
	spec := c.plan.BadClients
	if len(spec.Entries) == 0 {
		return func() {}
	}
	b := &report.BadClients{Spec: "none", CapBytes: c.plan.ServerMemCap}
	c.rec.BadClients = b
	if !c.cell.Bad {
		return func() {}
	}
	b.Spec = spec.String() // the whole cell's, on every shard
	spec = shareSpec(spec, c.plan.Shard)
	if spec.Total() == 0 {
		return func() {}
	}
	c.emit("starting bad clients")
	var before report.ServerFootprint
	if c.srv != nil {
		before = c.footprint()
	}
	ctx, cancel := context.WithCancel(c.ctx)
	fleet, err := badclients.Start(ctx, c.url, spec)
	if err != nil {
		cancel()
		b.Error = err.Error()
		return func() {}
	}
	select {
	case <-fleet.Started():
	case <-time.After(badStartBound):
	case <-c.ctx.Done():
	}
	if c.srv != nil && c.srv.cur().alive() {
		with := c.footprint()
		b.Server = &report.BadFootprint{Before: before, With: with, PerClient: report.Growth(before, with, spec.Total())}
	}
	return func() {
		cancel()
		res := fleet.Wait()
		for _, k := range res.Kinds {
			b.Kinds = append(b.Kinds, badKind(k))
		}
		if c.srv != nil {
			if rss := c.srv.cur().killedAtCap(); rss > 0 {
				b.Killed, b.KilledAtBytes = true, rss
			}
		}
	}
}

// shareSpec is a shard's share of every kind of spec, as connections are
// shared (Shard.Share); a kind whose share is 0 is left out.
func shareSpec(spec badclients.Spec, s Shard) badclients.Spec {
	if s.Count <= 1 {
		return spec
	}
	var out badclients.Spec
	for _, e := range spec.Entries {
		if e.Count = s.Share(e.Count); e.Count > 0 {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}

// badKind is one kind's results as the record keeps them.
func badKind(k badclients.KindResult) report.BadKind {
	out := report.BadKind{Kind: string(k.Kind), Arg: k.Arg, Clients: k.Clients, Failed: k.Failed, Reset: k.Reset, EOF: k.EOF,
		Open: k.Open, SeenAtEnd: k.SeenAtEnd, Sent: k.Sent, Received: k.Received, Errors: k.Errors}
	for code, n := range k.ClosedByCode {
		if out.ClosedByCode == nil {
			out.ClosedByCode = map[string]int{}
		}
		out.ClosedByCode[strconv.Itoa(code)] = n
	}
	if k.Drop != nil && k.Drop.TotalCount() > 0 {
		if l, err := report.NewLatency(k.Drop, k.DropClamped); err == nil {
			out.DropTime = &l
		}
	}
	return out
}

// capReason is the death of a server the cap killed, for its record.
func capReason(rss, capBytes uint64) string {
	return fmt.Sprintf("killed at the memory cap: RSS %d MiB passed --server-mem-cap %d MiB", rss>>20, capBytes>>20)
}
