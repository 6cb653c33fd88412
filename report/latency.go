package report

import (
	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/measure"
)

// Latency is a latency summary with its histogram (measure.Latency).
type Latency = measure.Latency

// NewLatency summarises h, whose values are microseconds.
func NewLatency(h *hdrhistogram.Histogram, clamped uint64) (Latency, error) {
	return measure.NewLatency(h, clamped)
}
