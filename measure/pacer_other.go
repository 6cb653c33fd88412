//go:build !linux

package measure

import "time"

// sleeper falls back to the runtime's timers off Linux.
type sleeper struct{}

func newSleeper() sleeper             { return sleeper{} }
func (sleeper) sleep(d time.Duration) { time.Sleep(d) }
func (sleeper) close()                {}
