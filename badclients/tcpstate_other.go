//go:build !linux

package badclients

import (
	"net"
	"syscall"
)

// peerState cannot look at the TCP state here: a client that never reads
// then learns of its drop only when the fleet stops.
func peerState(c *net.TCPConn) (fin, reset bool) { return false, false }

func smallRcvbuf(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, nonReaderRcvbuf)
}
