package report

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

// runsOf is one cell measured once per throughput given.
func runsOf(t *testing.T, server string, tputs ...float64) []Record {
	var rs []Record
	for i, v := range tputs {
		r := sampleRecord(t, server, i+1)
		r.ThroughputMsgsPerS = v
		rs = append(rs, r)
	}
	return rs
}

// rankColumn reads a table's rank and server columns, row by row.
func rankColumn(t *testing.T, p parsed) (ranks, servers []string) {
	t.Helper()
	ri, si := slices.Index(p.header, "#"), slices.Index(p.header, "server")
	if ri < 0 || si < 0 {
		t.Fatalf("table has no rank or server column: %q", p.header)
	}
	for _, row := range p.rows {
		ranks = append(ranks, row[ri])
		servers = append(servers, strings.TrimSuffix(row[si], " !"))
	}
	return ranks, servers
}

func renderText(t *testing.T, res *Result, f Format, wide bool) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderWith(&b, res, f, Options{Wide: wide}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRankingByHeadlineWithTiesFromTheSpread: rows come best first by the
// scenario's headline (closed-loop echo: msgs/s, highest first); cells
// whose ranges across runs overlap share a rank, shown "=N"; a tie does
// not chain on (coder overlaps gws, gws overlaps gorilla, but coder and
// gorilla are told apart); a cell that failed every run comes last,
// unranked.
func TestRankingByHeadlineWithTiesFromTheSpread(t *testing.T) {
	var recs []Record
	recs = append(recs, runsOf(t, "coder", 900, 1000, 1100)...)
	recs = append(recs, runsOf(t, "gorilla", 1150, 1250, 1300)...)
	recs = append(recs, runsOf(t, "gws", 1050, 1200, 1400)...)
	recs = append(recs, runsOf(t, "nbio", 2000, 2100, 2200)...)
	failed := runsOf(t, "gobwas", 5000, 5000, 5000)
	for i := range failed {
		failed[i].Status = StatusFailed
	}
	recs = append(recs, failed...)
	out := renderText(t, &Result{Schema: Schema, Records: recs}, Table, false)
	if !strings.Contains(out, "ranked by msgs/s, highest first; =N: a tie, the runs' ranges [min–max] overlap") {
		t.Errorf("no line says what the rows are ranked by and how ties read:\n%s", out)
	}
	tables := parseTables(out)
	ranks, servers := rankColumn(t, tables[2]) // the spread table
	wantRanks := []string{"1", "=2", "=2", "4", "-"}
	wantServers := []string{"nbio", "gorilla", "gws", "coder", "gobwas"}
	if !slices.Equal(ranks, wantRanks) || !slices.Equal(servers, wantServers) {
		t.Errorf("spread table ranks %v servers %v, want %v %v:\n%s", ranks, servers, wantRanks, wantServers, out)
	}
	// The per-run tables follow the same order, each cell's runs together.
	ranks, servers = rankColumn(t, tables[0])
	if servers[0] != "nbio" || servers[3] != "gorilla" || servers[12] != "gobwas" || ranks[0] != "1" || ranks[5] != "=2" {
		t.Errorf("per-run table out of rank order: %v %v", ranks, servers)
	}
	if _, s := rankColumn(t, tables[1]); !slices.Equal(s, servers) {
		t.Errorf("the cost table's rows are in another order: %v", s)
	}
	// The CSV keeps the file's order and says each row's rank.
	rows, err := csv.NewReader(strings.NewReader(renderText(t, &Result{Schema: Schema, Records: recs}, CSV, false))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, row := range rows[1:] {
		want := map[string]string{"coder": "4", "gorilla": "=2", "gws": "=2", "nbio": "1", "gobwas": "-"}[row[col["server"]]]
		if row[col["rank"]] != want || (want != "-" && row[col["ranked_by"]] != "throughput") {
			t.Errorf("csv %s run %s: rank %q by %q, want %q by throughput", row[col["server"]], row[col["run"]], row[col["rank"]], row[col["ranked_by"]], want)
		}
	}

	// Ranges apart: no tie.
	recs = append(runsOf(t, "coder", 900, 1000, 1100), runsOf(t, "gws", 1200, 1300, 1400)...)
	ranks, servers = rankColumn(t, parseTables(renderText(t, &Result{Schema: Schema, Records: recs}, Table, false))[2])
	if !slices.Equal(ranks, []string{"1", "2"}) || !slices.Equal(servers, []string{"gws", "coder"}) {
		t.Errorf("separate ranges: ranks %v servers %v", ranks, servers)
	}
}

// TestRankingOneRunSaysItCannotJudgeTies: with one run there is no spread,
// so only equal values tie, and the line under the title says so.
func TestRankingOneRunSaysItCannotJudgeTies(t *testing.T) {
	recs := append(runsOf(t, "coder", 1000), runsOf(t, "gorilla", 1000)...)
	recs = append(recs, runsOf(t, "gws", 999)...)
	out := renderText(t, &Result{Schema: Schema, Records: recs}, Table, false)
	ranks, servers := rankColumn(t, parseTables(out)[0])
	if !slices.Equal(ranks, []string{"=1", "=1", "3"}) || servers[2] != "gws" {
		t.Errorf("ranks %v servers %v", ranks, servers)
	}
	if !strings.Contains(out, "one run each, so no spread to judge ties by") {
		t.Errorf("no line says one run cannot show ties:\n%s", out)
	}
}

// TestRankingFollowsTheScenario: open-loop echo ranks by p99, lowest first
// (the rate is the same for all); a scenario's own figure ranks where its
// profile says (reconnect: recovery), falling back to the next declared
// metric when a row lacks the first; a client-bound table ranks by server
// CPU per message and shows that figure in its first table.
func TestRankingFollowsTheScenario(t *testing.T) {
	open := func(server string, p99 int64) Record {
		r := sampleRecord(t, server, 1)
		r.Mode, r.Latency.P99 = "open-loop", p99
		return r
	}
	out := renderText(t, &Result{Records: []Record{open("coder", 900), open("gws", 300), open("nbio", 600)}}, Table, false)
	if _, s := rankColumn(t, parseTables(out)[0]); !slices.Equal(s, []string{"gws", "nbio", "coder"}) || !strings.Contains(out, "ranked by p99 round-trip latency, lowest first") {
		t.Errorf("open loop: order %v:\n%s", s, out)
	}

	rec := func(server string, figs map[string]float64) Record {
		return Record{Scenario: "reconnect", Mode: "reconnect", Server: server, Driver: "gobwas", Conns: 20, Run: 1, Status: StatusOK,
			DurationS: 6, Messages: 100, Errors: map[string]uint64{}, Figures: figs}
	}
	both := []Record{
		rec("coder", map[string]float64{"recovered_50_s": 3, "recovered_99_s": 4.5}),
		rec("gorilla", map[string]float64{"recovered_50_s": 2, "recovered_99_s": 5}),
	}
	out = renderText(t, &Result{Records: both}, Table, false)
	if _, s := rankColumn(t, parseTables(out)[0]); !slices.Equal(s, []string{"coder", "gorilla"}) || !strings.Contains(out, "ranked by recover 99%, lowest first") {
		t.Errorf("reconnect by recover 99%%: %v:\n%s", s, out)
	}
	partial := append(both, rec("nbio", map[string]float64{"recovered_50_s": 1}))
	out = renderText(t, &Result{Records: partial}, Table, false)
	if _, s := rankColumn(t, parseTables(out)[0]); !slices.Equal(s, []string{"nbio", "gorilla", "coder"}) || !strings.Contains(out, "ranked by recover 50%") {
		t.Errorf("reconnect, one row not 99%% back: %v:\n%s", s, out)
	}

	cheap, costly := 5.0, 9.0
	fast := sampleRecord(t, "nbio", 1)
	fast.ThroughputMsgsPerS, fast.ServerCPUPerMillion = 2000, &costly
	fast.Client = &ClientGuard{CPUs: 2, CPUUtil: 0.97}
	fast.Client.Judge(fast.Latency)
	slow := sampleRecord(t, "gorilla", 1)
	slow.ThroughputMsgsPerS, slow.ServerCPUPerMillion = 1000, &cheap
	out = renderText(t, &Result{Records: []Record{fast, slow}}, Table, false)
	main := parseTables(out)[0]
	if _, s := rankColumn(t, main); !slices.Equal(s, []string{"gorilla", "nbio"}) {
		t.Errorf("client-bound table ranked %v, want by CPU per message:\n%s", s, out)
	}
	if !slices.Contains(main.header, "CPU s / 1M msgs") || !strings.Contains(out, "ranked by CPU s / 1M msgs, lowest first (server CPU per message") {
		t.Errorf("client-bound table does not name or show its ranking figure:\n%s", out)
	}
}
