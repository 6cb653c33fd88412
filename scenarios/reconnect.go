package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/profile"
)

func init() { Register(reconnect{}) }

// reconnect is what happens when the server goes away. Every connection
// heartbeats as in the heartbeat scenario; the runner acts on the server at
// ReconnectOptions.Fault.At (term, kill, stop, restart, or a user's command). Each
// connection learns its server is gone from a close frame, a read error or
// a pong missing after PongTimeout, drops the connection and dials again
// under ReconnectOptions.Backoff until it is back. It measures how each connection
// learned, the time from the fault to detection, the dial attempts and
// their failures, the time from detection to re-established, and the storm
// over time (timelineStep intervals). Connections the idle fleet holds are
// run by its one goroutine (reconnect_fleet.go), the others by goroutines
// of their own (reconnectRun.slot), alike.
type reconnect struct{}

// timelineStep is the reconnect storm's resolution.
const timelineStep = 100 * time.Millisecond

func (reconnect) Name() string { return "reconnect" }
func (reconnect) Description() string {
	return "server goes away (--fault term|kill|stop|restart): dead-peer detection, close codes, the reconnect storm under --backoff"
}
func (reconnect) Path() string                             { return "/echo" }
func (reconnect) Mode(Params) string                       { return "reconnect" }
func (reconnect) Measures() Measured                       { return Traffic }
func (reconnect) ServerIdleTimeout(p Params) time.Duration { return heartbeatIdleTimeout(p) }

func (reconnect) keepsAlive() {}

// The reconnect window when --duration is not given: at least
// reconnectDuration, and reconnectSettle after the fault, the outage and
// the backoff's longest wait, so a client that had just failed a dial as
// the server came back still has its turn (Resolve). With the defaults
// (fault at 2 s, 3 s down, a 10 s cap) the window is 17 s: a window that
// closes while the backoff still holds clients back would read as
// connections never recovered.
const (
	reconnectDuration = 10 * time.Second
	reconnectSettle   = 2 * time.Second
)

// The faults the runner plays on a reference server.
var faultKinds = []string{"term", "kill", "stop", "restart"}

// ReconnectOptions are the reconnect scenario's own options.
type ReconnectOptions struct {
	Ping Ping
	// Fault is what the runner does to the server in the window.
	Fault Fault
	// Backoff is how a connection that found its server gone dials again.
	Backoff Backoff
}

func (o *ReconnectOptions) pings() *Ping { return &o.Ping }

func (reconnect) NewOptions() any { return new(ReconnectOptions) }

// reconnectOf is p's reconnect options (zero ones for another scenario).
func reconnectOf(p Params) *ReconnectOptions { return ownOf[ReconnectOptions](p) }

// FaultOf is the fault the runner plays in p's window: none (Kind "")
// for a scenario without one.
func FaultOf(p Params) Fault { return reconnectOf(p).Fault }

// Options: the pinging scenarios' shared ones, then the fault and the
// backoff.
func (reconnect) Options() []Option {
	return append(slices.Clone(pingOptions),
		Option{Name: "fault", Kind: KindChoice, Choices: faultKinds, Usage: "what happens to the server: term (graceful, close 1001, then back), kill (SIGKILL, then back on the same address), stop (SIGSTOP, then SIGCONT), restart (kill and back at once)",
			Apply: func(v string, p *Params) error { reconnectOf(*p).Fault.Kind = v; return nil }}, // checked in Resolve, against --target and --fault-cmd
		durationOption("fault-at", "2s", "when the fault strikes, after the measured window opens", true,
			func(p *Params) *time.Duration { return &reconnectOf(*p).Fault.At }),
		durationOption("fault-for", "3s", "how long the server stays down or frozen (restart: none; --fault-cmd: how long the command is expected to take)", true,
			func(p *Params) *time.Duration { return &reconnectOf(*p).Fault.For }),
		Option{Name: "fault-cmd", Kind: KindString, Usage: "with --target: a shell command that plays the fault (e.g. 'systemctl restart chat'); its output and exit code are recorded, and a non-zero exit fails the cell",
			Apply: func(v string, p *Params) error { reconnectOf(*p).Fault.Cmd = v; return nil }},
		Option{Name: "fault-cmd-timeout", Kind: KindDuration, Usage: "kill --fault-cmd (its whole process group) if it runs longer than this, failing the cell (default --fault-for + " + FaultCmdGrace.String() + ")",
			Apply: func(v string, p *Params) error {
				if v == "" {
					reconnectOf(*p).Fault.CmdTimeout = 0
					return nil
				}
				d, err := ParseDuration("fault-cmd-timeout", v, false)
				reconnectOf(*p).Fault.CmdTimeout = d
				return err
			}},
		choiceOption("backoff", "full-jitter", "none (at once, then every --backoff-base), exponential, or full-jitter (AWS)", backoffPolicies,
			func(p *Params) *string { return &reconnectOf(*p).Backoff.Policy }),
		durationOption("backoff-base", "100ms", "the backoff's first wait", false, func(p *Params) *time.Duration { return &reconnectOf(*p).Backoff.Base }),
		durationOption("backoff-cap", "10s", "the backoff's longest wait", false, func(p *Params) *time.Duration { return &reconnectOf(*p).Backoff.Cap }),
	)
}

// Resolve checks the fault against the invocation (a reference server's
// fault, or a --target's command) and fits the default window around it.
func (reconnect) Resolve(p *Params, c OptionContext) error {
	o := reconnectOf(*p)
	f := &o.Fault
	switch {
	case f.Cmd != "" && !c.Target:
		return errors.New("--fault-cmd plays the fault of a --target; reference servers take --fault term|kill|stop|restart")
	case f.Cmd != "" && f.Kind != "":
		return errors.New("--fault and --fault-cmd exclude each other: --fault acts on a reference server, --fault-cmd on a --target")
	case f.Cmd != "":
		f.Kind = "cmd"
	case c.Target && f.Kind != "":
		return fmt.Errorf("--fault %s acts on a reference server; for a --target give --fault-cmd 'your restart command'", f.Kind)
	case f.Kind != "" && !slices.Contains(faultKinds, f.Kind):
		return fmt.Errorf("--fault %q: want %s", f.Kind, orList(faultKinds))
	}
	if f.Kind == "restart" {
		f.For = 0
	}
	if c.Given["fault-cmd-timeout"] && f.Kind != "cmd" {
		return errors.New("--fault-cmd-timeout bounds --fault-cmd, which is not given (a --fault the runner plays is bounded already)")
	}
	if !c.Given["duration"] { // room for the fault, the outage and the storm after it
		p.Duration = max(reconnectDuration, f.At+f.For+o.Backoff.Cap+reconnectSettle)
	}
	return nil
}

func (reconnect) Validate(p Params) error {
	if err := (heartbeat{}).Validate(p); err != nil {
		return err
	}
	o := reconnectOf(p)
	if err := o.Backoff.Validate(); err != nil {
		return err
	}
	if o.Fault.Kind == "" {
		return errors.New("--fault: the reconnect scenario needs a fault: term, kill, stop or restart (or --fault-cmd with --target)")
	}
	if f := o.Fault; f.At+f.For >= p.Duration {
		return fmt.Errorf("--fault-at %s + --fault-for %s: must end inside --duration %s, with time left to reconnect", f.At, f.For, p.Duration)
	}
	return nil
}

// Profile: detection and recovery first, then the heartbeat's own figures.
func (reconnect) Profile() profile.Profile {
	return profile.Profile{
		Scenario: "reconnect",
		Title: "reconnect · {conns} conns pinging every {ping_interval} (pong timeout {pong_timeout}) · fault {fault} · " +
			"backoff {label.backoff} · {window}",
		Throughput: profile.Throughput{Label: "pongs/s", Source: "messages"},
		Latency:    profile.Latency{Source: "latency", Prefix: "pong ", What: "ping→pong latency"},
		Columns: []profile.Column{
			{Key: "figure.detected", Label: "detected", Secondary: true},
			{Key: "figure.detected_close", Label: "by close", Secondary: true},
			{Key: "figure.detected_read_error", Label: "by read error", Secondary: true},
			{Key: "figure.detected_missed_pong", Label: "by missed pong", Secondary: true},
			{Key: "dist.detect", Label: "detect"},
			{Key: "close_codes"},
			{Key: "figure.recovered_50_s", Label: "recover 50%", Format: profile.Seconds},
			{Key: "figure.recovered_99_s", Label: "recover 99%", Format: profile.Seconds},
			{Key: "figure.recovered_100_s", Label: "recover 100%", Format: profile.Seconds, Secondary: true},
			{Key: "figure.reconnect_attempts", Label: "attempts"},
			{Key: "figure.reconnect_failures", Label: "failed dials", Secondary: true},
			{Key: "figure.never_recovered", Label: "never recovered"},
			{Key: "figure.lost_again", Label: "lost again", Secondary: true},
			{Key: "dist.handshake", Label: "reconnect handshake", Secondary: true},
			{Key: "errors"},
		},
		// Who has its clients back soonest after the fault: 99% back,
		// or 50% where more than 1% never came back in the window.
		Rank: []string{"figure.recovered_99_s", "figure.recovered_50_s"},
		// Every column of the timeline (the runner adds the server's CPU
		// and RSS), so the HTML report draws all of them.
		Charts: []profile.Chart{
			{Name: "up", Title: "connections up", Unit: "connections"},
			{Name: "detected", Title: "found dead per 100 ms", Unit: "connections"},
			{Name: "reconnected", Title: "reconnected per 100 ms", Unit: "connections"},
			{Name: "attempts", Title: "dial attempts per 100 ms", Unit: "dials"},
			{Name: "failed", Title: "failed dials per 100 ms", Unit: "dials"},
			{Name: "handshake_p99_ms", Title: "reconnect handshake p99 per 100 ms", Unit: "ms"},
			{Name: "server_cpu_util", Title: "server CPU", Unit: "of one CPU", Format: profile.Percent},
			{Name: "server_rss_bytes", Title: "server RSS", Unit: "resident memory", Format: profile.Bytes},
		},
		Noun:     "sent",
		Unit:     "messages",
		Figures:  reconnectFigures,
		Timeline: reconnectTimeline,
	}
}

// reconnectFigures say how each figure of a reconnect cell merges across
// shards: the counts add up; the recovery percentiles are read again from
// the merged fault→back distribution, never-recovered connections counted
// as infinitely late, as outcome reads them.
var reconnectFigures = []profile.Figure{
	{Name: "detected", Merge: profile.Summed},
	{Name: "detected_*", Merge: profile.Summed}, // by class, and detected_before_fault
	{Name: "lost_after_fault", Merge: profile.Summed},
	{Name: "lost_again", Merge: profile.Summed},
	{Name: "never_recovered", Merge: profile.Summed},
	{Name: "reconnect_attempts", Merge: profile.Summed},
	{Name: "reconnect_failures", Merge: profile.Summed},
	{Name: "failed_*", Merge: profile.Summed}, // failed dials by class
	recoveredFigure(50), recoveredFigure(99), recoveredFigure(100),
}

// recoveredFigure is "recovered_Q_s": seconds from the fault until Q% of
// the connections lost were back for good.
func recoveredFigure(q float64) profile.Figure {
	return profile.Figure{Name: fmt.Sprintf("recovered_%g_s", q), Merge: profile.Recomputed,
		Dist: "fault_to_back", Quantile: q, Beyond: "never_recovered", Scale: 1e-6}
}

// reconnectTimeline: the storm's counts add up interval by interval; a
// p99 of each interval's handshakes cannot be added without the
// intervals' histograms, which are not kept.
var reconnectTimeline = []profile.Figure{
	{Name: "up", Merge: profile.Summed, AtMostConns: true},
	{Name: "detected", Merge: profile.Summed},
	{Name: "reconnected", Merge: profile.Summed},
	{Name: "attempts", Merge: profile.Summed},
	{Name: "failed", Merge: profile.Summed},
	{Name: "handshake_p99_ms", Merge: profile.NotMergeable},
}

// Backoff is a reconnecting client's policy between dial attempts: what
// clients really use.
type Backoff struct {
	// Policy is "none" (the first attempt at once, then one every Base),
	// "exponential" (Base·2^k, at most Cap) or "full-jitter" (AWS's: a
	// uniformly random wait in [0, min(Cap, Base·2^k)]).
	Policy    string
	Base, Cap time.Duration
}

// The backoff policies.
var backoffPolicies = []string{"none", "exponential", "full-jitter"}

// Validate names the flag at fault.
func (b Backoff) Validate() error {
	if !slices.Contains(backoffPolicies, b.Policy) {
		return fmt.Errorf("--backoff %q: want none, exponential or full-jitter", b.Policy)
	}
	if b.Base <= 0 || b.Cap < b.Base {
		return fmt.Errorf("--backoff-base %s, --backoff-cap %s: want 0 < base ≤ cap", b.Base, b.Cap)
	}
	return nil
}

// Delay is the wait before attempt k (0 is the first attempt after the
// connection was found dead); rnd returns a uniform value in [0, 1).
func (b Backoff) Delay(k int, rnd func() float64) time.Duration {
	ceiling := func() time.Duration {
		d := float64(b.Base) * math.Pow(2, float64(min(k, 62)))
		return time.Duration(min(d, float64(b.Cap)))
	}
	switch b.Policy {
	case "exponential":
		return ceiling()
	case "full-jitter":
		return time.Duration(rnd() * float64(ceiling()))
	}
	if k == 0 {
		return 0
	}
	return b.Base
}

// String is the policy as a title shows it.
func (b Backoff) String() string {
	if b.Policy == "none" {
		return fmt.Sprintf("none (retry every %s)", b.Base)
	}
	return fmt.Sprintf("%s (base %s, cap %s)", b.Policy, b.Base, b.Cap)
}

// Fault is what the runner does to the server in the measured window.
type Fault struct {
	// Kind is "term" (graceful shutdown, close 1001, then start again),
	// "kill" (SIGKILL, then start again on the same address), "stop"
	// (SIGSTOP, then SIGCONT) or "restart" (kill and start at once); with
	// a --target, "cmd" runs Cmd.
	Kind string
	// At is when, after the window opens; For how long the server stays
	// down or frozen.
	At, For time.Duration
	// Cmd is the user's command that plays the fault against a --target.
	Cmd string
	// CmdTimeout bounds Cmd: a command still running then has its whole
	// process group killed and the fault counts as not played, so a
	// command that hangs cannot hold the run. 0 means For + FaultCmdGrace.
	CmdTimeout time.Duration
}

// FaultCmdGrace is how much longer than --fault-for a user's command may
// run by default: time to start the service again and report back.
const FaultCmdGrace = 5 * time.Second

// CmdBound is how long Cmd may run before it is killed.
func (f Fault) CmdBound() time.Duration {
	if f.CmdTimeout > 0 {
		return f.CmdTimeout
	}
	return max(f.For, 0) + FaultCmdGrace
}

func (reconnect) Run(ctx context.Context, env *Env) (*Outcome, error) {
	if env.Dial == nil {
		return nil, errors.New("reconnect: the runner offers no way to dial again")
	}
	r := &reconnectRun{env: env, slots: make([]rslot, len(env.Clients)),
		out: &Outcome{Latency: env.Latency, Errors: map[string]uint64{}}}
	// Pings and dials in progress end with the load, not up to a pong or
	// handshake timeout later.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-env.Ending():
			cancel()
		case <-ctx.Done():
		}
	}()
	for i, c := range env.Clients {
		r.slots[i].conn = c.Conn
	}
	// The connections the idle fleet holds stay there, pinged, redialed
	// and held again by its one goroutine (reconnect_fleet.go); the
	// others are each run by goroutines of their own.
	var held *fleetReconnect
	var taken []bool
	if fl := fleetOf(env.Clients); fl != nil {
		held, taken = fl.startReconnect(ctx, r)
	}
	if held == nil {
		releaseFleet(env.Clients)
	}
	for i := range env.Clients {
		if taken != nil && taken[i] {
			continue
		}
		r.wg.Add(1)
		go r.slot(ctx, i)
	}
	// Settled once the window is over and every connection is back.
	env.Settle(func() bool { return env.Window.Over() && r.down.Load() == 0 })
	<-env.Ending()
	if held != nil {
		held.endReconnect() // no slot is handed to goroutines after this
	}
	r.wg.Wait()
	// Hand the connections as they are now to the runner, which closes
	// them; those still down are closed already and count as abrupt.
	for i := range r.slots {
		env.Clients[i].Replace(r.slots[i].conn, r.slots[i].isDown)
	}
	env.Quiet()
	return r.outcome(), nil
}

// pingErrorGrace is how long a connection whose ping could not be written
// waits for its read side to say why (a close frame, a reset) before it
// counts as found by the ping ("ping_error").
const pingErrorGrace = 10 * time.Millisecond

// reconnectRun is one reconnect cell under way.
type reconnectRun struct {
	env   *Env
	slots []rslot
	down  atomic.Int64 // connections found dead and not yet back
	wg    sync.WaitGroup
	mu    sync.Mutex // guards out
	out   *Outcome
}

// rslot is one connection's history, owned by whoever runs it (its
// goroutines, or the idle fleet's loop) until the cell ends.
type rslot struct {
	conn   drivers.Conn
	isDown bool
	// outages, in order: when and how each was found, and when it ended
	// (0: never).
	outages []outage
	// attempts: every dial, when it began, how long it took, and its
	// failure class ("" for success).
	attempts                        []attempt
	pings, pongs, inWindow, inDrain uint64
}

type outage struct {
	detected, back int64
	how            string
}

type attempt struct {
	at, took int64
	class    string
}

// slot runs connection i with goroutines of its own from the start of the
// window: the first session's connection is the one the connect phase
// opened, kept alive until now and read by its keeper (or released by the
// idle fleet); the session pings it from here.
func (r *reconnectRun) slot(ctx context.Context, i int) {
	c := r.env.Clients[i]
	c.take()
	r.goOn(ctx, i, c.readUntilDead, -1)
}

// goOn runs connection i: heartbeat sessions, each ended by a detection,
// and a reconnect after each, until the runner ends the load. It starts
// with a session on s.conn, read by read (nil: a reader of the session's
// own), or, when from ≥ 0, with the connection down and dial attempt from
// next (one the idle fleet handed over).
func (r *reconnectRun) goOn(ctx context.Context, i int, read func() error, from int) {
	defer r.wg.Done()
	s := &r.slots[i]
	defer func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.out.Messages += s.inWindow
		r.out.DrainMessages += s.inDrain
	}()
	for k := from; ; k = -1 {
		if k < 0 {
			how, at := r.session(ctx, i, s, read)
			read = nil
			if how == "" {
				return
			}
			r.lose(s, how, at)
			k = 0
		}
		conn := r.redial(ctx, s, k)
		if conn == nil {
			return
		}
		r.regain(s, conn, r.env.Clock.Now())
	}
}

// lose records s's connection found dead at at, how, and drops it.
func (r *reconnectRun) lose(s *rslot, how string, at int64) {
	s.outages = append(s.outages, outage{detected: at, how: how})
	s.isDown = true
	r.down.Add(1)
	_ = s.conn.Abort()
}

// regain records s back at at with conn.
func (r *reconnectRun) regain(s *rslot, conn drivers.Conn, at int64) {
	s.conn, s.isDown = conn, false
	s.outages[len(s.outages)-1].back = at
	r.down.Add(-1)
}

// session heartbeats s.conn until the connection is found dead, returning
// how ("close_CODE", "read_error", "missed_pong", "ping_error") and when, or
// "" once the load has ended. read reads s.conn until it fails (nil: a
// reader of the session's own).
func (r *reconnectRun) session(ctx context.Context, i int, s *rslot, read func() error) (string, int64) {
	env, p := r.env, r.env.Params
	ping := pingOf(p)
	if read == nil {
		read = func() error { return drainReads(s.conn) }
	}
	died := make(chan string, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		err := read()
		how := "read_error"
		if !env.Ended() && env.CountClose(err) {
			var ce *drivers.CloseError
			errors.As(err, &ce)
			how = fmt.Sprintf("close_%d", ce.Code)
		}
		died <- how
	}()
	defer func() {
		if env.Ended() {
			return // the runner closes the connection, which ends the reader
		}
		_ = s.conn.Abort()
		<-readerDone
	}()
	batch := r.out.Latency.Batch()
	defer batch.Flush()
	timer := time.NewTimer(rand.N(ping.Interval))
	defer timer.Stop()
	for {
		select {
		case how := <-died:
			return how, env.Clock.Now()
		case <-env.Ending():
			return "", 0
		case <-ctx.Done():
			return "", 0
		case <-timer.C:
		}
		sent := env.Clock.Now()
		pctx, cancel := context.WithTimeout(ctx, ping.Timeout)
		err := s.conn.Ping(pctx)
		cancel()
		s.pings++
		now := env.Clock.Now()
		switch {
		case err == nil:
			s.pongs++
			if env.Window.Contains(sent) {
				batch.Record(now, time.Duration(now-sent))
			}
			if env.Window.Ended(now) {
				s.inDrain++
			} else if env.Window.Contains(now) {
				s.inWindow++
			}
			env.Done[i].Add(1)
		case env.Ended() || ctx.Err() != nil:
			return "", 0
		case errors.Is(err, context.DeadlineExceeded):
			return "missed_pong", now
		default:
			select {
			case how := <-died: // the reader saw why first
				return how, now
			case <-time.After(pingErrorGrace):
				return "ping_error", now
			}
		}
		// Every interval after the first ping, no jitter: a connection
		// frozen just after a pong is found within one interval and the
		// pong timeout.
		timer.Reset(ping.Interval - time.Duration(env.Clock.Now()-sent))
	}
}

// redial dials until a connection is back, from attempt from on, waiting
// as the backoff policy says before each; nil once the load has ended.
func (r *reconnectRun) redial(ctx context.Context, s *rslot, from int) drivers.Conn {
	env := r.env
	for k := from; ; k++ {
		wait := time.NewTimer(reconnectOf(env.Params).Backoff.Delay(k, rand.Float64))
		select {
		case <-wait.C:
		case <-env.Ending():
			wait.Stop()
			return nil
		case <-ctx.Done():
			wait.Stop()
			return nil
		}
		at := env.Clock.Now()
		conn, err := env.Dial(ctx)
		a := attempt{at: at, took: env.Clock.Now() - at}
		if err == nil {
			s.attempts = append(s.attempts, a)
			if env.Ended() {
				_ = conn.Abort()
				return nil
			}
			return conn
		}
		if env.Ended() || ctx.Err() != nil {
			return nil // cut short by the end of the load, not a failure
		}
		a.class = drivers.DialErrorClass(err)
		s.attempts = append(s.attempts, a)
	}
}

// outcome turns every connection's history into the cell's figures,
// distributions and timeline.
func (r *reconnectRun) outcome() *Outcome {
	env, out := r.env, r.out
	p := env.Params
	hb := &measure.Heartbeat{PingIntervalS: pingOf(p).Interval.Seconds(), PongTimeoutS: pingOf(p).Timeout.Seconds()}
	fig := map[string]float64{"lost_again": 0, "detected": 0, "detected_close": 0, "detected_read_error": 0, "detected_missed_pong": 0,
		"reconnect_attempts": 0, "reconnect_failures": 0}
	detect, recoverH, handshake := measure.NewRecorder(), measure.NewRecorder(), measure.NewRecorder()
	fromFault := measure.NewRecorderUpTo(3_600_000_000) // from the fault to back for good, up to an hour
	fault := env.FaultAt()
	var lost, never uint64
	for i := range r.slots {
		s := &r.slots[i]
		// Missed pongs are detections here (figure detected_missed_pong),
		// not the faults they are in the heartbeat scenario.
		hb.Pings, hb.Pongs = hb.Pings+s.pings, hb.Pongs+s.pongs
		var lastBack int64
		afterFault := 0
		if first, ok := firstDetection(s.outages, fault); ok {
			// Connections, not outages: one dropped again after it came
			// back counts once here, how it first learned of the fault
			// (lost_again counts the rest).
			fig["detected"]++
			fig["detected_"+detectClass(first.how)]++
			if fault == 0 || first.detected < fault {
				fig["detected_before_fault"]++
			}
		}
		for _, o := range s.outages {
			if fault == 0 || o.detected < fault {
				continue
			}
			if o.back != 0 {
				recoverH.Record(o.back, time.Duration(o.back-o.detected))
			}
			if afterFault == 0 { // the first outage after the fault: its detection
				detect.Record(o.detected, time.Duration(o.detected-fault))
			}
			afterFault++
			lastBack = o.back
		}
		if afterFault > 0 {
			// Back for good only when its last outage ended: a connection
			// re-established to a server still going away and dropped again
			// is not recovered yet.
			lost++
			fig["lost_again"] += float64(afterFault - 1)
			if lastBack == 0 {
				never++
			} else {
				fromFault.Record(lastBack, time.Duration(lastBack-fault))
			}
		}
		for _, a := range s.attempts {
			fig["reconnect_attempts"]++
			if a.class != "" {
				fig["reconnect_failures"]++
				fig["failed_"+a.class]++
			} else {
				handshake.Record(a.at+a.took, time.Duration(a.took))
			}
		}
		if !s.isDown {
			hb.StayedUp++
		}
	}
	fig["never_recovered"] = float64(never)
	fig["lost_after_fault"] = float64(lost)
	backH, _ := fromFault.Snapshot()
	for _, f := range reconnectFigures {
		// The q-th percentile over every connection lost, those never back
		// counted as infinitely late: unknown when more than 100−q% are.
		if f.Merge != profile.Recomputed {
			continue
		}
		if v, ok := f.Recomputed(backH, uint64(fig[f.Beyond])); ok {
			fig[f.Name] = v
		}
	}
	out.Figures = fig
	out.Distributions = map[string]*measure.Recorder{"detect": detect, "recover": recoverH, "handshake": handshake, "fault_to_back": fromFault}
	out.Labels = map[string]string{"backoff": reconnectOf(p).Backoff.String()}
	out.Heartbeat = hb
	out.Timeline = r.timeline()
	return out
}

// firstDetection is the outage a connection is counted by: its first after
// the fault, or, when it lost its connection only before the fault, its
// first.
func firstDetection(outages []outage, fault int64) (outage, bool) {
	for _, o := range outages {
		if fault != 0 && o.detected >= fault {
			return o, true
		}
	}
	if len(outages) == 0 {
		return outage{}, false
	}
	return outages[0], true
}

// detectClass is how a connection learned: "close", "read_error",
// "missed_pong" or "ping_error".
func detectClass(how string) string {
	if len(how) > 6 && how[:6] == "close_" {
		return "close"
	}
	return how
}

// timeline buckets the storm into timelineStep intervals of the window.
func (r *reconnectRun) timeline() *measure.Timeline {
	w := r.env.Window
	if w.Start() == 0 || w.End() == 0 {
		return nil
	}
	step := int64(timelineStep)
	n := int((w.End() - w.Start() + step - 1) / step)
	cols := map[string][]float64{}
	for _, name := range []string{"up", "detected", "reconnected", "attempts", "failed", "handshake_p99_ms"} {
		cols[name] = make([]float64, n)
	}
	bucket := func(t int64) int {
		if t < w.Start() || t >= w.Start()+int64(n)*step {
			return -1
		}
		return int((t - w.Start()) / step)
	}
	upDelta := make([]float64, n+1)
	hs := make([]*hdrhistogram.Histogram, n)
	up := float64(len(r.slots))
	for i := range r.slots {
		for _, o := range r.slots[i].outages {
			if o.detected < w.Start() && (o.back == 0 || o.back >= w.Start()) {
				up-- // down as the window opened (lost in warmup): its return must not count it twice
			}
			if b := bucket(o.detected); b >= 0 {
				cols["detected"][b]++
				upDelta[b+1]--
			}
			if b := bucket(o.back); b >= 0 && o.back != 0 {
				cols["reconnected"][b]++
				upDelta[b+1]++
			}
		}
		for _, a := range r.slots[i].attempts {
			b := bucket(a.at)
			if b < 0 {
				continue
			}
			cols["attempts"][b]++
			if a.class != "" {
				cols["failed"][b]++
				continue
			}
			if hs[b] == nil {
				hs[b] = hdrhistogram.New(1, 60_000_000, 2)
			}
			_ = hs[b].RecordValue(max(1, a.took/1000))
		}
	}
	for b := range n {
		up += upDelta[b+1]
		cols["up"][b] = up
		// No handshake in the interval: no p99, a gap rather than 0 ms.
		cols["handshake_p99_ms"][b] = measure.Missing()
		if hs[b] != nil {
			cols["handshake_p99_ms"][b] = float64(hs[b].ValueAtQuantile(99)) / 1000
		}
	}
	t := &measure.Timeline{IntervalS: timelineStep.Seconds(), Points: make([][]float64, n)}
	for _, name := range []string{"up", "detected", "reconnected", "attempts", "failed", "handshake_p99_ms"} {
		t.Add(name, cols[name])
	}
	return t
}
