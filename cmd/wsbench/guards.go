package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/wsbench/wsbench/scenarios"
)

// The checks `wsbench run` makes before any connection opens: flags that
// do not apply to the scenario, output files that cannot be written, and
// a run that needs more memory than the machine has.

// checkSources binds a TCP socket to port 0 of every --source address and
// closes it, so an address this machine does not have is refused before
// the run, by name, rather than as every connection's dial failure later.
// Binding sends nothing: no packet leaves, nothing is connected to.
func checkSources(ips []net.IP) error {
	for _, ip := range ips {
		if err := bindOnly(ip); err != nil {
			hint := ""
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				hint = " (no interface of this machine has it; on loopback any of 127.0.0.0/8 works)"
			}
			return usagef("--source %s: cannot bind to it: %v%s", ip, err, hint)
		}
	}
	return nil
}

// bindOnly binds a TCP socket to ip:0 and closes it.
func bindOnly(ip net.IP) error {
	family, sa := syscall.AF_INET6, syscall.Sockaddr(nil)
	if ip4 := ip.To4(); ip4 != nil {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Addr: [4]byte(ip4)}
	} else {
		sa = &syscall.SockaddrInet6{Addr: [16]byte(ip.To16())}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, sa)
}

// checkWritable checks, before the run, that path can be written: its
// folder exists (a missing one is an error, never created) and takes a new
// file.
func checkWritable(flagName, path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("--%s %s: folder %s does not exist; create it first", flagName, path, dir)
	case err != nil:
		return usagef("--%s %s: %v", flagName, path, err)
	case !st.IsDir():
		return usagef("--%s %s: %s is not a folder", flagName, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("--%s %s is a folder; name a file", flagName, path)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check*")
	if err != nil {
		return usagef("--%s %s: cannot write there: %v", flagName, path, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// The memory a run needs, estimated before any connection opens. Each side
// of an echo holds up to this many copies of a message per connection at
// once: the client the message it builds and writes, the reply it reads
// and the copy it checks; the server the message it reads, the frame it
// writes and the library's own buffering of either. Both processes run on
// this machine (only the client with --target).
const (
	clientCopiesPerConn = 3
	serverCopiesPerConn = 3
	// perConnOverhead is what a connection costs before its messages:
	// goroutine stacks, socket buffers, the library's structures, on both
	// sides together (the measured slopes are 2–60 KiB a side).
	perConnOverhead = 128 << 10
	// memoryShareAllowed is the share of the machine's available memory
	// a run may plan to use: the rest is for everything else on it.
	memoryShareAllowed = 0.8
)

// memoryEstimate is what a run needs at its largest connection count.
type memoryEstimate struct {
	conns, payload int
	copies         int
	buffers        int // read and write buffers per connection, both sides
	perConn, total uint64
}

func estimateMemory(p scenarios.Params, conns []int, target bool, readBuf, writeBuf int) memoryEstimate {
	e := memoryEstimate{conns: slices.Max(conns), payload: p.Payload, copies: clientCopiesPerConn + serverCopiesPerConn}
	e.buffers = 2 * (readBuf + writeBuf)
	if target {
		e.copies, e.buffers = clientCopiesPerConn, readBuf+writeBuf
	}
	e.perConn = uint64(e.copies)*uint64(e.payload) + uint64(e.buffers) + perConnOverhead
	e.total = e.perConn * uint64(e.conns)
	return e
}

// check refuses a run that needs more than memoryShareAllowed of available
// bytes, naming the numbers.
func (e memoryEstimate) check(available uint64) error {
	if available == 0 || float64(e.total) <= memoryShareAllowed*float64(available) {
		return nil
	}
	return usagef("this run needs about %s of memory and the machine has %s available (%.0f%% may be planned): "+
		"%d conns × %s per connection (--payload %s × %d copies in flight on the client and server sides, plus %s of buffers and %s of overhead); "+
		"lower --payload or --conns",
		fmtBytes(e.total), fmtBytes(available), 100*memoryShareAllowed, e.conns, fmtBytes(e.perConn),
		fmtBytes(uint64(e.payload)), e.copies, fmtBytes(uint64(e.buffers)), fmtBytes(perConnOverhead))
}

// availableMemory is MemAvailable from /proc/meminfo, or 0 where unknown.
func availableMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

func fmtBytes(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
