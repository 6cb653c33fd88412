package htmlreport

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// testdata/reconnect-kill.json is a real run: `wsbench run --scenario
// reconnect --servers gorilla,gobwas --conns 20 --fault kill --fault-at 1s
// --fault-for 1s --duration 4s --warmup 500ms` (the servers killed for a
// second, their RSS and CPU unsampled meanwhile).
func reconnectPage(t *testing.T) (string, *report.Result) {
	t.Helper()
	res, err := report.Load("testdata/reconnect-kill.json")
	if err != nil {
		t.Fatal(err)
	}
	return renderHTMLString(t, []*report.Result{res}, []string{"reconnect-kill.json"}), res
}

// chartSVG returns the <svg> of the chart titled title.
func chartSVG(t *testing.T, page, title string) string {
	t.Helper()
	i := strings.Index(page, `aria-label="`+title+`"`)
	if i < 0 {
		t.Fatalf("no chart titled %q", title)
	}
	j := strings.Index(page[i:], "</svg>")
	return page[i : i+j]
}

var xTickRE = regexp.MustCompile(`<text x="[0-9.]+" y="186.0" text-anchor="middle">([0-9.]+)</text>`)

// TestRenderHTMLReconnect: the reconnect page holds its headline figures
// as numbers (the table) and as charts (detection, recovery, attempts,
// close codes, the distributions), draws every declared timeline column,
// leaves the outage a gap instead of plotting 0 B, and ends every time
// axis at the 4 s window.
func TestRenderHTMLReconnect(t *testing.T) {
	page, res := reconnectPage(t)
	checkHTML(t, page)
	tables := parseTables(t, page)
	if len(tables) < 2 || len(tables[0].rows) != len(res.Records) {
		t.Fatalf("tables %+v", tables)
	}
	head := strings.Join(tables[0].head, "|")
	for _, col := range []string{"detected", "by close", "by read error", "by missed pong", "detect p50", "detect p99", "detect max",
		"close codes", "recover 50%", "recover 99%", "recover 100%", "attempts", "failed dials", "never recovered", "reconnect handshake p99"} {
		if !strings.Contains("|"+head+"|", "|"+col+"|") {
			t.Errorf("table lacks column %q: %v", col, tables[0].head)
		}
	}
	for _, title := range []string{
		"detected, by close, by read error, by missed pong", "detect · distribution (runs merged)", "close frames received, by code",
		"recover 50%, recover 99%, recover 100%", "attempts, failed dials, never recovered, lost again",
		"reconnect handshake · distribution (runs merged)",
	} {
		svg := chartSVG(t, page, title)
		if !strings.Contains(svg, "<rect class=\"bar\"") && !strings.Contains(svg, "<polyline") && !strings.Contains(svg, "no close frame") {
			t.Errorf("chart %q draws nothing", title)
		}
	}
	// Recovery at 50% per server, as charted, is the table's figure.
	rec := chartSVG(t, page, "recover 50%, recover 99%, recover 100%")
	for _, r := range res.Records {
		want := report.FormatFloat(r.Figures["recovered_50_s"]) + "s"
		if !strings.Contains(rec, r.ServerLabel()+" · recover 50%: median "+want) {
			t.Errorf("recovery chart lacks %s's %s", r.ServerLabel(), want)
		}
	}
	// Every timeline column the file holds is drawn.
	names := res.Records[0].Timeline.Names
	if len(names) != 8 {
		t.Fatalf("timeline columns %v, want 8", names)
	}
	p := report.ProfileOf(res.Records[0])
	if len(p.Charts) != len(names) {
		t.Errorf("%d timeline charts declared for %d columns", len(p.Charts), len(names))
	}
	for _, ch := range p.Charts {
		svg := chartSVG(t, page, ch.Title)
		if n := strings.Count(svg, `<polyline class="timeseries"`); n < len(res.Records) {
			t.Errorf("%q: %d lines, want one or more per server", ch.Title, n)
		}
		for _, m := range xTickRE.FindAllStringSubmatch(svg, -1) {
			if v, _ := strconv.ParseFloat(m[1], 64); v > res.Records[0].DurationS+0.01 {
				t.Errorf("%q: time axis tick %s beyond the %.2fs window", ch.Title, m[1], res.Records[0].DurationS)
			}
		}
	}
	// The kill: RSS lines break for the outage, and no point reads 0 B.
	for _, title := range []string{"server RSS"} {
		for _, svg := range strings.Split(page, `aria-label="`+title+`"`)[1:] {
			svg = svg[:strings.Index(svg, "</svg>")]
			for _, r := range res.Records {
				if n := strings.Count(svg, `data-server="`+r.ServerLabel()+`"`); n < 2 {
					t.Errorf("%s chart: %s's line has %d segments, want a gap for the outage", title, r.ServerLabel(), n)
				}
			}
			if strings.Contains(svg, ": 0 B</title>") {
				t.Errorf("%s chart plots 0 B for a second without a sample", title)
			}
		}
	}
	if strings.Contains(page, `class="exceptions"`) {
		t.Error("the file's servers had no exceptions, yet the page has an exceptions table")
	}
}
