package measure

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestLinearFitExactLine(t *testing.T) {
	var xs, ys []float64
	for i := range 20 {
		x := 1000 + 50*float64(i) // offset from 0, as connection counts are
		xs = append(xs, x)
		ys = append(ys, 3.25+0.0125*x)
	}
	f, err := LinearFit(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if !near(f.Slope, 0.0125, 1e-9) || !near(f.Intercept, 3.25, 1e-9) || f.R2 != 1 || f.N != 20 {
		t.Fatalf("fit = %+v, want slope 0.0125, intercept 3.25, R2 1, N 20", f)
	}
}

func TestLinearFitNoisyLine(t *testing.T) {
	// y = 2.5x − 7 plus a fixed, zero-mean noise pattern of amplitude 1.
	noise := []float64{0.8, -1, 0.3, -0.5, 1, -0.2, -0.7, 0.4, 0.6, -0.7}
	var xs, ys []float64
	for i := range 40 {
		x := float64(i)
		xs = append(xs, x)
		ys = append(ys, 2.5*x-7+noise[i%len(noise)])
	}
	f, err := LinearFit(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if !near(f.Slope, 2.5, 0.02) || !near(f.Intercept, -7, 0.5) {
		t.Fatalf("fit = %+v, want slope ≈ 2.5, intercept ≈ −7", f)
	}
	if f.R2 <= 0.9 || f.R2 >= 1 {
		t.Fatalf("R2 = %v, want in (0.9, 1)", f.R2)
	}
}

func TestLinearFitUncorrelated(t *testing.T) {
	// y = x² on a range symmetric about 0: no linear trend at all.
	xs := []float64{-3, -2, -1, 0, 1, 2, 3}
	ys := make([]float64, len(xs))
	for i, x := range xs {
		ys[i] = x * x
	}
	f, err := LinearFit(xs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if !near(f.Slope, 0, 1e-12) || !near(f.Intercept, 4, 1e-12) || f.R2 > 1e-12 {
		t.Fatalf("fit = %+v, want slope 0, intercept 4, R2 ≈ 0", f)
	}
}

func TestLinearFitFlat(t *testing.T) {
	f, err := LinearFit([]float64{1, 2, 3}, []float64{0.1, 0.1, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if f.Slope != 0 || f.Intercept != 0.1 || f.R2 != 1 {
		t.Fatalf("fit = %+v, want slope 0, intercept 0.1, R2 1", f)
	}
}

func TestLinearFitErrors(t *testing.T) {
	cases := []struct {
		name   string
		xs, ys []float64
		want   string
	}{
		{"length mismatch", []float64{1, 2, 3}, []float64{1, 2}, "3 x values but 2 y values"},
		{"no points", nil, nil, "at least 2 points, got 0"},
		{"one point", []float64{1}, []float64{2}, "at least 2 points, got 1"},
		{"all xs equal", []float64{4, 4, 4}, []float64{1, 2, 3}, "all 3 x values are 4"},
		{"not finite", []float64{1, 2}, []float64{1, math.NaN()}, "point 1"},
	}
	for _, c := range cases {
		_, err := LinearFit(c.xs, c.ys)
		if err == nil || !errors.Is(err, ErrFit) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one wrapping ErrFit and saying %q", c.name, err, c.want)
		}
	}
}

func TestFitJSON(t *testing.T) {
	b, err := json.Marshal(Fit{Slope: 1, Intercept: 2, R2: 0.5, N: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"slope":1,"intercept":2,"r2":0.5,"n":3}`; string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
}
