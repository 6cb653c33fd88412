//go:build !wsbench_slowecho

package servers

// echoCost is where a test-only build adds a fixed CPU cost to every
// echoed message (see echocost_slow.go); in every other build it does
// nothing and compiles away.
func echoCost() {}
