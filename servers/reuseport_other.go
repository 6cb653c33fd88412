//go:build !linux

package servers

import "errors"

func setReusePort(uintptr) error { return errors.New("--reuse-port is supported on Linux only") }
