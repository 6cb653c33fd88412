package report

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/measure"
)

func sampleRecord(t *testing.T, server string, run int) Record {
	t.Helper()
	h := measure.NewHistogram()
	for v := int64(10); v <= 1000; v++ {
		_ = h.RecordValue(v)
	}
	lat, err := NewLatency(h, 0)
	if err != nil {
		t.Fatal(err)
	}
	cpu, rss, per := 1.5, uint64(20<<20), 12345.0
	return Record{
		Scenario: "echo", Mode: "closed-loop", Server: server, Driver: "gobwas", Conns: 10, PayloadBytes: 1024,
		Run: run, Status: StatusOK, StartedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		DurationS: 1, Messages: 991, ThroughputMsgsPerS: 991, ThroughputBytesPerS: 991 * 1024,
		Errors: map[string]uint64{}, Latency: lat, Handshake: lat,
		ServerCPUS: &cpu, ServerRSSPeakBytes: &rss, ServerRSSMeanBytes: &rss, ServerMemPerConnBytes: &per,
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	res := &Result{Schema: Schema, CreatedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		Command:     []string{"wsbench", "run"},
		Environment: Environment{GoVersion: "go1.26", Libraries: map[string]string{"github.com/gorilla/websocket": "v1.5.3"}},
		Records:     []Record{sampleRecord(t, "gorilla", 1), sampleRecord(t, "coder", 1)}}
	if err := Save(filepath.Join(t.TempDir(), "missing", "r.json"), res); err == nil {
		t.Fatal("Save created a missing folder; want an error")
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := Save(path, res); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res) {
		t.Fatalf("loaded result differs:\n got %+v\nwant %+v", back, res)
	}
	h, err := back.Records[0].Latency.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalCount() != 991 || h.ValueAtQuantile(50) != back.Records[0].Latency.P50 {
		t.Fatalf("decoded histogram: count %d p50 %d, want 991 and %d", h.TotalCount(), h.ValueAtQuantile(50), back.Records[0].Latency.P50)
	}
	if st, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Fatalf("saved file has mode %v, want 0644 (results are shared)", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("save left %d files behind, want only the result", len(entries))
	}
}

func TestLoadRejectsOtherSchemas(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"schema":"wsbench/v0","records":[]}`), 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "wsbench/v0") {
		t.Fatalf("want a schema error naming wsbench/v0, got %v", err)
	}
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`not json`), 0o644)
	if _, err := Load(junk); err == nil {
		t.Fatal("want an error for a file that is not JSON")
	}
}

func TestRenderTable(t *testing.T) {
	target := sampleRecord(t, "target", 1)
	target.ServerCPUS, target.ServerRSSPeakBytes, target.ServerRSSMeanBytes, target.ServerMemPerConnBytes = nil, nil, nil, nil
	faulty := sampleRecord(t, "coder", 1)
	faulty.Integrity = measure.Integrity{Sent: 100, Received: 97, Lost: 1, Duplicated: 2, Corrupt: 2}
	failed := Record{Scenario: "echo", Mode: "closed-loop", Server: "gobwas", Driver: "gobwas", Conns: 10,
		PayloadBytes: 1024, Run: 1, Status: StatusFailed, Reason: "server gobwas did not start: boom"}
	res := &Result{Schema: Schema, Records: []Record{sampleRecord(t, "gorilla", 1), faulty, failed, target}}
	var buf bytes.Buffer
	if err := RenderWith(&buf, res, Table, Options{Wide: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"echo · closed loop · 10 conns · 1024 B binary messages",
		"p50", "p99.9", "handshake p99", "mem/conn (ΔRSS÷conns)",
		"n/a",                      // the target's unknown server-side figures
		"lost 1, dup 2, corrupt 2", // integrity counted separately
		"coder !", "gobwas !",      // marked rows
		"server gobwas did not start: boom",
		"Closed loop:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "P 50") {
		t.Error("header auto-format mangled p50")
	}
}

func TestRenderMarkdownAndCSV(t *testing.T) {
	res := &Result{Schema: Schema, Records: []Record{sampleRecord(t, "gorilla", 1), sampleRecord(t, "gorilla", 2)}}
	var md bytes.Buffer
	if err := Render(&md, res, Markdown); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(md.String(), "\n")
	if !strings.HasPrefix(lines[0], "### echo") {
		t.Fatalf("markdown starts %q, want a ### heading", lines[0])
	}
	var tableLines int
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			tableLines++
		}
	}
	// two tables of header + separator + two runs, and the spread table
	// of header + separator + one server
	if tableLines != 11 {
		t.Fatalf("markdown has %d table lines, want 11:\n%s", tableLines, md.String())
	}
	var c bytes.Buffer
	if err := Render(&c, res, CSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || len(rows[0]) != len(csvHeader) {
		t.Fatalf("csv: %d rows of %d columns, want 3 of %d", len(rows), len(rows[0]), len(csvHeader))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if rows[2][col["run"]] != "2" || rows[1][col["p50_us"]] != "505" {
		t.Fatalf("csv row values: run %q p50 %q", rows[2][col["run"]], rows[1][col["p50_us"]])
	}
}

// TestBatchStallsMarkTheRow: a pipelined cell whose batch waits the
// generator cut short is marked, and its note says what that did to the
// latency and what to run instead; one without keeps no mark.
func TestBatchStallsMarkTheRow(t *testing.T) {
	pipelined := func(server string, stalls float64) Record {
		r := sampleRecord(t, server, 1)
		r.Labels = map[string]string{"inflight": "8"}
		r.Messages, r.DrainMessages = 79_000, 1_000 // 10,000 batches
		r.Figures = map[string]float64{batchStalls: stalls}
		return r
	}
	clean, few, stalled := sampleRecord(t, "gorilla", 1), pipelined("gws", 99), pipelined("gobwas", 1234)
	if clean.Marked() || few.Marked() || !stalled.Marked() {
		t.Fatalf("marked: none %v, 1%% less one %v, 12%% %v; want false, false, true", clean.Marked(), few.Marked(), stalled.Marked())
	}
	var out bytes.Buffer
	if err := Render(&out, &Result{Schema: Schema, Records: []Record{clean, stalled}}, Table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gobwas !", "1,234 of about 10,000 batch waits were cut short", "--driver gorilla"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseFormat(t *testing.T) {
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "markdown") {
		t.Fatalf("want an error listing the formats, got %v", err)
	}
}

func TestFormatting(t *testing.T) {
	cases := map[string]string{fmtUs(21): "21µs", fmtUs(1234): "1.23ms", fmtUs(2_500_000): "2.50s",
		fmtBytes(12800): "12.5 KiB", fmtCount(1234567): "1,234,567", fmtCount(12): "12"}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestRenderSpreadAcrossRuns(t *testing.T) {
	var recs []Record
	for run, tput := range []float64{900, 1000, 1300} {
		r := sampleRecord(t, "gorilla", run+1)
		r.ThroughputMsgsPerS = tput
		recs = append(recs, r)
	}
	failed := sampleRecord(t, "gorilla", 4)
	failed.Status, failed.ThroughputMsgsPerS = StatusFailed, 99999
	recs = append(recs, failed)
	var buf bytes.Buffer
	if err := Render(&buf, &Result{Schema: Schema, Records: recs}, Table); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"across runs: median [min–max]", "3 of 4", "1,000 [900–1,300]", "505µs"} {
		if !strings.Contains(out, want) {
			t.Errorf("spread table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "99,999 [") {
		t.Error("a failed run's numbers must not enter the spread")
	}
	if got := spreadCell([]float64{4, 1, 3, 2}, func(v float64) string { return trimFloat(v) }); got != "2.50 [1.00–4.00]" {
		t.Errorf("spreadCell even count = %q", got)
	}
}
