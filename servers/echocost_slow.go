//go:build wsbench_slowecho

package servers

import (
	"fmt"
	"os"
	"time"
)

// EchoCost is the CPU time every reference server spins before it echoes a
// message, in a build with the test-only tag wsbench_slowecho: a build made
// slower on purpose, to measure what an A/B run catches. It is set when
// linking:
//
//	go build -tags wsbench_slowecho -ldflags "-X github.com/wsbench/wsbench/servers.EchoCost=2us" ./cmd/wsbench
var EchoCost = "1us"

var echoCostD = func() time.Duration {
	d, err := time.ParseDuration(EchoCost)
	if err != nil || d < 0 {
		fmt.Fprintf(os.Stderr, "wsbench: servers.EchoCost %q is not a duration\n", EchoCost)
		os.Exit(2)
	}
	return d
}()

// echoCost spins (never sleeps, so the cost is CPU, as a slower library's
// would be) for EchoCost.
func echoCost() {
	for start := time.Now(); time.Since(start) < echoCostD; {
	}
}
