package scenarios

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
)

// runOpenLoop is the open-loop echo: connection i of n sends every n/rate
// seconds, starting i/rate seconds in, so the total rate is even rather than
// bursty. A sender that falls behind (a blocked write) sends its backlog at
// once, as wrk2 does, and every message carries the time it was due: latency
// from then is the corrected figure; from when it actually left, the
// service time.
func runOpenLoop(ctx context.Context, env *Env, codec measure.Codec) (*Outcome, error) {
	p := env.Params
	n := len(env.Clients)
	interval := time.Duration(float64(n) / p.Rate * float64(time.Second))
	out := &Outcome{Latency: env.Latency, Service: measure.NewRecorder(), Errors: map[string]uint64{}}
	ol := &report.OpenLoop{TargetRate: p.Rate}
	var mu sync.Mutex // guards out and ol while goroutines report
	var sentTotal, settledTotal atomic.Uint64
	var inWindow atomic.Uint64
	start := time.Now()
	startNs := env.Clock.Now()

	var senders, readers sync.WaitGroup
	for i, c := range env.Clients {
		tmpl := codec.Template(c.ID)
		readers.Add(1)
		go func() {
			defer readers.Done()
			r := openReader{client: c, env: env, codec: codec, tmpl: tmpl, lat: out.Latency.Batch(),
				svc: out.Service.Batch(), done: &env.Done[i], settled: &settledTotal}
			r.run()
			mu.Lock()
			out.Messages += r.measured
			out.Integrity.Add(r.integrity)
			if r.readErrs > 0 {
				out.Errors["read"] += r.readErrs
			}
			mu.Unlock()
		}()
		senders.Add(1)
		go func() {
			defer senders.Done()
			typ := drivers.Binary
			if codec.Text {
				typ = drivers.Text
			}
			msg := append([]byte(nil), tmpl...)
			offset := time.Duration(float64(i) / p.Rate * float64(time.Second))
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			var sent, behind uint64
			defer func() {
				mu.Lock()
				out.Integrity.Sent += sent
				ol.Sent += sent
				ol.BehindSchedule += behind
				mu.Unlock()
			}()
			for seq := uint64(0); ; seq++ {
				dueAfter := offset + time.Duration(seq)*interval
				if wait := time.Until(start.Add(dueAfter)); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				if env.Phases.Load() >= Drain || c.Broken.Load() {
					return
				}
				due := startNs + int64(dueAfter)
				late := env.Clock.Now() - due
				if late > int64(interval) {
					behind++
				}
				codec.Stamp(msg, measure.Header{Conn: c.ID, Seq: seq, SentNs: due, LateNs: measure.Saturate32(late)})
				if err := c.Conn.WriteMessage(typ, msg); err != nil {
					c.Broken.Store(true)
					if env.Phases.Load() < Closing {
						mu.Lock()
						out.Errors["write"]++
						mu.Unlock()
					}
					return
				}
				sent++
				sentTotal.Add(1)
				if env.Window.Contains(due) {
					inWindow.Add(1)
				}
			}
		}()
	}

	// Drain: the senders stop at Drain; wait until every message sent has
	// been answered (or found corrupt), or the drain timeout passes.
	senders.Wait()
	deadline := time.Now().Add(env.DrainTimeout)
	for settledTotal.Load() < sentTotal.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	env.MarkDrained()
	readers.Wait() // they end as the runner closes the connections

	in := &out.Integrity
	if got := in.Received + in.Corrupt; in.Sent > got {
		in.Lost = in.Sent - got
	}
	if d := env.Window.end.Load() - env.Window.start.Load(); d > 0 && env.Window.start.Load() > 0 {
		ol.AchievedRate = float64(inWindow.Load()) / time.Duration(d).Seconds()
	}
	out.OpenLoop = ol
	return out, nil
}

// openReader is the receiving side of one open-loop connection.
type openReader struct {
	client   *Client
	env      *Env
	codec    measure.Codec
	tmpl     []byte
	lat, svc *measure.Batch
	done     *Counter
	settled  *atomic.Uint64

	seqs      measure.SeqTracker
	integrity measure.Integrity
	measured  uint64
	readErrs  uint64
}

func (r *openReader) run() {
	defer r.lat.Flush()
	defer r.svc.Flush()
	buf := make([]byte, r.codec.Size)
	for {
		_, got, err := r.client.Conn.ReadMessage(buf)
		if err != nil {
			r.client.Broken.Store(true)
			if r.env.Phases.Load() < Closing {
				r.readErrs++
			}
			return
		}
		buf = got[:cap(got)]
		now := r.env.Clock.Now()
		h, ok := r.codec.Parse(got, r.tmpl)
		if !ok || h.Conn != r.client.ID {
			r.integrity.Corrupt++
			r.settled.Add(1)
			continue
		}
		if !r.integrity.Arrive(&r.seqs, h.Seq) {
			continue
		}
		r.settled.Add(1)
		if r.env.Window.Contains(h.SentNs) {
			r.lat.Record(time.Duration(now - h.SentNs))
			r.svc.Record(time.Duration(now - h.SentNs - int64(h.LateNs)))
			r.measured++
		}
		r.done.Add(1)
	}
}
