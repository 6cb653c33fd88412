package badclients

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/measure"
)

// DropHighestUs is the ceiling of the time-to-drop histograms: an hour, as
// a trickler or idle socket may be held far past the 60 s latency ceiling.
const DropHighestUs = 3_600_000_000

// dialsInFlight bounds the clients connecting at once, so starting 2,000
// of them does not overflow the server's accept queue.
const dialsInFlight = 64

// Fleet is the bad clients of one cell, running.
type Fleet struct {
	kinds   []*kindRecorder
	wg      sync.WaitGroup
	pending atomic.Int64
	started chan struct{}
}

// kindRecorder gathers the ends of one kind's clients.
type kindRecorder struct {
	entry Entry
	drop  *measure.Recorder
	mu    sync.Mutex
	res   KindResult
}

// Start dials every client of spec against target (a ws:// URL such as
// ws://127.0.0.1:8080/broadcast) and lets each misbehave until the server
// drops it or ctx ends; ending ctx stops them all within about
// finalDrain (each wakes by a past deadline and closes its socket). Wait
// returns the results. wss:// is not supported: the clients write raw
// bytes on the TCP connection.
func Start(ctx context.Context, target string, spec Spec) (*Fleet, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("bad clients: target %q: %w", target, err)
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("bad clients: target %q: only ws:// is supported (they write raw TCP bytes)", target)
	}
	f := &Fleet{started: make(chan struct{})}
	f.pending.Store(int64(spec.Total()))
	if spec.Total() == 0 {
		close(f.started)
	}
	started := func() {
		if f.pending.Add(-1) == 0 {
			close(f.started)
		}
	}
	sem := make(chan struct{}, dialsInFlight)
	for _, e := range spec.Entries {
		k := &kindRecorder{entry: e, drop: measure.NewRecorderUpTo(DropHighestUs)}
		k.res = KindResult{Kind: e.Kind, Arg: e.Arg(), Clients: e.Count, ClosedByCode: map[int]int{}, Errors: map[string]int{}}
		f.kinds = append(f.kinds, k)
		for range e.Count {
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					started()
					k.add(end{outcome: Failed, errClass: "stopped before start"})
					return
				}
				released := false
				release := func() {
					if !released {
						released = true
						<-sem
					}
				}
				defer release()
				k.add(run(ctx, u, e, func() { release(); started() }))
			}()
		}
	}
	return f, nil
}

// Started is closed once every client has begun to misbehave or failed to.
func (f *Fleet) Started() <-chan struct{} { return f.started }

// Wait waits for every client to end (the context given to Start must end
// for the ones the server never drops) and returns the results per kind,
// in the spec's order.
func (f *Fleet) Wait() Results {
	f.wg.Wait()
	var r Results
	for _, k := range f.kinds {
		k.mu.Lock()
		res := k.res
		k.mu.Unlock()
		res.Drop, res.DropClamped = k.drop.Snapshot()
		r.Kinds = append(r.Kinds, res)
	}
	return r
}

func (k *kindRecorder) add(e end) {
	if e.timed {
		k.drop.Record(0, e.after)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r := &k.res
	switch e.outcome {
	case Open:
		r.Open++
	case Closed:
		r.ClosedByCode[e.code]++
	case Reset:
		r.Reset++
	case EOF:
		r.EOF++
	case Failed:
		r.Failed++
	}
	if e.seenAtEnd {
		r.SeenAtEnd++
	}
	if e.errClass != "" {
		r.Errors[e.errClass]++
		if r.ErrorSample == "" {
			r.ErrorSample = e.errText
		}
	}
	r.Sent += e.sent
	r.Received += e.received
}

// Results are the bad clients' side of a cell.
type Results struct {
	Kinds []KindResult `json:"kinds"`
}

// Kind returns the result of kind k, if the spec had it.
func (r Results) Kind(k Kind) (KindResult, bool) {
	for _, kr := range r.Kinds {
		if kr.Kind == k {
			return kr, true
		}
	}
	return KindResult{}, false
}

// KindResult is how the server dealt with one kind's clients.
type KindResult struct {
	// Kind and Arg (canonical, "" for none) name the clients.
	Kind Kind   `json:"kind"`
	Arg  string `json:"arg,omitempty"`
	// Clients is how many were started.
	Clients int `json:"clients"`
	// ClosedByCode counts the clients the server sent a close frame, by
	// its status code (1005 when it had none).
	ClosedByCode map[int]int `json:"closed_by_code,omitempty"`
	// Reset counts connections reset, or found gone by a write.
	Reset int `json:"reset"`
	// EOF counts connections closed without a close frame.
	EOF int `json:"eof"`
	// Open counts connections the server still held when the fleet
	// stopped: never dropped.
	Open int `json:"open"`
	// Failed counts clients that never got to misbehave (their causes are
	// in Errors).
	Failed int `json:"failed"`
	// SeenAtEnd counts drops found only by draining when the fleet stopped
	// (a close or FIN queued behind data a non-reader never read): they are
	// in the outcome counts but not in Drop, as their time is unknown.
	SeenAtEnd int `json:"seen_at_end,omitempty"`
	// Drop is the time from each client's misbehaviour starting to the
	// server ending its connection, in µs (1 µs to DropHighestUs);
	// DropClamped counts values beyond the ceiling.
	Drop        *hdrhistogram.Histogram `json:"-"`
	DropClamped uint64                  `json:"drop_clamped,omitempty"`
	// Sent is what the clients got out: messages (trickle), pings
	// (ping-flood) or payload bytes (oversize, deflate-bomb).
	Sent uint64 `json:"sent,omitempty"`
	// Received counts data messages the clients read (trickle: echoes).
	Received uint64 `json:"received,omitempty"`
	// Errors counts unexpected errors by class (stage and cause, no
	// addresses); ErrorSample is the full text of the first.
	Errors      map[string]int `json:"errors,omitempty"`
	ErrorSample string         `json:"error_sample,omitempty"`
}

// Closed is the number of clients closed with a close frame, any code.
func (r KindResult) Closed() int {
	n := 0
	for _, c := range r.ClosedByCode {
		n += c
	}
	return n
}

// Dropped is the number of clients the server ended, by any means.
func (r KindResult) Dropped() int { return r.Closed() + r.Reset + r.EOF }
