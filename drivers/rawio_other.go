//go:build !linux

package drivers

import "syscall"

// rawIO is Linux's only: elsewhere a socket is read and written through
// net.Conn.
type rawIO struct{ wait func() }

func newRawReader(syscall.RawConn) *rawIO { return nil }
func newRawWriter(syscall.RawConn) *rawIO { return nil }

func (*rawIO) read([]byte) (int, error)  { panic("unreachable") }
func (*rawIO) write([]byte) (int, error) { panic("unreachable") }

// readNow is one read of the non-blocking socket fd.
func readNow(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
