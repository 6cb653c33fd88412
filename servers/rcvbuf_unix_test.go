//go:build unix

package servers

import (
	"net"
	"syscall"
)

// smallReceiveBuffer is a dialer whose sockets get a tiny receive buffer
// before they connect, so a client that does not read stalls the server's
// writes to it after little data.
func smallReceiveBuffer() *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
}
