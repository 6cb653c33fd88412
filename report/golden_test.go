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
// one per scenario and mode, plus a capacity search) load, and render to the
// very bytes that build rendered them to (the .table, .markdown and
// .benchfmt files beside them, made by its `wsbench report`). The CSV keeps
// every old column, in order, with the new ones inserted before "file".
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
			if err := Render(&b, res, f); err != nil {
				t.Fatalf("%s %s: %v", path, f, err)
			}
			if b.String() != string(want) {
				t.Errorf("%s as %s renders differently now:\n%s\nbefore:\n%s", path, f, b.String(), want)
			}
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
