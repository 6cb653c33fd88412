package report

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFilesFromBeforeProfilesRenderAsTheyDid: result files written by the
// build before scenarios declared their profiles (testdata/before-profiles,
// one per scenario and mode, plus a capacity search) load and render as
// that build rendered them (the .table, .markdown and .benchfmt files
// beside them, made by its `wsbench report`): benchfmt to the very bytes;
// markdown, and the terminal table with --wide, with every column and
// every value that build showed, tables now ranked (rows reordered, a rank
// column added) and the client-bound column naming the rule that fired.
// The CSV keeps every old column, in order, with the new ones inserted
// before "file".
func TestFilesFromBeforeProfilesRenderAsTheyDid(t *testing.T) {
	files, _ := filepath.Glob("testdata/before-profiles/*.json")
	if len(files) < 6 {
		t.Fatalf("%d files in testdata/before-profiles", len(files))
	}
	for _, path := range files {
		res, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		base := strings.TrimSuffix(path, ".json")
		for _, f := range []Format{Table, Markdown, Benchfmt} {
			want, err := os.ReadFile(base + "." + string(f))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := RenderWith(&b, res, f, Options{Wide: true}); err != nil {
				t.Fatalf("%s %s: %v", path, f, err)
			}
			if f == Benchfmt {
				if b.String() != string(want) {
					t.Errorf("%s as %s renders differently now:\n%s\nbefore:\n%s", path, f, b.String(), want)
				}
				continue
			}
			keepsEveryCell(t, path+" as "+string(f), parseTables(string(want)), parseTables(b.String()))
		}
		oldCSV, _ := os.ReadFile(base + ".csv")
		var b strings.Builder
		if err := Render(&b, res, CSV); err != nil {
			t.Fatal(err)
		}
		old, _ := csv.NewReader(strings.NewReader(string(oldCSV))).ReadAll()
		now, _ := csv.NewReader(strings.NewReader(b.String())).ReadAll()
		if len(old) != len(now) || len(old) == 0 {
			t.Fatalf("%s: %d CSV rows, before %d", path, len(now), len(old))
		}
		added := len(now[0]) - len(old[0])
		for i := range old {
			last := len(now[i]) - 1
			kept := append(slices.Clone(now[i][:last-added]), now[i][last])
			if !slices.Equal(kept, old[i]) {
				t.Errorf("%s CSV row %d:\n%v\nbefore:\n%v", path, i, kept, old[i])
			}
		}
	}
}

// parsed is one table of rendered output: its header and rows, as text.
type parsed struct {
	header []string
	rows   [][]string
}

// parseTables reads the tables of rendered output, markdown or terminal
// boxes; a terminal header folded over two lines is joined again.
func parseTables(out string) []parsed {
	var tables []parsed
	var cur *parsed
	inHeader, markdown := false, false
	cells := func(line, sep string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), sep), sep)
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "┌"):
			tables = append(tables, parsed{})
			cur, inHeader, markdown = &tables[len(tables)-1], true, false
		case strings.HasPrefix(line, "├"):
			inHeader = false
		case strings.HasPrefix(line, "└"):
			cur = nil
		case strings.HasPrefix(line, "│") && cur != nil:
			c := cells(line, "│")
			switch {
			case !inHeader:
				cur.rows = append(cur.rows, c)
			case cur.header == nil:
				cur.header = c
			default:
				for i, part := range c {
					if part != "" {
						cur.header[i] += " " + part
					}
				}
			}
		case strings.HasPrefix(line, "|"):
			c := cells(line, "|")
			switch {
			case cur == nil:
				tables = append(tables, parsed{header: c})
				cur, markdown = &tables[len(tables)-1], true
			case strings.Trim(c[0], ":-") != "":
				cur.rows = append(cur.rows, c)
			}
		case markdown:
			cur, markdown = nil, false
		}
	}
	return tables
}

// keepsEveryCell checks that every table of before is in now, in order,
// with every column and, row by row (matched by server, driver and run),
// the same value; the client-bound column may name the rule where it said
// "yes".
func keepsEveryCell(t *testing.T, what string, before, now []parsed) {
	t.Helper()
	if len(now) < len(before) {
		t.Errorf("%s: %d tables, before %d", what, len(now), len(before))
		return
	}
	for ti, old := range before {
		cur := now[ti]
		col := map[string]int{}
		for i, h := range cur.header {
			col[h] = i
		}
		for _, h := range old.header {
			if _, ok := col[h]; !ok {
				t.Errorf("%s: table %d lost column %q (now %q)", what, ti, h, cur.header)
			}
		}
		if len(cur.rows) != len(old.rows) {
			t.Errorf("%s: table %d has %d rows, before %d", what, ti, len(cur.rows), len(old.rows))
			continue
		}
		// Rows are matched by the cells that name them (a capacity
		// search's steps by their rate), since ranking reorders them.
		nowRows := map[string][]string{}
		for _, row := range cur.rows {
			key := ""
			for _, h := range []string{"server", "driver", "file", "run", "SLO", "sent/s"} {
				if i, ok := col[h]; ok {
					key += strings.TrimSuffix(row[i], " !") + "/"
				}
			}
			nowRows[key] = row
		}
		for _, row := range old.rows {
			key := ""
			for _, h := range []string{"server", "driver", "file", "run", "SLO", "sent/s"} {
				if i := slices.Index(old.header, h); i >= 0 {
					key += strings.TrimSuffix(row[i], " !") + "/"
				}
			}
			got, ok := nowRows[key]
			if !ok {
				t.Errorf("%s: table %d lost row %s", what, ti, key)
				continue
			}
			for i, h := range old.header {
				j, ok := col[h]
				if !ok || got[j] == row[i] || (h == "client-bound" && row[i] == "yes" && got[j] != "no") {
					continue
				}
				t.Errorf("%s: table %d row %s column %q: %q, before %q", what, ti, key, h, got[j], row[i])
			}
		}
	}
}
