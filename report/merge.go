package report

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/profile"
)

// Merge adds the shards of every cell into one record each, exactly or
// not at all: histograms added (never percentiles averaged), counts, rates
// and errors summed, per-second series and timelines added by wall-clock
// time from the first shard's window, a scenario's own figures as its
// profile declares (profile.Figure: summed, maximum, or recomputed from the
// merged distribution), and what has no exact merge left out and named in
// Merged.Dropped and the reason, never taken from one shard. The merged
// record is judged again (ApplyVerdict) from its totals, as one process
// measuring them all would be; a shard whose cell failed fails it. Records
// must be shards of one plan (checkPlan): records that are not shards,
// shards of another plan or the same shard twice are refused, naming why,
// and a missing shard is named. The result is a normal result file.
func Merge(results []*Result, names []string) (*Result, error) {
	if len(results) == 0 {
		return nil, errors.New("merge: no files")
	}
	if err := checkPlan(results, names); err != nil {
		return nil, err
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
			r.File = fileName(names, fi)
			k := key{r.Shard.Cell, r.Run}
			if k.cell == "" { // a file from before shards named their cell
				k.cell = shardlessKey(r)
			}
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

// checkPlan refuses what is not the shards of one plan, naming why: a
// file without shards (merging it would only repeat its runs, as `merge
// a.json a.json` once did), records that are not shards beside ones that
// are, shards of different counts, start instants or cells. Each shard
// given once is mergeShards' to check, cell by cell, as is a missing one.
func checkPlan(results []*Result, names []string) error {
	type shardOf struct {
		file  string
		shard Shard
		cells map[string]bool
	}
	var first *shardOf
	byIndex := map[int]*shardOf{}
	var indexes []int
	for fi, res := range results {
		name := fileName(names, fi)
		if len(res.Records) == 0 {
			return fmt.Errorf("%s has no records: nothing of a shard to merge", name)
		}
		plain := 0
		for _, r := range res.Records {
			if r.Shard == nil || r.Shard.Count <= 1 {
				plain++
			}
		}
		switch {
		case plain == len(res.Records):
			return fmt.Errorf("%s holds no shards (it was not run with --shard I/N): merge adds up the shards of one sharded run; "+
				"to show runs side by side, wsbench report takes several files", name)
		case plain > 0:
			return fmt.Errorf("%s holds %d records that are not shards beside shards of a sharded run: not the output of one shard", name, plain)
		}
		for _, r := range res.Records {
			s := *r.Shard
			cell := s.Cell
			if cell == "" {
				cell = shardlessKey(r)
			}
			if first == nil {
				first = &shardOf{file: name, shard: s}
			}
			switch {
			case s.Count != first.shard.Count:
				return fmt.Errorf("%s is shard %d of %d and %s shard %d of %d: shards of different plans", name, s.Index, s.Count,
					first.file, first.shard.Index, first.shard.Count)
			case !s.StartAt.Equal(first.shard.StartAt):
				return fmt.Errorf("%s waited for --start-at %s and %s for %s: shards of different runs (the shards of one share one start)",
					name, startAt(s.StartAt), first.file, startAt(first.shard.StartAt))
			}
			if s.Index < 0 || s.Index >= s.Count {
				return fmt.Errorf("%s: shard index %d out of 0–%d", name, s.Index, s.Count-1)
			}
			o := byIndex[s.Index]
			if o == nil {
				o = &shardOf{file: name, shard: s, cells: map[string]bool{}}
				byIndex[s.Index] = o
				indexes = append(indexes, s.Index)
			}
			o.cells[cell] = true
		}
	}
	// Every shard of a plan measures the same cells (a failed cell still
	// has its record, named by Shard.Cell).
	a := byIndex[indexes[0]]
	for _, i := range indexes[1:] {
		b := byIndex[i]
		for _, x := range [][2]*shardOf{{a, b}, {b, a}} {
			for cell := range x[0].cells {
				if !x[1].cells[cell] {
					return fmt.Errorf("%s (shard %d of %d) measured %s, which %s (shard %d of %d) did not: shards of different plans",
						x[0].file, x[0].shard.Index, x[0].shard.Count, cell, x[1].file, x[1].shard.Index, x[1].shard.Count)
				}
			}
		}
	}
	return nil
}

func startAt(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.Format(time.RFC3339Nano)
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
			return Record{}, fmt.Errorf("shard %d (of 0–%d) given twice (%s and %s): each shard's file once", s.Index, n-1, seen[s.Index], r.File)
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
		// Indexes, not "2 of 3": shard 2 is the third of 0–2.
		what := "shard " + missing[0]
		if len(missing) > 1 {
			what = "shards " + strings.Join(missing, ", ")
		}
		return Record{}, fmt.Errorf("%s (of 0–%d) missing: merge needs every shard's file", what, n-1)
	}
	slices.SortFunc(rs, func(a, b Record) int { return a.Shard.Index - b.Shard.Index })
	mg := &Merged{Shards: n}
	// The server's own count of compressed connections (a reference
	// server's) is of one server read by each shard at its own moment: no
	// sum of them is exact, so it is dropped below.
	for _, r := range rs {
		if t := r.Shard.OpenedAt; !t.IsZero() && (mg.OpenedAt.IsZero() || t.Before(mg.OpenedAt)) {
			mg.OpenedAt = t
		}
	}
	m := rs[0]
	m.Shard, m.File, m.Merged = nil, "", mg
	m.Errors = maps.Clone(rs[0].Errors)
	if m.Errors == nil {
		m.Errors = map[string]uint64{}
	}
	for _, r := range rs[1:] {
		if err := addShard(&m, r); err != nil {
			return Record{}, err
		}
	}
	if slices.ContainsFunc(rs, func(r Record) bool { return r.Compression != nil && r.Compression.ServerCounted != nil }) {
		c := *m.Compression // a copy: it may still be a shard's
		c.ServerCounted = nil
		m.Compression = &c
		mg.Dropped = append(mg.Dropped, "compression.server_counted")
	}
	var err error
	var dropped []string
	m.Series, dropped = mergeSeries(rs, mg.OpenedAt)
	mg.Dropped = append(mg.Dropped, dropped...)
	if dropped, err = mergeOwn(&m, rs, mg.OpenedAt); err != nil {
		return Record{}, err
	}
	mg.Dropped = append(mg.Dropped, dropped...)
	if m.Client, err = mergeClient(rs, mg); err != nil {
		return Record{}, err
	}
	m.Fault = mergeFault(rs, mg.OpenedAt)
	if m.BadClients, dropped, err = mergeBadClients(rs); err != nil {
		return Record{}, err
	}
	mg.Dropped = append(mg.Dropped, dropped...)
	for _, r := range rs {
		if l := r.Shard.LateS; l > 0 {
			mg.Late = append(mg.Late, fmt.Sprintf("shard %d by %.3fs", r.Shard.Index, l))
			mg.LateS = max(mg.LateS, l)
		}
	}
	judgeMerged(&m, rs)
	return m, nil
}

// addShard adds shard r into the merged record m: the sections every
// scenario shares. A section only some shards have (a shard that failed
// before measuring has none) is taken from those that do.
func addShard(m *Record, r Record) error {
	m.Messages += r.Messages
	m.DrainMessages += r.DrainMessages
	m.LatencyLowerBounds += r.LatencyLowerBounds
	m.ThroughputMsgsPerS += r.ThroughputMsgsPerS
	m.ThroughputBytesPerS += r.ThroughputBytesPerS
	m.DurationS = max(m.DurationS, r.DurationS)
	// Per connection, the client's memory is every generator's growth
	// over every connection: each shard's figure weighted by its share.
	if conns := m.Conns + r.Conns; conns > 0 {
		m.ClientHeapPerConnBytes = (m.ClientHeapPerConnBytes*float64(m.Conns) + r.ClientHeapPerConnBytes*float64(r.Conns)) / float64(conns)
		m.ClientMemPerConnBytes = (m.ClientMemPerConnBytes*float64(m.Conns) + r.ClientMemPerConnBytes*float64(r.Conns)) / float64(conns)
	}
	m.Conns += r.Conns
	m.ClientCPUS += r.ClientCPUS
	m.ClientCPUUtil = max(m.ClientCPUUtil, r.ClientCPUUtil) // the busiest generator; each is in Merged.Clients
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
	m.Connect.DurationS = max(m.Connect.DurationS, r.Connect.DurationS)
	m.Connect.CloseDurationS = max(m.Connect.CloseDurationS, r.Connect.CloseDurationS)
	m.Close.Clean += r.Close.Clean
	m.Close.Abrupt += r.Close.Abrupt
	switch a, b := m.Accounting, r.Accounting; {
	case a == nil:
		m.Accounting = b
	case b != nil:
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
	if m.ServiceTime, err = addLatencyPtr(m.ServiceTime, r.ServiceTime); err != nil {
		return err
	}
	if m.HandshakeService, err = addLatencyPtr(m.HandshakeService, r.HandshakeService); err != nil {
		return err
	}
	switch o, p := m.OpenLoop, r.OpenLoop; {
	case o == nil:
		m.OpenLoop = p
	case p != nil:
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
	switch c, d := m.Compression, r.Compression; {
	case c == nil:
		m.Compression = d
	case d != nil:
		x := *c
		x.Offered = c.Offered && d.Offered
		x.NegotiatedConns += d.NegotiatedConns
		m.Compression = &x
	}
	// The server side is one server seen by every shard over one window:
	// shard 0's reading stands for all, per message of them all.
	if m.ServerCPUS != nil && m.Messages > 0 {
		perM := *m.ServerCPUS / float64(m.Messages) * 1e6
		m.ServerCPUPerMillion = &perM
	}
	switch h, g := m.Heartbeat, r.Heartbeat; {
	case h == nil:
		m.Heartbeat = g
	case g != nil:
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
	return nil
}

// judgeMerged sets the merged record's status: failed (or interrupted)
// when a shard's cell was, naming the shards; otherwise judged again from
// the merged totals, as one process measuring them all would be. What
// could not be merged is named after the verdict's reasons.
func judgeMerged(m *Record, rs []Record) {
	var broken []string
	status := ""
	for _, r := range rs {
		switch r.Status {
		case StatusFailed:
			status = StatusFailed
		case StatusInterrupted:
			if status == "" {
				status = StatusInterrupted
			}
		default:
			continue
		}
		broken = append(broken, fmt.Sprintf("shard %d of %d %s: %s", r.Shard.Index, r.Shard.Count, r.Status, r.Reason))
	}
	if status != "" {
		m.Status, m.Reason = status, strings.Join(broken, "; ")
	} else {
		m.Status, m.Reason = StatusOK, ""
		ApplyVerdict(m)
	}
	if d := m.Merged.Dropped; len(d) > 0 {
		m.Reason = strings.TrimPrefix(m.Reason+"; not merged (no exact merge across shards): "+strings.Join(d, ", "), "; ")
	}
}

// offset is how many whole steps of step seconds after the first shard's
// window (opened at first) shard r's opened, by their clocks (0 with
// --start-at; never negative, first being the earliest).
func offset(first time.Time, r Record, step float64) int {
	if first.IsZero() || r.Shard == nil || r.Shard.OpenedAt.IsZero() || step <= 0 {
		return 0
	}
	return max(0, int(math.Round(r.Shard.OpenedAt.Sub(first).Seconds()/step)))
}

// mergeSeries adds the shards' per-second series second by wall-clock
// second from the first shard's window: messages, rates, latency counts
// and broken connections summed. A second's p99 cannot be added without
// its histogram, which is not kept, so it is left out (and named when a
// shard had one).
func mergeSeries(rs []Record, first time.Time) ([]Second, []string) {
	var out []Second
	p99 := false
	for _, r := range rs {
		k := offset(first, r, 1)
		for i, s := range r.Series {
			for len(out) <= i+k {
				out = append(out, Second{T: float64(len(out) + 1)})
			}
			x := &out[i+k]
			x.T = max(x.T, s.T+float64(k))
			x.Messages += s.Messages
			x.MsgsPerS += s.MsgsPerS
			x.Latencies += s.Latencies
			x.BrokenConn += s.BrokenConn
			p99 = p99 || s.P99Us > 0
		}
	}
	if p99 {
		return out, []string{"series.p99_us"}
	}
	return out, nil
}

// measured reports whether a shard got as far as its scenario's own
// figures: a shard that failed before has none, and adds nothing to them.
func measured(r Record) bool {
	return r.Figures != nil || r.Distributions != nil || r.Timeline != nil
}

// mergeOwn merges a scenario's own figures, distributions, labels and
// timeline by its profile's declarations, and returns what it left out.
func mergeOwn(m *Record, rs []Record, first time.Time) ([]string, error) {
	var got []Record
	for _, r := range rs {
		if measured(r) {
			got = append(got, r)
		}
	}
	m.Figures, m.Distributions, m.Labels, m.Timeline = nil, nil, nil, nil
	if len(got) == 0 {
		return nil, nil
	}
	prof := ProfileOf(rs[0])
	var dropped []string
	hists := map[string]*hdrhistogram.Histogram{}
	for _, name := range slices.Sorted(maps.Keys(unionKeys(got, func(r Record) map[string]Latency { return r.Distributions }))) {
		l := Latency{}
		whole := true
		for _, r := range got {
			d, ok := r.Distributions[name]
			if !ok {
				whole = false
				break
			}
			var err error
			if l, err = addLatency(l, d); err != nil {
				return nil, fmt.Errorf("distribution %s: %w", name, err)
			}
		}
		if !whole {
			dropped = append(dropped, "dist."+name)
			continue
		}
		if m.Distributions == nil {
			m.Distributions = map[string]Latency{}
		}
		m.Distributions[name] = l
		if l.Hist != "" {
			h, err := l.Histogram()
			if err != nil {
				return nil, fmt.Errorf("distribution %s: %w", name, err)
			}
			hists[name] = h
		}
	}
	figs := unionKeys(got, func(r Record) map[string]float64 { return r.Figures })
	for _, f := range prof.Figures {
		if f.Merge == profile.Recomputed && !strings.HasSuffix(f.Name, "*") {
			figs[f.Name] = 0 // known from the merged distribution even where no shard could tell it
		}
	}
	out := map[string]float64{}
	var recompute []profile.Figure
	for _, name := range slices.Sorted(maps.Keys(figs)) {
		f, ok := prof.FigureMerge(name)
		switch {
		case ok && f.Merge == profile.Summed:
			for _, r := range got {
				out[name] += r.Figures[name]
			}
		case ok && f.Merge == profile.Maximum:
			v, any := 0.0, false
			for _, r := range got {
				if x, ok := r.Figures[name]; ok && (!any || x > v) {
					v, any = x, true
				}
			}
			out[name] = v
		case ok && f.Merge == profile.Recomputed:
			f.Name = name
			recompute = append(recompute, f)
		default:
			dropped = append(dropped, "figure."+name)
		}
	}
	// Recomputed figures read the summed counts, so they come last.
	for _, f := range recompute {
		h, ok := hists[f.Dist]
		if !ok {
			dropped = append(dropped, "figure."+f.Name)
			continue
		}
		if v, ok := f.Recomputed(h, uint64(out[f.Beyond])); ok {
			out[f.Name] = v
		}
	}
	if len(out) > 0 {
		m.Figures = out
	}
	for _, name := range slices.Sorted(maps.Keys(unionKeys(got, func(r Record) map[string]string { return r.Labels }))) {
		v, same := got[0].Labels[name], true
		for _, r := range got[1:] {
			same = same && r.Labels[name] == v
		}
		if !same {
			dropped = append(dropped, "label."+name)
			continue
		}
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		m.Labels[name] = v
	}
	var d []string
	m.Timeline, d = mergeTimeline(got, first, prof, m.Conns)
	return append(dropped, d...), nil
}

// unionKeys is the set of keys of one map of every record.
func unionKeys[V any](rs []Record, of func(Record) map[string]V) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		for k := range of(r) {
			out[k] = 0
		}
	}
	return out
}

// mergeTimeline adds the shards' timelines interval by wall-clock
// interval from the first shard's window, each column as the profile
// declares; a column some shard lacks, or one declared not mergeable (or
// not declared), is left out and named.
func mergeTimeline(rs []Record, first time.Time, prof profile.Profile, conns int) (*measure.Timeline, []string) {
	var with []*measure.Timeline
	for _, r := range rs {
		if r.Timeline != nil {
			with = append(with, r.Timeline)
		}
	}
	if len(with) == 0 {
		return nil, nil
	}
	step := with[0].IntervalS
	if len(with) < len(rs) || slices.ContainsFunc(with, func(t *measure.Timeline) bool { return t.IntervalS != step }) {
		return nil, []string{"timeline"}
	}
	n := 0
	for _, r := range rs {
		n = max(n, offset(first, r, step)+len(r.Timeline.Points))
	}
	out := &measure.Timeline{IntervalS: step, Points: make([][]float64, n)}
	var dropped []string
	for _, name := range with[0].Names {
		f, ok := prof.TimelineMerge(name)
		everywhere := !slices.ContainsFunc(with, func(t *measure.Timeline) bool { return !slices.Contains(t.Names, name) })
		if !ok || !everywhere || (f.Merge != profile.Summed && f.Merge != profile.Maximum) {
			dropped = append(dropped, "timeline."+name)
			continue
		}
		col := make([]float64, n)
		for _, r := range rs {
			k := offset(first, r, step)
			for i, v := range r.Timeline.Column(name) {
				if f.Merge == profile.Maximum {
					col[i+k] = max(col[i+k], v)
				} else {
					col[i+k] += v
				}
			}
		}
		if f.AtMostConns {
			for i := range col {
				col[i] = min(col[i], float64(conns))
			}
		}
		out.Add(name, col)
	}
	for _, t := range with[1:] {
		for _, name := range t.Names {
			if !slices.Contains(with[0].Names, name) && !slices.Contains(dropped, "timeline."+name) {
				dropped = append(dropped, "timeline."+name)
			}
		}
	}
	return out, dropped
}

// mergeClient merges the load generators' self-checks: the merged record
// is client-bound when any shard was (each reason names its shard), with
// the busiest generator's CPU and GC pause and every generator's
// scheduling delays in one histogram. Each generator's own figures are
// kept in mg.Clients: N machines' CPU shares add up to no one share.
func mergeClient(rs []Record, mg *Merged) (*ClientGuard, error) {
	var out *ClientGuard
	for _, r := range rs {
		c := r.Client
		if c == nil {
			continue
		}
		sc := ShardClient{Index: r.Shard.Index, CPUs: c.CPUs, CPUUtil: c.CPUUtil, CPUS: r.ClientCPUS,
			HeapPerConnBytes: r.ClientHeapPerConnBytes, Bound: c.Bound, Rules: boundRules(r)}
		if c.SchedDelay.Count > 0 {
			sc.SchedP99Us = c.SchedDelay.P99
		}
		mg.Clients = append(mg.Clients, sc)
		if out == nil {
			out = &ClientGuard{CPUs: c.CPUs, CPUUtil: c.CPUUtil, GCPauseS: c.GCPauseS, SchedDelay: c.SchedDelay}
		} else {
			if c.CPUUtil > out.CPUUtil {
				out.CPUs, out.CPUUtil = c.CPUs, c.CPUUtil
			}
			out.GCPauseS = max(out.GCPauseS, c.GCPauseS)
			var err error
			if out.SchedDelay, err = addLatency(out.SchedDelay, c.SchedDelay); err != nil {
				return nil, fmt.Errorf("scheduling delay: %w", err)
			}
		}
		if c.Bound {
			out.Bound = true
			for _, why := range c.Reasons {
				out.Reasons = append(out.Reasons, fmt.Sprintf("shard %d: %s", r.Shard.Index, why))
			}
		}
	}
	return out, nil
}

// mergeFault is the fault shard 0 played (the only shard that acts on the
// server; the others recorded the same instant), its time counted from the
// first shard's window, with any other shard's error added.
func mergeFault(rs []Record, first time.Time) *Fault {
	var out *Fault
	var errs []string
	for _, r := range rs {
		f := r.Fault
		if f == nil {
			continue
		}
		if out == nil {
			x := *f
			x.ByShard0 = false
			if !first.IsZero() && !r.Shard.OpenedAt.IsZero() {
				x.AtS += r.Shard.OpenedAt.Sub(first).Seconds()
			}
			if r.Shard.Index != 0 {
				errs = append(errs, "shard 0, which plays the fault, has no record of it")
			}
			out = &x
		}
		if f.Error != "" && r.Shard.Index != 0 {
			errs = append(errs, fmt.Sprintf("shard %d: %s", r.Shard.Index, f.Error))
		}
	}
	if out != nil && len(errs) > 0 {
		out.Error = strings.TrimPrefix(out.Error+"; "+strings.Join(errs, "; "), "; ")
	}
	return out
}

func addLatencyPtr(a, b *Latency) (*Latency, error) {
	switch {
	case b == nil:
		return a, nil
	case a == nil:
		return b, nil
	}
	l, err := addLatency(*a, *b)
	return &l, err
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
