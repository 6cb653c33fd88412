// Package servers owns the reference servers: the Server contract each
// WebSocket library implements, the registry, the shared fairness settings,
// and the `wsbench serve` process (listener, ready line, stats endpoint,
// shutdown on SIGTERM). Nothing outside this package's per-library files
// names a library.
package servers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/wsbench/wsbench/internal/registry"
)

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

// Server is one library's reference server: what every server has. It
// serves in exactly one of two ways: as a Mounter (handlers plugged into
// net/http) or as an Engine (the library's own HTTP server on the
// listener).
type Server interface {
	// Name is the short name used on the command line ("gorilla").
	Name() string
	// Module is the Go module path of the library, used to report its version.
	Module() string
	// Exceptions names the settings this library cannot apply, each with the
	// reason, e.g. "read_buffer_bytes: coder/websocket sizes its own buffers".
	Exceptions() []string
}

// Mounter is a server whose library plugs handlers into net/http: Serve
// mounts them on an http.Server.
type Mounter interface {
	Server
	// Handlers builds the endpoints with the given settings. Every accepted
	// connection registers with live so shutdown can close it with 1001.
	Handlers(s Settings, live *Live) Handlers
}

// Engine is a server whose library brings its own HTTP server (an event
// loop such as nbio's, or fasthttp): Serve hands it the listener.
type Engine interface {
	Server
	// Run serves on ln until ctx ends: the WebSocket endpoints /echo and
	// /broadcast through the library, every other request through other
	// (an http.Handler holding /stats). Every accepted WebSocket registers
	// with live, as with Handlers. Shutdown follows Serve's one order: ln
	// stops accepting first (its socket is closed; Accept then waits until
	// Run closes ln, so the engine sees no failure), the WebSockets are
	// told to go away and Serve waits for them while the engine serves on,
	// and only then does ctx end: Run then closes ln and whatever is left,
	// and returns within shutdownTimeout. An error means the engine could
	// not start or failed while serving.
	Run(ctx context.Context, ln net.Listener, s Settings, live *Live, other http.Handler) error
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
	// CompressedConns counts connections accepted with permessage-deflate
	// negotiated.
	CompressedConns atomic.Uint64
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

// Register adds a server; a duplicate name, or a server that is not
// exactly one of Mounter and Engine, panics at init.
func Register(x Server) {
	if err := checkSides(x); err != nil {
		panic(err)
	}
	known.Register(x)
}

// checkSides says whether x serves in exactly one way.
func checkSides(x Server) error {
	_, mounts := x.(Mounter)
	_, engine := x.(Engine)
	switch {
	case !mounts && !engine:
		return fmt.Errorf("server %q serves no endpoints: implement servers.Mounter (Handlers for net/http) or servers.Engine (Run on the listener)", x.Name())
	case mounts && engine:
		return fmt.Errorf("server %q is both a servers.Mounter and a servers.Engine: implement one", x.Name())
	}
	return nil
}

// Names lists the registered servers in alphabetical order.
func Names() []string { return known.Names() }

// Lookup returns the named server, or an error that lists the known ones.
func Lookup(name string) (Server, error) { return known.Lookup(name) }

// NotImplemented answers 501, for endpoints a library's server lacks so far.
var NotImplemented = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
})
