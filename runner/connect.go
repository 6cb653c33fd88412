package runner

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/scenarios"
)

// pacerChunk bounds one sleep of the dial pacer, so it notices a cancelled
// context within this long.
const pacerChunk = 20 * time.Millisecond

// connectResult is the outcome of the connect phase.
type connectResult struct {
	clients []*scenarios.Client
	// handshake is each established connection's handshake latency: with
	// a rate, from when the dial was due on the schedule (queueing behind
	// busy dialers or a slow server included); service from when the dial
	// actually began (nil without a rate, where the two are the same).
	handshake, service *measure.Recorder
	errors             map[string]uint64
	firstErr           error // the first dial error, to explain a cell with none connected
	duration           time.Duration
}

// connectAll dials n connections to url, at most parallel at a time and,
// when rate > 0, dial i due i/rate seconds in on a paced schedule. It
// records each handshake's latency (TCP connect, TLS, HTTP upgrade), and
// hands each connection to up (when not nil) the moment it is established.
func connectAll(ctx context.Context, d drivers.Driver, url string, n, parallel int, rate float64, opts drivers.DialOptions, sources []net.IP,
	up func(*scenarios.Client)) connectResult {
	res := connectResult{handshake: measure.NewRecorder(), errors: map[string]uint64{}}
	if rate > 0 {
		res.service = measure.NewRecorder()
	}
	clock := measure.NewClock()
	sched := measure.Schedule{Start: clock.Now(), Rate: rate}
	type dial struct {
		id  uint32
		due int64
	}
	dials := make(chan dial, parallel)
	go func() {
		defer close(dials)
		var pacer *measure.Pacer
		if rate > 0 {
			pacer = measure.NewPacer(clock)
			defer pacer.Close()
		}
		for i := range n {
			due := clock.Now()
			if rate > 0 {
				due = sched.Due(uint64(i))
				for ctx.Err() == nil && pacer.Until(due, pacerChunk) < due {
				}
			}
			select {
			case dials <- dial{uint32(i), due}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dl := range dials {
				t0 := clock.Now()
				o := opts
				if len(sources) > 0 {
					o.LocalAddr = sources[int(dl.id)%len(sources)]
				}
				conn, err := d.Dial(ctx, url, o)
				t1 := clock.Now()
				var cl *scenarios.Client
				if err == nil {
					cl = &scenarios.Client{ID: dl.id, Conn: conn}
					if up != nil {
						up(cl)
					}
				}
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						res.errors[drivers.DialErrorClass(err)]++
						if res.firstErr == nil {
							res.firstErr = err
						}
					}
				} else {
					if rate > 0 {
						res.handshake.Record(t1, time.Duration(t1-dl.due))
						res.service.Record(t1, time.Duration(t1-t0))
					} else {
						res.handshake.Record(t1, time.Duration(t1-t0))
					}
					res.clients = append(res.clients, cl)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.duration = time.Duration(clock.Now() - sched.Start)
	return res
}

// closeAll closes every connection with a close handshake, at most parallel
// at a time; broken connections are closed at once and count as abrupt.
func closeAll(clients []*scenarios.Client, parallel int, timeout time.Duration) (clean, abrupt int) {
	work := make(chan *scenarios.Client)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(parallel, max(len(clients), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				ok := false
				if conn, broken := c.Current(); !broken {
					ok, _ = conn.Close(timeout)
				} else {
					_ = conn.Abort()
				}
				mu.Lock()
				if ok {
					clean++
				} else {
					abrupt++
				}
				mu.Unlock()
			}
		}()
	}
	for _, c := range clients {
		work <- c
	}
	close(work)
	wg.Wait()
	return clean, abrupt
}
