package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// renderBenchfmt writes res in the Go benchmark format
// (https://go.googlesource.com/proposal/+/master/design/14313-benchmark-format.md)
// so benchstat and other x/perf tools read it unchanged: configuration
// lines from the environment, then one line per successful record, e.g.
//
//	BenchmarkEcho/server=gorilla/driver=gobwas/conns=1000/payload=1024 991 1009082 ns/op 52000 p50-ns ... 991 msgs/s 12345 B/conn
//
// The iteration count is the messages measured and ns/op the time per
// message (1e9 / throughput). Repeated runs of a cell are repeated lines
// with the same name: benchstat's samples. Failed and interrupted records
// are left out, and so is every figure a record does not have (server
// figures of a --target run): absent, never 0.
func renderBenchfmt(w io.Writer, res *Result) error {
	bw := bufio.NewWriter(w)
	env := res.Environment
	version := firstNonEmpty(env.WsbenchCommit, env.WsbenchVersion, "devel")
	for _, c := range [][2]string{
		{"goos", env.GOOS},
		{"goarch", env.GOARCH},
		{"cpu", env.CPUModel},
		{"wsbench-version", version},
		{"go-version", env.GoVersion},
	} {
		if v := oneLine(c[1]); v != "" {
			fmt.Fprintf(bw, "%s: %s\n", c[0], v)
		}
	}
	for _, r := range res.Records {
		if !r.Usable() {
			continue
		}
		if line := benchLine(r); line != "" {
			bw.WriteString(line)
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write benchfmt: %w", err)
	}
	return nil
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// benchName is the benchmark name of a record: the scenario, then its
// parameters as /key=value parts.
func benchName(r Record) string {
	var b strings.Builder
	b.WriteString("Benchmark")
	sc := benchValue(r.Scenario)
	if sc == "" {
		sc = "Unknown"
	}
	first, n := utf8.DecodeRuneInString(sc)
	b.WriteRune(unicode.ToUpper(first))
	b.WriteString(sc[n:])
	part := func(k, v string) {
		b.WriteString("/" + k + "=" + benchValue(v))
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	part("server", r.Server)
	if r.Variant != "" {
		part("variant", r.Variant) // benchstat -col /variant compares them
	}
	part("driver", r.Driver)
	part("conns", strconv.Itoa(r.Conns))
	part("payload", strconv.Itoa(r.PayloadBytes))
	if r.Text {
		part("text", "true")
	}
	if r.Compression != nil && r.Compression.Offered {
		part("deflate", "true")
	}
	if r.OpenLoop != nil {
		part("mode", "open-loop")
		part("rate", num(r.OpenLoop.TargetRate))
	}
	if bc := r.Broadcast; bc != nil {
		part("publishers", strconv.Itoa(bc.Publishers))
		part("rate", num(bc.TargetRate))
	}
	if hb := r.Heartbeat; hb != nil {
		part("ping", time.Duration(hb.PingIntervalS*float64(time.Second)).String())
	}
	// A scenario's labels (inflight=8, backoff=…) tell its cells apart.
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		part(k, benchValue(r.Labels[k]))
	}
	if bad := r.BadClients; bad != nil {
		part("bad_clients", benchValue(bad.Spec))
	}
	return b.String()
}

// benchValue makes s safe inside a benchmark name: no '/', no spaces.
func benchValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s)
}

// benchLine is the benchmark line of a successful record, or "" when it
// has no figure at all.
func benchLine(r Record) string {
	type value struct {
		v    float64
		unit string
	}
	var vals []value
	add := func(v float64, unit string) { vals = append(vals, value{v, unit}) }

	iters := max(HeadlineIters(r), 1)
	rate, _ := Headline(r)
	rateUnit := "msgs/s"
	if ProfileOf(r).Throughput.Source == "connections" {
		rateUnit = "conns/s"
	}
	lat := HeadlineLatency(r)

	if rate > 0 {
		add(1e9/rate, "ns/op")
	}
	if lat.Count > 0 {
		add(float64(lat.P50)*1e3, "p50-ns")
		add(float64(lat.P99)*1e3, "p99-ns")
		add(float64(lat.P999)*1e3, "p999-ns")
	}
	if rate > 0 {
		add(rate, rateUnit)
	}
	if perM := serverCPUPerM(r); perM != nil {
		// Seconds per million messages is 1e9/1e6 = 1e3 ns per message.
		add(*perM*1e3, "server-cpu-ns/msg")
	}
	if r.ServerMemPerConnBytes != nil {
		add(*r.ServerMemPerConnBytes, "B/conn")
	}
	// The scenario's own figures and distributions, by their names.
	for _, k := range slices.Sorted(maps.Keys(r.Figures)) {
		add(r.Figures[k], benchValue(k))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Distributions)) {
		if l := r.Distributions[k]; l.Count > 0 {
			add(float64(l.P50)*1e3, benchValue(k)+"-p50-ns")
			add(float64(l.P99)*1e3, benchValue(k)+"-p99-ns")
		}
	}
	if len(vals) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(benchName(r))
	b.WriteString(" " + strconv.FormatUint(iters, 10))
	for _, v := range vals {
		b.WriteString(" " + strconv.FormatFloat(v.v, 'f', -1, 64) + " " + v.unit)
	}
	return b.String()
}
