package runner

import (
	"context"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
)

// phaseWatch waits out a phase while reporting progress once a second and
// watching for cancellation and for the server process dying.
type phaseWatch struct {
	ctx      context.Context
	exited   <-chan struct{}
	env      *scenarios.Env
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
		n += w.env.Done[i].Load()
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
		// A killed server not yet reaped reads RSS 0: that second has no
		// sample, not an empty server.
		if s, err := w.srv.samp().Sample(); err == nil && s.RSS > 0 {
			rss := s.RSS
			sec.ServerRSSBytes = &rss
			if !w.prevServer.At.IsZero() && s.CPU >= w.prevServer.CPU { // not across a restart
				util := (s.CPU - w.prevServer.CPU).Seconds() / s.At.Sub(w.prevServer.At).Seconds()
				sec.ServerCPUUtil = &util
			}
			w.prevServer = s
		}
	}
	*w.series = append(*w.series, sec)
}
