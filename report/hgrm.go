package report

import (
	"fmt"
	"io"
)

// renderHgrm writes each record's latency histogram (and handshake
// histogram) as HdrHistogram's percentile-distribution text, the .hgrm
// format the standard HdrHistogram plotters read. Values are in
// milliseconds, as those plotters expect; each block starts with a comment
// line naming the record.
func renderHgrm(w io.Writer, res *Result) error {
	for _, r := range res.Records {
		for _, h := range []struct {
			name string
			lat  Latency
		}{{"latency", r.Latency}, {"handshake", r.Handshake}} {
			if h.lat.Count == 0 || h.lat.Hist == "" {
				continue
			}
			hist, err := h.lat.Histogram()
			if err != nil {
				return fmt.Errorf("%s/%s run %d %s: %w", r.Scenario, r.Server, r.Run, h.name, err)
			}
			fmt.Fprintf(w, "# %s %s: %s server=%s driver=%s conns=%d payload=%d run=%d (values in ms)\n",
				h.name, r.Mode, r.Scenario, r.Server, r.Driver, r.Conns, r.PayloadBytes, r.Run)
			// The histogram holds microseconds: a value scale of 1000 prints ms.
			if _, err := hist.PercentilesPrint(w, 5, 1000); err != nil {
				return fmt.Errorf("write hgrm: %w", err)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
