package runner

import (
	"context"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// serverUnderTest is a reference server process and its sampler. A fault
// (--fault) replaces both mid-window: the accessors are safe against that,
// and the retired samplers keep their samples for the window's figures.
type serverUnderTest struct {
	mu       sync.Mutex
	proc     *serverProc
	sampler  *measure.ProcSampler
	retired  []*measure.ProcSampler
	interval time.Duration
	stopped  bool // SIGSTOP sent and not yet resumed
}

// cur is the server process now.
func (s *serverUnderTest) cur() *serverProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// samp is the sampler of the server process now.
func (s *serverUnderTest) samp() *measure.ProcSampler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sampler
}

// replace swaps in a started process (a fault's restart) with a new sampler.
func (s *serverUnderTest) replace(p *serverProc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.sampler.Stop()
	s.retired = append(s.retired, s.sampler)
	s.proc, s.sampler = p, measure.StartProcSampler(p.pid, s.interval)
}

// window summarises every process's samples in [from, to]: CPU summed,
// RSS peak the largest, mean weighted by samples.
func (s *serverUnderTest) window(from, to time.Time) measure.Window {
	s.mu.Lock()
	all := append(slices.Clone(s.retired), s.sampler)
	s.mu.Unlock()
	var w measure.Window
	var rssSum uint64
	for _, smp := range all {
		x := smp.Window(from, to)
		w.Samples += x.Samples
		w.CPU += x.CPU
		w.PeakRSS = max(w.PeakRSS, x.PeakRSS)
		rssSum += x.MeanRSS * uint64(x.Samples)
	}
	if w.Samples > 0 {
		w.MeanRSS = rssSum / uint64(w.Samples)
	}
	return w
}

// setStopped records that a fault froze (true) or resumed the process.
func (s *serverUnderTest) setStopped(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = v
}

// allSamples are every process's samples, one list per process.
func (s *serverUnderTest) allSamples() [][]measure.ProcSample {
	s.mu.Lock()
	all := append(slices.Clone(s.retired), s.sampler)
	s.mu.Unlock()
	out := make([][]measure.ProcSample, len(all))
	for i, smp := range all {
		out[i] = smp.Samples()
	}
	return out
}

// restarted reports whether a fault replaced the process.
func (s *serverUnderTest) restarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.retired) > 0
}

// shutdown stops the process (resuming it first if a fault froze it) and
// every sampler.
func (s *serverUnderTest) shutdown() {
	s.mu.Lock()
	p, smp, stopped := s.proc, s.sampler, s.stopped
	s.mu.Unlock()
	if stopped {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	p.stop(5 * time.Second)
	_ = smp.Stop()
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
		if st, err := servers.FetchStats(ctx, srv.cur().addr, true); err == nil {
			s.server = &st
		}
		if ps, err := srv.samp().Sample(); err == nil {
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
	st, err := servers.FetchStats(ctx, srv.cur().addr, false)
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
