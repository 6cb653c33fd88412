package drivers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const pollerSupported = true

// wakeToken marks the Poller's own eventfd in the epoll set.
const wakeToken = -1

// pollerScratch is the one read buffer every held connection is read into.
const pollerScratch = 64 << 10

// Poller holds idle connections without a goroutine each (see poller.go).
// Its epoll set is itself watched by the Go runtime's poller, so the
// goroutine in Wait parks like one blocked in a read, holding no thread,
// and Wait's timeout is a read deadline on it. Every method but Wake
// belongs to one goroutine.
type Poller struct {
	epfd    int
	ep      *os.File // the epoll set as a pollable file
	rc      syscall.RawConn
	conns   map[uint32]heldConn
	events  []unix.EpollEvent
	scratch []byte
	out     []Event

	wakeMu sync.Mutex // orders Wake with Close
	wakeFD int        // an eventfd in the set; -1 once closed
}

// NewPoller returns a Poller with an empty set; Close releases it.
func NewPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("poller: epoll_create: %w", err)
	}
	// Non-blocking, so that os.NewFile registers it with the runtime's
	// poller and its deadlines work.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("poller: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("poller: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeToken}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("poller: watch eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, ep: os.NewFile(uintptr(epfd), "poller-epoll"), conns: map[uint32]heldConn{},
		events: make([]unix.EpollEvent, 256), scratch: make([]byte, pollerScratch), wakeFD: efd}
	if p.rc, err = p.ep.SyscallConn(); err == nil {
		err = p.ep.SetReadDeadline(time.Time{}) // fails when the file is not pollable
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("poller: %w", err)
	}
	return p, nil
}

// Hold starts watching c under token, reading it from here on; false when
// c cannot be held (its caller then reads it with a goroutine as before).
func (p *Poller) Hold(c Conn, token uint32) bool {
	h, ok := c.(heldConn)
	if !ok {
		return false
	}
	rc, ok := h.rawConn()
	if !ok || !h.hold() {
		return false
	}
	var cerr error
	err := rc.Control(func(fd uintptr) {
		// Level-triggered: a socket not read to its end is reported again.
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(token)}
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		h.release()
		return false
	}
	p.conns[token] = h
	return true
}

// Release stops watching token's connection and hands its reading back.
func (p *Poller) Release(token uint32) {
	h, ok := p.conns[token]
	if !ok {
		return
	}
	p.forget(token, h)
	h.release()
}

// forget takes token's connection out of the set. A socket already closed
// left the epoll set with its last descriptor, so a failure is no matter.
func (p *Poller) forget(token uint32, h heldConn) {
	delete(p.conns, token)
	if rc, ok := h.rawConn(); ok {
		_ = rc.Control(func(fd uintptr) { _ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	}
}

// Ping writes a ping on token's connection without waiting; Wait reports
// its pong.
func (p *Poller) Ping(token uint32) error {
	h, ok := p.conns[token]
	if !ok {
		return errors.New("poller: ping: connection not held")
	}
	return h.pingHeld()
}

// Wait waits at most timeout (forever when negative) until a held
// connection has something to read or Wake is called, reads what has
// arrived on every readable one, and returns the pongs and deaths it saw.
// The slice is reused by the next Wait.
func (p *Poller) Wait(timeout time.Duration) ([]Event, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := p.ep.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("poller: %w", err)
	}
	var n int
	var werr error
	err := p.rc.Read(func(fd uintptr) bool {
		n, werr = epollWaitNow(int(fd), p.events)
		if werr == unix.EINTR {
			n, werr = 0, nil
		}
		return n > 0 || werr != nil // otherwise park until the set is readable
	})
	p.out = p.out[:0]
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return p.out, nil
	case err != nil:
		return nil, fmt.Errorf("poller: wait: %w", err)
	case werr != nil:
		return nil, fmt.Errorf("poller: epoll_wait: %w", werr)
	}
	for _, ev := range p.events[:n] {
		if ev.Fd == wakeToken {
			p.drainWake()
			continue
		}
		token := uint32(ev.Fd)
		h, ok := p.conns[token]
		if !ok {
			continue
		}
		pong, rerr := h.readHeld(p.scratch)
		if rerr != nil {
			p.forget(token, h)
		}
		if pong || rerr != nil {
			p.out = append(p.out, Event{Token: token, Pong: pong, Err: rerr})
		}
	}
	return p.out, nil
}

// epollWaitNow is epoll_wait with a zero timeout as a raw system call:
// it never blocks (Wait parks in the runtime's poller instead), so it
// need not enter the scheduler's syscall state, whose every entry on a
// generator idle a moment ago wakes the runtime's monitor thread (see
// rawIO).
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))),
		uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func (p *Poller) drainWake() {
	p.wakeMu.Lock()
	defer p.wakeMu.Unlock()
	if p.wakeFD >= 0 {
		var b [8]byte
		_, _ = unix.Read(p.wakeFD, b[:])
	}
}

// Wake makes a Wait under way, or the next one, return at once; safe from
// any goroutine, after Close included.
func (p *Poller) Wake() {
	p.wakeMu.Lock()
	defer p.wakeMu.Unlock()
	if p.wakeFD >= 0 {
		var b [8]byte
		binary.NativeEndian.PutUint64(b[:], 1)
		_, _ = unix.Write(p.wakeFD, b[:])
	}
}

// Close releases every connection still held and the epoll set.
func (p *Poller) Close() error {
	for token := range p.conns {
		p.Release(token)
	}
	p.wakeMu.Lock()
	if p.wakeFD >= 0 {
		unix.Close(p.wakeFD)
		p.wakeFD = -1
	}
	p.wakeMu.Unlock()
	return p.ep.Close()
}
