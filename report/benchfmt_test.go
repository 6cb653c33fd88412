package report

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

// bfRecord is an echo record measured against a reference server.
func bfRecord(server string, run int, p50, p99, p999 int64, rate float64) Record {
	cpuPerM, perConn := 1.25, 20480.0
	return Record{
		Scenario: "echo", Mode: "closed-loop", Server: server, Driver: "gobwas", Conns: 1000, PayloadBytes: 1024,
		Run: run, Status: StatusOK, DurationS: 10, Messages: uint64(rate * 10), ThroughputMsgsPerS: rate,
		Latency:             Latency{Count: int64(rate * 10), P50: p50, P90: p99 - 1, P99: p99, P999: p999, Max: p999 + 1},
		ServerCPUPerMillion: &cpuPerM, ServerMemPerConnBytes: &perConn,
	}
}

// benchValues reads the benchmark lines of out, in order.
func benchResults(t *testing.T, out []byte) []*benchfmt.Result {
	t.Helper()
	rd := benchfmt.NewReader(bytes.NewReader(out), "wsbench.txt")
	var rs []*benchfmt.Result
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.Result:
			rs = append(rs, rec.Clone())
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt syntax error: %v\n%s", rec, out)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	return rs
}

// written is a value as written on the line, before benchfmt tidied it
// (ns → sec).
func written(v benchfmt.Value) (float64, string) {
	if v.OrigUnit != "" {
		return v.OrigValue, v.OrigUnit
	}
	return v.Value, v.Unit
}

// valueString lists a result's values as written, "v unit" each.
func valueString(r *benchfmt.Result) string {
	var parts []string
	for _, v := range r.Values {
		x, u := written(v)
		parts = append(parts, fmt.Sprintf("%g %s", x, u))
	}
	return strings.Join(parts, ", ")
}

func TestRenderBenchfmt(t *testing.T) {
	failed := bfRecord("coder", 1, 1, 1, 1, 1000)
	failed.Status, failed.Reason = StatusFailed, "server did not start"
	interrupted := bfRecord("coder", 2, 1, 1, 1, 1000)
	interrupted.Status = StatusInterrupted
	target := bfRecord("target", 1, 300, 900, 2000, 50_000)
	target.Target = "ws://example.test/echo"
	target.ServerCPUPerMillion, target.ServerMemPerConnBytes = nil, nil
	res := &Result{
		Schema: Schema,
		Environment: Environment{GOOS: "linux", GOARCH: "amd64", CPUModel: "AMD EPYC 7B13 64-Core Processor",
			GoVersion: "go1.26.8", WsbenchVersion: "v0.3.0", WsbenchCommit: "abc1234"},
		Records: []Record{
			bfRecord("gorilla", 1, 120, 800, 1500, 40_000),
			failed,
			bfRecord("gorilla", 2, 130, 900, 1700, 50_000),
			interrupted,
			target,
		},
	}
	var buf bytes.Buffer
	if err := Render(&buf, res, Benchfmt); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	rs := benchResults(t, out)
	if len(rs) != 3 {
		t.Fatalf("got %d benchmark lines, want 3 (failed and interrupted records left out):\n%s", len(rs), out)
	}
	for _, r := range rs {
		for k, want := range map[string]string{"goos": "linux", "goarch": "amd64", "cpu": "AMD EPYC 7B13 64-Core Processor",
			"wsbench-version": "abc1234", "go-version": "go1.26.8"} {
			if got := r.GetConfig(k); got != want {
				t.Errorf("config %s = %q, want %q", k, got, want)
			}
		}
	}

	const gorilla = "Echo/server=gorilla/driver=gobwas/conns=1000/payload=1024"
	for i, want := range []struct {
		name   string
		iters  int
		values string
	}{
		{gorilla, 400_000, "25000 ns/op, 120000 p50-ns, 800000 p99-ns, 1.5e+06 p999-ns, 40000 msgs/s, 1250 server-cpu-ns/msg, 20480 B/conn"},
		{gorilla, 500_000, "20000 ns/op, 130000 p50-ns, 900000 p99-ns, 1.7e+06 p999-ns, 50000 msgs/s, 1250 server-cpu-ns/msg, 20480 B/conn"},
		// A --target run knows no server figures: they are left out, not 0.
		{"Echo/server=target/driver=gobwas/conns=1000/payload=1024", 500_000,
			"20000 ns/op, 300000 p50-ns, 900000 p99-ns, 2e+06 p999-ns, 50000 msgs/s"},
	} {
		r := rs[i]
		if r.Name.String() != want.name || r.Iters != want.iters || valueString(r) != want.values {
			t.Errorf("line %d: %s %d %s\nwant %s %d %s", i, r.Name, r.Iters, valueString(r), want.name, want.iters, want.values)
		}
	}
	// Repeated runs share one name, so benchstat sees them as samples.
	if rs[0].Name.String() != rs[1].Name.String() {
		t.Errorf("runs of one cell have different names: %s, %s", rs[0].Name, rs[1].Name)
	}
	// The name's parts are key=value configuration benchstat can project on.
	base, parts := rs[0].Name.Parts()
	if string(base) != "Echo" || len(parts) != 4 || string(parts[0]) != "/server=gorilla" || string(parts[3]) != "/payload=1024" {
		t.Errorf("name parts: %s %q", base, parts)
	}
	// benchfmt tidies ns into seconds: check the figure benchstat will show.
	if v, ok := rs[0].Value("sec/op"); !ok || math.Abs(v-25e-6) > 1e-15 {
		t.Errorf("sec/op = %v, %v; want 25µs", v, ok)
	}
	if v, ok := rs[0].Value("p99-sec"); !ok || math.Abs(v-800e-6) > 1e-15 {
		t.Errorf("p99-sec = %v, %v; want 800µs", v, ok)
	}
	if v, ok := rs[0].Value("server-cpu-sec/msg"); !ok || math.Abs(v-1.25e-6) > 1e-18 {
		t.Errorf("server-cpu-sec/msg = %v, %v; want 1.25µs", v, ok)
	}
	if bytes.Contains(out, []byte("server=coder")) {
		t.Errorf("failed or interrupted records written:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") && strings.Contains(line, " 0 ") {
			t.Errorf("a zero figure was written: %s", line)
		}
	}
}

func TestBenchfmtNames(t *testing.T) {
	open := bfRecord("gorilla", 1, 100, 200, 300, 10_000)
	open.Mode = "open-loop"
	open.OpenLoop = &OpenLoop{TargetRate: 10_000, AchievedRate: 9990}
	open.Text = true

	bc := bfRecord("coder", 1, 100, 200, 300, 500_000)
	bc.Scenario = "broadcast"
	bc.Broadcast = &Broadcast{Publishers: 4, Subscribers: 1000, TargetRate: 500}

	hb := bfRecord("gobwas", 1, 50, 80, 90, 100)
	hb.Scenario = "heartbeat"
	hb.Heartbeat = &Heartbeat{PingIntervalS: 0.5, PongTimeoutS: 2}

	conn := Record{Scenario: "connect", Server: "my server/v2", Driver: "coder", Conns: 5000, Run: 1, Status: StatusOK,
		Connect:   Connect{Attempted: 5000, Established: 5000, RatePerS: 2500},
		Handshake: Latency{Count: 5000, P50: 400, P99: 1200, P999: 3000}}

	res := &Result{Schema: Schema, Records: []Record{open, bc, hb, conn}}
	var buf bytes.Buffer
	if err := renderBenchfmt(&buf, res); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if !bytes.HasPrefix(out, []byte("wsbench-version: devel\n")) {
		t.Errorf("empty environment: want only wsbench-version: devel first:\n%s", out)
	}
	rs := benchResults(t, out)
	if len(rs) != 4 {
		t.Fatalf("got %d lines:\n%s", len(rs), out)
	}
	for i, want := range []struct {
		name   string
		iters  int
		values string
	}{
		{"Echo/server=gorilla/driver=gobwas/conns=1000/payload=1024/text=true/mode=open-loop/rate=10000", 100_000,
			"100000 ns/op, 100000 p50-ns, 200000 p99-ns, 300000 p999-ns, 10000 msgs/s, 1250 server-cpu-ns/msg, 20480 B/conn"},
		{"Broadcast/server=coder/driver=gobwas/conns=1000/payload=1024/publishers=4/rate=500", 5_000_000, ""},
		{"Heartbeat/server=gobwas/driver=gobwas/conns=1000/payload=1024/ping=500ms", 1000, ""},
		// connect: time per connection, handshake latency, conns/s; a
		// '/' or space in a value would break the name, so it is replaced.
		{"Connect/server=my_server_v2/driver=coder/conns=5000/payload=0", 5000,
			"400000 ns/op, 400000 p50-ns, 1.2e+06 p99-ns, 3e+06 p999-ns, 2500 conns/s"},
	} {
		r := rs[i]
		if r.Name.String() != want.name || r.Iters != want.iters || (want.values != "" && valueString(r) != want.values) {
			t.Errorf("line %d: %s %d %s\nwant %s %d %s", i, r.Name, r.Iters, valueString(r), want.name, want.iters, want.values)
		}
		if _, parts := r.Name.Parts(); len(parts) == 0 || !bytes.Contains(parts[len(parts)-1], []byte("=")) {
			t.Errorf("line %d: last name part %q is not key=value (benchfmt would take -N for GOMAXPROCS)", i, parts)
		}
	}
	// At least one iteration even when nothing was counted.
	zero := bfRecord("gorilla", 1, 100, 200, 300, 0)
	zero.Messages = 0
	line := benchLine(zero)
	if !strings.HasPrefix(line, "BenchmarkEcho/server=gorilla/driver=gobwas/conns=1000/payload=1024 1 ") ||
		strings.Contains(line, "ns/op") || strings.Contains(line, "msgs/s") {
		t.Errorf("record without throughput: %q", line)
	}
}

// TestBenchfmtKeepsCompressionApart: a --compression run is another
// benchmark, not the same one twice as slow.
func TestBenchfmtKeepsCompressionApart(t *testing.T) {
	plain := bfRecord("gorilla", 1, 100, 200, 300, 10_000)
	deflated := plain
	deflated.Compression = &Compression{Offered: true, NegotiatedConns: plain.Connect.Established}
	if a, b := benchName(plain), benchName(deflated); a == b || !strings.Contains(b, "/deflate=true") {
		t.Fatalf("plain %q and compressed %q", a, b)
	}
}
