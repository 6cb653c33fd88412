package measure

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper waits on a timerfd read through the runtime's poller: the
// goroutine parks, holds no thread or P, and is woken when the kernel timer
// fires rather than at the poller's next whole millisecond.
type sleeper struct {
	fd  int
	f   *os.File
	buf [8]byte
}

func newSleeper() sleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return sleeper{fd: -1}
	}
	return sleeper{fd: fd, f: os.NewFile(uintptr(fd), "pacer-timerfd")}
}

func (s *sleeper) sleep(d time.Duration) {
	if s.f == nil {
		time.Sleep(d)
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(s.fd, 0, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	if _, err := s.f.Read(s.buf[:]); err != nil {
		time.Sleep(d)
	}
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
	}
}
