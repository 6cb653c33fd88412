package report

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// echoShard is shard i of n of an echo cell whose window opened at opened,
// with msgs messages in each of its seconds.
func echoShard(i, n int, opened time.Time, msgs ...uint64) Record {
	r := Record{Scenario: "echo", Server: "target", Driver: "d", Conns: 5, Run: 1, Status: StatusOK, Errors: map[string]uint64{},
		Shard: &Shard{Index: i, Count: n, OpenedAt: opened, Cell: "echo/c"}}
	for k, m := range msgs {
		r.Series = append(r.Series, Second{T: float64(k + 1), Messages: m})
		r.Messages += m
	}
	return r
}

func seriesMessages(r Record) []uint64 {
	var got []uint64
	for _, s := range r.Series {
		got = append(got, s.Messages)
	}
	return got
}

// TestMergeAlignsSeriesByWallClock: a shard whose window opened two seconds
// after the first's adds its seconds two later; one that opened a second
// before shard 0 keeps its first second, the merged series starting there.
func TestMergeAlignsSeriesByWallClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	res, err := Merge([]*Result{{Records: []Record{echoShard(0, 2, t0, 10, 10, 10)}}, {Records: []Record{echoShard(1, 2, t0.Add(2*time.Second), 5, 5)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Records[0]
	if got := seriesMessages(m); !slices.Equal(got, []uint64{10, 10, 15, 5}) || m.Messages != 40 || m.Conns != 10 {
		t.Fatalf("merged series %v, %d messages, %d conns", got, m.Messages, m.Conns)
	}
	res, err = Merge([]*Result{{Records: []Record{echoShard(0, 2, t0, 10, 10, 10), echoShard(1, 2, t0.Add(-time.Second), 5, 5, 5)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m = res.Records[0]
	if got := seriesMessages(m); !slices.Equal(got, []uint64{5, 15, 15, 10}) || m.Series[3].T != 4 || !m.Merged.OpenedAt.Equal(t0.Add(-time.Second)) {
		t.Fatalf("merged series %v (T %v), opened %s: want shard 1's first second kept", got, m.Series, m.Merged.OpenedAt)
	}
}

// TestMergeNamesAFailedShardFailed: a shard whose cell failed before it
// measured anything (no sections, no labels) is the cell's failure, not a
// missing shard.
func TestMergeNamesAFailedShardFailed(t *testing.T) {
	ok := echoShard(0, 2, time.Time{}, 10)
	ok.OpenLoop = &OpenLoop{TargetRate: 100}
	ok.Latency = latencyOf(t, 100, 200)
	failed := Record{Scenario: "echo", Mode: "open-loop", Server: "target", Driver: "d", Conns: 5, Run: 1, Status: StatusFailed,
		Reason: "no connection established", Errors: map[string]uint64{"dial_refused": 5}, Shard: &Shard{Index: 1, Count: 2, Cell: "echo/c"}}
	res, err := Merge([]*Result{{Records: []Record{ok}}, {Records: []Record{failed}}}, nil)
	if err != nil {
		t.Fatalf("%v: want the failed shard merged as failed", err)
	}
	m := res.Records[0]
	if len(res.Records) != 1 || m.Status != StatusFailed || !strings.Contains(m.Reason, "shard 1 of 2 failed: no connection established") ||
		m.Errors["dial_refused"] != 5 || m.Conns != 10 {
		t.Fatalf("merged %s %q, errors %v, %d conns", m.Status, m.Reason, m.Errors, m.Conns)
	}
}

func latencyOf(t *testing.T, us ...int64) Latency {
	t.Helper()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, v := range us {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	l, err := NewLatency(h, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestMergeKeepsWhatEveryShardMeasured: the handshake service time, the
// connections that negotiated compression, a client-bound shard and a late
// one survive the merge.
func TestMergeKeepsWhatEveryShardMeasured(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var rs []Record
	for i := range 2 {
		r := echoShard(i, 2, t0, 100)
		r.Latency = latencyOf(t, 100, 200)
		r.Connect = Connect{Attempted: 5, Established: 5}
		svc := latencyOf(t, int64(300*(i+1)))
		r.HandshakeService = &svc
		counted := uint64(9)
		r.Compression = &Compression{Offered: true, NegotiatedConns: 4 + i, ServerCounted: &counted}
		r.Client = &ClientGuard{CPUs: 2, CPUUtil: 0.3, SchedDelay: latencyOf(t, 50)}
		rs = append(rs, r)
	}
	rs[1].Client.Bound, rs[1].Client.Reasons, rs[1].Client.CPUUtil = true, []string{"load generator CPU at 95% of its 2 CPUs"}, 0.95
	rs[1].Shard.LateS = 0.25
	res, err := Merge([]*Result{{Records: rs}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Records[0]
	if m.HandshakeService == nil || m.HandshakeService.Count != 2 || m.HandshakeService.Max < 599 {
		t.Errorf("handshake service %+v: want both shards' values", m.HandshakeService)
	}
	if m.Compression == nil || m.Compression.NegotiatedConns != 9 || m.CompressionText() != "9/10" {
		t.Errorf("compression %+v (%s): want 9 of 10", m.Compression, m.CompressionText())
	}
	// The server's count, read by each shard at its own moment, has no
	// exact sum: left out and named.
	if m.Compression.ServerCounted != nil || !slices.Contains(m.Merged.Dropped, "compression.server_counted") {
		t.Errorf("server's count %v, dropped %v", m.Compression.ServerCounted, m.Merged.Dropped)
	}
	if c := m.Client; c == nil || !c.Bound || c.CPUUtil != 0.95 || c.SchedDelay.Count != 2 || len(c.Reasons) != 1 || !strings.HasPrefix(c.Reasons[0], "shard 1:") {
		t.Errorf("client guard %+v: want shard 1's saturation", m.Client)
	}
	if mg := m.Merged; mg == nil || mg.LateS != 0.25 || len(mg.Late) != 1 || !m.Marked() {
		t.Errorf("merged %+v, marked %v: want shard 1's lateness", m.Merged, m.Marked())
	}
}
