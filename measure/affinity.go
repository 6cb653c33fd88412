package measure

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CPU pinning keeps the load generator and the server under test on separate
// CPUs, so neither steals the other's cycles and a run's CPU figures mean what
// they say. AllowedCPUs and PinProcess are in affinity_linux.go; on other
// systems they return errors.ErrUnsupported.

// MaxCPU is one past the highest CPU number AllowedCPUs and PinProcess handle
// (the kernel's default CPU_SETSIZE).
const MaxCPU = 1024

// ParseCPUList parses a CPU list in the kernel's format, as in
// /proc/PID/status Cpus_allowed_list or taskset -c: comma-separated CPU
// numbers and inclusive ranges, such as "0", "1-3" or "0,2,4-5". Spaces
// around items are ignored. The result is sorted and without duplicates.
func ParseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty CPU list")
	}
	var cpus []int
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parseCPU(lo)
		b := a
		if err == nil && isRange {
			b, err = parseCPU(hi)
			if err == nil && b < a {
				err = fmt.Errorf("range ends before it starts")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: bad item %q: %w", s, item, err)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

func parseCPU(s string) (int, error) {
	c, err := strconv.Atoi(s)
	switch {
	case err != nil || s == "" || s[0] == '+':
		return 0, fmt.Errorf("%q is not a CPU number", s)
	case c < 0 || c >= MaxCPU:
		return 0, fmt.Errorf("CPU %d out of range 0-%d", c, MaxCPU-1)
	}
	return c, nil
}

// FormatCPUList writes cpus in the format ParseCPUList reads, with runs of
// consecutive CPUs as ranges: [0 1 2 5] is "0-2,5".
func FormatCPUList(cpus []int) string {
	cpus = slices.Compact(slices.Sorted(slices.Values(cpus)))
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}
