package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/wsbench/wsbench/badclients"
	"github.com/wsbench/wsbench/internal/bytesize"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/scenarios"
)

// badOptions are --bad-clients and the server memory cap that keeps a bad
// case a result: they apply to every scenario that has a window of
// traffic.
type badOptions struct {
	spec   string
	memCap string
}

func (b *badOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&b.spec, "bad-clients", "", "add misbehaving connections beside the good ones, `KIND=COUNT|PERCENT[:ARG],...` (e.g. non-reader=1%,idle-tcp=500); each cell is paired with a clean one; 'help' lists the kinds")
	fs.StringVar(&b.memCap, "server-mem-cap", "", "kill a reference server whose RSS passes this `SIZE` (e.g. 4GiB), failing its cell as 'killed at the memory cap' (default: a quarter of the machine's memory)")
}

// apply reads the bad clients and the memory cap into the plan. counts are
// the good connection counts of the matrix; the open-file limit must hold
// the largest with the bad clients beside it.
func (b badOptions) apply(plan *runner.Plan, counts []int, compression bool, target string) error {
	capBytes, err := memCap(b.memCap)
	if err != nil {
		return err
	}
	plan.ServerMemCap = capBytes
	if b.spec == "" {
		return nil
	}
	if len(counts) > 1 && strings.Contains(b.spec, "%") {
		return usagef("--bad-clients %s: with a --conns list give counts, not percentages (a percentage of which count?)", b.spec)
	}
	spec, err := badclients.Parse(b.spec, counts[0], compression)
	if err != nil {
		return usagef("--bad-clients: %v", err)
	}
	switch {
	case plan.Scenario.Measures() == scenarios.Connecting:
		return usagef("--bad-clients: the %s scenario measures its connect phase, which bad clients beside it would not change; use a scenario with traffic (echo, broadcast, heartbeat, reconnect)", plan.Scenario.Name())
	case strings.HasPrefix(target, "wss://"):
		return usagef("--bad-clients: the bad clients speak plain ws:// (they write raw frames byte by byte); a wss:// target is not supported")
	}
	if limit := openFileLimit(); limit > 0 {
		most := counts[0]
		for _, n := range counts {
			most = max(most, n)
		}
		if uint64(most+spec.Total())+fdReserve > limit {
			return usagef("--conns %d with %d bad clients is more than one process can hold here: the open-file limit (RLIMIT_NOFILE) is %d, so at most %d connections in all",
				most, spec.Total(), limit, limit-fdReserve)
		}
	}
	plan.BadClients = spec
	return nil
}

// memCap is --server-mem-cap, or a quarter of the machine's memory.
func memCap(s string) (uint64, error) {
	if s != "" {
		n, err := bytesize.Parse(s)
		if err != nil || n <= 0 {
			return 0, usagef("--server-mem-cap %q: %s, more than 0", s, bytesize.Syntax)
		}
		return uint64(n), nil
	}
	total, err := memTotal()
	if err != nil {
		return 0, nil // no /proc/meminfo: no cap rather than a guess
	}
	return total / 4, nil
}

// memTotal is MemTotal of /proc/meminfo, in bytes.
func memTotal() (uint64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("read MemTotal: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}
