//go:build !linux

package badclients

import "syscall"

func netnsAttr() *syscall.SysProcAttr { return nil }
