package report

import (
	"slices"
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
	var want []string
	for _, c := range append([]column{colStatus}, mainColumns(r)...) {
		want = append(want, c.name)
	}
	if !slices.Equal(seenNames, want) {
		t.Errorf("clients' columns %v, want %v", seenNames, want)
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
