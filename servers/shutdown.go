package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// shutdown stops a server process in the one order every reference server
// follows, whether net/http or the library's own engine serves it:
//
//  1. stop accepting: the listening socket is closed, so a client that
//     reconnects at once is refused (and backs off, or reaches another
//     process sharing the port) instead of being upgraded by a server on its
//     way out and losing its connection a second time;
//  2. tell every WebSocket to go away (close 1001) and wait, bounded, until
//     each has closed;
//  3. stop serving (stopServing: net/http's Shutdown, or the engine's Run
//     returning), with every connection gone by then.
//
// The order is the server's, not the library's: a reconnect run measures
// how clients recover, and a server that kept accepting during step 2 would
// show losses its library does not cause.
func shutdown(gate *acceptGate, live *Live, name string, stopServing func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if err := gate.stop(); err != nil {
		errs = append(errs, fmt.Errorf("serve %s: shutdown: stop accepting: %w", name, err))
	}
	live.GoingAway()
	// Handlers unregister as their connections end; waiting for that
	// means no connection outlives Serve in the normal case.
	if err := waitClosed(ctx, live); err != nil {
		errs = append(errs, fmt.Errorf("serve %s: shutdown: %w", name, err))
	}
	if err := stopServing(ctx); err != nil {
		errs = append(errs, fmt.Errorf("serve %s: shutdown: %w", name, err))
	}
	return errors.Join(errs...)
}

// waitClosed waits until every connection has unregistered from live, or
// ctx ends.
func waitClosed(ctx context.Context, live *Live) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for live.Count() > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("%d connections still open after %s", live.Count(), shutdownTimeout)
		}
	}
	return nil
}

// acceptGate is the listener every server serves on, so that Serve, not the
// library, decides when accepting stops. stop closes the listening socket
// at the start of shutdown; the server goes on serving the connections it
// has, and its accept loop does not see a failure: Accept then waits until
// the server closes the listener itself, as it stops, and only then returns
// the closed listener's error. (An accept error before their own shutdown
// ends some engines' Run, and nbhttp retries it in a busy loop.)
type acceptGate struct {
	net.Listener
	stopping  chan struct{} // closed by stop, before the socket is closed
	closed    chan struct{} // closed by Close
	stopOnce  sync.Once
	closeOnce sync.Once
	stopErr   error // the socket's Close, once stopping is closed
}

func newAcceptGate(ln net.Listener) *acceptGate {
	return &acceptGate{Listener: ln, stopping: make(chan struct{}), closed: make(chan struct{})}
}

// stop closes the listening socket: no connection is accepted once it has
// returned. It is idempotent.
func (g *acceptGate) stop() error {
	g.stopOnce.Do(func() {
		close(g.stopping)
		if err := g.Listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			g.stopErr = err
		}
	})
	return g.stopErr
}

// Accept returns the next connection until stop; from then on it waits for
// Close and returns net.ErrClosed. A connection the socket handed over while
// stop ran is closed unserved.
func (g *acceptGate) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	select {
	case <-g.stopping:
	default:
		return c, err
	}
	if c != nil {
		_ = c.Close()
	}
	<-g.closed
	return nil, &net.OpError{Op: "accept", Net: g.Addr().Network(), Addr: g.Addr(), Err: net.ErrClosed}
}

// Close stops accepting (if stop has not) and releases every Accept. The
// server calls it as it stops; Serve calls it again once the server has
// stopped, for a server that does not.
func (g *acceptGate) Close() error {
	err := g.stop()
	g.closeOnce.Do(func() { close(g.closed) })
	return err
}
