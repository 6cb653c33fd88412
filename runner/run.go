package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
)

// Run measures every cell of the plan in order and returns their records.
// A cell that fails is recorded as failed and the matrix goes on; when ctx
// is cancelled the cell under way is cut short, recorded as interrupted, and
// Run returns what it has. With RateSteps and an SLO it is a capacity
// search: a server's steps after its first broken one are left out.
func Run(ctx context.Context, plan Plan, progress func(Event)) []report.Record {
	plan.defaults()
	if progress == nil {
		progress = func(Event) {}
	}
	search := len(plan.RateSteps) > 0 && plan.SLO != nil
	stopped := map[string]bool{} // server, conns, run → broke the SLO at a lower step
	var records []report.Record
	for _, cell := range plan.Cells() {
		if ctx.Err() != nil {
			break
		}
		ladder := fmt.Sprint(cell.Server, cell.Variant, cell.Conns, cell.Run)
		if search && stopped[ladder] {
			continue
		}
		rec := runCell(ctx, &plan, cell, progress)
		if search {
			rec.SLO = judgeSLO(*plan.SLO, rec)
			stopped[ladder] = !rec.SLO.Pass
		}
		plan.Secrets.Scrub(&rec) // a dial error or a command's output may quote one
		records = append(records, rec)
		progress(Event{Cell: cell, Phase: "done", Record: &rec})
	}
	return records
}

// judgeSLO says whether one step of a capacity search met the objective. A
// saturated load generator can only make latency look worse or the rate
// fall short, never better, so a step that passes stands; a step that fails
// while the generator was saturated says so, since the server may not be at
// fault.
func judgeSLO(slo report.Threshold, rec report.Record) *report.SLOCheck {
	c := &report.SLOCheck{Objective: slo.Objective(), LimitUs: int64(slo.Value), Rate: rec.TargetRate()}
	v, _ := slo.Metric.Value(rec)
	c.ValueUs = int64(v)
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
	case !slo.Holds(v):
		c.Reason = fmt.Sprintf("%s was %s", slo.Metric.Name, time.Duration(c.ValueUs)*time.Microsecond)
	default:
		c.Pass = true
	}
	if !c.Pass && rec.Client != nil && rec.Client.Bound {
		c.Reason += " (client-bound: the load generator may be the limit)"
	}
	return c
}

// allowedCPUs is how many CPUs this process may run on.
func allowedCPUs() int {
	if cpus, err := measure.AllowedCPUs(0); err == nil && len(cpus) > 0 {
		return len(cpus)
	}
	return numCPU()
}
