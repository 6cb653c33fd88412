package measure

import (
	"errors"
	"fmt"
	"math"
)

// Fit is an ordinary least-squares line y = Intercept + Slope·x through N
// points, with its coefficient of determination R2 (1 − SSres/SStot): the
// share of the variance of y the line explains, from 0 (none) to 1 (exact).
// Scaling sweeps use it to state, for example, how latency or memory grows
// with the number of connections and how well a straight line describes it.
type Fit struct {
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	R2        float64 `json:"r2"`
	N         int     `json:"n"`
}

// ErrFit is wrapped by every error LinearFit returns.
var ErrFit = errors.New("linear fit")

// LinearFit fits y = Intercept + Slope·x to the points (xs[i], ys[i]) by
// ordinary least squares. It needs two or more points, as many ys as xs, at
// least two distinct xs and finite values. When all ys are equal the fit is
// the horizontal line through them and R2 is 1 (SStot = 0 and the fit is
// exact). R2 is clamped to [0, 1] against rounding.
func LinearFit(xs, ys []float64) (Fit, error) {
	if len(xs) != len(ys) {
		return Fit{}, fmt.Errorf("%w: %d x values but %d y values", ErrFit, len(xs), len(ys))
	}
	n := len(xs)
	if n < 2 {
		return Fit{}, fmt.Errorf("%w: need at least 2 points, got %d", ErrFit, n)
	}
	allXEqual, allYEqual := true, true
	var sx, sy float64
	for i := range n {
		x, y := xs[i], ys[i]
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return Fit{}, fmt.Errorf("%w: point %d (%v, %v) is not finite", ErrFit, i, x, y)
		}
		allXEqual = allXEqual && x == xs[0]
		allYEqual = allYEqual && y == ys[0]
		sx += x
		sy += y
	}
	if allXEqual {
		return Fit{}, fmt.Errorf("%w: all %d x values are %v, so the slope is undefined", ErrFit, n, xs[0])
	}
	if allYEqual {
		return Fit{Slope: 0, Intercept: ys[0], R2: 1, N: n}, nil
	}
	// Centred sums avoid the cancellation of the textbook Σxy − n·x̄·ȳ form
	// when x is large next to its spread (timestamps, connection counts).
	mx, my := sx/float64(n), sy/float64(n)
	var sxx, sxy, syy float64
	for i := range n {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	f := Fit{N: n}
	f.Slope = sxy / sxx
	f.Intercept = my - f.Slope*mx
	var ssres float64
	for i := range n {
		r := ys[i] - (f.Intercept + f.Slope*xs[i])
		ssres += r * r
	}
	switch {
	case ssres == 0 || syy == 0:
		f.R2 = 1
	default:
		f.R2 = min(max(1-ssres/syy, 0), 1)
	}
	return f, nil
}
