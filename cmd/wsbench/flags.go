package main

import (
	"errors"
	"flag"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

var errHelp = errors.New("help requested")

// parseFlags parses args with fs, allowing flags after positional arguments
// (wsbench report FILE --format csv), and returns the positional ones.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stderr)
				fs.Usage()
				return nil, errHelp
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseSize reads a byte size: 1024, 512B, 4KiB, 4k, 1MiB, 1m.
func parseSize(flagName, s string) (int, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 || n > (1<<30)/mult {
		return 0, usagef("--%s %q: want a size such as 1024, 4KiB or 1MiB", flagName, s)
	}
	return n * mult, nil
}

// parseDuration reads a positive duration such as 500ms, 10s or 2m.
func parseDuration(flagName, s string, allowZero bool) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, usagef("--%s %q: want a duration such as 500ms, 10s or 2m", flagName, s)
	}
	if d < 0 || (d == 0 && !allowZero) {
		return 0, usagef("--%s %s: must be more than zero", flagName, s)
	}
	return d, nil
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseRate reads a non-negative rate per second.
func parseRate(flagName, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, usagef("--%s %q: want a rate per second such as 100 or 2500", flagName, s)
	}
	return v, nil
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
