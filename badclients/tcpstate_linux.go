package badclients

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Linux TCP states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpClose       = 7
	tcpCloseWait   = 8
)

// peerState tells, without reading, whether the peer has ended c: a FIN
// received (the socket is in CLOSE_WAIT) or a reset (closed with
// ECONNRESET pending or done). A client that never reads learns of its
// drop this way.
func peerState(c *net.TCPConn) (fin, reset bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return false, false
	}
	_ = rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		switch info.State {
		case tcpCloseWait:
			fin = true
		case tcpClose:
			reset = true
		}
		if e, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); err == nil && syscall.Errno(e) == syscall.ECONNRESET {
			reset = true
		}
	})
	return fin, reset
}

// smallRcvbuf sets SO_RCVBUF before connect, so the window a non-reader
// advertises is small from the first segment (the kernel doubles the value
// and keeps a floor of about 2 KiB).
func smallRcvbuf(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, nonReaderRcvbuf)
}
