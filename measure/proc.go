package measure

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat. Linux fixes it at
// 100 for user space on every architecture Go supports.
const userHZ = 100

// ProcSample is one reading of a process's CPU time and resident memory.
type ProcSample struct {
	At  time.Time
	CPU time.Duration // user + system time since the process started
	RSS uint64        // resident set size in bytes
}

// ReadProc reads CPU time and RSS of process pid from /proc.
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d stats: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces, so
	// split after its closing parenthesis: utime and stime are then the 12th
	// and 13th fields.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return s, fmt.Errorf("parse /proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return s, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	rssPages, err3 := strconv.ParseUint(f[21], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return s, fmt.Errorf("parse /proc/%d/stat: bad cpu or rss field", pid)
	}
	s.CPU = time.Duration(utime+stime) * time.Second / userHZ
	s.RSS = rssPages * uint64(os.Getpagesize())
	return s, nil
}

// SelfCPU is the CPU time (user + system) the calling process has used, at
// microsecond resolution.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcSampler reads a process's CPU and RSS at a fixed interval in the
// background, so peak and mean memory are seen over the whole run rather than
// at one or two instants.
type ProcSampler struct {
	pid      int
	mu       sync.Mutex
	samples  []ProcSample
	err      error
	cancel   context.CancelFunc
	finished chan struct{}
	// onSample, when set (OnSample), sees every successful reading.
	onSample func(ProcSample)
}

// OnSample has f see every successful reading from now on, in the
// sampling goroutine (a memory cap, say): the readings the sampler takes
// anyway, not a second reader of /proc.
func (p *ProcSampler) OnSample(f func(ProcSample)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onSample = f
}

// StartProcSampler samples pid every interval until Stop.
func StartProcSampler(pid int, interval time.Duration) *ProcSampler {
	ctx, cancel := context.WithCancel(context.Background())
	p := &ProcSampler{pid: pid, cancel: cancel, finished: make(chan struct{})}
	go p.loop(ctx, interval)
	return p
}

func (p *ProcSampler) loop(ctx context.Context, interval time.Duration) {
	defer close(p.finished)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		p.Sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample takes one reading now and returns it; runners call it at phase
// boundaries so each phase starts and ends on a fresh reading.
func (p *ProcSampler) Sample() (ProcSample, error) {
	s, err := ReadProc(p.pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.err == nil {
			p.err = err
		}
		return s, err
	}
	p.samples = append(p.samples, s)
	if f := p.onSample; f != nil {
		p.mu.Unlock()
		f(s)
		p.mu.Lock()
	}
	return s, nil
}

// Stop ends sampling and returns the first read error, if any (a process
// that exited gives one).
func (p *ProcSampler) Stop() error {
	p.cancel()
	<-p.finished
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Samples returns a copy of every sample taken so far.
func (p *ProcSampler) Samples() []ProcSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

// Window summarises the samples taken between from and to (inclusive).
type Window struct {
	Samples  int
	CPU      time.Duration // CPU used between the first and last sample
	PeakRSS  uint64
	MeanRSS  uint64
	FirstRSS uint64
	LastRSS  uint64
}

// Window summarises the samples in [from, to].
func (p *ProcSampler) Window(from, to time.Time) Window {
	p.mu.Lock()
	defer p.mu.Unlock()
	var w Window
	var first, last ProcSample
	var sum uint64
	for _, s := range p.samples {
		if s.At.Before(from) || s.At.After(to) {
			continue
		}
		if w.Samples == 0 {
			first = s
		}
		last = s
		w.Samples++
		sum += s.RSS
		w.PeakRSS = max(w.PeakRSS, s.RSS)
	}
	if w.Samples == 0 {
		return w
	}
	w.CPU = last.CPU - first.CPU
	w.MeanRSS = sum / uint64(w.Samples)
	w.FirstRSS, w.LastRSS = first.RSS, last.RSS
	return w
}
