package report

import (
	"slices"
	"strings"
	"testing"
)

// TestTableColumnsAreTheTerminals: the exported columns are those of the
// terminal's two tables, with a failed record's headline figures "-".
func TestTableColumnsAreTheTerminals(t *testing.T) {
	r := sampleRecord(t, "gorilla", 1)
	seen, cost := TableColumns(r)
	var seenNames, costNames []string
	for _, c := range seen {
		seenNames = append(seenNames, c.Name)
	}
	for _, c := range cost {
		costNames = append(costNames, c.Name)
	}
	// What the terminal prints: every exported column is a header cell of
	// the markdown tables (which keep every column), in the same order.
	var md strings.Builder
	if err := Render(&md, &Result{Records: []Record{r}}, Markdown); err != nil {
		t.Fatal(err)
	}
	var headers [][]string
	for _, line := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "|--") && !strings.HasPrefix(line, "| -") {
			var cells []string
			for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			if slices.Contains(cells, "server") {
				headers = append(headers, cells)
			}
		}
	}
	if len(headers) < 2 {
		t.Fatalf("markdown has %d table headers, want the two tables:\n%s", len(headers), md.String())
	}
	for i, names := range [][]string{seenNames, costNames} {
		at := -1
		for _, n := range names {
			j := slices.Index(headers[i], n)
			if j <= at {
				t.Errorf("table %d: column %q not printed after the one before it (header %v)", i+1, n, headers[i])
			}
			at = j
		}
	}
	if !slices.Contains(costNames, "CPU s / 1M msgs") || !slices.Contains(costNames, "client-bound") {
		t.Errorf("cost columns %v", costNames)
	}
	failed := r
	failed.Status = StatusFailed
	for _, c := range seen {
		if c.Name == "p99" {
			if c.Cell(r) == "-" || c.Cell(failed) != "-" {
				t.Errorf("p99: %q ok, %q failed; want a figure and '-'", c.Cell(r), c.Cell(failed))
			}
		}
		if c.Name == "status" && c.Cell(failed) != StatusFailed {
			t.Errorf("status of a failed record reads %q", c.Cell(failed))
		}
	}
	r.SLO = &SLOCheck{Objective: "p99<5ms", Pass: true, ValueUs: 1200}
	seen, cost = TableColumns(r)
	if seen[len(seen)-1].Name != "SLO" || cost[len(cost)-1].Name != "SLO" || seen[len(seen)-1].Cell(r) != "✓ 1.20ms" {
		t.Errorf("a capacity step's tables do not end with its SLO")
	}
}
