package servers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/measure"
)

// shutdownTimeout bounds the whole shutdown after ctx ends: going away,
// draining in-flight HTTP requests and waiting for handlers to unregister.
// It leaves room for closeGrace and still ends well inside the runner's grace.
const shutdownTimeout = 2 * time.Second

// Protocol names the contract between a load generator and a `wsbench
// serve` process: the serve flags (ServeConfig.Args), the ready line and
// the /stats answer. An A/B run starts servers from other wsbench binaries
// and refuses one whose Protocol differs; change it whenever any of the
// three changes in a way an older or newer binary would misread.
const Protocol = "wsbench-serve/1"

// readyPrefix starts the one line Serve prints once it accepts connections.
const readyPrefix = "wsbench serve: ready "

// Stats is the JSON answer of a reference server's GET /stats endpoint: what
// the server process itself sees, next to the runner's outside view (RSS).
type Stats struct {
	// Server is the reference server's name ("gorilla").
	Server string `json:"server"`
	// CPUSeconds and RSSBytes are the process's own, from /proc, so a
	// load generator on another machine can fill the server columns; Time
	// is the server's clock, for the skew between machines.
	CPUSeconds float64   `json:"cpu_s"`
	RSSBytes   uint64    `json:"rss_bytes"`
	Time       time.Time `json:"time"`
	// PID is the server's process id.
	PID int `json:"pid"`
	// Conns is the number of open WebSocket connections (Live.Count).
	Conns int `json:"conns"`
	// Goroutines is runtime.NumGoroutine: with one goroutine per
	// connection it shows what each library costs in goroutines.
	Goroutines int `json:"goroutines"`
	// HeapAllocBytes is runtime.MemStats.HeapAlloc: bytes of live and
	// not yet collected heap objects (only live ones after ?gc=1).
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	// HeapInuseBytes is runtime.MemStats.HeapInuse: bytes in in-use heap spans.
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	// HeapSysBytes is runtime.MemStats.HeapSys: heap memory obtained from the OS.
	HeapSysBytes uint64 `json:"heap_sys_bytes"`
	// NumGC is runtime.MemStats.NumGC: completed GC cycles, forced ones included.
	NumGC uint32 `json:"num_gc"`
	// GCPauseTotalNs is runtime.MemStats.PauseTotalNs: total stop-the-world
	// pause time since the process started, in nanoseconds.
	GCPauseTotalNs uint64 `json:"gc_pause_total_ns"`
	// BroadcastPublished is the number of publishes: data messages
	// received on /broadcast connections (Counters.BroadcastPublished).
	BroadcastPublished uint64 `json:"broadcast_published"`
	// BroadcastEnqueued is the number of messages queued to subscribers,
	// one per subscriber a publish reached; a publish to n subscribers
	// adds n unless some were slow (Counters.BroadcastEnqueued).
	BroadcastEnqueued uint64 `json:"broadcast_enqueued"`
	// BroadcastDropped is the number of messages skipped for subscribers
	// whose queue was full, under the drop policy (Counters.BroadcastDropped).
	BroadcastDropped uint64 `json:"broadcast_dropped"`
	// BroadcastDisconnected is the number of subscribers closed with 1008
	// because their queue was full, under the disconnect policy
	// (Counters.BroadcastDisconnected).
	BroadcastDisconnected uint64 `json:"broadcast_disconnected"`
	// IdleClosed is the number of connections closed because nothing, not
	// even a ping, arrived on them for the idle timeout (Counters.IdleClosed).
	IdleClosed uint64 `json:"idle_closed"`
	// CompressedConns is the number of connections accepted with
	// permessage-deflate negotiated (Counters.CompressedConns).
	CompressedConns uint64 `json:"compressed_conns"`
	// Runtime is what the Go runtime of the server process runs with.
	Runtime RuntimeSettings `json:"runtime"`
}

// Serve runs srv on a TCP listener at listen (e.g. "127.0.0.1:0") until ctx
// ends. It mounts /echo and /broadcast from srv.Handlers and GET /stats, then
// writes one ready line (see ParseReady) to ready. When ctx ends it shuts
// down in the order every server follows (see shutdown): it stops
// accepting, closes every WebSocket with 1001 (going away), then stops the
// server, and returns nil; an error means the server could not start,
// failed while serving, or did not stop cleanly.
func Serve(ctx context.Context, srv Server, listen string, s Settings, ready io.Writer) error {
	if srv == nil {
		return errors.New("serve: no server")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("serve %s: listen on %s: %w", srv.Name(), listen, err)
	}
	return ServeOn(ctx, srv, ln, s, ready)
}

// ListenReusePort listens on addr with SO_REUSEPORT, so several server
// processes can share one port and the kernel spreads the connections over
// them: together they hold more connections than one process's open-file
// limit allows.
func ListenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// ServeOn is Serve on a listener already open.
func ServeOn(ctx context.Context, srv Server, ln net.Listener, s Settings, ready io.Writer) error {
	if srv == nil {
		return errors.New("serve: no server")
	}
	name := srv.Name()
	rt := applyRuntime(s)
	live := &Live{}
	gate := newAcceptGate(ln)
	defer gate.Close() // releases an Accept a server left waiting
	mux := http.NewServeMux()
	var remote bool
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		remote = !tcp.IP.IsLoopback()
	}
	mux.Handle("GET /stats", statsHandler(name, live, rt, remote))

	var served chan error
	var stopServing func(context.Context) error
	if eng, ok := srv.(Engine); ok {
		runCtx, cancel := context.WithCancel(context.Background())
		defer cancel()
		served = make(chan error, 1)
		go func() { served <- eng.Run(runCtx, gate, s, live, mux) }()
		stopServing = func(context.Context) error {
			// Run bounds its own shutdown; this bound is for one that
			// does not.
			cancel()
			select {
			case err := <-served:
				return err
			case <-time.After(shutdownTimeout):
				return fmt.Errorf("engine still running after %s", shutdownTimeout)
			}
		}
	} else {
		h := srv.(Mounter).Handlers(s, live) // Register admits nothing else
		mux.Handle("/echo", orNotImplemented(h.Echo))
		mux.Handle("/broadcast", orNotImplemented(h.Broadcast))
		hs := &http.Server{
			Handler: mux,
			// Bounds reading the upgrade request; there is deliberately no
			// ReadTimeout or WriteTimeout, whose deadlines would outlive the
			// hijack and cut long-lived WebSocket connections.
			ReadHeaderTimeout: s.HandshakeTimeout,
		}
		served = make(chan error, 1)
		go func() { served <- hs.Serve(gate) }()
		stopServing = func(ctx context.Context) error {
			// Waits for plain HTTP requests (/stats) in flight; it does
			// not track hijacked connections, which is what live is for.
			if err := hs.Shutdown(ctx); err != nil {
				_ = hs.Close()
				return err
			}
			return nil
		}
	}
	stop := func() error { return shutdown(gate, live, name, stopServing) }

	// One Write call, so a reader of a pipe gets the whole line at once.
	_, err := fmt.Fprintf(ready, "%sserver=%s addr=%s pid=%d\n", readyPrefix, name, ln.Addr(), os.Getpid())
	if err != nil {
		err = fmt.Errorf("serve %s: write ready line: %w", name, err)
		return errors.Join(err, stop())
	}

	select {
	case <-ctx.Done():
		return stop()
	case err := <-served:
		// Serving only returns early on a listener or engine failure.
		if err == nil {
			err = errors.New("stopped serving on its own")
		}
		served <- err // for stop, which waits for it again
		err = fmt.Errorf("serve %s: %w", name, err)
		return errors.Join(err, stop())
	}
}

func orNotImplemented(h http.Handler) http.Handler {
	if h == nil {
		return NotImplemented
	}
	return h
}

// statsHandler answers GET /stats with Stats as JSON, rt being the runtime
// settings the process started with; ?gc=1 forces a garbage
// collection first, so heap figures count only live memory.
func statsHandler(name string, live *Live, rt RuntimeSettings, remote bool) http.Handler {
	pid := os.Getpid()
	var last atomic.Int64 // unix ns of the last answer, for the remote rate limit
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if remote {
			// Reachable from other machines: read-only (no forced GC) and
			// bounded, so /stats cannot be used to load the server.
			now := time.Now().UnixNano()
			if prev := last.Load(); now-prev < int64(time.Second/statsRemoteRate) || !last.CompareAndSwap(prev, now) {
				http.Error(w, "too many /stats requests", http.StatusTooManyRequests)
				return
			}
		} else if gc, _ := strconv.ParseBool(r.URL.Query().Get("gc")); gc {
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := Stats{
			Server:         name,
			PID:            pid,
			Conns:          live.Count(),
			Goroutines:     runtime.NumGoroutine(),
			HeapAllocBytes: ms.HeapAlloc,
			HeapInuseBytes: ms.HeapInuse,
			HeapSysBytes:   ms.HeapSys,
			NumGC:          ms.NumGC,
			GCPauseTotalNs: ms.PauseTotalNs,

			BroadcastPublished:    live.Counters.BroadcastPublished.Load(),
			BroadcastEnqueued:     live.Counters.BroadcastEnqueued.Load(),
			BroadcastDropped:      live.Counters.BroadcastDropped.Load(),
			BroadcastDisconnected: live.Counters.BroadcastDisconnected.Load(),
			IdleClosed:            live.Counters.IdleClosed.Load(),
			CompressedConns:       live.Counters.CompressedConns.Load(),
			Runtime:               rt,
			Time:                  time.Now().UTC(),
		}
		if p, err := measure.ReadProc(pid); err == nil {
			st.CPUSeconds, st.RSSBytes = p.CPU.Seconds(), p.RSS
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(st)
	})
}

// statsRemoteRate bounds /stats requests per second on a server reachable
// from other machines.
const statsRemoteRate = 20

// statsClient talks to servers directly (never through a proxy from the
// environment) and keeps no idle connection in the measured server.
var statsClient = &http.Client{Transport: &http.Transport{
	Proxy:             nil,
	DisableKeepAlives: true,
}}

// FetchStats asks the server at addr (host:port) for its Stats; with gc the
// server forces a garbage collection before measuring its heap.
func FetchStats(ctx context.Context, addr string, gc bool) (Stats, error) {
	u := "http://" + addr + "/stats"
	if gc {
		u += "?gc=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("fetch stats from %s: %w", addr, err)
	}
	resp, err := statsClient.Do(req)
	if err != nil {
		return Stats{}, fmt.Errorf("fetch stats from %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return Stats{}, fmt.Errorf("fetch stats from %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return Stats{}, fmt.Errorf("fetch stats from %s: decode: %w", addr, err)
	}
	return st, nil
}

// ParseReady parses the line Serve prints once it accepts connections,
// "wsbench serve: ready server=NAME addr=HOST:PORT pid=PID", with or without
// its line ending, and returns the address and process id. Keys it does not
// know are ignored, so the line can grow without breaking older runners.
func ParseReady(line string) (addr string, pid int, err error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), readyPrefix)
	if !ok {
		return "", 0, fmt.Errorf("not a ready line: %q", line)
	}
	var server, pidStr string
	seen := map[string]bool{}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "", 0, fmt.Errorf("ready line %q: field %q is not key=value", line, f)
		}
		if seen[k] {
			return "", 0, fmt.Errorf("ready line %q: %s given twice", line, k)
		}
		seen[k] = true
		switch k {
		case "server":
			server = v
		case "addr":
			addr = v
		case "pid":
			pidStr = v
		}
	}
	if server == "" {
		return "", 0, fmt.Errorf("ready line %q: no server", line)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("ready line %q: addr: %w", line, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 || host == "" {
		return "", 0, fmt.Errorf("ready line %q: addr %q is not host:port", line, addr)
	}
	pid, err = strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return "", 0, fmt.Errorf("ready line %q: pid %q is not a process id", line, pidStr)
	}
	return addr, pid, nil
}
