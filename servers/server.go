// Package servers owns the reference servers: the Server contract each
// WebSocket library implements, the registry, the shared fairness settings,
// and the `wsbench serve` process (listener, ready line, stats endpoint,
// shutdown on SIGTERM). Nothing outside this package's per-library files
// names a library.
package servers

import (
	"github.com/wsbench/wsbench/internal/registry"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

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
	// IdleTimeout closes a connection from which nothing (no data, no ping)
	// has arrived for this long; zero or less disables it.
	IdleTimeout time.Duration `json:"idle_timeout_ns"`
	// BroadcastQueue is the number of messages a /broadcast subscriber may
	// have queued for writing before it counts as a slow consumer.
	BroadcastQueue int `json:"broadcast_queue"`
	// SlowConsumer is what a server does when a subscriber's queue is full:
	// SlowDrop skips the message for that subscriber, SlowDisconnect closes
	// the subscriber with 1008. Either way the hub never blocks.
	SlowConsumer string `json:"slow_consumer"`
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
		IdleTimeout:      60 * time.Second,
		BroadcastQueue:   1024,
		SlowConsumer:     SlowDrop,
	}
}

// Handlers are the WebSocket endpoints a reference server mounts.
type Handlers struct {
	// Echo answers every data message with the same bytes and type.
	Echo http.Handler
	// Broadcast treats every data message received on any /broadcast
	// connection as a publish and fans it out, same type and bytes, to
	// every /broadcast connection including the sender, through a bounded
	// per-connection queue (Settings.BroadcastQueue, Settings.SlowConsumer).
	Broadcast http.Handler
}

// Server is one library's reference server.
type Server interface {
	// Name is the short name used on the command line ("gorilla").
	Name() string
	// Module is the Go module path of the library, used to report its version.
	Module() string
	// Handlers builds the endpoints with the given settings. Every accepted
	// connection registers with live so shutdown can close it with 1001.
	Handlers(s Settings, live *Live) Handlers
	// Exceptions names the settings this library cannot apply, each with the
	// reason, e.g. "read_buffer_bytes: coder/websocket sizes its own buffers".
	Exceptions() []string
}

// Live is the state one server process shares between its connections: the
// open connections, so that shutdown can send each a 1001 (going away) close
// frame, and the event counters /stats reports. Serve makes one per call; the
// zero value is ready to use.
type Live struct {
	// Counters count this process's broadcast and idle-timeout events.
	Counters Counters

	mu    sync.Mutex
	next  uint64
	conns map[uint64]func()
	gone  bool // GoingAway has been called
}

// Counters are a server process's event counters, safe for concurrent use.
// Each server adds to them as the events happen; Stats reports them.
type Counters struct {
	// BroadcastPublished counts publishes: data messages received on
	// /broadcast connections.
	BroadcastPublished atomic.Uint64
	// BroadcastEnqueued counts messages put on a subscriber's queue, one
	// per subscriber a publish reached (queued for writing, not yet
	// known to be written).
	BroadcastEnqueued atomic.Uint64
	// BroadcastDropped counts messages skipped for a subscriber whose
	// queue was full, under the SlowDrop policy.
	BroadcastDropped atomic.Uint64
	// BroadcastDisconnected counts subscribers closed (1008) because their
	// queue was full, under the SlowDisconnect policy.
	BroadcastDisconnected atomic.Uint64
	// IdleClosed counts connections the server closed because nothing
	// arrived on them for Settings.IdleTimeout.
	IdleClosed atomic.Uint64
}

// Add registers a connection; goingAway must send a close frame with status
// 1001 and close the connection. The returned func unregisters it and must
// be called when the connection ends. A connection added after GoingAway (its
// upgrade raced with shutdown) is told to go away at once, in its own
// goroutine, so shutdown never leaves one open.
func (l *Live) Add(goingAway func()) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		l.conns = map[uint64]func(){}
	}
	id := l.next
	l.next++
	l.conns[id] = goingAway
	if l.gone {
		go goingAway()
	}
	return func() {
		l.mu.Lock()
		delete(l.conns, id)
		l.mu.Unlock()
	}
}

// Count is the number of open connections.
func (l *Live) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// GoingAway closes every open connection with status 1001, concurrently, and
// returns when all have been told. Connections added later are told at once.
func (l *Live) GoingAway() {
	l.mu.Lock()
	l.gone = true
	fns := make([]func(), 0, len(l.conns))
	for _, f := range l.conns {
		fns = append(fns, f)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

var known = registry.New[Server]("server")

// Register adds a server; a duplicate name panics at init.
func Register(x Server) { known.Register(x) }

// Names lists the registered servers in alphabetical order.
func Names() []string { return known.Names() }

// Lookup returns the named server, or an error that lists the known ones.
func Lookup(name string) (Server, error) { return known.Lookup(name) }

// NotImplemented answers 501, for endpoints a library's server lacks so far.
var NotImplemented = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
})
