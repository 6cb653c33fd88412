package htmlreport

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wsbench/wsbench/report"
)

// The results tables: the same columns as the terminal's tables (from
// report.TableColumns, i.e. the catalog and the scenario's profile), every
// one of them, sortable by clicking a header. Sorting is the page's one
// inline script (no network); each figure carries its value in data-v so
// "1.2ms" sorts above "850µs" and "-" sorts last whichever way.

type tableView struct {
	Caption string
	Head    []headView
	Rows    [][]cellView
}

type headView struct {
	Name string
	Left bool
}

type cellView struct {
	Text string
	// Sort is the figure's value for sorting, empty for text.
	Sort string
	Left bool
}

// fileRecord is a record of a group with the label of the file it came
// from.
type fileRecord struct {
	file int
	name string
	r    report.Record
}

// leadColumn names a row: server, driver, and what tells it from its
// neighbours.
type leadColumn struct {
	name string
	cell func(fileRecord) string
}

func leadColumns(rows []fileRecord, multiFile bool, rk *report.Ranking) []leadColumn {
	var lead []leadColumn
	if rk != nil {
		lead = append(lead, leadColumn{"#", func(fr fileRecord) string { return rk.Place(fr.r) }})
	}
	lead = append(lead, []leadColumn{
		{"server", func(fr fileRecord) string {
			s := fr.r.ServerLabel()
			if s == "" {
				s = fr.r.Target
			}
			if fr.r.Marked() {
				s += " !"
			}
			return s
		}},
		{"driver", func(fr fileRecord) string { return fr.r.Driver }},
	}...)
	if multiFile {
		lead = append(lead, leadColumn{"file", func(fr fileRecord) string { return fr.name }})
	}
	if slices.ContainsFunc(rows, func(fr fileRecord) bool { return fr.r.Run > 1 }) {
		lead = append(lead, leadColumn{"run", func(fr fileRecord) string { return strconv.Itoa(fr.r.Run) }})
	}
	return lead
}

// resultTables are a group's tables: what the clients saw, what it cost
// and, with repeated runs, the headline figures across runs; ranked as
// the terminal's are (report.Rank: the same order, rank column and line
// saying what ranks them), which they return as ranked ("" when not).
func resultTables(rows []fileRecord, multiFile bool) (tables []tableView, ranked string) {
	if len(rows) == 0 {
		return nil, ""
	}
	rows = slices.Clone(rows)
	if multiFile {
		// The terminal ranks files' rows apart by their file (Combine).
		for i := range rows {
			rows[i].r.File = rows[i].name
		}
	}
	recs := make([]report.Record, len(rows))
	for i, fr := range rows {
		recs[i] = fr.r
	}
	rk := report.Rank(recs)
	if rk != nil {
		slices.SortStableFunc(rows, func(a, b fileRecord) int { return rk.Compare(a.r, b.r) })
		ranked = rk.Line(rows[0].r)
	}
	seen, cost := report.RankedColumns(rows[0].r, rk)
	lead := leadColumns(rows, multiFile, rk)
	tables = []tableView{
		columnsTable("what the clients saw", lead, seen, rows),
		columnsTable("what it cost (server from /proc and /stats, load generator from its own process)", lead, cost, rows),
	}
	if slices.ContainsFunc(rows, func(fr fileRecord) bool { return fr.r.Run > 1 }) {
		tables = append(tables, spreadTable(rows, multiFile, rk))
	}
	return tables, ranked
}

func columnsTable(caption string, lead []leadColumn, cols []report.TableColumn, rows []fileRecord) tableView {
	t := tableView{Caption: caption}
	for _, l := range lead {
		t.Head = append(t.Head, headView{Name: l.name, Left: l.name != "#"})
	}
	for _, c := range cols {
		t.Head = append(t.Head, headView{Name: c.Name, Left: c.Left})
	}
	for _, fr := range rows {
		var row []cellView
		for _, l := range lead {
			text := l.cell(fr)
			cv := cellView{Text: text, Left: true}
			switch l.name {
			case "run":
				cv.Sort, cv.Left = text, false
			case "#":
				cv.Sort, cv.Left = placeSort(text), false
			}
			row = append(row, cv)
		}
		for _, c := range cols {
			row = append(row, figureCell(c.Cell(fr.r), c.Left))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// figureCell is a table cell; a figure column's cell gets its sort value.
func figureCell(text string, left bool) cellView {
	cv := cellView{Text: text, Left: left}
	if !left {
		if v, ok := sortValue(text); ok {
			cv.Sort = strconv.FormatFloat(v, 'g', 10, 64)
		}
	}
	return cv
}

// spreadTable is one row per (server, driver, file): each headline
// figure's median across the runs that measured it, with its range, as
// under the terminal's table. Failed runs are left out and counted.
func spreadTable(rows []fileRecord, multiFile bool, rk *report.Ranking) tableView {
	metrics := report.SpreadMetrics(rows[0].r)
	t := tableView{Caption: "across runs: median [min–max]"}
	if rk != nil {
		t.Head = append(t.Head, headView{Name: "#"})
	}
	t.Head = append(t.Head, headView{Name: "server", Left: true}, headView{Name: "driver", Left: true})
	if multiFile {
		t.Head = append(t.Head, headView{Name: "file", Left: true})
	}
	t.Head = append(t.Head, headView{Name: "runs"})
	for _, m := range metrics {
		t.Head = append(t.Head, headView{Name: m.Name})
	}
	var order []string
	byCell := map[string][]fileRecord{}
	for _, fr := range rows {
		k := fmt.Sprintf("%s\x00%s\x00%d", fr.r.ServerLabel()+fr.r.Target, fr.r.Driver, fr.file)
		if _, ok := byCell[k]; !ok {
			order = append(order, k)
		}
		byCell[k] = append(byCell[k], fr)
	}
	for _, k := range order {
		runs := byCell[k]
		first := runs[0]
		server := first.r.ServerLabel()
		if server == "" {
			server = first.r.Target
		}
		usableRuns := 0
		for _, fr := range runs {
			if fr.r.Usable() {
				usableRuns++
			}
		}
		runsText := strconv.Itoa(usableRuns)
		if usableRuns != len(runs) {
			runsText = fmt.Sprintf("%d of %d", usableRuns, len(runs))
		}
		var row []cellView
		if rk != nil {
			place := rk.Place(first.r)
			row = append(row, cellView{Text: place, Sort: placeSort(place)})
		}
		row = append(row, cellView{Text: server, Left: true}, cellView{Text: first.r.Driver, Left: true})
		if multiFile {
			row = append(row, cellView{Text: first.name, Left: true})
		}
		row = append(row, cellView{Text: runsText, Sort: strconv.Itoa(usableRuns)})
		for _, m := range metrics {
			var vals []float64
			for _, fr := range runs {
				if v, ok := m.Value(fr.r); ok && fr.r.Usable() && !math.IsNaN(v) && !math.IsInf(v, 0) {
					vals = append(vals, v)
				}
			}
			if len(vals) == 0 {
				row = append(row, cellView{Text: "-"})
				continue
			}
			slices.Sort(vals)
			med := report.Median(slices.Clone(vals))
			text := m.Format(med)
			if len(vals) > 1 {
				text = fmt.Sprintf("%s [%s–%s]", m.Format(med), m.Format(vals[0]), m.Format(vals[len(vals)-1]))
			}
			row = append(row, cellView{Text: text, Sort: strconv.FormatFloat(med, 'g', 10, 64)})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// placeSort is a rank's sort value ("=2" sorts as 2), empty for none.
func placeSort(place string) string {
	if _, err := strconv.Atoi(strings.TrimPrefix(place, "=")); err != nil {
		return ""
	}
	return strings.TrimPrefix(place, "=")
}

// figureRE reads the number at the start of a table cell and its unit:
// "12,345", "1.25ms", "850µs", "3.18s", "22.0 MiB", "45%", "1% of 2",
// "9,000 of 10,000".
var figureRE = regexp.MustCompile(`^(-?[0-9][0-9,]*(?:\.[0-9]+)?)\s?(µs|ms|s|B|KiB|MiB|GiB|%)?(?:$|\s)`)

var unitScale = map[string]float64{
	"µs": 1e-6, "ms": 1e-3, "s": 1,
	"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
	"%": 0.01, "": 1,
}

// sortValue is the value of a figure cell in base units (seconds, bytes,
// fractions), as the report's formatters wrote it; ok is false for "-",
// "n/a" and text.
func sortValue(text string) (float64, bool) {
	m := figureRE.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
	if err != nil {
		return 0, false
	}
	return v * unitScale[m[2]], true
}
