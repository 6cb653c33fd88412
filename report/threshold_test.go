package report

import (
	"bytes"
	"strings"
	"testing"
)

// thrRecord is a small in-memory record with the given latency (µs) and
// server figures.
func thrRecord(scenario, server string, run int, p99 int64) Record {
	cpu, per := 0.25, 12288.0
	return Record{
		Scenario: scenario, Server: server, Driver: "gobwas", Conns: 1000, PayloadBytes: 1024, Run: run,
		Status: StatusOK, DurationS: 10, Messages: 200_000, ThroughputMsgsPerS: 20_000,
		Latency:    Latency{Count: 200_000, P50: p99 / 2, P90: p99 * 3 / 4, P99: p99, P999: p99 * 2, Max: p99 * 3},
		ServerCPUS: &cpu, ServerMemPerConnBytes: &per,
		Client: &ClientGuard{CPUs: 4, CPUUtil: 0.5},
	}
}

func mustThreshold(t *testing.T, s string) Threshold {
	t.Helper()
	th, err := ParseThreshold(s)
	if err != nil {
		t.Fatalf("ParseThreshold(%q): %v", s, err)
	}
	return th
}

func TestParseThreshold(t *testing.T) {
	for _, c := range []struct {
		in               string
		scenario, server string
		metric, op       string
		value            float64
	}{
		{"p99<3ms", "", "", "p99", "<", 3000},
		{"p99 < 3ms", "", "", "p99", "<", 3000},
		{"  echo/gorilla : p99 <= 2.5 ms ", "echo", "gorilla", "p99", "<=", 2500},
		{"echo/gorilla:p99<3ms", "echo", "gorilla", "p99", "<", 3000},
		{"broadcast:lost==0", "broadcast", "", "lost", "==", 0},
		{"errors!=1", "", "", "errors", "!=", 1},
		{"throughput>=20k", "", "", "throughput", ">=", 20_000},
		{"throughput>1.5M", "", "", "throughput", ">", 1_500_000},
		{"throughput>20000", "", "", "throughput", ">", 20_000},
		{"p50>250", "", "", "p50", ">", 250},
		{"p50<250us", "", "", "p50", "<", 250},
		{"p50<250µs", "", "", "p50", "<", 250},
		{"max<1.1ms", "", "", "max", "<", 1100},
		{"max<2s", "", "", "max", "<", 2_000_000},
		{"mem_per_conn<1.5MiB", "", "", "mem_per_conn", "<", 1.5 * (1 << 20)},
		{"mem_per_conn<16KiB", "", "", "mem_per_conn", "<", 16 * 1024},
		{"mem_per_conn<16KB", "", "", "mem_per_conn", "<", 16 * 1024},
		{"rss_peak<1GB", "", "", "rss_peak", "<", 1 << 30},
		{"heap_per_conn<4096B", "", "", "heap_per_conn", "<", 4096},
		{"heap_per_conn<4096", "", "", "heap_per_conn", "<", 4096},
		{"client_cpu_util<90%", "", "", "client_cpu_util", "<", 0.9},
		{"client_cpu_util<57%", "", "", "client_cpu_util", "<", 0.57},
		{"client_cpu_util<0.9", "", "", "client_cpu_util", "<", 0.9},
		{"server_cpu<1.5", "", "", "server_cpu", "<", 1.5},
		{"server_cpu<300ms", "", "", "server_cpu", "<", 0.3},
		{"server_cpu_per_million<500us", "", "", "server_cpu_per_million", "<", 0.0005},
		{"missed_pongs<=1e3", "", "", "missed_pongs", "<=", 1000},
	} {
		th, err := ParseThreshold(c.in)
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", c.in, err)
			continue
		}
		if th.Scenario != c.scenario || th.Server != c.server || th.Metric.Name != c.metric || th.Op != c.op || th.Value != c.value {
			t.Errorf("ParseThreshold(%q) = scope %q/%q %s %s %v; want %q/%q %s %s %v", c.in,
				th.Scenario, th.Server, th.Metric.Name, th.Op, th.Value, c.scenario, c.server, c.metric, c.op, c.value)
		}
		if th.Raw != strings.TrimSpace(c.in) || th.String() != th.Raw {
			t.Errorf("ParseThreshold(%q).Raw = %q", c.in, th.Raw)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // substrings of the error
	}{
		{"", []string{"empty"}},
		{"p99 3ms", []string{"no comparison operator", "<="}},
		{"p99=3ms", []string{`bad operator "="`}},
		{"p99=<3ms", []string{`bad operator "=<"`}},
		{"p99<<3ms", []string{`bad operator "<<"`}},
		{"p99=>3ms", []string{`bad operator "=>"`}},
		{"p99!3", []string{`bad operator "!"`}},
		{"p99<=>3", []string{`bad operator "<=>"`}},
		{"p98<3ms", []string{`unknown metric "p98"`, "known metrics:", "p99", "throughput", "mem_per_conn"}},
		{"<3ms", []string{"no metric", "known metrics:"}},
		{"echo:<3ms", []string{"no metric"}},
		{"p99<", []string{"no value"}},
		{"p99<fast", []string{`value "fast" is not a number`}},
		{"p99<3MiB", []string{`unit "MiB" does not fit p99`, "µs, us, ms or s", "plain number (µs)"}},
		{"p99<3%", []string{`unit "%" does not fit p99`}},
		{"mem_per_conn<3ms", []string{`unit "ms" does not fit mem_per_conn`, "KiB", "MiB", "GiB"}},
		{"throughput>20kB", []string{`unit "kB" does not fit throughput`, "k or M"}},
		{"throughput>20K", []string{`unit "K" does not fit throughput`}},
		{"errors<5ms", []string{`unit "ms" does not fit errors`, "a count"}},
		{"client_cpu_util<90ms", []string{`unit "ms" does not fit client_cpu_util`, "%"}},
		{"server_cpu<2GiB", []string{`unit "GiB" does not fit server_cpu`, "µs, us, ms or s", "seconds"}},
		{":p99<3ms", []string{"empty scope"}},
		{"/gorilla:p99<3ms", []string{"no scenario"}},
		{"echo/:p99<3ms", []string{"no server"}},
		{"echo/gorilla/x:p99<3ms", []string{"too many '/'"}},
		{"echo:x:p99<3ms", []string{"more than one ':'"}},
		{"echo gorilla:p99<3ms", []string{"contains spaces"}},
		{"p99<1e999", []string{"out of range"}},
	} {
		_, err := ParseThreshold(c.in)
		if err == nil {
			t.Errorf("ParseThreshold(%q): no error", c.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `threshold "`+strings.ReplaceAll(c.in, `"`, `\"`)+`"`) {
			t.Errorf("ParseThreshold(%q): error does not quote the input: %s", c.in, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("ParseThreshold(%q): error %q lacks %q", c.in, msg, w)
			}
		}
	}
}

func TestCheckThresholdOps(t *testing.T) {
	recs := []Record{thrRecord("echo", "gorilla", 1, 3000)} // p99 = 3ms
	for _, c := range []struct {
		th   string
		pass bool
	}{
		{"p99<3ms", false}, {"p99<3001", true}, {"p99<=3ms", true}, {"p99<=2999us", false},
		{"p99>3ms", false}, {"p99>2.999ms", true}, {"p99>=3ms", true}, {"p99>=3.001ms", false},
		{"p99==3ms", true}, {"p99==3.5ms", false}, {"p99!=3ms", false}, {"p99!=2ms", true},
		{"throughput>=20k", true}, {"throughput>20k", false},
		{"mem_per_conn<=12KiB", true}, {"mem_per_conn<12KiB", false},
		{"client_cpu_util<=50%", true}, {"client_cpu_util<50%", false},
		{"server_cpu<250ms", false}, {"server_cpu<=250ms", true},
		{"lost==0", true}, {"errors==0", true},
	} {
		res, err := CheckThresholds([]Threshold{mustThreshold(t, c.th)}, recs)
		if err != nil {
			t.Fatalf("%s: %v", c.th, err)
		}
		if len(res) != 1 || !res[0].Has || res[0].Pass != c.pass {
			t.Errorf("%s on %+v: got %+v, want pass=%v", c.th, recs[0].Latency, res, c.pass)
		}
	}
}

func TestCheckThresholdsScopeAndOrder(t *testing.T) {
	recs := []Record{
		thrRecord("echo", "gorilla", 1, 2000),
		thrRecord("echo", "coder", 1, 5000),
		thrRecord("echo", "gorilla", 2, 4000),
		thrRecord("broadcast", "gorilla", 1, 9000),
	}
	recs[3].Integrity.Lost = 3
	ths := []Threshold{
		mustThreshold(t, "echo/gorilla:p99<3ms"),
		mustThreshold(t, "broadcast:lost==0"),
		mustThreshold(t, "echo:p99<4500"),
		mustThreshold(t, "p50<10ms"),
	}
	res, err := CheckThresholds(ths, recs)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		th   string
		rec  int
		v    float64
		pass bool
	}
	wants := []want{
		{"echo/gorilla:p99<3ms", 0, 2000, true}, {"echo/gorilla:p99<3ms", 2, 4000, false},
		{"broadcast:lost==0", 3, 3, false},
		{"echo:p99<4500", 0, 2000, true}, {"echo:p99<4500", 1, 5000, false}, {"echo:p99<4500", 2, 4000, true},
		{"p50<10ms", 0, 1000, true}, {"p50<10ms", 1, 2500, true}, {"p50<10ms", 2, 2000, true}, {"p50<10ms", 3, 4500, true},
	}
	if len(res) != len(wants) {
		t.Fatalf("got %d results, want %d: %+v", len(res), len(wants), res)
	}
	for i, w := range wants {
		r := res[i]
		if r.Threshold.Raw != w.th || r.Record != &recs[w.rec] || r.Value != w.v || !r.Has || r.Pass != w.pass {
			t.Errorf("result %d: %s on %s/%s run %d = %v pass %v; want %s on record %d = %v pass %v", i,
				r.Threshold.Raw, r.Record.Scenario, r.Record.Server, r.Record.Run, r.Value, r.Pass, w.th, w.rec, w.v, w.pass)
		}
	}
}

func TestCheckThresholdsFailedAndMissing(t *testing.T) {
	failed := thrRecord("echo", "gorilla", 1, 100)
	failed.Status, failed.Reason = StatusFailed, "server did not start"
	target := thrRecord("echo", "target", 1, 100)
	target.ServerCPUS, target.ServerMemPerConnBytes = nil, nil
	ok := thrRecord("echo", "coder", 1, 100)
	recs := []Record{failed, target, ok}

	res, err := CheckThresholds([]Threshold{mustThreshold(t, "p99<3ms"), mustThreshold(t, "server_cpu<1s")}, recs)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(res))
	for i, r := range res {
		got[i] = r.Threshold.Raw + " " + r.Record.Server + " " + map[bool]string{true: "has", false: "none"}[r.Has] +
			" " + map[bool]string{true: "pass", false: "fail"}[r.Pass]
	}
	want := []string{
		"p99<3ms gorilla none fail", // a failed cell cannot pass, however small its numbers
		"p99<3ms target has pass",
		"p99<3ms coder has pass",
		"server_cpu<1s gorilla none fail",
		"server_cpu<1s target none fail", // not measured for a --target
		"server_cpu<1s coder has pass",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var buf bytes.Buffer
	if n := RenderThresholds(&buf, res); n != 3 {
		t.Errorf("RenderThresholds returned %d failed, want 3", n)
	}
	out := buf.String()
	for _, w := range []string{
		"✗ p99<3ms", "n/a (cell failed: server did not start)",
		"n/a (not measured)", "thresholds: 3 passed, 3 failed\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("rendered thresholds lack %q:\n%s", w, out)
		}
	}

	interrupted := thrRecord("echo", "gorilla", 1, 100)
	interrupted.Status = StatusInterrupted
	res, err = CheckThresholds([]Threshold{mustThreshold(t, "p99<3ms")}, []Record{interrupted})
	if err != nil || len(res) != 1 || res[0].Pass || res[0].Has {
		t.Fatalf("interrupted record: %+v, %v; want one failing result without a value", res, err)
	}
	buf.Reset()
	RenderThresholds(&buf, res)
	if !strings.Contains(buf.String(), "n/a (cell interrupted)") {
		t.Errorf("interrupted record rendered as:\n%s", buf.String())
	}
}

func TestCheckThresholdsMatchesNothing(t *testing.T) {
	recs := []Record{thrRecord("echo", "gorilla", 1, 100)}
	for _, s := range []string{"broadcast:lost==0", "echo/coder:p99<3ms"} {
		res, err := CheckThresholds([]Threshold{mustThreshold(t, "p99<3ms"), mustThreshold(t, s)}, recs)
		if err == nil {
			t.Fatalf("%s: no error, results %+v", s, res)
		}
		if !strings.Contains(err.Error(), `"`+s+`"`) || !strings.Contains(err.Error(), "matches no record") ||
			!strings.Contains(err.Error(), "echo/gorilla") {
			t.Errorf("%s: error %q should name the threshold and the records present", s, err)
		}
	}
	if _, err := CheckThresholds([]Threshold{mustThreshold(t, "p99<3ms")}, nil); err == nil {
		t.Error("no records: no error")
	}
	if res, err := CheckThresholds(nil, recs); err != nil || len(res) != 0 {
		t.Errorf("no thresholds: %+v, %v", res, err)
	}
}

func TestRenderThresholds(t *testing.T) {
	a := thrRecord("echo", "gorilla", 1, 1230)
	b := thrRecord("echo", "gorilla", 2, 3500)
	b.Integrity.Lost = 1234
	recs := []Record{a, b}
	ths := []Threshold{
		mustThreshold(t, "echo/gorilla:p99<3ms"),
		mustThreshold(t, "lost==0"),
		mustThreshold(t, "throughput>=20k"),
		mustThreshold(t, "mem_per_conn<16KiB"),
		mustThreshold(t, "client_cpu_util<90%"),
		mustThreshold(t, "server_cpu<1s"),
	}
	res, err := CheckThresholds(ths, recs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	failed := RenderThresholds(&buf, res)
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if failed != 2 || len(lines) != len(res)+1 {
		t.Fatalf("failed %d, %d lines; want 2 failed and %d lines:\n%s", failed, len(lines), len(res)+1, out)
	}
	wantLines := []struct{ prefix, value string }{
		{"✓ echo/gorilla:p99<3ms", "p99 = 1.23ms"},
		{"✗ echo/gorilla:p99<3ms", "p99 = 3.50ms"},
		{"✓ lost==0", "lost = 0"},
		{"✗ lost==0", "lost = 1,234"},
		{"✓ throughput>=20k", "throughput = 20,000/s"},
		{"✓ throughput>=20k", "throughput = 20,000/s"},
		{"✓ mem_per_conn<16KiB", "mem_per_conn = 12.0 KiB"},
		{"✓ mem_per_conn<16KiB", "mem_per_conn = 12.0 KiB"},
		{"✓ client_cpu_util<90%", "client_cpu_util = 50.0%"},
		{"✓ client_cpu_util<90%", "client_cpu_util = 50.0%"},
		{"✓ server_cpu<1s", "server_cpu = 250ms"},
		{"✓ server_cpu<1s", "server_cpu = 250ms"},
	}
	for i, w := range wantLines {
		l := lines[i]
		if !strings.HasPrefix(l, w.prefix) || !strings.HasSuffix(l, w.value) ||
			!strings.Contains(l, "echo/gorilla/gobwas") || !strings.Contains(l, "1,000 conns") {
			t.Errorf("line %d = %q; want %q … echo/gorilla/gobwas … 1,000 conns … %q", i, l, w.prefix, w.value)
		}
	}
	if !strings.Contains(lines[1], "run 2") || !strings.Contains(lines[0], "run 1") {
		t.Errorf("run numbers missing:\n%s", out)
	}
	if lines[len(lines)-1] != "thresholds: 10 passed, 2 failed" {
		t.Errorf("summary line %q", lines[len(lines)-1])
	}
	// The columns line up: the record column starts at the same place.
	col := strings.Index(lines[0], "echo/gorilla/gobwas")
	for _, l := range lines[:len(lines)-1] {
		if c := strings.Index(l, "echo/gorilla/gobwas"); len([]rune(l[:c])) != len([]rune(lines[0][:col])) {
			t.Errorf("columns not aligned:\n%s", out)
			break
		}
	}

	buf.Reset()
	if n := RenderThresholds(&buf, nil); n != 0 || buf.String() != "thresholds: 0 passed, 0 failed\n" {
		t.Errorf("no results: %d, %q", n, buf.String())
	}
}
