package report

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Merge adds the shards of every cell into one record each: histograms
// added exactly (never percentiles averaged), counts, rates and errors
// summed, per-second series aligned by their second (the shards opened
// their windows at one --start-at instant). Records must come from the
// same plan: shards with different parameters are refused, a missing shard
// is named. Records that are not shards pass through unchanged. The result
// is a normal result file.
func Merge(results []*Result, names []string) (*Result, error) {
	if len(results) == 0 {
		return nil, errors.New("merge: no files")
	}
	out := *results[0]
	out.Records = nil
	out.MemorySlopes = nil
	type key struct {
		cell string
		run  int
	}
	var order []key
	shards := map[key][]Record{}
	for fi, res := range results {
		for _, r := range res.Records {
			if r.Shard == nil || r.Shard.Count <= 1 {
				out.Records = append(out.Records, r)
				continue
			}
			r.File = fileName(names, fi)
			k := key{shardlessKey(r), r.Run}
			if _, ok := shards[k]; !ok {
				order = append(order, k)
			}
			shards[k] = append(shards[k], r)
		}
	}
	for _, k := range order {
		m, err := mergeShards(shards[k])
		if err != nil {
			return nil, fmt.Errorf("merge %s run %d: %w", k.cell, k.run, err)
		}
		out.Records = append(out.Records, m)
	}
	out.MemorySlopes = Slopes(out.Records)
	return &out, nil
}

func fileName(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("file %d", i+1)
}

// shardlessKey is a record's cell without what differs between shards of
// it (their connection share).
func shardlessKey(r Record) string {
	r.Conns = 0
	return r.CellKey()
}

// mergeShards adds one cell's shards.
func mergeShards(rs []Record) (Record, error) {
	n := rs[0].Shard.Count
	seen := make([]string, n)
	for _, r := range rs {
		s := r.Shard
		if s.Count != n {
			return Record{}, fmt.Errorf("%s is shard %d of %d, %s of %d: different plans", r.File, s.Index, s.Count, rs[0].File, n)
		}
		if s.Index < 0 || s.Index >= n {
			return Record{}, fmt.Errorf("%s: shard index %d out of 0..%d", r.File, s.Index, n-1)
		}
		if seen[s.Index] != "" {
			return Record{}, fmt.Errorf("shard %d of %d twice (%s and %s)", s.Index, n, seen[s.Index], r.File)
		}
		seen[s.Index] = r.File
		if r.WarmupS != rs[0].WarmupS || r.PayloadBytes != rs[0].PayloadBytes {
			return Record{}, fmt.Errorf("%s and %s ran with different parameters (warmup, payload)", r.File, rs[0].File)
		}
	}
	var missing []string
	for i, f := range seen {
		if f == "" {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		return Record{}, fmt.Errorf("shards %s of %d missing", strings.Join(missing, ", "), n)
	}
	slices.SortFunc(rs, func(a, b Record) int { return a.Shard.Index - b.Shard.Index })
	m := rs[0]
	if rs[0].Shard != nil {
		m.mergeOpenedAt = rs[0].Shard.OpenedAt
	}
	m.Shard, m.File = nil, ""
	m.Errors = maps.Clone(rs[0].Errors)
	for _, r := range rs[1:] {
		if err := addShard(&m, r); err != nil {
			return Record{}, err
		}
	}
	m.mergeOpenedAt = time.Time{}
	return m, nil
}

// addShard adds shard r into the merged record m.
func addShard(m *Record, r Record) error {
	m.Conns += r.Conns
	m.Messages += r.Messages
	m.DrainMessages += r.DrainMessages
	m.LatencyLowerBounds += r.LatencyLowerBounds
	m.ThroughputMsgsPerS += r.ThroughputMsgsPerS
	m.ThroughputBytesPerS += r.ThroughputBytesPerS
	m.DurationS = max(m.DurationS, r.DurationS)
	m.ClientCPUS += r.ClientCPUS
	m.Integrity.Add(r.Integrity)
	for k, v := range r.Errors {
		m.Errors[k] += v
	}
	m.CloseCodes = addCounts(m.CloseCodes, r.CloseCodes)
	m.Connect.Attempted += r.Connect.Attempted
	m.Connect.Established += r.Connect.Established
	m.Connect.Failed += r.Connect.Failed
	m.Connect.RatePerS += r.Connect.RatePerS
	m.Connect.TargetRatePerS += r.Connect.TargetRatePerS
	m.Close.Clean += r.Close.Clean
	m.Close.Abrupt += r.Close.Abrupt
	if a, b := m.Accounting, r.Accounting; a != nil && b != nil {
		x := *a
		x.Due += b.Due
		x.Answered += b.Answered
		x.AnsweredLate += b.AnsweredLate
		x.NeverSent += b.NeverSent
		x.NeverAnswered += b.NeverAnswered
		x.GaveUpAfterS = max(x.GaveUpAfterS, b.GaveUpAfterS)
		m.Accounting = &x
	}
	var err error
	if m.Latency, err = addLatency(m.Latency, r.Latency); err != nil {
		return err
	}
	if m.Handshake, err = addLatency(m.Handshake, r.Handshake); err != nil {
		return err
	}
	if m.ServiceTime != nil && r.ServiceTime != nil {
		s, err := addLatency(*m.ServiceTime, *r.ServiceTime)
		if err != nil {
			return err
		}
		m.ServiceTime = &s
	}
	if o, p := m.OpenLoop, r.OpenLoop; o != nil && p != nil {
		x := *o
		x.TargetRate += p.TargetRate
		x.AchievedRate += p.AchievedRate
		x.Sent += p.Sent
		x.BehindSchedule += p.BehindSchedule
		if x.SendLateness, err = addLatency(o.SendLateness, p.SendLateness); err != nil {
			return err
		}
		m.OpenLoop = &x
	}
	// The server side is one server seen by every shard over one window:
	// shard 0's reading stands for all, per message of them all.
	if m.ServerCPUS != nil && m.Messages > 0 {
		perM := *m.ServerCPUS / float64(m.Messages) * 1e6
		m.ServerCPUPerMillion = &perM
	}
	if h, g := m.Heartbeat, r.Heartbeat; h != nil && g != nil {
		x := *h
		x.Pings += g.Pings
		x.Pongs += g.Pongs
		x.Missed += g.Missed
		x.ClosedByServer += g.ClosedByServer
		x.StayedUp += g.StayedUp
		m.Heartbeat = &x
	}
	if m.ClientCPUPerMillion = 0; m.Messages > 0 {
		m.ClientCPUPerMillion = m.ClientCPUS / float64(m.Messages) * 1e6
	}
	m.Series = addSeries(m.Series, shiftSeries(r.Series, secondsApart(m.mergeOpenedAt, r)))
	if r.Status != StatusOK && (m.Status == StatusOK || r.Status == StatusFailed) {
		m.Status, m.Reason = r.Status, fmt.Sprintf("shard %d: %s", r.Shard.Index, r.Reason)
	}
	if r.Shard.LateS > 0 {
		m.Reason = strings.TrimPrefix(m.Reason+fmt.Sprintf("; shard %d missed --start-at by %.3fs", r.Shard.Index, r.Shard.LateS), "; ")
	}
	return nil
}

// secondsApart is how many whole seconds after the first shard's window
// shard r's opened, by their clocks (0 with --start-at).
func secondsApart(first time.Time, r Record) int {
	if first.IsZero() || r.Shard == nil || r.Shard.OpenedAt.IsZero() {
		return 0
	}
	return int(math.Round(r.Shard.OpenedAt.Sub(first).Seconds()))
}

// shiftSeries moves a series by k seconds (k > 0: later), so that series
// of shards are added by wall-clock second.
func shiftSeries(s []Second, k int) []Second {
	if k == 0 || len(s) == 0 {
		return s
	}
	out := make([]Second, 0, len(s)+max(k, 0))
	for range max(k, 0) {
		out = append(out, Second{})
	}
	if k < 0 {
		if -k >= len(s) {
			return nil
		}
		s = s[-k:]
	}
	return append(out, s...)
}

// addLatency adds two summaries through their histograms.
func addLatency(a, b Latency) (Latency, error) {
	switch {
	case b.Count == 0 && b.Hist == "":
		return a, nil
	case a.Count == 0 && a.Hist == "":
		return b, nil
	}
	ha, err := a.Histogram()
	if err != nil {
		return a, err
	}
	hb, err := b.Histogram()
	if err != nil {
		return a, err
	}
	if dropped := ha.Merge(hb); dropped > 0 {
		return a, fmt.Errorf("%d values out of range when merging histograms", dropped)
	}
	return NewLatency(ha, a.Clamped+b.Clamped)
}

func addCounts(a, b map[string]uint64) map[string]uint64 {
	if len(b) == 0 {
		return a
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]uint64{}
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// addSeries adds two per-second series second by second: messages and
// rates summed. A second's p99 cannot be added without its histogram, so
// the merged series keeps counts only (p99 0).
func addSeries(a, b []Second) []Second {
	out := make([]Second, max(len(a), len(b)))
	for i := range out {
		var x, y Second
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		out[i] = Second{T: max(x.T, y.T), Messages: x.Messages + y.Messages, MsgsPerS: x.MsgsPerS + y.MsgsPerS,
			Latencies: x.Latencies + y.Latencies, BrokenConn: x.BrokenConn + y.BrokenConn}
	}
	return out
}
