package report

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency summarises a latency histogram in microseconds and carries the
// histogram itself, encoded losslessly, so files can be merged exactly and
// any percentile recomputed later.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
	// Clamped counts values above the histogram's 60 s ceiling, recorded as 60 s.
	Clamped uint64 `json:"clamped,omitempty"`
	// Hist is the HdrHistogram in V2 compressed encoding (base64, "HISTF…").
	Hist string `json:"hist"`
}

// NewLatency summarises h, whose values are microseconds.
func NewLatency(h *hdrhistogram.Histogram, clamped uint64) (Latency, error) {
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return Latency{}, fmt.Errorf("encode histogram: %w", err)
	}
	l := Latency{Count: h.TotalCount(), Clamped: clamped, Hist: string(enc)}
	if l.Count > 0 {
		l.Mean = h.Mean()
		l.P50 = h.ValueAtQuantile(50)
		l.P90 = h.ValueAtQuantile(90)
		l.P99 = h.ValueAtQuantile(99)
		l.P999 = h.ValueAtQuantile(99.9)
		l.Max = h.Max()
	}
	return l, nil
}

// Histogram decodes the stored histogram.
func (l Latency) Histogram() (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(l.Hist))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}
