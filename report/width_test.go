package report

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// realisticResults are result files written by real runs, one per
// scenario and mode: the files of the build before profiles, a quick-start
// run of every server and a reconnect run with a kill.
func realisticResults(t *testing.T) map[string]*Result {
	t.Helper()
	files, _ := filepath.Glob("testdata/before-profiles/*.json")
	more, _ := filepath.Glob("testdata/tables/*.json")
	out := map[string]*Result{}
	for _, path := range append(files, more...) {
		res, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[path] = res
	}
	if len(out) < 8 {
		t.Fatalf("%d realistic result files", len(out))
	}
	return out
}

// crowded makes a result as wide as a real one gets: every server named
// like the longest reference server, every row marked and its load
// generator saturated (so the table ranks by CPU per message and shows
// that column), and every cell run three times.
func crowded(res *Result) *Result {
	c := *res
	c.Records = nil
	for i, r := range res.Records {
		for run := 1; run <= 3; run++ {
			r := r
			r.Server = fmt.Sprintf("%.11s%d", r.Server+"-epoll-xxxxxxx", i%10)
			r.Run = run
			r.ThroughputMsgsPerS *= 1 + 0.01*float64(run)
			r.Client = &ClientGuard{CPUs: 2, CPUUtil: 0.95}
			r.Client.Judge(r.Latency)
			c.Records = append(c.Records, r)
		}
	}
	return &c
}

// TestDefaultTableFits120Columns: every scenario's default table, from
// realistic records and from the same records made as wide as they get,
// fits a 120-column terminal: every line, tables and the text under them.
func TestDefaultTableFits120Columns(t *testing.T) {
	for path, res := range realisticResults(t) {
		for name, r := range map[string]*Result{"as run": res, "crowded": crowded(res)} {
			out := renderText(t, r, Table, false)
			for _, line := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(line); n > TableWidth {
					t.Errorf("%s (%s): a line of %d columns:\n%s", path, name, n, out)
					break
				}
			}
			if !strings.Contains(out, "ranked by") && !strings.Contains(out, "capacity search") {
				t.Errorf("%s (%s): table not ranked:\n%s", path, name, out)
			}
		}
	}
}

// TestWideAndMarkdownKeepEveryColumn: --wide and markdown show the same
// columns, every one a scenario declares; the default table shows a subset
// of them, in the same tables.
func TestWideAndMarkdownKeepEveryColumn(t *testing.T) {
	for path, res := range realisticResults(t) {
		for name, r := range map[string]*Result{"as run": res, "crowded": crowded(res)} {
			wide := parseTables(renderText(t, r, Table, true))
			md := parseTables(renderText(t, r, Markdown, false))
			narrow := parseTables(renderText(t, r, Table, false))
			if len(wide) != len(md) || len(wide) != len(narrow) {
				t.Fatalf("%s (%s): %d wide tables, %d markdown, %d default", path, name, len(wide), len(md), len(narrow))
			}
			for i := range wide {
				if !slices.Equal(wide[i].header, md[i].header) {
					t.Errorf("%s (%s) table %d: wide %q, markdown %q", path, name, i, wide[i].header, md[i].header)
				}
				for _, h := range narrow[i].header {
					if !slices.Contains(wide[i].header, h) {
						t.Errorf("%s (%s) table %d: default column %q not in wide %q", path, name, i, h, wide[i].header)
					}
				}
			}
			first := r.Records[0]
			for _, c := range mainColumns(first) {
				if r.Records[0].SLO == nil && !slices.Contains(wide[0].header, c.name) {
					t.Errorf("%s (%s): wide table lacks declared column %q", path, name, c.name)
				}
			}
		}
	}
}
