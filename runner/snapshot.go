package runner

import (
	"context"
	"os"
	"runtime"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

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
