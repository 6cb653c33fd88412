package scenarios

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
)

// stormConn is one connection's history in a reconnect cell, relative to
// the fault: when it found the server gone, how, when it was back (0:
// never), and its failed dials before that.
type stormConn struct {
	detect, back time.Duration
	how          string
	failed       int
	seq          int // spreads its pong and handshake times
}

// stormWindow is the measured window of the cells below on one clock: it
// opens at 1 s, the fault comes 1 s into it, it lasts 5 s.
const (
	stormOpen   = int64(time.Second)
	stormFault  = stormOpen + int64(time.Second)
	stormLength = 5 * time.Second
)

// stormRecord runs reconnect's own outcome (figures, distributions,
// timeline) over the histories given, as one process of conns would have
// recorded them, and fills a record the way the runner does.
func stormRecord(t *testing.T, conns []stormConn, shard *report.Shard) report.Record {
	t.Helper()
	p := Params{Duration: stormLength, Own: &ReconnectOptions{Ping: Ping{Interval: time.Second, Timeout: time.Second},
		Backoff: Backoff{Policy: "exponential", Base: 100 * time.Millisecond, Cap: time.Second}}}
	env := NewEnv(nil, p)
	env.Window.Open(stormOpen)
	env.Window.Close(stormOpen + int64(stormLength))
	env.MarkFault(stormFault)
	r := &reconnectRun{env: env, slots: make([]rslot, len(conns)), out: &Outcome{Latency: env.Latency, Errors: map[string]uint64{}}}
	codes := map[string]uint64{}
	for i, c := range conns {
		s := &r.slots[i]
		// Two pongs each before the fault, one after for those back.
		s.pings, s.pongs = 3, 2
		env.Latency.Record(stormOpen+int64(100*time.Millisecond), time.Duration(200+c.seq%50)*time.Microsecond)
		env.Latency.Record(stormOpen+int64(600*time.Millisecond), time.Duration(300+c.seq%70)*time.Microsecond)
		o := outage{detected: stormFault + int64(c.detect), how: c.how}
		for k := range c.failed {
			s.attempts = append(s.attempts, attempt{at: o.detected + int64(k+1)*int64(200*time.Millisecond), took: int64(time.Millisecond), class: "dial_refused"})
		}
		if c.back > 0 {
			o.back = stormFault + int64(c.back)
			took := int64(2*time.Millisecond + time.Duration(c.seq%9)*100*time.Microsecond)
			s.attempts = append(s.attempts, attempt{at: o.back - took, took: took})
			s.pongs++
		} else {
			s.isDown = true
		}
		s.outages = []outage{o}
		if strings.HasPrefix(c.how, "close_") {
			codes[strings.TrimPrefix(c.how, "close_")]++
		}
	}
	out := r.outcome()
	rec := report.Record{Scenario: "reconnect", Mode: "reconnect", Server: "target", Target: "ws://127.0.0.1:1/echo", Driver: "gorilla",
		Conns: len(conns), PayloadBytes: 64, Run: 1, Status: report.StatusOK, DurationS: stormLength.Seconds(), Errors: map[string]uint64{},
		Shard: shard, Figures: out.Figures, Labels: out.Labels, Timeline: out.Timeline, Heartbeat: out.Heartbeat, CloseCodes: codes,
		Connect: report.Connect{Attempted: len(conns), Established: len(conns)},
		Fault:   &report.Fault{Kind: "cmd", AtS: time.Duration(stormFault - stormOpen).Seconds(), Cmd: "restart-chat"}}
	for _, s := range r.slots {
		rec.Messages += s.pongs
	}
	h, clamped := out.Latency.Snapshot()
	rec.Latency, _ = report.NewLatency(h, clamped)
	rec.Distributions = map[string]report.Latency{}
	for name, d := range out.Distributions {
		h, clamped := d.Snapshot()
		rec.Distributions[name], _ = report.NewLatency(h, clamped)
	}
	if shard != nil && shard.Index != 0 {
		rec.Fault.ByShard0 = true
	}
	report.ApplyVerdict(&rec)
	return rec
}

// TestMergedReconnectIsWhatOneProcessReports: two shards of 500, one all
// back within 0.4 s of the fault (told by a close 1001), the other with 400
// never back (a read error). Merged, the cell reports what one process
// holding all 1,000 would: every count summed, every distribution the same
// histogram, the recovery percentiles read again from the merged fault→back
// distribution with the never-recovered as infinitely late, the timeline
// added interval by interval. Not shard 0's recovery beside summed counts.
func TestMergedReconnectIsWhatOneProcessReports(t *testing.T) {
	var good, bad []stormConn
	for i := range 500 {
		good = append(good, stormConn{detect: time.Duration(20+i%30) * time.Millisecond, back: time.Duration(250+i%150) * time.Millisecond, how: "close_1001", seq: i})
		c := stormConn{detect: time.Duration(40+i%60) * time.Millisecond, how: "read_error", failed: 12, seq: 7 * i}
		if i < 100 {
			c.back, c.failed = time.Second+time.Duration(i)*10*time.Millisecond, 3
		}
		bad = append(bad, c)
	}
	opened := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s0 := stormRecord(t, good, &report.Shard{Index: 0, Count: 2, OpenedAt: opened, Cell: "reconnect/c"})
	s1 := stormRecord(t, bad, &report.Shard{Index: 1, Count: 2, OpenedAt: opened, Cell: "reconnect/c"})
	one := stormRecord(t, append(slices.Clone(good), bad...), nil)

	if _, ok := s1.Figures["recovered_50_s"]; ok || s0.Figures["recovered_50_s"] > 0.4 {
		t.Fatalf("shards: recovered 50%% in %v and %v", s0.Figures["recovered_50_s"], s1.Figures["recovered_50_s"])
	}
	res, err := report.Merge([]*report.Result{{Records: []report.Record{s1}}, {Records: []report.Record{s0}}}, []string{"b.json", "a.json"})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Records[0]

	// Every figure one process reports, with its value; none carried from
	// one shard.
	if !maps.Equal(m.Figures, one.Figures) {
		t.Errorf("merged figures\n%v\none process\n%v", m.Figures, one.Figures)
	}
	if m.Figures["never_recovered"] != 400 || m.Figures["lost_after_fault"] != 1000 || m.Figures["detected_close"] != 500 {
		t.Errorf("merged counts %v", m.Figures)
	}
	if _, ok := m.Figures["recovered_99_s"]; ok {
		t.Errorf("recovered 99%% %v with 40%% never back: unknown, not a number", m.Figures["recovered_99_s"])
	}
	for _, name := range slices.Sorted(maps.Keys(one.Distributions)) {
		got, want := m.Distributions[name], one.Distributions[name]
		if got.Count != want.Count || got.P50 != want.P50 || got.P99 != want.P99 || got.Max != want.Max || got.Mean != want.Mean {
			t.Errorf("distribution %s: merged %+v, one process %+v", name, got, want)
		}
		hg, err1 := got.Histogram()
		hw, err2 := want.Histogram()
		if err1 != nil || err2 != nil || !hg.Equals(hw) {
			t.Errorf("distribution %s: the merged histogram is not one process's (%v, %v)", name, err1, err2)
		}
	}
	if m.Latency.Count != one.Latency.Count || m.Latency.P99 != one.Latency.P99 || m.Heartbeat.StayedUp != one.Heartbeat.StayedUp ||
		m.Heartbeat.Pongs != one.Heartbeat.Pongs || !maps.Equal(m.CloseCodes, one.CloseCodes) || m.Conns != 1000 {
		t.Errorf("merged latency %d/%d µs, stayed up %d, pongs %d, codes %v; one process %d/%d, %d, %d, %v",
			m.Latency.Count, m.Latency.P99, m.Heartbeat.StayedUp, m.Heartbeat.Pongs, m.CloseCodes,
			one.Latency.Count, one.Latency.P99, one.Heartbeat.StayedUp, one.Heartbeat.Pongs, one.CloseCodes)
	}
	for _, col := range []string{"up", "detected", "reconnected", "attempts", "failed"} {
		if got, want := m.Timeline.Column(col), one.Timeline.Column(col); !slices.Equal(got, want) {
			t.Errorf("timeline %s: merged %v, one process %v", col, got, want)
		}
	}
	// A p99 per interval cannot be added: left out, and said so.
	if m.Timeline.Column("handshake_p99_ms") != nil || !slices.Contains(m.Merged.Dropped, "timeline.handshake_p99_ms") ||
		!strings.Contains(m.Reason, "handshake_p99_ms") || !m.Marked() {
		t.Errorf("timeline columns %v, dropped %v, reason %q", m.Timeline.Names, m.Merged.Dropped, m.Reason)
	}
	// Judged from the totals as one process is.
	if m.Status != one.Status || !strings.HasPrefix(m.Reason, one.Reason) {
		t.Errorf("merged %s %q, one process %s %q", m.Status, m.Reason, one.Status, one.Reason)
	}
	if m.Labels["backoff"] != one.Labels["backoff"] || m.Fault == nil || m.Fault.ByShard0 || m.Fault.AtS != 1 || m.Fault.Error != "" {
		t.Errorf("labels %v, fault %+v", m.Labels, m.Fault)
	}

	var table strings.Builder
	if err := report.Render(&table, res, report.Table); err != nil {
		t.Fatal(err)
	}
	t.Logf("merged:\n%s", table.String())
	t.Logf("one process: recovered 50%% %.3fs, never %v of %v; merged %.3fs, never %v of %v; shard 0 alone %.3fs",
		one.Figures["recovered_50_s"], one.Figures["never_recovered"], one.Figures["lost_after_fault"],
		m.Figures["recovered_50_s"], m.Figures["never_recovered"], m.Figures["lost_after_fault"], s0.Figures["recovered_50_s"])
}

// TestMergeLeavesOutWhatItCannotMerge: a figure the profile does not
// declare is not taken from one shard.
func TestMergeLeavesOutWhatItCannotMerge(t *testing.T) {
	conns := []stormConn{{detect: 10 * time.Millisecond, back: 100 * time.Millisecond, how: "close_1001"}}
	var rs []report.Record
	for i := range 2 {
		r := stormRecord(t, conns, &report.Shard{Index: i, Count: 2, Cell: "c"})
		r.Figures["mystery_ratio"] = float64(i + 1)
		rs = append(rs, r)
	}
	res, err := report.Merge([]*report.Result{{Records: rs}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Records[0]
	if _, ok := m.Figures["mystery_ratio"]; ok || !slices.Contains(m.Merged.Dropped, "figure.mystery_ratio") {
		t.Fatalf("figures %v, dropped %v", m.Figures, m.Merged.Dropped)
	}
	if m.Figures["detected"] != 2 || m.Figures["recovered_100_s"] != rs[0].Figures["recovered_100_s"] {
		t.Fatalf("figures %v", m.Figures)
	}
}
