package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// restartBound is how long a server started again after a fault may take
// to say it is ready before the cell fails.
const restartBound = 10 * time.Second

// startFault acts on the server Fault.At into the window, in the
// background, and returns a channel closed once the fault is over (the
// server resumed or started again, or the user's command done or killed
// at its bound). Once ctx is cancelled the wait ends within moments:
// a frozen server is resumed, none is started again, and the user's
// command has its process group killed.
//
// Of the shards of a run only shard 0 acts: there is one server, and N
// shards playing --fault-cmd would restart it N times. Every shard marks
// the fault at the same instant, Fault.At after the shards' common start
// (--start-at, which a sharded fault needs), so their detection and
// recovery times count from one moment.
func (c *cellRun) startFault(env *scenarios.Env, windowStart time.Time) (over <-chan struct{}) {
	f := scenarios.FaultOf(c.p)
	if f.Kind == "" {
		none := make(chan struct{})
		close(none)
		return none
	}
	rec := &report.Fault{Kind: f.Kind, PlanAtS: f.At.Seconds(), ForS: f.For.Seconds(), Cmd: f.Cmd}
	if f.Kind == "cmd" {
		// The command decides how long the target is down; --fault-for
		// only sets its default bound.
		rec.ForS, rec.CmdTimeoutS = 0, f.CmdBound().Seconds()
	}
	c.rec.Fault = rec
	origin := windowStart
	if !c.plan.StartAt.IsZero() && c.cell.Index == 1 {
		origin = c.plan.StartAt
	}
	observer := c.plan.Shard.Count > 1 && c.plan.Shard.Index != 0
	rec.ByShard0 = observer
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(time.Until(origin.Add(f.At)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.ctx.Done():
			rec.Error = "interrupted before the fault"
			return
		}
		at := time.Now()
		env.MarkFault(env.Clock.Now())
		rec.AtS = at.Sub(windowStart).Seconds()
		if observer {
			return
		}
		if err := c.fault(f, rec); err != nil {
			rec.Error = err.Error()
			return
		}
		rec.DownS = time.Since(at).Seconds()
	}()
	return done
}

// fault does one fault to the server (or runs the user's command) and
// returns once the server is back.
func (c *cellRun) fault(f scenarios.Fault, rec *report.Fault) error {
	if f.Kind == "cmd" {
		return runFaultCmd(c.ctx, f, rec)
	}
	if c.srv == nil {
		return fmt.Errorf("--fault %s acts on a reference server; with --target give --fault-cmd", f.Kind)
	}
	proc := c.srv.cur()
	if !proc.alive() { // no signal can reach it: the fault would be the server's own
		return fmt.Errorf("the server had exited before the fault: %s", proc.deathReason())
	}
	switch f.Kind {
	case "stop":
		if err := proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			return fmt.Errorf("SIGSTOP: %w", err)
		}
		c.srv.setStopped(true)
		sleep(c.ctx, f.For)
		c.srv.setStopped(false)
		if err := proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			return fmt.Errorf("SIGCONT: %w", err)
		}
		return nil
	case "term":
		proc.stop(5 * time.Second) // SIGTERM: close 1001 to every client, then exit
	case "kill", "restart":
		if err := proc.cmd.Process.Kill(); err != nil {
			return fmt.Errorf("SIGKILL: %w", err)
		}
		<-proc.exited
	default:
		return fmt.Errorf("unknown fault %q", f.Kind)
	}
	if f.Kind != "restart" {
		sleep(c.ctx, f.For)
	}
	if err := c.ctx.Err(); err != nil { // interrupted: nothing left to measure it with
		return fmt.Errorf("interrupted before the server was started again: %w", err)
	}
	return c.restart(proc.addr)
}

// restart starts the server again on the same address.
func (c *cellRun) restart(addr string) error {
	args := servers.ServeConfig{Name: c.cell.Server, Listen: addr, Settings: c.settings}.Args()
	proc, err := startServer(c.ctx, c.plan.serveCmd(c.cell.Variant, args), restartBound)
	if err != nil {
		return fmt.Errorf("server %s did not come back on %s within %s: %w", c.cell.Server, addr, restartBound, err)
	}
	if len(c.plan.ServerCPUs) > 0 {
		if err := measure.PinProcess(proc.pid, c.plan.ServerCPUs); err != nil {
			proc.stop(time.Second)
			return fmt.Errorf("pin server %s: %w", c.cell.Server, err)
		}
	}
	c.srv.replace(proc)
	proc.capMemory(c.srv.samp(), c.plan.ServerMemCap)
	return nil
}

// faultCmdKillWait bounds Wait once the command's process group has been
// sent SIGKILL, which cannot be ignored: should that signal fail, the
// shell itself is killed after this long.
const faultCmdKillWait = 500 * time.Millisecond

// runFaultCmd runs the user's command (sh -c) for a --target, recording its
// exit code and the end of its output. The command runs in its own process
// group, so a terminal's Ctrl-C does not reach it half-way, and the whole
// group (the shell and whatever it started) is killed when the run is
// cancelled or the command outlives its bound. Its output goes to a file,
// not a pipe: a child left running in the background would hold a pipe
// open, and the run would wait for it.
func runFaultCmd(ctx context.Context, f scenarios.Fault, rec *report.Fault) error {
	bound := f.CmdBound()
	cctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	out, err := os.CreateTemp("", "wsbench-fault-cmd-*.out")
	if err != nil {
		return fmt.Errorf("--fault-cmd output file: %w", err)
	}
	defer func() {
		out.Close()
		os.Remove(out.Name())
	}()
	cmd := exec.CommandContext(cctx, "sh", "-c", f.Cmd)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the shell's pid (Setpgid).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = faultCmdKillWait
	err = cmd.Run()
	rec.CmdOutput = strings.TrimSpace(fileTail(out, 2048))
	// A command that returned before the context ended played the fault,
	// whatever its exit code; one that did not was killed.
	if err != nil && cctx.Err() != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("--fault-cmd %q interrupted: its process group was killed", f.Cmd)
		}
		return fmt.Errorf("--fault-cmd %q still running after its %s bound (--fault-cmd-timeout): its process group was killed", f.Cmd, bound)
	}
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		return fmt.Errorf("--fault-cmd %q: %w", f.Cmd, err)
	}
	rec.CmdExit = &code
	return nil
}

// fileTail is the last n bytes of f.
func fileTail(f *os.File, n int64) string {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	from := max(size-n, 0)
	b := make([]byte, size-from)
	got, _ := f.ReadAt(b, from)
	return string(b[:got])
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// timelineServer adds the server's CPU (share of one CPU) and RSS to a
// scenario's timeline, interval by interval, from every server process's
// samples (a restart's new process included). Two consecutive samples of
// one process cover the time between them: the CPU rate between them
// counts in every interval they overlap (weighted by the overlap), and the
// later RSS stands for those intervals. Sampling every 100 ms into 100 ms
// intervals would otherwise leave an interval empty now and then. An
// interval no pair covers (the server killed and not yet back) is missing,
// not zero; so is one whose samples read RSS 0 (killed, not yet reaped).
func (c *cellRun) timelineServer(t *measure.Timeline, windowStart time.Time) {
	if t == nil || c.srv == nil || t.IntervalS <= 0 {
		return
	}
	n := len(t.Points)
	step := time.Duration(t.IntervalS * float64(time.Second))
	cpu, covered, rss := make([]float64, n), make([]float64, n), make([]float64, n)
	for _, samples := range c.srv.allSamples() {
		for k := 1; k < len(samples); k++ {
			a, b := samples[k-1], samples[k]
			span := b.At.Sub(a.At)
			// RSS 0 is a killed process not yet reaped: no longer the server.
			if span <= 0 || !b.At.After(windowStart) || a.RSS == 0 || b.RSS == 0 {
				continue
			}
			rate := (b.CPU - a.CPU).Seconds() / span.Seconds()
			first := max(0, int(a.At.Sub(windowStart)/step))
			for i := first; i < n; i++ {
				from, to := windowStart.Add(time.Duration(i)*step), windowStart.Add(time.Duration(i+1)*step)
				if !from.Before(b.At) {
					break
				}
				overlap := minTime(to, b.At).Sub(maxTime(from, a.At))
				if overlap <= 0 {
					continue
				}
				cpu[i] += rate * overlap.Seconds()
				covered[i] += overlap.Seconds()
				rss[i] = float64(b.RSS)
			}
		}
	}
	for i := range cpu {
		if covered[i] > 0 {
			cpu[i] /= covered[i]
		} else {
			cpu[i], rss[i] = measure.Missing(), measure.Missing()
		}
	}
	t.Add("server_cpu_util", cpu)
	t.Add("server_rss_bytes", rss)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
