package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/runner"
)

// A driver's cases run in a child process, as a server's do: a library
// that panics in a goroutine of its own (where no recover reaches) takes
// down the process it runs in, and that must be the case's outcome, not
// the end of the whole run.

// ChildCommand builds the command that runs args in a child wsbench
// process; the child hands args to RunDriverChild (the CLI does so for
// `wsbench conformance --child-driver`).
type ChildCommand func(args []string) *exec.Cmd

// ChildArgs are the arguments a child gets: the driver, the case ids, and
// the memory cap.
func ChildArgs(driver string, ids []string, opts Options) []string {
	return []string{"--child-driver", driver, "--cases", strings.Join(ids, ","), "--memory-cap", strconv.FormatUint(opts.memoryCap(), 10)}
}

// childSilence is how long a child may go without finishing a case before
// it is killed: longer than any case's own bounds.
const childSilence = 90 * time.Second

// RunDriverProcess plays the selected client-side cases against driver
// name in child processes started by child. When a child dies, the case
// it was playing fails with the child's last words (a panic's message) and
// a new child plays the rest.
func RunDriverProcess(ctx context.Context, name string, opts Options, child ChildCommand) (out Subject, err error) {
	d, err := drivers.Lookup(name)
	if err != nil {
		return Subject{}, err
	}
	cases, err := Select(opts.Groups, opts.IDs, ClientSide)
	if err != nil {
		return Subject{}, err
	}
	out = Subject{Name: d.Name(), Side: "client", Module: d.Module(), Version: runner.ModuleVersions()[d.Module()]}
	t0 := time.Now()
	defer func() { out.DurationS = time.Since(t0).Seconds() }()
	remaining := cases
	for len(remaining) > 0 && ctx.Err() == nil {
		ids := make([]string, len(remaining))
		for i, c := range remaining {
			ids[i] = c.ID
		}
		results, last, err := runChild(ctx, child, ChildArgs(name, ids, opts), func(n int) {
			if opts.Progress != nil {
				opts.Progress(out.Label(), len(cases)-len(remaining)+n, len(cases))
			}
		})
		out.Cases = append(out.Cases, results...)
		remaining = remaining[len(results):]
		if len(remaining) == 0 || ctx.Err() != nil {
			break
		}
		if err != nil && len(results) == 0 && last == "" {
			out.Error = err.Error()
			break
		}
		c := remaining[0]
		reason := "the driver crashed the process playing it"
		if last != "" {
			reason += ": " + last
		} else if err != nil {
			reason += ": " + err.Error()
		}
		out.Cases = append(out.Cases, CaseResult{ID: c.ID, Group: c.Group, Outcome: Fail, Reason: reason, FramesSent: []string{}})
		out.Restarts++
		remaining = remaining[1:]
	}
	out.summarize()
	return out, ctx.Err()
}

// runChild runs one child until it ends, reading one CaseResult per line.
// last is the child's dying words when it ended early.
func runChild(ctx context.Context, child ChildCommand, args []string, progress func(done int)) (results []CaseResult, last string, err error) {
	cmd := child(args)
	stderr := &lastWords{}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", fmt.Errorf("driver process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("driver process: %w", err)
	}
	lines := make(chan CaseResult)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var r CaseResult
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				continue // not a result line
			}
			lines <- r
		}
		readErr <- sc.Err()
		close(lines)
	}()
	timer := time.NewTimer(childSilence)
	defer timer.Stop()
	killed := ""
loop:
	for {
		select {
		case r, ok := <-lines:
			if !ok {
				break loop
			}
			results = append(results, r)
			progress(len(results))
			timer.Reset(childSilence)
		case <-timer.C:
			killed = fmt.Sprintf("no case ended within %s: killed", childSilence)
			_ = cmd.Process.Kill()
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		}
	}
	<-readErr
	werr := cmd.Wait()
	if killed != "" {
		return results, killed, werr
	}
	if werr != nil {
		return results, stderr.panicLine(werr), werr
	}
	return results, "", nil
}

// lastWords keeps the tail of a child's stderr, where a panic is written.
type lastWords struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lastWords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 64<<10 {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-32<<10:]...)
	}
	return len(p), nil
}

// panicLine is the panic message and the first frame that raised it, or
// the exit status.
func (l *lastWords) panicLine(exit error) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(string(l.buf), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "panic:") && !strings.HasPrefix(line, "fatal error:") {
			continue
		}
		msg := strings.TrimSpace(line)
		for _, next := range lines[i+1:] {
			if next = strings.TrimSpace(next); next != "" && !strings.HasPrefix(next, "goroutine ") && !strings.HasPrefix(next, "[") {
				if j := strings.LastIndex(next, "("); j > 0 {
					next = next[:j] // the arguments are addresses
				}
				msg += " in " + next
				break
			}
		}
		return msg
	}
	return fmt.Sprintf("exited (%v)", exit)
}

// RunDriverChild is the child's side: it plays the cases ids against
// driver name and writes one CaseResult per line to w as each ends.
func RunDriverChild(ctx context.Context, name string, opts Options, w io.Writer) error {
	d, err := drivers.Lookup(name)
	if err != nil {
		return err
	}
	cases, err := Select(nil, opts.IDs, ClientSide)
	if err != nil {
		return err
	}
	srv, err := ListenRaw()
	if err != nil {
		return err
	}
	defer srv.Close()
	dialOpts := DriverDialOptionsFor(d)
	if opts.ReadLimit == 0 {
		opts.ReadLimit = dialOpts.ReadLimit
	}
	enc := json.NewEncoder(w)
	for _, c := range cases {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := enc.Encode(playDriver(ctx, d, dialOpts, srv, c, opts)); err != nil {
			return fmt.Errorf("driver process: write result: %w", err)
		}
	}
	return nil
}
