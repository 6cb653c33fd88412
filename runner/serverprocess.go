package runner

import (
	"context"
	"time"

	"github.com/wsbench/wsbench/servers"
)

// ServerProcess is a reference server in its own process, started the way
// a cell starts one, for callers beyond the cell loop (wsbench conformance
// plays its cases against it and restarts it when a case crashed it).
type ServerProcess struct{ p *serverProc }

// StartServerProcess runs `wsbench serve` for server name with settings s
// on a free loopback port, through serve (SelfServe when nil), and waits
// for its ready line.
func StartServerProcess(ctx context.Context, serve ServeCommand, name string, s servers.Settings, readyTimeout time.Duration) (*ServerProcess, error) {
	if serve == nil {
		serve = SelfServe
	}
	p, err := startServer(ctx, serve(ServeArgs(name, s)), readyTimeout)
	if err != nil {
		return nil, err
	}
	return &ServerProcess{p: p}, nil
}

// Addr is the server's host:port.
func (s *ServerProcess) Addr() string { return s.p.addr }

// PID is the server's process id, for /proc sampling.
func (s *ServerProcess) PID() int { return s.p.pid }

// Exited is closed once the process has exited.
func (s *ServerProcess) Exited() <-chan struct{} { return s.p.exited }

// Alive reports whether the process still runs.
func (s *ServerProcess) Alive() bool { return s.p.alive() }

// DeathReason says how the process ended, with the tail of its stderr.
func (s *ServerProcess) DeathReason() string { return s.p.deathReason() }

// Kill ends the process at once (a memory cap was passed) and waits for it.
func (s *ServerProcess) Kill() {
	if s.p.alive() {
		_ = s.p.cmd.Process.Kill()
	}
	<-s.p.exited
}

// Stop shuts the server down with SIGTERM, killing it after grace; it
// reports whether the shutdown was clean.
func (s *ServerProcess) Stop(grace time.Duration) bool { return s.p.stop(grace) }
