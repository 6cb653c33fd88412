package measure

import (
	"encoding/json"
	"fmt"
	"math"
)

// Timeline is a scenario's own counts in fixed intervals of the measured
// window (a reconnect storm's connections up, detected dead and reconnected
// every 100 ms): Points[i][j] is Names[j] in interval i, which starts
// i×IntervalS seconds after the window opened.
//
// A value nobody measured (the server's RSS while it was killed, a
// handshake p99 in an interval without a handshake) is NaN in memory and
// null in the file, so a chart leaves a gap instead of drawing a zero.
type Timeline struct {
	IntervalS float64     `json:"interval_s"`
	Names     []string    `json:"names"`
	Points    [][]float64 `json:"points"`
}

// Missing is the value of an interval nothing was measured in.
func Missing() float64 { return math.NaN() }

// IsMissing reports whether v is an interval's missing value.
func IsMissing(v float64) bool { return math.IsNaN(v) }

// Column returns the named column's values, or nil.
func (t *Timeline) Column(name string) []float64 {
	if t == nil {
		return nil
	}
	for j, n := range t.Names {
		if n == name {
			out := make([]float64, len(t.Points))
			for i, p := range t.Points {
				out[i] = Missing()
				if j < len(p) {
					out[i] = p[j]
				}
			}
			return out
		}
	}
	return nil
}

// Add appends a column; values beyond the timeline's length are dropped and
// those not given are missing.
func (t *Timeline) Add(name string, values []float64) {
	t.Names = append(t.Names, name)
	for i := range t.Points {
		v := Missing()
		if i < len(values) {
			v = values[i]
		}
		t.Points[i] = append(t.Points[i], v)
	}
}

// timelineJSON is Timeline as stored: JSON has no NaN, so a missing value
// is null.
type timelineJSON struct {
	IntervalS float64      `json:"interval_s"`
	Names     []string     `json:"names"`
	Points    [][]*float64 `json:"points"`
}

// MarshalJSON writes missing values (NaN) as null; infinities, which no
// interval should hold, are an error rather than a file nobody can read.
func (t Timeline) MarshalJSON() ([]byte, error) {
	w := timelineJSON{IntervalS: t.IntervalS, Names: t.Names}
	if t.Points != nil {
		w.Points = make([][]*float64, len(t.Points))
	}
	for i, p := range t.Points {
		w.Points[i] = make([]*float64, len(p))
		for j, v := range p {
			if math.IsInf(v, 0) {
				return nil, fmt.Errorf("timeline %s at interval %d: %v", t.name(j), i, v)
			}
			if !IsMissing(v) {
				w.Points[i][j] = &p[j]
			}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads null as a missing value.
func (t *Timeline) UnmarshalJSON(data []byte) error {
	var w timelineJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	t.IntervalS, t.Names, t.Points = w.IntervalS, w.Names, nil
	if w.Points != nil {
		t.Points = make([][]float64, len(w.Points))
	}
	for i, p := range w.Points {
		t.Points[i] = make([]float64, len(p))
		for j, v := range p {
			t.Points[i][j] = Missing()
			if v != nil {
				t.Points[i][j] = *v
			}
		}
	}
	return nil
}

func (t Timeline) name(j int) string {
	if j < len(t.Names) {
		return t.Names[j]
	}
	return fmt.Sprintf("column %d", j)
}
