package htmlreport

import (
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// TestBadClientsVerdictsReachThePage: a run with --bad-clients shows the
// same verdict rows in the HTML report as in the terminal.
func TestBadClientsVerdictsReachThePage(t *testing.T) {
	rec := func(spec string, msgs uint64, series ...uint64) report.Record {
		r := report.Record{Scenario: "echo", Mode: "open-loop", Server: "gorilla", Driver: "gobwas", Conns: 10, PayloadBytes: 64,
			Status: report.StatusOK, Messages: msgs, DurationS: 2, ThroughputMsgsPerS: float64(msgs) / 2, BadClients: &report.BadClients{Spec: spec}}
		if spec != "none" {
			r.BadClients.Kinds = []report.BadKind{{Kind: "non-reader", Clients: 1, Open: 1}}
		}
		for i, n := range series {
			r.Series = append(r.Series, report.Second{T: float64(i + 1), Messages: n})
		}
		return r
	}
	res := &report.Result{Records: []report.Record{rec("none", 2000, 1000, 1000), rec("non-reader=1", 1000, 1000, 0)}}
	var b strings.Builder
	if err := Render(&b, []*report.Result{res}, []string{"r.json"}); err != nil {
		t.Fatal(err)
	}
	_, _, rows, _ := report.BadVerdictTable(res.Records)
	page := b.String()
	if len(rows) != 1 || !strings.Contains(page, "Bad clients · what they did") {
		t.Fatalf("rows %v; page has no bad-clients section", rows)
	}
	for _, cell := range rows[0] {
		if !strings.Contains(page, "<td class=\"l\">"+cell+"</td>") {
			t.Errorf("the page lacks the cell %q of the terminal's row %v", cell, rows[0])
		}
	}
}
