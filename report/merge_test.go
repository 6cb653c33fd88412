package report

import (
	"math"
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

// TestMergeRefusesWhatIsNotOnePlan: files that are not the shards of one
// plan are refused, each naming why; a missing shard is named by index.
func TestMergeRefusesWhatIsNotOnePlan(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	shard := func(i, n int, mod ...func(*Record)) *Result {
		r := echoShard(i, n, t0, 10)
		for _, f := range mod {
			f(&r)
		}
		return &Result{Records: []Record{r}}
	}
	plain := func(r *Record) { r.Shard = nil }
	other := func(r *Record) { r.Shard.Cell = "echo/other" }
	started := func(r *Record) { r.Shard.StartAt = t0 }
	for _, c := range []struct {
		name  string
		files []*Result
		want  string
	}{
		{"an unsharded file twice", []*Result{shard(0, 1, plain), shard(0, 1, plain)}, "a.json holds no shards (it was not run with --shard I/N)"},
		{"a run with --start-at but no shards", []*Result{shard(0, 1)}, "a.json holds no shards"},
		{"an unsharded file among shards", []*Result{shard(0, 2), shard(1, 2, plain)}, "b.json holds no shards"},
		{"records of both kinds", []*Result{{Records: append(shard(0, 2).Records, shard(0, 2, plain).Records...)}}, "a.json holds 1 records that are not shards"},
		{"different counts", []*Result{shard(0, 2), shard(1, 3)}, "b.json is shard 1 of 3 and a.json shard 0 of 2: shards of different plans"},
		{"different start instants", []*Result{shard(0, 2), shard(1, 2, started)}, "b.json waited for --start-at 2026-12-01T10:00:00Z and a.json for none"},
		{"different cells", []*Result{shard(0, 2), shard(1, 2, other)}, "shards of different plans"},
		{"a shard twice", []*Result{shard(0, 2), shard(0, 2)}, "shard 0 (of 0–1) given twice (a.json and b.json)"},
		{"a missing shard", []*Result{shard(0, 3), shard(1, 3)}, "shard 2 (of 0–2) missing"},
		{"missing shards", []*Result{shard(1, 4), shard(3, 4)}, "shards 0, 2 (of 0–3) missing"},
		{"an empty file", []*Result{shard(0, 2), {}}, "b.json has no records"},
	} {
		_, err := Merge(c.files, []string{"a.json", "b.json"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if res, err := Merge([]*Result{shard(1, 2), shard(0, 2)}, []string{"a.json", "b.json"}); err != nil || len(res.Records) != 1 || res.Records[0].Conns != 10 {
		t.Fatalf("the shards of one plan: %v", err)
	}
}

// TestMergedClientColumns: a merged record's client CPU seconds and
// memory per connection are every generator's totals, its client CPU
// share is the busiest generator's and says so, each generator's own is
// kept and listed under the table, and client-bound names its shard.
func TestMergedClientColumns(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	util := []float64{0.31, 0.95, 0.40}
	var files []*Result
	for i := range 3 {
		r := echoShard(i, 3, t0, 1000)
		r.Mode, r.Conns, r.DurationS = "closed-loop", 10*(i+1), 1
		r.Latency = latencyOf(t, 100, 200, 300)
		r.ClientCPUS, r.ClientCPUUtil = 2*util[i], util[i]
		r.ClientHeapPerConnBytes = float64(1000 * (i + 1)) // 1, 2, 3 KB over 10, 20, 30 conns
		r.Client = &ClientGuard{CPUs: 2, CPUUtil: util[i], SchedDelay: latencyOf(t, 50)}
		r.Client.Judge(r.Latency)
		cpu := 2.08
		r.ServerCPUS = &cpu
		files = append(files, &Result{Records: []Record{r}})
	}
	res, err := Merge(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Records[0]
	// (1000·10 + 2000·20 + 3000·30) / 60 conns
	if want := 140000.0 / 60; m.ClientHeapPerConnBytes != want || m.Conns != 60 {
		t.Errorf("client heap/conn %v over %d conns, want %v: every generator's growth over every connection", m.ClientHeapPerConnBytes, m.Conns, want)
	}
	if got, want := m.ClientCPUS, 2*(0.31+0.95+0.40); math.Abs(got-want) > 1e-9 {
		t.Errorf("client CPU %vs, want the sum %vs", got, want)
	}
	if c := m.Merged.Clients; len(c) != 3 || c[1].CPUUtil != 0.95 || !c[1].Bound || c[0].Bound || c[2].HeapPerConnBytes != 3000 || !slices.Equal(c[1].Rules, []BoundRule{RuleSaturated}) {
		t.Fatalf("per-shard clients %+v", c)
	}
	if *m.ServerCPUPerMillion != 2.08/3000*1e6 {
		t.Errorf("server CPU per 1M %v: want the one server's CPU over every shard's messages", *m.ServerCPUPerMillion)
	}
	var buf strings.Builder
	if err := RenderWith(&buf, res, Table, Options{Wide: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"95% of 2, busiest of 3",
		"CPU (shard 1)",
		"Merged from 3 shards, 3 load generators against one server",
		"shard 0 31% of 2, sched p99 50µs; shard 1 95% of 2, sched p99 50µs, bound (CPU); shard 2 40% of 2",
		"client-bound: shard 1: load generator CPU at 95% of its 2 CPUs",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("merged table lacks %q:\n%s", want, out)
		}
	}
}

// TestShardTableShowsTheWholeServersCPU: a shard's own table names its
// server CPU the whole server's and divides it by no one's messages, even
// from a file that carries the old division.
func TestShardTableShowsTheWholeServersCPU(t *testing.T) {
	r := echoShard(1, 3, time.Time{}, 10000)
	r.Mode, r.DurationS = "closed-loop", 1
	r.Latency = latencyOf(t, 100, 200)
	cpu, perM := 2.08, 208.0 // the whole server's 2.08 s over this shard's 10,000 messages
	r.ServerCPUS, r.ServerCPUPerMillion = &cpu, &perM
	res := &Result{Records: []Record{r}}
	for _, f := range []Format{Table, CSV, Benchfmt} {
		var buf strings.Builder
		if err := Render(&buf, res, f); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "208") {
			t.Errorf("%s shows the shard's division (208 s per 1M):\n%s", f, out)
		}
		if f == Table {
			flat := strings.Join(strings.Fields(out), " ")
			for _, want := range []string{"(whole server)", "2.08s", "after merge", "This is shard 1 (of 0–2)"} {
				if !strings.Contains(flat, want) {
					t.Errorf("shard table lacks %q:\n%s", want, out)
				}
			}
		}
	}
}
