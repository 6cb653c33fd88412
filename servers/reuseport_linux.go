package servers

import "syscall"

// soReusePort is SO_REUSEPORT on Linux.
const soReusePort = 0xf

func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
}
