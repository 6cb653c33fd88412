package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/servers"
)

// ServeCommand builds the command that runs `wsbench serve` with args. The
// default re-executes the running binary; tests substitute their own.
type ServeCommand func(args []string) *exec.Cmd

// SelfServe re-executes the running wsbench binary.
func SelfServe(args []string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, append([]string{"serve"}, args...)...)
}

// ServeArgs are the `wsbench serve` arguments that start server name with
// settings s on a free loopback port.
func ServeArgs(name string, s servers.Settings) []string {
	return servers.ServeConfig{Name: name, Listen: "127.0.0.1:0", Settings: s}.Args()
}

// serverProc is a reference server running in its own process.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string
	pid    int
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
	stderr *tailBuffer
	// killedAt is the RSS at which capMemory killed the process (0: it
	// did not), capBytes the cap it passed.
	killedAt atomic.Uint64
	capBytes uint64
}

// startServer starts the process and waits for its ready line.
func startServer(ctx context.Context, cmd *exec.Cmd, readyTimeout time.Duration) (*serverProc, error) {
	p := &serverProc{cmd: cmd, exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	cmd.Stderr = p.stderr
	if cmd.SysProcAttr == nil {
		// Its own process group keeps a terminal's Ctrl-C away from the
		// server, so the runner decides when it stops and can still close
		// connections cleanly; Pdeathsig stops it if the runner is killed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			addr, pid, err := servers.ParseReady(sc.Text())
			if err == nil {
				p.addr, p.pid = addr, pid
				ready <- nil
				break
			}
		}
		// Keep draining so the server never blocks on a full pipe.
		for sc.Scan() {
		}
		select {
		case ready <- errors.New("exited before printing its ready line"):
		default:
		}
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err == nil {
			return p, nil
		}
		<-p.exited
		return nil, fmt.Errorf("server %s (%v)%s", err, p.err, p.stderrTail())
	case <-timer.C:
		p.stop(time.Second)
		return nil, fmt.Errorf("server not ready within %s%s", readyTimeout, p.stderrTail())
	case <-ctx.Done():
		p.stop(time.Second)
		return nil, ctx.Err()
	}
}

// alive reports whether the process is still running.
func (p *serverProc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// deathReason describes how the process ended, for a failed record.
func (p *serverProc) deathReason() string {
	if rss := p.killedAtCap(); rss > 0 {
		return capReason(rss, p.capBytes)
	}
	return fmt.Sprintf("server process exited mid-run (%v)%s", p.err, p.stderrTail())
}

// stop asks the server to shut down with SIGTERM and kills it if it has not
// exited within grace. It reports whether the shutdown was clean.
func (p *serverProc) stop(grace time.Duration) bool {
	if !p.alive() {
		return false
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err == nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return false
	}
}

func (p *serverProc) stderrTail() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	return ": " + s
}

// tailBuffer keeps the last max bytes written to it: enough of a crashing
// server's stderr to say why, without holding a chatty one's whole output.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
