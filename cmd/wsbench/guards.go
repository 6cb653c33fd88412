package main

import (
	"bufio"
	"context"
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
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
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

// preflight dials the target once so an unreachable one gets one clear line
// instead of a table of failures.
func preflight(ctx context.Context, plan runner.Plan) error {
	s := servers.DefaultSettings()
	ctx, cancel := context.WithTimeout(ctx, s.HandshakeTimeout)
	defer cancel()
	opts := drivers.DialOptions{
		TLSConfig: plan.TLS, HandshakeTimeout: s.HandshakeTimeout, ReadLimit: plan.Settings.ReadLimit,
		ReadBufferSize: s.ReadBufferSize, WriteBufferSize: s.WriteBufferSize,
		Header: plan.Header, Subprotocols: plan.Subprotocols,
	}
	if len(plan.Sources) > 0 {
		opts.LocalAddr = plan.Sources[0]
	}
	c, err := plan.Driver.Dial(ctx, plan.Target, opts)
	if refusal := requestRefusal(plan, err); refusal != nil {
		// The server is up and speaks HTTP; it does not upgrade this request.
		return refusal
	}
	if err != nil {
		return usagef("target %s unreachable (%s): %v", plan.Target, drivers.DialErrorClass(err), err)
	}
	_, _ = c.Close(time.Second)
	return nil
}

func openFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Max
}

// checkOpenFiles refuses a connection count (this shard's share of it) that
// one process cannot hold under the open-file limit.
func checkOpenFiles(counts []int, shard runner.Shard, target bool) error {
	limit := openFileLimit()
	if limit == 0 {
		return nil
	}
	for _, n := range counts {
		share := shard.Share(n)
		if uint64(share)+fdReserve <= limit {
			continue
		}
		what := "and each reference server is one process too"
		if target {
			what = "split the load with --shard I/N over several processes (and a target that holds them all: wsbench serve --reuse-port)"
		}
		if shard.Count > 1 {
			return usagef("--conns %d over %d shards is %d for this one, more than one process can hold here: the open-file limit (RLIMIT_NOFILE) is %d, "+
				"so at most %d connections per process; %s", n, shard.Count, share, limit, limit-fdReserve, what)
		}
		return usagef("--conns %d is more than one process can hold here: the open-file limit (RLIMIT_NOFILE) is %d, "+
			"so at most %d connections per process; %s", n, limit, limit-fdReserve, what)
	}
	return nil
}
