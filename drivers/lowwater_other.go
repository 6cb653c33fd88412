//go:build !linux

package drivers

import "syscall"

// setRcvLowat is Linux's only: elsewhere a wait ends on the first byte.
func setRcvLowat(syscall.RawConn, int) bool { return false }

// queuedBytes is Linux's only, as the mark it serves.
func queuedBytes(syscall.RawConn) (int, bool) { return 0, false }
