// Package nbioutil holds what wsbench's nbio server (servers/nbio.go) and
// nbio driver (drivers/nbio.go) both need of github.com/lesismal/nbio: its
// logging kept off stdout, and ending a connection safely from outside its
// poller goroutine.
package nbioutil

import (
	"os"
	"sync"
	"syscall"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

var quiet sync.Once

// QuietLogging sends nbio's log to stderr, errors only: by default it logs
// to stdout, where `wsbench serve` writes its ready line and the runner its
// results, and its info lines (engine start and stop) are noise there.
func QuietLogging() {
	quiet.Do(func() {
		logging.Output = os.Stderr
		logging.SetLevel(logging.LevelError)
	})
}

// HangUp ends a connection from outside its poller goroutine: it shuts the
// socket down both ways, and the poller, woken by the hang-up, closes it at
// once. Closing the descriptor here instead (nbio's Close) races with the
// poller: an epoll event it has already fetched for the socket is then
// applied to whatever connection the kernel hands the same descriptor
// number next (a dial right after a Close in a connect storm; an HTTP
// request nbhttp closed from its pool), which nbio closes in its place. A
// connection nbio has closed already is left alone: its descriptor may
// belong to another connection by now, and the lock keeps nbio from closing
// it meanwhile.
func HangUp(nc *nbio.Conn) {
	nc.Lock()
	defer nc.Unlock()
	if closed, _ := nc.IsClosed(); closed {
		return
	}
	rc, err := nc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = shutdown(syscall.Shutdown, fd) })
}

// shutdown calls shutdown(fd, SHUT_RDWR), whatever the descriptor type of
// the platform's syscall.Shutdown (int on Unix, Handle on Windows).
func shutdown[FD ~int | ~uintptr](shut func(FD, int) error, fd uintptr) error {
	return shut(FD(fd), syscall.SHUT_RDWR)
}
