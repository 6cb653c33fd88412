package htmlreport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
	// The built-in scenarios register their profiles.
	_ "github.com/wsbench/wsbench/scenarios"
)

// TestFilesFromBeforeProfilesRenderAsTheyDid: the HTML report of a result
// file from the build before this package and the scenario profiles existed
// is the very page that build wrote (report/testdata/before-profiles/*.html).
func TestFilesFromBeforeProfilesRenderAsTheyDid(t *testing.T) {
	files, _ := filepath.Glob("../testdata/before-profiles/*.json")
	if len(files) < 6 {
		t.Fatalf("%d files", len(files))
	}
	for _, path := range files {
		res, err := report.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".html")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := Render(&b, []*report.Result{res}, []string{filepath.Base(path)}); err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s: the HTML report differs from the one the earlier build wrote", path)
		}
	}
}
