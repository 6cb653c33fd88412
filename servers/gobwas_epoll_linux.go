//go:build linux

package servers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

func init() { Register(gobwasEpollServer{}) }

// gobwasEpollServer is github.com/gobwas/ws served the way its authors
// describe for a million connections: no goroutine and no read buffer per
// idle connection. net/http accepts and upgrades as for the gobwas server;
// the upgraded socket is then handed to an epoll instance, and a goroutine
// is started only when the socket becomes readable. It reads through a
// pooled buffer until that buffer is drained at a message boundary, then
// re-arms the socket and ends.
//
// gobwas's own examples use github.com/mailru/easygo/netpoll (no release
// since 2019, not served by the module proxy here); this file does the same
// with golang.org/x/sys/unix, which the project already depends on. Writes
// are unchanged: replies are written by the goroutine that read the request,
// and a /broadcast subscriber keeps one writer goroutine, as in every other
// server, so the hub's bounded queues work alike.
type gobwasEpollServer struct{}

func (gobwasEpollServer) Name() string   { return "gobwas-epoll" }
func (gobwasEpollServer) Module() string { return "github.com/gobwas/ws" }

// Exceptions is empty: every setting is applied as in the gobwas server; the
// read buffer is taken from a pool for each burst of reading rather than
// held by every connection.
func (gobwasEpollServer) Exceptions() []string { return nil }

// Run serves net/http on ln, upgrading /echo and /broadcast with gobwas and
// handing the upgraded sockets to an epoll instance that lives as long as
// Run does.
func (gobwasEpollServer) Run(ctx context.Context, ln net.Listener, s Settings, live *Live, other http.Handler) error {
	p, err := newEpoll()
	if err != nil {
		return err
	}
	defer p.close()
	readers := &sync.Pool{New: func() any { return bufio.NewReaderSize(nil, s.ReadBufferSize) }}
	upgrade := gobwasUpgrader(s, live)

	// serve upgrades one connection, reads what came with the upgrade
	// request, and registers it with the poller. The handler goroutine
	// then returns: from here on the connection has a goroutine only
	// while it has bytes to read (and its writer, on /broadcast). setup
	// gives the message handler and the channel the writer goroutine
	// closes on return, if it starts one.
	serve := func(w http.ResponseWriter, r *http.Request, setup func(c *gobwasConn) (handle func(op ws.OpCode, msg []byte) error, wrote chan struct{})) bool {
		c, src, pending, end := upgrade(w, r)
		if c == nil {
			return false
		}
		ec := &epollConn{c: c, src: src, end: end, p: p, readers: readers}
		ec.r = c.newReader(nil, s.ReadLimit)
		ec.handle, ec.wrote = setup(c)
		f := ec.finish
		c.onClosed.Store(&f)
		if c.closed.Load() {
			ec.finish() // closed (going away) before the hook was in place
			return true
		}
		if pending != nil {
			// The client's first frames came with the upgrade request:
			// read them now, through the same code as any burst.
			ec.busy.Store(true)
			if !ec.read(gobwasSource(src, pending), func() bool { return pending.Len() == 0 }) {
				return true
			}
			ec.busy.Store(false)
		}
		if err := p.add(ec); err != nil {
			ec.finish()
		}
		return true
	}

	hub := newHub[*gobwasFrame](s, &live.Counters)
	mux := http.NewServeMux()
	mux.Handle("/", other)
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, func(c *gobwasConn) (func(op ws.OpCode, msg []byte) error, chan struct{}) {
			return c.echo, nil
		})
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, r *http.Request) {
		var c *gobwasConn
		upgraded := make(chan struct{}) // c is set, or nil for good
		sub := hub.subscribe(func() {
			<-upgraded
			if c != nil {
				c.close(ws.StatusPolicyViolation, slowCloseReason)
			}
		})
		ok := serve(w, r, func(cc *gobwasConn) (func(op ws.OpCode, msg []byte) error, chan struct{}) {
			c = cc
			close(upgraded)
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				defer sub.unsubscribe()
				cc.writeQueue(sub)
			}()
			return gobwasPublish(hub, s), wrote
		})
		if !ok { // the upgrade failed
			close(upgraded)
			sub.unsubscribe()
		}
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: s.HandshakeTimeout}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return hs.Shutdown(sctx)
}

// epollConn is one upgraded connection registered with the poller.
type epollConn struct {
	c       *gobwasConn
	r       *gobwasReader
	src     io.Reader // the socket, touching the idle timer
	handle  func(op ws.OpCode, msg []byte) error
	end     func(wrote <-chan struct{})
	wrote   chan struct{} // closed when the /broadcast writer has returned; nil on /echo
	p       *epoll
	readers *sync.Pool
	fd      int32 // set by epoll.add

	// busy is set while a goroutine reads the connection: a readiness
	// event that finds it set is dropped (the reader re-arms when done).
	busy atomic.Bool
	once sync.Once
}

// burst reads the connection after a readiness event, re-arming it when done.
func (ec *epollConn) burst() {
	if !ec.busy.CompareAndSwap(false, true) {
		return
	}
	if !ec.read(ec.src, func() bool { return true }) {
		return
	}
	ec.busy.Store(false)
	if err := ec.p.rearm(ec); err != nil {
		ec.finish()
	}
}

// read handles messages from src through a pooled buffer until the buffer
// is empty at a message boundary and drained reports that src has nothing
// more of its own. It returns false when the connection has ended.
func (ec *epollConn) read(src io.Reader, drained func() bool) bool {
	br := ec.readers.Get().(*bufio.Reader)
	br.Reset(src)
	ec.r.rd.Source = br
	var err error
	for {
		if err = ec.c.next(ec.r, ec.handle); err != nil {
			break
		}
		if br.Buffered() == 0 && drained() {
			break
		}
	}
	ec.r.rd.Source = nil
	br.Reset(nil)
	ec.readers.Put(br)
	if err != nil {
		ec.finish()
		return false
	}
	return true
}

// finish ends the connection once: out of the poller, then closed and
// unregistered.
func (ec *epollConn) finish() {
	ec.once.Do(func() {
		ec.p.remove(ec)
		ec.end(ec.wrote)
	})
}

// epoll is one epoll instance and the goroutine waiting on it. Sockets are
// registered one-shot: after an event a socket stays disarmed until its
// reader re-arms it, so two goroutines never read one socket.
type epoll struct {
	fd   int
	wake int // eventfd that ends the wait loop

	mu    sync.Mutex
	conns map[int32]*epollConn // by file descriptor
	done  chan struct{}        // closed when the wait loop has returned
}

const epollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func newEpoll() (*epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(fd)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll_ctl add eventfd: %w", err)
	}
	p := &epoll{fd: fd, wake: wake, conns: map[int32]*epollConn{}, done: make(chan struct{})}
	go p.wait()
	return p, nil
}

// control runs f with the socket's descriptor, which Go keeps open while f
// runs; it fails if the socket is already closed.
func control(c net.Conn, f func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("epoll: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (p *epoll) add(ec *epollConn) error {
	return control(ec.c.conn, func(fd int) error {
		p.mu.Lock()
		ec.fd = int32(fd)
		p.conns[ec.fd] = ec
		p.mu.Unlock()
		ev := unix.EpollEvent{Events: epollEvents, Fd: int32(fd)}
		if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("epoll_ctl add: %w", err)
		}
		return nil
	})
}

func (p *epoll) rearm(ec *epollConn) error {
	return control(ec.c.conn, func(fd int) error {
		ev := unix.EpollEvent{Events: epollEvents, Fd: int32(fd)}
		if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
			return fmt.Errorf("epoll_ctl mod: %w", err)
		}
		return nil
	})
}

// remove takes the connection out of the poller. A socket already closed
// has left the epoll set with its descriptor, whose number may by now
// belong to another connection: only the map entry that is still ec's goes.
func (p *epoll) remove(ec *epollConn) {
	_ = control(ec.c.conn, func(fd int) error {
		return unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, fd, nil)
	})
	p.mu.Lock()
	if p.conns[ec.fd] == ec {
		delete(p.conns, ec.fd)
	}
	p.mu.Unlock()
}

// wait dispatches readiness events, each to a new goroutine, until close
// signals the eventfd; then it closes both descriptors.
func (p *epoll) wait() {
	defer close(p.done)
	defer unix.Close(p.wake)
	defer unix.Close(p.fd)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.fd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake) {
				p.mu.Unlock()
				return
			}
			if ec := p.conns[ev.Fd]; ec != nil {
				go ec.burst()
			}
		}
		p.mu.Unlock()
	}
}

// close ends the wait loop and waits for it; registered sockets are left to
// their owners.
func (p *epoll) close() {
	var one [8]byte
	one[0] = 1 // eventfd counters are host-endian; 1 is non-zero either way
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
}
