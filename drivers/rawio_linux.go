package drivers

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawIO is one direction of a plain TCP socket (non-blocking, as the
// runtime makes every socket) driven with raw system calls, waiting in
// the runtime's poller only when the socket is not ready. A read or write
// through net.Conn enters the scheduler's syscall state, and one that
// takes longer than the monitor's 20 µs tick (a loopback write of several
// frames runs the peer's receive path too) has its P handed to another
// thread: a futex wake of that thread, and a switch back when the call
// returns, which on a small VM cost the load generator more than the
// call. A call on a non-blocking socket never waits, so holding the P
// through it costs nothing. Deadlines and Close behave as with net.Conn:
// the runtime's poller does the waiting.
type rawIO struct {
	rc  syscall.RawConn
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool

	wait func() // a reader's: called whenever the poller is about to wait
}

// newRawReader and newRawWriter return nil where raw calls are not used.
func newRawReader(rc syscall.RawConn) *rawIO {
	r := &rawIO{rc: rc}
	r.fn = func(fd uintptr) bool {
		n, err := readNow(fd, r.p)
		switch {
		case err == syscall.EAGAIN:
			if r.wait != nil {
				r.wait()
			}
			return false // nothing yet: the runtime's poller waits
		case err != nil:
			r.err = os.NewSyscallError("read", err)
		case n == 0 && len(r.p) > 0:
			r.err = io.EOF
		}
		r.n = n
		return true
	}
	return r
}

func newRawWriter(rc syscall.RawConn) *rawIO {
	w := &rawIO{rc: rc}
	w.fn = func(fd uintptr) bool {
		for w.n < len(w.p) {
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.p[w.n])), uintptr(len(w.p)-w.n))
			switch e {
			case 0:
				w.n += int(n)
				continue
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			w.err = os.NewSyscallError("write", e)
			return true
		}
		return true
	}
	return w
}

// readNow is one read of the non-blocking socket fd as a raw system call,
// for a caller that never waits for it (a Poller's held connection):
// syscall.EAGAIN when nothing has arrived. A read through syscall.Read
// enters the scheduler's syscall state, and on a generator whose one P
// was idle a moment ago that wakes the runtime's monitor thread each time.
func readNow(fd uintptr, p []byte) (int, error) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// read is one read of the socket, as net.Conn's Read.
func (r *rawIO) read(p []byte) (int, error) {
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.fn)
	r.p = nil
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: "socket", Err: err}
	}
	return r.n, r.err
}

// write writes all of p, as net.Conn's Write.
func (r *rawIO) write(p []byte) (int, error) {
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Write(r.fn)
	r.p = nil
	if err == nil {
		err = r.err
	} else {
		err = &os.PathError{Op: "write", Path: "socket", Err: err}
	}
	return r.n, err
}
