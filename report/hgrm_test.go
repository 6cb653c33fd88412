package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderHgrm(t *testing.T) {
	res := &Result{Schema: Schema, Records: []Record{sampleRecord(t, "gorilla", 1)}}
	var buf bytes.Buffer
	if err := Render(&buf, res, Hgrm); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"# latency closed-loop: echo server=gorilla", "# handshake", "Value", "Percentile", "TotalCount", "#[Mean"} {
		if !strings.Contains(out, want) {
			t.Errorf("hgrm lacks %q:\n%.600s", want, out)
		}
	}
	// The median of 10..1000 µs, in ms.
	if !strings.Contains(out, "0.505") {
		t.Errorf("hgrm values should be in ms (median 0.505):\n%.1200s", out)
	}
}
