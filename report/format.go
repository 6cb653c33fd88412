package report

import (
	"fmt"
	"strconv"
)

// fmtUs renders microseconds with a unit a person reads at a glance.
func fmtUs(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	case us < 1_000_000:
		return trimFloat(float64(us)/1e3) + "ms"
	default:
		return trimFloat(float64(us)/1e6) + "s"
	}
}

// trimFloat gives three significant digits, the precision of the histograms.
func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// fmtBytes renders a byte count in binary units.
func fmtBytes(b float64) string {
	switch {
	case b < 0:
		return "-" + fmtBytes(-b)
	case b < 1024:
		return fmt.Sprintf("%.0f B", b)
	case b < 1<<20:
		return trimFloat(b/1024) + " KiB"
	case b < 1<<30:
		return trimFloat(b/(1<<20)) + " MiB"
	default:
		return trimFloat(b/(1<<30)) + " GiB"
	}
}

// fmtCount renders an integer with thousands separators.
func fmtCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

const na = "n/a"

func fmtOptFloat(p *float64, f func(float64) string) string {
	if p == nil {
		return na
	}
	return f(*p)
}

func fmtOptBytes(p *uint64) string {
	if p == nil {
		return na
	}
	return fmtBytes(float64(*p))
}
