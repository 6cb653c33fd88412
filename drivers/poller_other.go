//go:build !linux

package drivers

import (
	"errors"
	"time"
)

const pollerSupported = false

// Poller is Linux's epoll only; elsewhere every connection keeps its reader
// goroutine.
type Poller struct{}

// NewPoller fails off Linux.
func NewPoller() (*Poller, error) {
	return nil, errors.New("holding idle connections without goroutines needs Linux's epoll")
}

func (*Poller) Hold(Conn, uint32) bool              { return false }
func (*Poller) Release(uint32)                      {}
func (*Poller) Ping(uint32) error                   { return errors.New("no poller") }
func (*Poller) Wait(time.Duration) ([]Event, error) { return nil, errors.New("no poller") }
func (*Poller) Wake()                               {}
func (*Poller) Close() error                        { return nil }
