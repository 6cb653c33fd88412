package report

// The results tables' columns for renderers outside this package (the HTML
// report): the very declarations the terminal, markdown and CSV tables are
// built from (catalog, scenario profile, resource columns), so a column
// reads the same everywhere and a scenario's new column reaches every
// format without code in the renderer.

// TableColumn is one column of a results table.
type TableColumn struct {
	// Name is the column's header.
	Name string
	// Left marks a text column (status, close codes, integrity); the
	// others hold figures.
	Left bool
	c    column
}

// Cell is the column's text for r: "-" for a headline figure of a failed
// record, whose numbers are not a result.
func (c TableColumn) Cell(r Record) string {
	if c.c.headline && r.Status == StatusFailed {
		return "-"
	}
	return c.c.cell(r)
}

// TableColumns are the columns of a group's two tables, given its first
// record, as the terminal shows them: what the clients saw (status,
// deflate when offered, the scenario's declared columns) and what it cost
// (the resource columns). A capacity search's steps end both with the SLO.
func TableColumns(first Record) (seen, cost []TableColumn) {
	main := append([]column{colStatus}, mainColumns(first)...)
	if first.Compression != nil {
		main = append([]column{colDeflate}, main...)
	}
	res := resourceColumns(first)
	if first.SLO != nil {
		main, res = append(main, colSLO), append(res, colSLO)
	}
	return exportColumns(main), exportColumns(res)
}

func exportColumns(cols []column) []TableColumn {
	out := make([]TableColumn, len(cols))
	for i, c := range cols {
		out[i] = TableColumn{Name: c.name, Left: c.left, c: c}
	}
	return out
}

// colSLO is a capacity step's verdict against the objective.
var colSLO = column{name: "SLO", left: true, cell: func(r Record) string {
	if r.SLO == nil {
		return "-"
	}
	if r.SLO.Pass {
		return "✓ " + fmtUs(r.SLO.ValueUs)
	}
	return "✗ " + r.SLO.Reason
}}

// SpreadMetric is one headline figure summarised across a cell's runs
// ("median [min–max]" under a table of repeated runs).
type SpreadMetric struct {
	Name string
	// Value reads the figure of one run; ok is false when the run has none.
	Value  func(Record) (v float64, ok bool)
	Format func(float64) string
}

// SpreadMetrics are the figures summarised across runs for a group, given
// its first record.
func SpreadMetrics(first Record) []SpreadMetric {
	ms := spreadMetrics(first)
	out := make([]SpreadMetric, len(ms))
	for i, m := range ms {
		out[i] = SpreadMetric{Name: m.name, Value: m.val, Format: m.format}
	}
	return out
}
