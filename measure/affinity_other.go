//go:build !linux

package measure

import (
	"errors"
	"fmt"
)

// AllowedCPUs is only implemented on Linux.
func AllowedCPUs(pid int) ([]int, error) {
	return nil, fmt.Errorf("allowed CPUs of process %d: %w", pid, errors.ErrUnsupported)
}

// PinProcess is only implemented on Linux.
func PinProcess(pid int, cpus []int) error {
	return fmt.Errorf("pin process %d: %w", pid, errors.ErrUnsupported)
}
