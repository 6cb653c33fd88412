package drivers

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setRcvLowat sets the socket's SO_RCVLOWAT: Linux then neither wakes a
// reader nor reports the socket readable until that many bytes are queued
// (or the peer closed), while a non-blocking read still takes what is
// there.
func setRcvLowat(rc syscall.RawConn, bytes int) bool {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, bytes)
	}); err != nil {
		return false
	}
	return serr == nil
}

// queuedBytes is what the socket has received and not yet been read
// (SIOCINQ).
func queuedBytes(rc syscall.RawConn) (int, bool) {
	var (
		n    int
		ierr error
	)
	if err := rc.Control(func(fd uintptr) {
		n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	}); err != nil {
		return 0, false
	}
	return n, ierr == nil
}
