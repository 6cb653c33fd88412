package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
)

func TestFaultCmdTimeoutFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "reconnect", "--fault", "kill", "--fault-cmd-timeout", "5s"}, "bounds --fault-cmd, which is not given"},
		{[]string{"--scenario", "reconnect", "--fault-cmd", "true", "--target", "ws://127.0.0.1:1/echo", "--fault-cmd-timeout", "0s"}, "--fault-cmd-timeout 0s: must be more than zero"},
		{[]string{"--scenario", "reconnect", "--fault-cmd", "true", "--target", "ws://127.0.0.1:1/echo", "--fault-cmd-timeout", "soon"}, "--fault-cmd-timeout \"soon\""},
		{[]string{"--fault-cmd-timeout", "5s"}, "only to reconnect"},
	} {
		code, _, errOut := wsbench(t, append([]string{"run"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// TestCtrlCEndsARunWhoseFaultCmdHangs: `wsbench run --scenario reconnect
// --target URL --fault-cmd CMD` where CMD hangs and leaves a child holding
// its output. SIGINT while it runs: the run exits 130 within 2 s, writes
// its file, and the child is gone.
func TestCtrlCEndsARunWhoseFaultCmdHangs(t *testing.T) {
	addr, _ := startServer(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	var stopped time.Time
	go func() {
		code := run([]string{"run", "--scenario", "reconnect", "--target", "ws://" + addr + "/echo", "--conns", "4",
			"--ping-interval", "200ms", "--warmup", "0s", "--duration", "6s", "--fault-at", "200ms", "--fault-for", "1s",
			"--fault-cmd", fmt.Sprintf("sleep 30 & echo $! > %s; sleep 30", pidFile), "--out", filepath.Join(dir, "r.json")},
			&stdout, &stderr)
		stopped = time.Now()
		done <- code
	}()
	var child int
	for deadline := time.Now().Add(20 * time.Second); child == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the fault command never started:\n%s", stderr.String())
		}
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		took := stopped.Sub(sent)
		t.Logf("SIGINT to exit with --fault-cmd hanging: %s", took.Round(time.Millisecond))
		if took > 2*time.Second || code != exitInterrupted {
			t.Fatalf("stopped after %s with exit %d, want within 2s and %d\n%s", took, code, exitInterrupted, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after Ctrl-C:\n%s", stderr.String())
	}
	if !processGone(child) {
		t.Errorf("the fault command's child %d outlived the run", child)
	}
	res, err := report.Load(filepath.Join(dir, "r.json"))
	if err != nil || len(res.Records) != 1 || res.Records[0].Status != report.StatusInterrupted {
		t.Fatalf("results %+v, %v: want one interrupted record", res, err)
	}
}

// processGone reports whether pid has ended within a second: no such
// process, or a zombie waiting for init to reap it.
func processGone(pid int) bool {
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
