package main

import (
	"errors"
	"flag"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/wsbench/wsbench/internal/bytesize"
	"github.com/wsbench/wsbench/scenarios"
)

var errHelp = errors.New("help requested")

// parseFlags parses args with fs, allowing flags after positional arguments
// (wsbench report FILE --format csv), and returns the positional ones.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	return parseFlagsHelp(fs, args, stderr, nil)
}

// parseFlagsHelp is parseFlags whose -h prints help(positional) instead
// of fs.Usage when help is given: help that depends on an argument before
// it (`wsbench run chat --help`).
func parseFlagsHelp(fs *flag.FlagSet, args []string, stderr io.Writer, help func(positional []string)) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stderr)
				if help != nil {
					help(positional)
				} else {
					fs.Usage()
				}
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

// maxPayload is the largest --payload: a message a client builds, the
// server echoes and the client checks, several times per connection.
const maxPayload = 1 << 30

// parseSize reads a size flag of `run` in the syntax every size flag takes
// (bytesize: 1024, 512B, 4KiB, 1MiB, 1GiB), at most maxPayload.
func parseSize(flagName, s string) (int, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, usagef("--%s %q: %s", flagName, s, bytesize.Syntax)
	}
	if n > maxPayload {
		return 0, usagef("--%s %s: must be at most %s", flagName, s, bytesize.Format(maxPayload))
	}
	return int(n), nil
}

// parseDuration is scenarios.ParseDuration (one range rule for every
// duration flag) with its error as a usage error.
func parseDuration(flagName, s string, allowZero bool) (time.Duration, error) {
	d, err := scenarios.ParseDuration(flagName, s, allowZero)
	if err != nil {
		return 0, usagef("%s", err)
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

// parseRate reads a rate per second. zeroMeans says what 0 stands for
// ("as fast as possible"); empty, 0 is refused with why (zeroRefused).
func parseRate(flagName, s, zeroMeans, zeroRefused string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, usagef("--%s %q: want a rate per second such as 100 or 2500", flagName, s)
	}
	switch {
	case zeroMeans != "" && v < 0:
		return 0, usagef("--%s %s: must be 0 (%s) or more", flagName, s, zeroMeans)
	case zeroMeans == "" && v <= 0:
		return 0, usagef("--%s %s: must be more than zero%s", flagName, s, zeroRefused)
	}
	return v, nil
}

// parseConnectRate reads --connect-rate, where 0 opens connections as
// fast as the dialers go.
func parseConnectRate(s string) (float64, error) {
	return parseRate("connect-rate", s, "as fast as possible", "")
}

// parseOpenLoopRate reads a single --rate: a schedule, so more than zero.
// Closed loop is what no --rate means, and a 0 that silently meant it
// would hide a typo or a preset's mistake; hint says what leaving --rate
// out does instead.
func parseOpenLoopRate(s, hint string) (float64, error) {
	return parseRate("rate", s, "", hint)
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
