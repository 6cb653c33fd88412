package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wsbench/wsbench/measure"
)

// MemorySlope is server memory fitted by least squares against the number of
// connections, over the steady-state snapshots of every successful run of one
// (scenario, server, driver) at two or more connection counts. The slope is
// the cost of one more connection; the intercept is the fixed cost of the
// process, kept out of the per-connection figure.
type MemorySlope struct {
	Scenario string `json:"scenario"`
	Server   string `json:"server"`
	Driver   string `json:"driver"`
	// File is the result file of the points when several are shown together.
	File string `json:"file,omitempty"`
	// Conns are the distinct connection counts measured.
	Conns []int `json:"conns"`
	// RSS fits resident memory, Heap the Go heap after a forced GC, both in
	// bytes: Slope is bytes per connection, Intercept bytes.
	RSS  measure.Fit `json:"rss"`
	Heap measure.Fit `json:"heap"`
}

// Slopes fits a MemorySlope for every (scenario, server, driver) with
// successful records at two or more connection counts.
func Slopes(records []Record) []MemorySlope {
	type key struct{ scenario, server, driver, file string }
	var order []key
	points := map[key][]Record{}
	for _, r := range records {
		if !r.Usable() || r.ServerRSSSteadyBytes == nil || r.ServerHeapSteadyBytes == nil {
			continue
		}
		k := key{r.Scenario, r.ServerLabel(), r.Driver, r.File}
		if _, ok := points[k]; !ok {
			order = append(order, k)
		}
		points[k] = append(points[k], r)
	}
	var out []MemorySlope
	for _, k := range order {
		rs := points[k]
		var xs, rss, heap []float64
		var conns []int
		for _, r := range rs {
			n := r.Connect.Established
			xs = append(xs, float64(n))
			rss = append(rss, float64(*r.ServerRSSSteadyBytes))
			heap = append(heap, float64(*r.ServerHeapSteadyBytes))
			if !slices.Contains(conns, r.Conns) {
				conns = append(conns, r.Conns)
			}
		}
		if len(conns) < 2 {
			continue
		}
		slices.Sort(conns)
		m := MemorySlope{Scenario: k.scenario, Server: k.server, Driver: k.driver, File: k.file, Conns: conns}
		var err1, err2 error
		m.RSS, err1 = measure.LinearFit(xs, rss)
		m.Heap, err2 = measure.LinearFit(xs, heap)
		if err1 == nil && err2 == nil {
			out = append(out, m)
		}
	}
	return out
}

// renderSlopes writes the memory-slope table, if there are slopes.
func renderSlopes(w writer, l layout, slopes []MemorySlope) error {
	if len(slopes) == 0 {
		return nil
	}
	var counts []string
	for _, c := range slopes[0].Conns {
		counts = append(counts, fmtCount(uint64(c)))
	}
	title := fmt.Sprintf("memory per connection · least-squares fit over %s conns (slope = bytes per connection, intercept = fixed cost)",
		strings.Join(counts, ", "))
	fmt.Fprintln(w)
	l.heading(w, title)
	header := []string{"scenario", "server", "driver", "RSS/conn", "RSS fixed", "RSS R²", "heap/conn", "heap fixed", "heap R²"}
	align := alignFor(header, 3)
	var rows [][]string
	for _, s := range slopes {
		server := s.Server
		if s.File != "" {
			server = s.File + ": " + server
		}
		rows = append(rows, []string{s.Scenario, server, s.Driver,
			fmtBytes(s.RSS.Slope), fmtBytes(s.RSS.Intercept), fmt.Sprintf("%.3f", s.RSS.R2),
			fmtBytes(s.Heap.Slope), fmtBytes(s.Heap.Intercept), fmt.Sprintf("%.3f", s.Heap.R2)})
	}
	return writeTable(w, l.markdown, header, align, rows)
}
