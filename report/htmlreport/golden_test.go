package htmlreport

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
	// The built-in scenarios register their profiles.
	_ "github.com/wsbench/wsbench/scenarios"
)

var update = flag.Bool("update", false, "rewrite the reviewed HTML pages in report/testdata/before-profiles")

// TestStoredFilesRenderAsReviewed: the HTML report of each stored result
// file (report/testdata/before-profiles, written by the build before the
// scenario profiles existed) is the page beside it, byte for byte, so an
// unintended change to any scenario's page shows. After a deliberate
// change, rewrite them with `go test ./report/htmlreport -run
// TestStoredFilesRenderAsReviewed -update` and review the diff.
func TestStoredFilesRenderAsReviewed(t *testing.T) {
	files, _ := filepath.Glob("../testdata/before-profiles/*.json")
	if len(files) < 6 {
		t.Fatalf("%d files", len(files))
	}
	for _, path := range files {
		res, err := report.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := Render(&b, []*report.Result{res}, []string{filepath.Base(path)}); err != nil {
			t.Fatal(err)
		}
		golden := strings.TrimSuffix(path, ".json") + ".html"
		if *update {
			if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if b.String() != string(want) {
			t.Errorf("%s: the HTML report differs from the reviewed page %s", path, golden)
		}
	}
}
