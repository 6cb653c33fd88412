package htmlreport

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

func TestSortValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"150,844", 150844, true},
		{"850µs", 850e-6, true},
		{"1.25ms", 1.25e-3, true},
		{"3.18s", 3.18, true},
		{"22.0 MiB", 22 << 20, true},
		{"25.6 KiB", 25.6 * 1024, true},
		{"512 B", 512, true},
		{"-2.67 KiB", -2.67 * 1024, true},
		{"45%", 0.45, true},
		{"1% of 2", 0.01, true},
		{"9,000 of 10,000", 9000, true},
		{"-", 0, false},
		{"n/a", 0, false},
		{"ok", 0, false},
		{"1001×20", 0, false},
		{"12abc", 0, false},
	} {
		got, ok := sortValue(c.in)
		if ok != c.ok || (ok && math.Abs(got-c.want) > 1e-9*math.Abs(c.want)+1e-12) {
			t.Errorf("sortValue(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

var (
	tableRE = regexp.MustCompile(`(?s)<table class="results sortable">\s*<caption>([^<]*)</caption>\s*<thead><tr>(.*?)</tr></thead>\s*<tbody>(.*?)</tbody>`)
	thRE    = regexp.MustCompile(`<th[^>]*>([^<]*)</th>`)
	trRE    = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	tdRE    = regexp.MustCompile(`<td([^>]*)>([^<]*)</td>`)
)

type parsedTable struct {
	caption string
	head    []string
	rows    [][]string // cell texts
	sorts   [][]string // data-v, "" when none
}

func parseTables(t *testing.T, page string) []parsedTable {
	t.Helper()
	var out []parsedTable
	for _, m := range tableRE.FindAllStringSubmatch(page, -1) {
		pt := parsedTable{caption: m[1]}
		for _, h := range thRE.FindAllStringSubmatch(m[2], -1) {
			pt.head = append(pt.head, h[1])
		}
		for _, r := range trRE.FindAllStringSubmatch(m[3], -1) {
			var texts, sorts []string
			for _, c := range tdRE.FindAllStringSubmatch(r[1], -1) {
				texts = append(texts, c[2])
				v := ""
				if _, after, ok := strings.Cut(c[1], `data-v="`); ok {
					v, _, _ = strings.Cut(after, `"`)
				}
				sorts = append(sorts, v)
			}
			if len(texts) != len(pt.head) {
				t.Fatalf("%s: row of %d cells under %d headers: %v", pt.caption, len(texts), len(pt.head), texts)
			}
			pt.rows, pt.sorts = append(pt.rows, texts), append(pt.sorts, sorts)
		}
		out = append(out, pt)
	}
	return out
}

// TestRenderHTMLTablesHoldEveryColumn: the page's tables have every column
// of the terminal's two tables, a row per record with the same text in
// each cell, figures sortable by value and "-" unsortable; repeated runs
// add the across-runs table.
func TestRenderHTMLTablesHoldEveryColumn(t *testing.T) {
	res := htmlResult(t, []string{"gorilla", "coder"}, 2, 50, 90000)
	res.Records[1].Status, res.Records[1].Reason = report.StatusFailed, "boom"
	page := renderHTMLString(t, []*report.Result{res}, []string{"run.json"})
	checkHTML(t, page)
	tables := parseTables(t, page)
	if len(tables) != 3 {
		t.Fatalf("%d tables, want 3 (clients, cost, across runs)", len(tables))
	}
	if !strings.Contains(page, "<table class=\"results sortable\">") || strings.Index(page, "<table class=\"results") > strings.Index(page, "<svg") {
		t.Error("the tables are not above the charts")
	}
	// The rows are the group's records in ranked order, as the terminal
	// lists them.
	recs := slices.Clone(report.Groups(res)[0].Records)
	rk := report.Rank(recs)
	if rk == nil {
		t.Fatal("two servers are not ranked")
	}
	slices.SortStableFunc(recs, rk.Compare)
	seen, cost := report.RankedColumns(recs[0], rk)
	for i, cols := range [][]report.TableColumn{seen, cost} {
		tb := tables[i]
		if want := append([]string{"#", "server", "driver", "run"}, names(cols)...); strings.Join(tb.head, "|") != strings.Join(want, "|") {
			t.Errorf("table %q headers\n got %v\nwant %v", tb.caption, tb.head, want)
		}
		if len(tb.rows) != len(res.Records) {
			t.Fatalf("table %q: %d rows, want %d", tb.caption, len(tb.rows), len(res.Records))
		}
		for ri, r := range recs {
			if got := tb.rows[ri][0]; got != rk.Place(r) {
				t.Errorf("table %q row %d: rank %q, want %q", tb.caption, ri, got, rk.Place(r))
			}
			for ci, c := range cols {
				got, want := tb.rows[ri][4+ci], templateEscape(c.Cell(r))
				if got != want {
					t.Errorf("table %q row %d %q: %q, want %q", tb.caption, ri, c.Name, got, want)
				}
				numeric := want != "" && (want[0] >= '0' && want[0] <= '9' || len(want) > 1 && want[0] == '-' && want[1] >= '0' && want[1] <= '9')
				if sort := tb.sorts[ri][4+ci]; !c.Left && (sort != "") != numeric {
					t.Errorf("table %q row %d %q: cell %q has sort value %q", tb.caption, ri, c.Name, want, sort)
				}
			}
		}
	}
	// The failed run's headline figures read "-", as in the terminal.
	if !strings.Contains(page, `<td class="l">failed</td><td>-</td>`) {
		t.Error("a failed run's throughput is not '-'")
	}
	if tables[2].caption != "across runs: median [min–max]" || len(tables[2].rows) != 2 {
		t.Fatalf("across-runs table %+v", tables[2])
	}
	for i, row := range tables[2].rows {
		// Ranked as the others: its cells in their order, with their rank.
		if row[0] != tables[0].rows[2*i][0] || row[1] != strings.TrimSuffix(tables[0].rows[2*i][1], " !") {
			t.Errorf("across-runs row %d %v: want %v's cell", i, row, tables[0].rows[2*i])
		}
		if want := map[string]string{"gorilla": "1 of 2", "coder": "2"}[row[1]]; row[3] != want {
			t.Errorf("across-runs row %v: runs %q, want %q", row, row[3], want)
		}
	}
}

// templateEscape is what html/template makes of cell text.
func templateEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func names(cols []report.TableColumn) []string {
	var out []string
	for _, c := range cols {
		out = append(out, c.Name)
	}
	return out
}

// TestRenderHTMLNoEmptyExceptionRows: a server that applied every setting
// is in the exceptions map with no list; it is not a row.
func TestRenderHTMLNoEmptyExceptionRows(t *testing.T) {
	res := htmlResult(t, []string{"gorilla"}, 1, 50, 1000)
	res.ServerExceptions = map[string][]string{"gorilla": nil, "coder": {}}
	page := renderHTMLString(t, []*report.Result{res}, nil)
	if strings.Contains(page, `class="exceptions"`) || !strings.Contains(page, "No exceptions: every server applied every setting.") {
		t.Error("servers with no exceptions make an exceptions table")
	}
	res.ServerExceptions["coder"] = []string{"read_buffer: not configurable"}
	page = renderHTMLString(t, []*report.Result{res}, nil)
	if n := strings.Count(page, `<tr><th class="l">`); !strings.Contains(page, "<th class=\"l\">coder</th>") || strings.Contains(page, "<th class=\"l\">gorilla</th><td class=\"l\"></td>") {
		t.Errorf("exceptions table with %d rows: want coder's only", n)
	}
}

// TestRenderHTMLRanksAsTheTerminal: the page's tables list the rows of the
// quick start's table in the terminal table's ranked order, with the same
// rank column (ties included) and the line saying what ranks them.
func TestRenderHTMLRanksAsTheTerminal(t *testing.T) {
	res, err := report.Load("../testdata/tables/echo-quickstart.json")
	if err != nil {
		t.Fatal(err)
	}
	var term strings.Builder
	if err := report.Render(&term, res, report.Table); err != nil {
		t.Fatal(err)
	}
	// The terminal's first table: "# | server | ..." rows until its end.
	var want [][2]string
	const seek, header, rows = 0, 1, 2
	state := seek
	for _, line := range strings.Split(term.String(), "\n") {
		cells := strings.Split(strings.Trim(line, "│ "), "│")
		switch {
		case state == seek && strings.HasPrefix(line, "│") && strings.TrimSpace(cells[0]) == "#":
			state = header
		case state == header && strings.HasPrefix(line, "├"):
			state = rows
		case state == rows && strings.HasPrefix(line, "│") && len(cells) > 1:
			want = append(want, [2]string{strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])})
		}
		if state == rows && strings.HasPrefix(line, "└") {
			break
		}
	}
	if len(want) < 3 {
		t.Fatalf("no ranked terminal table:\n%s", term.String())
	}
	page := renderHTMLString(t, []*report.Result{res}, []string{"quickstart.json"})
	tables := parseTables(t, page)
	for _, tb := range tables[:2] {
		var got [][2]string
		for _, row := range tb.rows {
			got = append(got, [2]string{row[0], row[1]})
		}
		if tb.head[0] != "#" || !slices.Equal(got, want) {
			t.Errorf("table %q: rank and server\n got %v\nwant %v (the terminal's)", tb.caption, got, want)
		}
	}
	if !slices.ContainsFunc(want, func(w [2]string) bool { return strings.HasPrefix(w[0], "=") }) {
		t.Log("the quick start's table has no tie") // the order and ranks are still checked
	}
	rk := report.Rank(report.Groups(res)[0].Records)
	if line := rk.Line(report.Groups(res)[0].Records[0]); !strings.Contains(page, `<p class="ranked">`+templateEscape(line)+`</p>`) {
		t.Errorf("page lacks the ranking line %q", line)
	}
	// The ranked-by figure is in the first table, as in the terminal's.
	if !slices.Contains(tables[0].head, rk.Label()) {
		t.Errorf("first table %v lacks the ranked-by column %q", tables[0].head, rk.Label())
	}
}
