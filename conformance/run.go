package conformance

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/servers"
)

// Options configure a conformance run of one subject.
type Options struct {
	// Groups and IDs select cases (all when empty); see Select.
	Groups, IDs []string
	// ReadLimit is the limit the peer was configured with, told to the
	// cases that depend on it; zero when unknown (--target).
	ReadLimit int64
	// MemoryCap is the RSS (server process) or heap (this process, for a
	// driver) beyond which a case is stopped and failed: a bad case is a
	// result, not a dead machine. Zero means 1 GiB.
	MemoryCap uint64
	// AllowRemote lets the raw client dial a --target beyond loopback.
	AllowRemote bool
	// Progress, when set, is told after each case.
	Progress func(subject string, done, total int)
}

func (o Options) memoryCap() uint64 {
	if o.MemoryCap == 0 {
		return 1 << 30
	}
	return o.MemoryCap
}

// ServerSubject is a server to play cases against: a reference server the
// run starts (and restarts) in its own process, or a running --target.
type ServerSubject struct {
	// Name is the library name, or the URL for a target.
	Name            string
	Module, Version string
	// URL is the echo endpoint of a --target; empty for a reference server.
	URL string
	// Serve starts the reference server's process (nil for a target).
	Serve func(ctx context.Context) (*runner.ServerProcess, error)
}

// ReferenceServer is the subject for reference server name, started with
// settings s through serve (runner.SelfServe when nil).
func ReferenceServer(name string, s servers.Settings, serve runner.ServeCommand) (ServerSubject, error) {
	srv, err := servers.Lookup(name)
	if err != nil {
		return ServerSubject{}, err
	}
	return ServerSubject{Name: name, Module: srv.Module(), Version: runner.ModuleVersions()[srv.Module()],
		Serve: func(ctx context.Context) (*runner.ServerProcess, error) {
			return runner.StartServerProcess(ctx, serve, name, s, 10*time.Second)
		}}, nil
}

// RunServer plays the selected server-side cases against one server.
func RunServer(ctx context.Context, sub ServerSubject, opts Options) (out Subject, err error) {
	cases, err := Select(opts.Groups, opts.IDs, ServerSide)
	if err != nil {
		return Subject{}, err
	}
	out = Subject{Name: sub.Name, Side: "server", Module: sub.Module, Version: sub.Version}
	t0 := time.Now()
	defer func() { out.DurationS = time.Since(t0).Seconds() }()
	r := &serverRun{sub: sub, opts: opts, url: sub.URL}
	if sub.URL != "" {
		out.Target = sub.URL
	}
	if sub.Serve != nil {
		if err := r.start(ctx); err != nil {
			out.Error = err.Error()
			return out, nil
		}
		defer func() { r.proc.Stop(2 * time.Second) }()
	}
	for i, c := range cases {
		if ctx.Err() != nil {
			break
		}
		out.Cases = append(out.Cases, r.play(ctx, c))
		if opts.Progress != nil {
			opts.Progress(out.Label(), i+1, len(cases))
		}
	}
	out.Restarts = r.restarts
	out.summarize()
	return out, ctx.Err()
}

type serverRun struct {
	sub      ServerSubject
	opts     Options
	url      string
	proc     *runner.ServerProcess
	restarts int
	plain    *bool // the server accepts a plain deflate offer (asked once)
}

func (r *serverRun) start(ctx context.Context) error {
	p, err := r.sub.Serve(ctx)
	if err != nil {
		return fmt.Errorf("start server %s: %w", r.sub.Name, err)
	}
	r.proc, r.url = p, "ws://"+p.Addr()+"/echo"
	return nil
}

// plainDeflate asks once whether the server accepts a plain offer.
func (r *serverRun) plainDeflate(ctx context.Context) bool {
	if r.plain == nil {
		ok := false
		if s, hs, err := DialRaw(ctx, r.url, "permessage-deflate", DefaultTimeout, r.opts.AllowRemote); err == nil {
			ok = hs.Deflate
			s.Close()
		}
		r.plain = &ok
	}
	return *r.plain
}

func (r *serverRun) play(ctx context.Context, c Case) CaseResult {
	if r.proc != nil && !r.proc.Alive() {
		if err := r.start(ctx); err != nil {
			return CaseResult{ID: c.ID, Group: c.Group, Outcome: Fail, Reason: "the server could not be restarted: " + err.Error()}
		}
		r.restarts++
	}
	timeout := c.timeout()
	t0 := time.Now()
	var mem *rssWatch
	if r.proc != nil {
		mem = watchRSS(r.proc, r.opts.memoryCap())
	}
	var v Verdict
	var sess *Session
	if c.ServerRaw != nil {
		v = c.ServerRaw(ctx, r.url, timeout)
	} else {
		s, hs, err := DialRaw(ctx, r.url, c.Offer, timeout, r.opts.AllowRemote)
		switch {
		case err != nil && c.Refused != "":
			v = Verdict{Outcome: c.Refused, Reason: fmt.Sprintf("refused the whole handshake instead of declining the extension: %v", err)}
		case err != nil:
			v = fail("the opening handshake failed: %v", err)
		case c.Deflate && !hs.Deflate:
			v = Verdict{Outcome: Unsupported, Reason: "permessage-deflate not negotiated"}
		default:
			sess = s
			v = c.Play(&Peer{Session: s, Side: ServerSide, Handshake: hs, ReadLimit: r.opts.ReadLimit,
				PlainDeflate: func() bool { return r.plainDeflate(ctx) }})
		}
		if s != nil {
			s.Close()
		}
	}
	res := CaseResult{ID: c.ID, Group: c.Group, DurationMs: float64(time.Since(t0).Microseconds()) / 1000}
	if r.proc != nil {
		before, peak, capped := mem.stop()
		if c.Probe {
			if v.Cost == nil {
				v.Cost = &Cost{}
			}
			v.Cost.RSSBeforeBytes, v.Cost.RSSPeakBytes = before, peak
		}
		// A crash shows first as a dropped connection: give the process
		// a moment to be seen gone.
		select {
		case <-r.proc.Exited():
		case <-time.After(crashGrace(sess)):
		}
		switch {
		case capped:
			v = fail("the server's RSS passed the %d MiB cap during the case (it was killed; %s)", r.opts.memoryCap()>>20, v.Reason)
		case !r.proc.Alive():
			v = fail("the server process crashed: %s", r.proc.DeathReason())
		}
	}
	fillRecord(&res, v, sess)
	return res
}

// crashGrace is how long to look for a crash after a case: a little longer
// when the peer dropped the connection, which a crash looks like.
func crashGrace(s *Session) time.Duration {
	if s != nil && s.droppedTCP() {
		return 50 * time.Millisecond
	}
	return time.Millisecond
}

func fillRecord(res *CaseResult, v Verdict, s *Session) {
	res.Outcome, res.Reason, res.Cost = v.Outcome, v.Reason, v.Cost
	res.FramesSent = []string{}
	if s != nil {
		sent, first, n := s.record()
		res.FramesSent, res.FirstBytes, res.BytesSent = sent, hex.EncodeToString(first), n
	}
}

// rssWatch samples a server process's RSS during a case, kills it beyond
// the cap, and reports before and peak.
type rssWatch struct {
	before, peak uint64
	capped       bool
	pid          int
	done         chan struct{}
	wg           sync.WaitGroup
}

func watchRSS(p *runner.ServerProcess, limit uint64) *rssWatch {
	w := &rssWatch{done: make(chan struct{})}
	if s, err := measure.ReadProc(p.PID()); err == nil {
		w.before, w.peak = s.RSS, s.RSS
	}
	// Reset the kernel's high-water mark (VmHWM) so the peak between
	// samples is seen too; older kernels refuse, and sampling remains.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.PID()), []byte("5"), 0)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-p.Exited():
				return
			case <-t.C:
				s, err := measure.ReadProc(p.PID())
				if err != nil {
					continue
				}
				w.peak = max(w.peak, s.RSS)
				if s.RSS > limit {
					w.capped = true
					p.Kill()
					return
				}
			}
		}
	}()
	w.pid = p.PID()
	return w
}

func (w *rssWatch) stop() (before, peak uint64, capped bool) {
	close(w.done)
	w.wg.Wait()
	if hwm := readHWM(w.pid); hwm > w.peak {
		w.peak = hwm
	}
	return w.before, w.peak, w.capped
}

// readHWM reads VmHWM (peak RSS) from /proc/PID/status, 0 when unknown.
func readHWM(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// DriverDialOptions are what every driver dials with in the conformance
// run: wsbench's read limit, a handshake timeout the handshake probe
// measures against, and permessage-deflate offered (the raw server accepts
// it only in the deflate cases).
func DriverDialOptions() drivers.DialOptions {
	return drivers.DialOptions{
		ReadLimit:        servers.DefaultSettings().ReadLimit,
		HandshakeTimeout: 3 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		Compression:      true,
		CompressionLevel: 1,
	}
}

// DriverDialOptionsFor are DriverDialOptions for d: a driver whose library
// has no permessage-deflate (drivers.Lacks) offers none, so its deflate
// cases are unsupported rather than every case refused at Dial.
func DriverDialOptionsFor(d drivers.Driver) drivers.DialOptions {
	o := DriverDialOptions()
	o.Compression = drivers.LacksOf(d).Compression == ""
	return o
}

// RunDriver plays the selected client-side cases against a driver, which
// the run makes echo every message it reads, in this process: a library
// that panics in a goroutine of its own ends it. RunDriverProcess plays
// them in child processes instead.
func RunDriver(ctx context.Context, d drivers.Driver, opts Options) (out Subject, err error) {
	cases, err := Select(opts.Groups, opts.IDs, ClientSide)
	if err != nil {
		return Subject{}, err
	}
	out = Subject{Name: d.Name(), Side: "client", Module: d.Module(), Version: runner.ModuleVersions()[d.Module()]}
	t0 := time.Now()
	defer func() { out.DurationS = time.Since(t0).Seconds() }()
	srv, err := ListenRaw()
	if err != nil {
		return out, err
	}
	defer srv.Close()
	dialOpts := DriverDialOptionsFor(d)
	if opts.ReadLimit == 0 {
		opts.ReadLimit = dialOpts.ReadLimit
	}
	for i, c := range cases {
		if ctx.Err() != nil {
			break
		}
		out.Cases = append(out.Cases, playDriver(ctx, d, dialOpts, srv, c, opts))
		if opts.Progress != nil {
			opts.Progress(out.Label(), i+1, len(cases))
		}
	}
	out.summarize()
	return out, ctx.Err()
}

// harnessEnd is how a driver's echo loop ended.
type harnessEnd struct {
	err   error
	panic any
}

// echoLoop dials with the driver and echoes every message until the
// connection ends or stop closes; the connection is then aborted. A driver
// error is the library's verdict on what it read; the abort that follows
// is the harness's, and cases judge only what reached the wire before it.
func echoLoop(ctx context.Context, d drivers.Driver, url string, opts drivers.DialOptions, stop <-chan struct{}) (end harnessEnd) {
	defer func() {
		if p := recover(); p != nil {
			end.panic = p
		}
	}()
	conn, err := d.Dial(ctx, url, opts)
	if err != nil {
		return harnessEnd{err: fmt.Errorf("dial: %w", err)}
	}
	defer conn.Abort()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-stop:
			_ = conn.Abort()
		case <-finished:
		}
	}()
	buf := make([]byte, 0, 64<<10)
	for {
		t, msg, err := conn.ReadMessage(buf)
		if err != nil {
			return harnessEnd{err: err}
		}
		if err := conn.WriteMessage(t, msg); err != nil {
			return harnessEnd{err: err}
		}
		buf = msg[:0]
	}
}

func playDriver(ctx context.Context, d drivers.Driver, dialOpts drivers.DialOptions, srv *RawServer, c Case, opts Options) CaseResult {
	timeout := c.timeout()
	ctx, cancel := context.WithTimeout(ctx, 3*timeout+5*time.Second)
	defer cancel()
	if c.Probe && c.Deflate {
		_ = bomb() // built before the measurement, not counted in it
	}
	t0 := time.Now()
	heap := watchHeap(c.Probe, opts.memoryCap(), cancel)
	var v Verdict
	var sess *Session
	if c.ClientRaw != nil {
		v = c.ClientRaw(ctx, srv, func() error {
			conn, err := d.Dial(ctx, srv.URL(), dialOpts)
			if conn != nil {
				conn.Abort()
			}
			return err
		}, timeout)
	} else {
		stop := make(chan struct{})
		ended := make(chan harnessEnd, 1)
		go func() { ended <- echoLoop(ctx, d, srv.URL(), dialOpts, stop) }()
		answer := c.Answer
		if answer == nil {
			answer = func(offer string) string {
				if c.Deflate && hasExtension(offer, "permessage-deflate") {
					return DeflateAnswer
				}
				return ""
			}
		}
		s, offer, err := srv.Accept(ctx, answer, timeout)
		switch {
		case err != nil:
			v = fail("the driver did not connect: %v", err)
		case c.Deflate && !s.deflate:
			v = Verdict{Outcome: Unsupported, Reason: "the driver did not offer permessage-deflate"}
		default:
			v = c.Play(&Peer{Session: s, Side: ClientSide, Offer: offer, ReadLimit: opts.ReadLimit})
		}
		sess = s
		var end *harnessEnd
		if v.Outcome == Timeout {
			select {
			case e := <-ended:
				end = &e
				if e.err != nil && strings.HasPrefix(e.err.Error(), "dial:") {
					v = nonStrict("its Dial returned an error (%v) but left the TCP connection open", e.err)
				}
			default:
			}
		}
		if s != nil {
			s.Close()
		}
		close(stop)
		if end == nil {
			select {
			case e := <-ended:
				end = &e
			case <-time.After(2 * time.Second):
				v.Reason += " (the driver's connection did not end within 2 s of the raw server closing it)"
			}
		}
		if end != nil && end.panic != nil {
			v = fail("the driver panicked: %v", end.panic)
		}
		if v.Outcome == Timeout && end != nil && end.err != nil {
			v.Reason += fmt.Sprintf(" (the driver's own view, after the raw server closed: %v)", end.err)
		}
	}
	res := CaseResult{ID: c.ID, Group: c.Group, DurationMs: float64(time.Since(t0).Microseconds()) / 1000}
	alloc, peak, capped := heap.stop()
	if c.Probe {
		if v.Cost == nil {
			v.Cost = &Cost{}
		}
		v.Cost.AllocatedBytes, v.Cost.HeapGrowthBytes = alloc, peak
	}
	if capped {
		v = fail("the heap passed the %d MiB cap during the case (the case was stopped; %s)", opts.memoryCap()>>20, v.Reason)
	}
	fillRecord(&res, v, sess)
	return res
}

// heapWatch follows this process's heap while a driver handles a probe.
type heapWatch struct {
	on                 bool
	total0, base, peak uint64
	capped             bool
	done               chan struct{}
	wg                 sync.WaitGroup
}

func watchHeap(on bool, limit uint64, cancel func()) *heapWatch {
	w := &heapWatch{on: on, done: make(chan struct{})}
	if !on {
		return w
	}
	// Earlier cases' garbage would count as this probe's: collect it, and
	// measure growth from what is left.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.total0, w.base, w.peak = ms.TotalAlloc, ms.HeapInuse, ms.HeapInuse
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				w.peak = max(w.peak, ms.HeapInuse)
				if ms.HeapInuse > limit {
					w.capped = true
					cancel()
					return
				}
			}
		}
	}()
	return w
}

// stop returns the bytes allocated and the peak heap growth over the
// level before the probe.
func (w *heapWatch) stop() (allocated, growth uint64, capped bool) {
	if !w.on {
		return 0, 0, false
	}
	close(w.done)
	w.wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc - w.total0, max(w.peak, ms.HeapInuse) - w.base, w.capped
}
