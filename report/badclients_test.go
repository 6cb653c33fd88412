package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/badclients"
)

// badRecord is a cell of a --bad-clients pair against server: spec "none"
// for the clean one.
func badRecord(t *testing.T, server, spec string, p99 int64, tput float64, series ...uint64) Record {
	t.Helper()
	r := Record{Scenario: "echo", Mode: "open-loop", Server: server, Driver: "gobwas", Conns: 100, PayloadBytes: 1024,
		Status: StatusOK, Messages: uint64(tput * 2), DurationS: 2, ThroughputMsgsPerS: tput, BadClients: &BadClients{Spec: spec}}
	r.Latency.P99 = p99
	if spec != "none" { // its bad clients connected and misbehaved
		kind, _, _ := strings.Cut(spec, "=")
		r.BadClients.Kinds = []BadKind{{Kind: kind, Clients: 1, Open: 1}}
	}
	for i, n := range series {
		r.Series = append(r.Series, Second{T: float64(i + 1), Messages: n})
	}
	return r
}

// TestBadVerdictsPairEachBadCellWithItsCleanOnes: three clean and three
// bad runs of two servers; the verdict of each server is its own, the
// worst bad run speaks for the pair, and a second without a message is a
// stall only where the clean cells never had one.
func TestBadVerdictsPairEachBadCellWithItsCleanOnes(t *testing.T) {
	var rs []Record
	for _, p99 := range []int64{1000, 1100, 1050} {
		rs = append(rs, badRecord(t, "calm", "none", p99, 5000, 5000, 5000), badRecord(t, "calm", "trickle=20", p99+20, 4990, 5000, 4990))
		rs = append(rs, badRecord(t, "fragile", "none", p99, 5000, 5000, 5000))
	}
	rs = append(rs, badRecord(t, "fragile", "trickle=20", 1000, 5000, 5000, 5000), badRecord(t, "fragile", "trickle=20", 3000, 2500, 5000, 0))
	vs := BadVerdicts(rs)
	if len(vs) != 2 {
		t.Fatalf("%d verdicts, want one per server: %+v", len(vs), vs)
	}
	for _, v := range vs {
		want := map[string]badclients.Class{"calm": badclients.Unaffected, "fragile": badclients.Stalled}[v.Server]
		if v.Verdict.Class != want || v.Clean != 3 {
			t.Errorf("%s: %s over %d clean cells (%s), want %s over 3", v.Server, v.Verdict.Class, v.Clean, v.Verdict.Reason, want)
		}
	}
	var buf bytes.Buffer
	if err := RenderBadVerdicts(&buf, &Result{Records: rs}, true); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "bad clients trickle=20: what they did") || !strings.Contains(out, "| fragile | stalled    |") ||
		!strings.Contains(out, "| calm    | unaffected |") || !strings.Contains(out, "fragile: good clients made no progress") {
		t.Errorf("verdict table:\n%s", out)
	}
}

// TestMergedBadClientsAddTheShards: two shards' bad clients of one kind
// merge into one kind with summed counts and one drop-time distribution
// holding both shards' drops; the server footprint is dropped by name.
func TestMergedBadClientsAddTheShards(t *testing.T) {
	drops := func(us ...int64) *Latency {
		h := hdrhistogram.New(1, 3_600_000_000, 3)
		for _, v := range us {
			_ = h.RecordValue(v)
		}
		l, err := NewLatency(h, 0)
		if err != nil {
			t.Fatal(err)
		}
		return &l
	}
	a := Record{Shard: &Shard{Index: 0, Count: 2}, BadClients: &BadClients{Spec: "idle-tcp=3", Server: &BadFootprint{},
		Kinds: []BadKind{{Kind: "idle-tcp", Clients: 2, EOF: 2, DropTime: drops(5_000_000, 5_000_000)}}}}
	b := Record{Shard: &Shard{Index: 1, Count: 2}, BadClients: &BadClients{Spec: "idle-tcp=3",
		Kinds: []BadKind{{Kind: "idle-tcp", Clients: 1, Reset: 1, ClosedByCode: map[string]int{"1002": 0}, DropTime: drops(9_000_000)}}}}
	m, dropped, err := mergeBadClients([]Record{a, b})
	if err != nil {
		t.Fatal(err)
	}
	k := m.Kinds[0]
	if len(m.Kinds) != 1 || k.Clients != 3 || k.EOF != 2 || k.Reset != 1 || k.Dropped() != 3 || k.DropTime.Count != 3 || k.DropTime.Max < 8_900_000 {
		t.Errorf("merged %+v, drop time %+v", m.Kinds, k.DropTime)
	}
	if len(dropped) != 1 || dropped[0] != "bad_clients.server" || m.Server != nil {
		t.Errorf("dropped %v, server %+v", dropped, m.Server)
	}
	b.BadClients.Spec = "idle-tcp=4"
	if _, _, err := mergeBadClients([]Record{a, b}); err == nil {
		t.Error("shards with different specs merged")
	}
}

func TestGrowthPerBadClient(t *testing.T) {
	g := Growth(ServerFootprint{RSSBytes: 10 << 20, Goroutines: 10, OpenFiles: 20}, ServerFootprint{RSSBytes: 12 << 20, Goroutines: 410, OpenFiles: 220}, 200)
	if g.RSSBytes != 10485.76 || g.Goroutines != 2 || g.OpenFiles != 1 {
		t.Errorf("growth %+v", g)
	}
	if (Growth(ServerFootprint{}, ServerFootprint{RSSBytes: 1}, 0) != FootprintDelta{}) {
		t.Error("growth over no clients")
	}
}

// TestBadCellsWhoseBadClientsNeverMisbehavedJudgeNothing: a pair whose
// bad clients could not start, or all failed to connect, ran good clients
// only; its good figures must not read unaffected.
func TestBadCellsWhoseBadClientsNeverMisbehavedJudgeNothing(t *testing.T) {
	var rs []Record
	for range 3 {
		rs = append(rs, badRecord(t, "xnet", "none", 1000, 5000, 5000, 5000))
	}
	failed := badRecord(t, "xnet", "deflate-bomb=1", 1000, 5000, 5000, 5000)
	failed.BadClients.Kinds = []BadKind{{Kind: "deflate-bomb", Clients: 1, Failed: 1, Errors: map[string]int{"handshake: deflate not negotiated": 1}}}
	refused := badRecord(t, "gorilla", "idle-tcp=2", 1000, 5000, 5000, 5000)
	refused.BadClients.Error = "wss:// is not supported"
	for range 3 {
		rs = append(rs, badRecord(t, "gorilla", "none", 1000, 5000, 5000, 5000))
	}
	rs = append(rs, failed, refused)
	for _, v := range BadVerdicts(rs) {
		if v.Verdict.Class != NotMeasured || !strings.Contains(v.Verdict.Reason, "misbehave") && !strings.Contains(v.Verdict.Reason, "did not start") {
			t.Errorf("%s %s: %s (%s), want %s", v.Server, v.Spec, v.Verdict.Class, v.Verdict.Reason, NotMeasured)
		}
	}
}

// TestBadVerdictTableFitsATerminal: the long spec of one run goes in the
// title, not a column, and the table and its lines stay within the
// terminal's width.
func TestBadVerdictTableFitsATerminal(t *testing.T) {
	const spec = "trickle=20:1s,stalled-upgrade=200,idle-tcp=200"
	var rs []Record
	for _, srv := range []string{"gobwas-epoll", "gorilla"} {
		clean := badRecord(t, srv, "none", 1000, 5000, 5000, 5000)
		bad := badRecord(t, srv, spec, 3000, 5000, 5000, 5000)
		bad.BadClients.Server = &BadFootprint{PerClient: FootprintDelta{RSSBytes: 10342, Goroutines: 0.853, OpenFiles: 1}}
		bad.BadClients.Kinds[0].ClosedByCode = map[string]int{"1009": 20}
		rs = append(rs, clean, bad)
	}
	var buf bytes.Buffer
	if err := RenderBadVerdicts(&buf, &Result{Records: rs}, false); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if n := len([]rune(line)); n > TableWidth {
			t.Errorf("%d columns, more than %d:\n%s", n, TableWidth, line)
		}
	}
	if !strings.Contains(buf.String(), spec) || !strings.Contains(buf.String(), "0.85 goroutines") {
		t.Errorf("table:\n%s", buf.String())
	}
}
