package htmlreport

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
)

// htmlRecord is one echo run against server: latencies from lo to lo×50
// µs with a tail, ten seconds of per-second series, and server figures.
func htmlRecord(t *testing.T, server string, run int, lo int64, tput float64) report.Record {
	t.Helper()
	h := measure.NewHistogram()
	for i := int64(0); i < 2000; i++ {
		v := lo + lo*(i%50)
		if i%100 == 0 {
			v *= 20 // the tail
		}
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	lat, err := report.NewLatency(h, 0)
	if err != nil {
		t.Fatal(err)
	}
	cpu, perM, perConn := 2.5, 1.2+0.1*float64(run), 20000.0+500*float64(run)
	rss := uint64(40 << 20)
	var series []report.Second
	for s := 1; s <= 10; s++ {
		r := rss + uint64(s)<<16
		u := 0.8
		series = append(series, report.Second{T: float64(s), Messages: uint64(tput), MsgsPerS: tput + float64(s*10),
			P99Us: lat.P99 + int64(s), ServerRSSBytes: &r, ServerCPUUtil: &u})
	}
	return report.Record{
		Scenario: "echo", Mode: "closed-loop", Server: server, Driver: "gobwas", Conns: 100, PayloadBytes: 1024,
		Run: run, Status: report.StatusOK, StartedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		WarmupS: 2, DurationS: 10, Messages: uint64(tput * 10), ThroughputMsgsPerS: tput, ThroughputBytesPerS: tput * 1024,
		Errors: map[string]uint64{}, Latency: lat, Handshake: lat,
		ServerCPUS: &cpu, ServerCPUPerMillion: &perM, ServerRSSPeakBytes: &rss, ServerMemPerConnBytes: &perConn,
		Series: series,
	}
}

func htmlResult(t *testing.T, servers []string, runs int, lo int64, tput float64) *report.Result {
	t.Helper()
	res := &report.Result{Schema: report.Schema, CreatedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		Command: []string{"wsbench", "run", "--servers", strings.Join(servers, ","), "--note", "see https://example.invalid/x & <b>"},
		Environment: report.Environment{GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", CPUModel: "Test CPU @ 3GHz",
			Cores: 8, GOMAXPROCS: 8, Kernel: "6.1.0-test",
			Libraries: map[string]string{"github.com/gorilla/websocket": "v1.5.3", "github.com/coder/websocket": "v1.8.15"}},
		ServerSettings:   map[string]any{"read_buffer": 4096, "compression": false, "note": "<script>alert(1)</script>"},
		ServerExceptions: map[string][]string{"coder": {"read_buffer: not configurable"}},
	}
	for i, s := range servers {
		for run := 1; run <= runs; run++ {
			res.Records = append(res.Records, htmlRecord(t, s, run, lo*int64(i+1), tput/float64(i+1)+float64(run)))
		}
	}
	return res
}

func renderHTMLString(t *testing.T, results []*report.Result, names []string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, results, names); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var (
	tagRE     = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(/?)>`)
	seriesRE  = regexp.MustCompile(`<polyline class="series"[^>]*points="([^"]*)"`)
	cmdBlocks = regexp.MustCompile(`(?s)<pre class="cmd">.*?</pre>`)
)

// checkHTML checks the page is well formed enough for a browser to build
// the intended tree: every non-void element closed in order, nothing
// fetched from elsewhere, no script but the inline table sorter.
func checkHTML(t *testing.T, page string) {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>") {
		t.Error("page does not start with <!DOCTYPE html>")
	}
	void := map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "input": true, "link": true}
	var stack []string
	for _, m := range tagRE.FindAllStringSubmatch(page, -1) {
		closing, name, selfClosing := m[1] == "/", strings.ToLower(m[2]), m[4] == "/"
		switch {
		case void[name] || selfClosing:
		case closing:
			if len(stack) == 0 || stack[len(stack)-1] != name {
				t.Fatalf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, name)
		}
	}
	if len(stack) > 0 {
		t.Fatalf("elements left open: %v", stack)
	}
	// One inline script (the table sorter), nothing it could fetch with.
	if n := strings.Count(page, "<script"); n != 1 || !strings.Contains(page, "<script>\n") {
		t.Errorf("page has %d scripts, want the one inline <script> that sorts tables", n)
	}
	script := page[strings.Index(page, "<script"):]
	for _, bad := range []string{"fetch(", "XMLHttpRequest", "import", "src=", ".src", "eval("} {
		if strings.Contains(script, bad) {
			t.Errorf("the script contains %q", bad)
		}
	}
	for _, bad := range []string{"<link", "<img", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	outside := cmdBlocks.ReplaceAllString(page, "")
	for _, bad := range []string{"http://", "https://"} {
		if strings.Contains(outside, bad) {
			t.Errorf("page refers to %q outside the command line", bad)
		}
	}
}

func seriesPolylines(t *testing.T, page string, minPoints int) [][]string {
	t.Helper()
	ms := seriesRE.FindAllStringSubmatch(page, -1)
	for _, m := range ms {
		if n := len(strings.Fields(m[1])); n < minPoints {
			t.Errorf("series polyline has %d points, want ≥ %d: %s", n, minPoints, m[0])
		}
	}
	return ms
}

func TestRenderHTMLOneFile(t *testing.T) {
	servers := []string{"gorilla", "coder", "gobwas"}
	res := htmlResult(t, servers, 3, 50, 90000)
	page := renderHTMLString(t, []*report.Result{res}, []string{"run.json"})
	checkHTML(t, page)
	if !strings.Contains(page, "<svg") {
		t.Error("page has no <svg")
	}
	if got := len(seriesPolylines(t, page, 20)); got != len(servers) {
		t.Fatalf("%d spectrum polylines, want %d", got, len(servers))
	}
	for _, s := range servers {
		if !strings.Contains(page, `<polyline class="series" data-server="`+s+`"`) {
			t.Errorf("no spectrum line for %s", s)
		}
	}
	// a point with a tooltip at each of the six ticks of each line
	if got, want := strings.Count(page, "<circle"), len(servers)*6+3*len(servers)*10; got != want {
		t.Errorf("%d circles, want %d (6 per spectrum line, 10 per time-series line)", got, want)
	}
	if got := strings.Count(page, `<polyline class="timeseries"`); got != 3*len(servers) {
		t.Errorf("%d time-series lines, want %d", got, 3*len(servers))
	}
	for _, want := range []string{
		"echo · closed loop · 100 conns · 1024 B binary messages", // the group heading
		"latency percentile spectrum", "99.999%", "throughput · median across runs", "server CPU per million msgs",
		"server memory per connection", "throughput per second", "p99 latency per second", "server RSS",
		"go1.26.8", "Test CPU @ 3GHz", "6.1.0-test", "github.com/gorilla/websocket", "v1.8.15",
		"read_buffer", "read_buffer: not configurable",
		"wsbench run --servers gorilla,coder,gobwas --note &#39;see https://example.invalid/x &amp; &lt;b&gt;&#39;",
		"2026-11-24T12:00:00Z",
		`<line class="whisker"`, // three runs give a min–max whisker
		"&lt;script&gt;alert(1)&lt;/script&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	t.Logf("3 servers × 3 runs, one file: %d bytes", len(page))
}

func TestRenderHTMLMergesHistograms(t *testing.T) {
	rec := func(run int, v int64) report.Record {
		r := htmlRecord(t, "gorilla", run, 10, 1000)
		h := measure.NewHistogram()
		for range 1000 {
			h.RecordValue(v)
		}
		r.Latency, _ = report.NewLatency(h, 0)
		return r
	}
	res := &report.Result{Schema: report.Schema, Records: []report.Record{rec(1, 100), rec(2, 10000)}}
	page := renderHTMLString(t, []*report.Result{res}, nil)
	checkHTML(t, page)
	// Merged, half the samples are 100µs and half 10ms: p0 is 100µs and
	// p99 10ms. Averaging the runs' percentiles would give about 5ms for both.
	for _, want := range []string{"p0 = 100µs (2,000 samples from 2 run(s))", "p99 = 10.0ms (2,000 samples"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestRenderHTMLTarget(t *testing.T) {
	r := htmlRecord(t, "", 1, 50, 1000)
	r.Target = "ws://127.0.0.1:9000/echo"
	r.ServerCPUS, r.ServerCPUPerMillion, r.ServerRSSPeakBytes, r.ServerMemPerConnBytes = nil, nil, nil, nil
	for i := range r.Series {
		r.Series[i].ServerRSSBytes, r.Series[i].ServerCPUUtil = nil, nil
	}
	failed := report.Record{Scenario: "echo", Mode: "closed-loop", Server: "gobwas", Driver: "gobwas", Conns: 100, PayloadBytes: 1024,
		WarmupS: 2, DurationS: 10, Run: 1, Status: report.StatusFailed, Reason: "server gobwas did not start: boom"}
	res := &report.Result{Schema: report.Schema, Command: []string{"wsbench", "run", "--target", r.Target}, Records: []report.Record{r, failed}}
	page := renderHTMLString(t, []*report.Result{res}, []string{"target.json"})
	checkHTML(t, page)
	if got := len(seriesPolylines(t, page, 20)); got != 1 {
		t.Errorf("%d spectrum polylines, want 1 (the failed server has no latency)", got)
	}
	for _, want := range []string{">n/a<", "server gobwas did not start: boom", "No server settings recorded", `data-server="ws://127.0.0.1:9000/echo"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestRenderHTMLTwoFiles(t *testing.T) {
	// six runs of gorilla reach significance over the comparison's rows
	// (Holm: up to 14, 1/C(12,6) ≤ 0.05/14, which five runs do not
	// reach); two of coder cannot
	base := htmlResult(t, []string{"gorilla"}, 6, 50, 90000)
	next := htmlResult(t, []string{"gorilla"}, 6, 50, 120000)
	for i := range next.Records {
		next.Records[i].Latency = htmlRecord(t, "gorilla", 1, 80+int64(i), 1).Latency // slower
	}
	base.Records = append(base.Records, htmlResult(t, []string{"coder"}, 2, 50, 1000).Records...)
	next.Records = append(next.Records, htmlResult(t, []string{"coder"}, 2, 50, 1000).Records...)
	page := renderHTMLString(t, []*report.Result{base, next}, []string{"base.json", "new.json"})
	checkHTML(t, page)
	lines := seriesPolylines(t, page, 20)
	if len(lines) != 4 {
		t.Fatalf("%d spectrum polylines, want 4 (2 servers × 2 files)", len(lines))
	}
	if !strings.Contains(page, `data-server="gorilla" data-file="base.json"`) || !strings.Contains(page, `data-server="gorilla" data-file="new.json"`) {
		t.Error("spectrum lacks a line per file")
	}
	for _, want := range []string{
		"Comparison · new.json against base.json",
		`<td class="l v">better</td>`, // throughput up
		`<td class="l v">worse`,       // latency up
		`<td class="l v">~</td>`,      // errors unchanged
		`<td class="l v">insufficient</td>`,
		"gorilla · base.json", "gorilla · new.json", // legend and labels
		`stroke-dasharray="6 3"`, // the second file is dashed
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestRenderHTMLErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, nil, nil); err == nil {
		t.Error("want an error for no results")
	}
	page := renderHTMLString(t, []*report.Result{{Schema: report.Schema}}, []string{"empty.json"})
	checkHTML(t, page)
	if !strings.Contains(page, "No records.") {
		t.Error("empty result should say so")
	}
}

// chromium is Debian's Chromium, or the test skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, b := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	t.Skip("no chromium: install Debian's chromium package to run this test")
	return ""
}

// dumpDOM loads page in headless Chromium and returns the document as the
// browser built it, after its scripts ran, failing on a script error.
func dumpDOM(t *testing.T, bin, page string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		"--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "Uncaught") {
		t.Errorf("chromium reported a script error:\n%s", stderr.String())
	}
	return stdout.String()
}

func TestRenderHTMLChromium(t *testing.T) {
	bin := chromium(t)
	servers := []string{"gorilla", "coder", "gobwas"}
	page := renderHTMLString(t, []*report.Result{htmlResult(t, servers, 2, 50, 90000)}, []string{"run.json"})
	dom := dumpDOM(t, bin, page)
	if got := strings.Count(dom, `<polyline class="series"`); got != len(servers) {
		t.Errorf("dumped DOM has %d spectrum polylines, want %d", got, len(servers))
	}
	if got, want := strings.Count(dom, "<circle"), strings.Count(page, "<circle"); got != want || got == 0 {
		t.Errorf("dumped DOM has %d circles, the page %d", got, want)
	}
	if got, want := strings.Count(dom, "<td"), strings.Count(page, "<td"); got != want || got == 0 {
		t.Errorf("dumped DOM has %d table cells, the page %d", got, want)
	}
}

// TestRenderHTMLChromiumReconnect: the reconnect page survives a real
// browser (tables, every chart's lines), and clicking a header sorts a
// table by the figure's value: "detect p50" ascending puts the server that
// found the kill first on top, and a second click reverses it.
func TestRenderHTMLChromiumReconnect(t *testing.T) {
	bin := chromium(t)
	page, res := reconnectPage(t)
	dom := dumpDOM(t, bin, page)
	for _, el := range []string{`<polyline class="timeseries"`, `<polyline class="series"`, `<rect class="bar"`, "<td", "<th"} {
		if got, want := strings.Count(dom, el), strings.Count(page, el); got != want || got == 0 {
			t.Errorf("dumped DOM has %d %s, the page %d", got, el, want)
		}
	}
	fast, slow := res.Records[0], res.Records[1]
	if fast.Distributions["detect"].P50 > slow.Distributions["detect"].P50 {
		fast, slow = slow, fast
	}
	if fast.Distributions["detect"].P50 == slow.Distributions["detect"].P50 {
		t.Fatal("the fixture's servers detected at the same p50: nothing to sort")
	}
	click := func(times int) string {
		js := "<script>\nvar th = Array.prototype.find.call(document.querySelectorAll('table.sortable th'), function (h) { return h.textContent === 'detect p50'; });\n"
		js += strings.Repeat("th.click();\n", times) + "</script>\n</body>"
		sorted := dumpDOM(t, bin, strings.Replace(page, "</body>", js, 1))
		first := sorted[strings.Index(sorted, "<tbody>"):]
		cell := first[strings.Index(first, `<td class="l">`)+len(`<td class="l">`):]
		return cell[:strings.Index(cell, "<")]
	}
	if got := click(1); got != fast.ServerLabel() {
		t.Errorf("sorted by detect p50 ascending, the first row is %q, want %q", got, fast.ServerLabel())
	}
	if got := click(2); got != slow.ServerLabel() {
		t.Errorf("sorted by detect p50 descending, the first row is %q, want %q", got, slow.ServerLabel())
	}
}

// TestRenderHTMLCompression: a compression run says per server whether the
// handshakes negotiated permessage-deflate.
func TestRenderHTMLCompression(t *testing.T) {
	a := htmlRecord(t, "gorilla", 1, 10, 1000)
	b := htmlRecord(t, "nbio", 1, 10, 1000)
	a.Connect.Established, b.Connect.Established = 10, 10
	a.Compression = &report.Compression{Offered: true, NegotiatedConns: 10}
	b.Compression = &report.Compression{Offered: true, NegotiatedConns: 4}
	page := renderHTMLString(t, []*report.Result{{Schema: report.Schema, Records: []report.Record{a, b}}}, nil)
	checkHTML(t, page)
	if want := "gorilla/" + a.Driver + " on, nbio/" + b.Driver + " 4/10"; !strings.Contains(page, want) {
		t.Errorf("page lacks %q", want)
	}
}
