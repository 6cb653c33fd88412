package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
)

// hangingFaultCmd is a --fault-cmd that never ends by itself: a shell that
// starts a child in the background (which inherits the shell's output)
// and waits in the foreground, writing the child's pid to a file first.
// It returns the command and the file.
func hangingFaultCmd(t *testing.T) (cmd, pidFile string) {
	pidFile = filepath.Join(t.TempDir(), "child.pid")
	return fmt.Sprintf("echo taking chat down; sleep 30 & echo $! > %s; sleep 30", pidFile), pidFile
}

// waitPid reads the pid the command wrote, waiting up to 5 s for it.
func waitPid(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file %q: %v", b, err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the fault command never wrote its child's pid to %s", file)
	return 0
}

// gone reports whether pid has ended within a second: no such process,
// or a zombie (killed, only waiting for init to reap it).
func gone(pid int) bool {
	deadline := time.Now().Add(time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		// The state follows the parenthesised command name.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCtrlCKillsAHangingFaultCmd: the user's command hangs, with a child
// holding its output; Ctrl-C (the run's context cancelled) ends the run
// within 2 s, with the command's whole process group killed, the child
// included, and the cell recorded as interrupted.
func TestCtrlCKillsAHangingFaultCmd(t *testing.T) {
	cmd, pidFile := hangingFaultCmd(t)
	plan := reconnectPlan(t, 4, 200*time.Millisecond, 200*time.Millisecond, scenarios.Fault{Kind: "cmd", Cmd: cmd}, "none")
	plan.Servers, plan.Target = nil, fastEcho(t)
	plan.Params.Duration = 10 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []report.Record, 1)
	go func() { done <- Run(ctx, plan, nil) }()
	child := waitPid(t, pidFile)
	cancelled := time.Now()
	cancel()
	var recs []report.Record
	select {
	case recs = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run still going 10 s after Ctrl-C")
	}
	took := time.Since(cancelled)
	t.Logf("Ctrl-C to the run's end with --fault-cmd hanging: %s", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the run ended %s after Ctrl-C, want within 2 s", took)
	}
	if !gone(child) {
		t.Errorf("the fault command's child %d still runs after the run ended", child)
	}
	if len(recs) != 1 || recs[0].Fault == nil {
		t.Fatalf("records %+v", recs)
	}
	r := recs[0]
	if r.Status != report.StatusInterrupted || !strings.Contains(r.Fault.Error, "interrupted: its process group was killed") ||
		r.Fault.CmdOutput != "taking chat down" {
		t.Fatalf("status %s %q, fault %+v: want interrupted, the command killed, its output kept", r.Status, r.Reason, r.Fault)
	}
}

// TestAFaultCmdPastItsBoundIsNotPlayed: a command still running at
// --fault-cmd-timeout has its process group killed; the window keeps its
// length, and the cell fails naming the bound, like any fault not played.
func TestAFaultCmdPastItsBoundIsNotPlayed(t *testing.T) {
	cmd, pidFile := hangingFaultCmd(t)
	plan := reconnectPlan(t, 4, 200*time.Millisecond, 200*time.Millisecond,
		scenarios.Fault{Kind: "cmd", Cmd: cmd, CmdTimeout: 500 * time.Millisecond}, "none")
	plan.Servers, plan.Target = nil, fastEcho(t)
	start := time.Now()
	r := runOne(t, plan)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the cell took %s: the hanging command held it", took)
	}
	if !gone(waitPid(t, pidFile)) {
		t.Error("the fault command's child still runs after its bound")
	}
	if d := plan.Params.Duration.Seconds(); r.DurationS > d+0.3 {
		t.Errorf("window %.2fs, want its %.2fs", r.DurationS, d)
	}
	want := "fault cmd not played: --fault-cmd \"" + cmd + "\" still running after its 500ms bound (--fault-cmd-timeout): its process group was killed"
	if r.Status != report.StatusFailed || !strings.Contains(r.Reason, want) {
		t.Fatalf("status %s %q: want failed with %q", r.Status, r.Reason, want)
	}
	if r.Fault.DownS != 0 || r.Fault.CmdExit != nil || r.Fault.CmdTimeoutS != 0.5 {
		t.Fatalf("fault %+v: want no outage measured, no exit code, the bound recorded", r.Fault)
	}
}

// TestAFaultCmdRecordsTheOutageItTook: a command that outlasts the window
// (within its bound) does not stretch it; the record holds what the
// command took, not --fault-for, and the plan's instant beside the
// clock's.
func TestAFaultCmdRecordsTheOutageItTook(t *testing.T) {
	plan := reconnectPlan(t, 4, 200*time.Millisecond, 200*time.Millisecond,
		scenarios.Fault{Kind: "cmd", Cmd: "sleep 1.5", For: 100 * time.Millisecond}, "none")
	plan.Servers, plan.Target = nil, fastEcho(t)
	plan.Params.Duration = time.Second // the command ends 0.9 s after the window
	r := runOne(t, plan)
	f := r.Fault
	if r.DurationS > 1.3 {
		t.Errorf("window %.2fs, want its 1s: the command stretched it", r.DurationS)
	}
	if f.CmdExit == nil || *f.CmdExit != 0 || f.DownS < 1.5 || f.DownS > 2.5 || f.ForS != 0 {
		t.Fatalf("fault %+v: want exit 0, down about 1.5s, no --fault-for", f)
	}
	if f.PlanAtS != 0.4 || f.AtS < 0.4 || f.CmdTimeoutS != (100*time.Millisecond+scenarios.FaultCmdGrace).Seconds() {
		t.Fatalf("fault %+v: want planned at 0.4s, acted at or after it, bound --fault-for + %s", f, scenarios.FaultCmdGrace)
	}
}

// TestCtrlCDuringAServerFaultEndsTheRunInTwoSeconds: Ctrl-C while a
// reference server is frozen, killed or shut down (and not yet back) ends
// the run within 2 s: a frozen server is resumed, none is started again,
// and the cell is interrupted, not a server that died.
func TestCtrlCDuringAServerFaultEndsTheRunInTwoSeconds(t *testing.T) {
	for _, kind := range []string{"stop", "kill", "term"} {
		t.Run(kind, func(t *testing.T) {
			plan := reconnectPlan(t, 4, 200*time.Millisecond, 200*time.Millisecond,
				scenarios.Fault{Kind: kind, For: 5 * time.Second}, "none")
			plan.Params.Duration = 8 * time.Second
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan []report.Record, 1)
			cancelledAt := make(chan time.Time, 1)
			var once sync.Once
			go func() {
				done <- Run(ctx, plan, func(e Event) {
					// Into the outage, by the window's own clock, however
					// long the server took to start and the clients to connect.
					if e.Phase == "measure" && e.Elapsed >= scenarios.FaultOf(plan.Params).At+500*time.Millisecond {
						once.Do(func() { cancelledAt <- time.Now(); cancel() })
					}
				})
			}()
			var cancelled time.Time
			select {
			case cancelled = <-cancelledAt:
			case <-time.After(20 * time.Second):
				t.Fatal("the window never reached the outage")
			}
			var recs []report.Record
			select {
			case recs = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the run still going 10 s after Ctrl-C")
			}
			if took := time.Since(cancelled); took > 2*time.Second {
				t.Errorf("the run ended %s after Ctrl-C, want within 2 s", took)
			}
			if len(recs) != 1 || recs[0].Status != report.StatusInterrupted || recs[0].Fault == nil {
				t.Fatalf("records %+v: want one interrupted cell with its fault", recs)
			}
		})
	}
}
