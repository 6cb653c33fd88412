package servers

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"time"
)

// This file is the fairness manifest: the one place that says how every
// reference server is configured. Each library's file applies these settings
// as far as its library allows and lists, in Server.Exceptions, the ones it
// cannot apply and why. The runner records the settings and the exceptions
// in every result file; `wsbench report` and `wsbench list` show them.

// Settings are applied alike by every reference server, as far as its library
// allows; what a library cannot apply it lists in Server.Exceptions. They are
// recorded in every result so a reader can see the comparison was fair.
type Settings struct {
	// ReadLimit is the largest message a server accepts, in bytes; zero or
	// less means no limit.
	ReadLimit int64 `json:"read_limit_bytes"`
	// ReadBufferSize and WriteBufferSize size per-connection I/O buffers.
	ReadBufferSize  int `json:"read_buffer_bytes"`
	WriteBufferSize int `json:"write_buffer_bytes"`
	// HandshakeTimeout bounds reading the upgrade request.
	HandshakeTimeout time.Duration `json:"handshake_timeout_ns"`
	// WriteTimeout bounds each write of a message to a client; a client that
	// takes no bytes for this long is dropped rather than holding a writer
	// forever. Zero or less means no bound.
	WriteTimeout time.Duration `json:"write_timeout_ns"`
	// IdleTimeout closes a connection from which nothing (no data, no ping)
	// has arrived for this long; zero or less disables it.
	IdleTimeout time.Duration `json:"idle_timeout_ns"`
	// Compression accepts permessage-deflate (RFC 7692) when a client offers
	// it, with no context takeover in either direction (the one mode every
	// library supports) and every message compressed, whatever its size.
	// Off, a server declines the extension.
	Compression bool `json:"compression"`
	// CompressionLevel is the flate level (1 fastest … 9 smallest) a server
	// compresses with, where its library lets it choose.
	CompressionLevel int `json:"compression_level"`
	// BroadcastQueue is the number of messages a /broadcast subscriber may
	// have queued for writing before it counts as a slow consumer.
	BroadcastQueue int `json:"broadcast_queue"`
	// SlowConsumer is what a server does when a subscriber's queue is full:
	// SlowDrop skips the message for that subscriber, SlowDisconnect closes
	// the subscriber with 1008. Either way the hub never blocks.
	SlowConsumer string `json:"slow_consumer"`
	// GOMAXPROCS is the server process's runtime.GOMAXPROCS; zero leaves
	// Go's default (the CPUs the process may run on). Pinned runs set it
	// to the number of server CPUs.
	GOMAXPROCS int `json:"gomaxprocs"`
	// GOGC is the server process's GC target percentage (debug.SetGCPercent);
	// negative turns the collector off.
	GOGC int `json:"gogc"`
	// GOMEMLIMIT is the server process's soft memory limit in bytes
	// (debug.SetMemoryLimit); zero or less means none.
	GOMEMLIMIT int64 `json:"gomemlimit_bytes"`
}

// The slow-consumer policies of Settings.SlowConsumer.
const (
	SlowDrop       = "drop"
	SlowDisconnect = "disconnect"
)

// DefaultSettings are the settings every comparison uses unless told otherwise.
func DefaultSettings() Settings {
	return Settings{
		ReadLimit:        1 << 20,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		HandshakeTimeout: 5 * time.Second,
		WriteTimeout:     10 * time.Second,
		IdleTimeout:      60 * time.Second,
		Compression:      false,
		CompressionLevel: 1,
		BroadcastQueue:   1024,
		SlowConsumer:     SlowDrop,
		GOMAXPROCS:       0,
		GOGC:             100,
		GOMEMLIMIT:       0,
	}
}

// RuntimeSettings are the Go runtime settings a server process actually
// runs with, as /stats reports them, to check the manifest was applied.
type RuntimeSettings struct {
	GOMAXPROCS int   `json:"gomaxprocs"`
	GOGC       int   `json:"gogc"`
	GOMEMLIMIT int64 `json:"gomemlimit_bytes"` // 0: none
}

// applyRuntime sets the process-wide runtime settings of s, the same way for
// every server (Serve calls it before any library code runs), and returns
// what the runtime reports afterwards.
func applyRuntime(s Settings) RuntimeSettings {
	if s.GOMAXPROCS > 0 {
		runtime.GOMAXPROCS(s.GOMAXPROCS)
	}
	debug.SetGCPercent(s.GOGC)
	limit := int64(math.MaxInt64)
	if s.GOMEMLIMIT > 0 {
		limit = s.GOMEMLIMIT
	}
	debug.SetMemoryLimit(limit)
	return currentRuntime()
}

// currentRuntime reads the runtime settings back. Reading GOGC means
// setting it, so it is only called where it is being set anyway.
func currentRuntime() RuntimeSettings {
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	limit := debug.SetMemoryLimit(-1) // a negative input only reads
	if limit == math.MaxInt64 {
		limit = 0
	}
	return RuntimeSettings{GOMAXPROCS: runtime.GOMAXPROCS(0), GOGC: gogc, GOMEMLIMIT: limit}
}

// check validates s, naming the serve flag at fault.
func (s Settings) check() error {
	switch {
	case s.ReadBufferSize < 1:
		return fmt.Errorf("--read-buffer %d: must be at least 1", s.ReadBufferSize)
	case s.WriteBufferSize < 1:
		return fmt.Errorf("--write-buffer %d: must be at least 1", s.WriteBufferSize)
	case s.HandshakeTimeout <= 0:
		return fmt.Errorf("--handshake-timeout %s: must be more than zero", s.HandshakeTimeout)
	case s.CompressionLevel < 1 || s.CompressionLevel > 9:
		return fmt.Errorf("--compression-level %d: want 1 (fastest) to 9 (smallest)", s.CompressionLevel)
	case s.BroadcastQueue < 1:
		return fmt.Errorf("--broadcast-queue %d: must be at least 1", s.BroadcastQueue)
	case s.SlowConsumer != SlowDrop && s.SlowConsumer != SlowDisconnect:
		return fmt.Errorf("--slow-consumer %q: want %s or %s", s.SlowConsumer, SlowDrop, SlowDisconnect)
	case s.GOMAXPROCS < 0:
		return fmt.Errorf("--gomaxprocs %d: must be 0 (Go's default) or more", s.GOMAXPROCS)
	case s.ReadLimit < 0:
		return fmt.Errorf("--read-limit %d: must be 0 (no limit) or more", s.ReadLimit)
	case s.WriteTimeout < 0:
		return fmt.Errorf("--write-timeout %s: must be 0 (never) or more", s.WriteTimeout)
	case s.IdleTimeout < 0:
		return fmt.Errorf("--idle-timeout %s: must be 0 (never) or more", s.IdleTimeout)
	case s.GOMEMLIMIT < 0:
		return fmt.Errorf("--gomemlimit %d: must be 0 (none) or more", s.GOMEMLIMIT)
	}
	return nil
}
