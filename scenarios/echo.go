package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/profile"
)

func init() { Register(echo{}) }

// echo is the request/response scenario. Closed loop (no rate): each
// connection sends a message, waits for its echo, verifies it and records the
// round trip. Open loop (Params.Rate > 0): each connection sends on a fixed
// schedule whatever the replies do, and latency is measured from when each
// message was due, so a stall shows in full instead of pausing the sender.
type echo struct{}

func (echo) Name() string { return "echo" }
func (echo) Description() string {
	return "request/response: closed loop, or open loop at --rate with coordinated-omission-corrected latency"
}
func (echo) Path() string { return "/echo" }
func (echo) Mode(p Params) string {
	if p.Rate > 0 {
		return "open-loop"
	}
	return "closed-loop"
}
func (echo) Validate(p Params) error {
	if _, err := measure.NewCodec(p.Payload, p.Text); err != nil {
		return fmt.Errorf("--payload: %w", err)
	}
	if o, ok := p.Own.(*EchoOptions); ok {
		if o.Inflight < 1 || o.Inflight > maxInflight {
			return fmt.Errorf("--inflight %d: must be between 1 and %d", o.Inflight, maxInflight)
		}
		if o.Inflight > 1 && p.Rate > 0 {
			return fmt.Errorf("--inflight %d: applies to the closed loop only; with --rate each connection sends on its schedule whatever is outstanding", o.Inflight)
		}
	}
	return nil
}

// EchoOptions are the echo scenario's own options.
type EchoOptions struct {
	// Inflight is how many messages each connection of the closed loop
	// keeps outstanding (pipelining): 1 sends, waits for the echo and
	// sends again.
	Inflight int
}

// maxInflight is the most messages outstanding per connection: the
// integrity check tells a reordered message from a duplicate only within
// 1024 sequence numbers of the newest (measure.SeqTracker).
const maxInflight = 1024

func (echo) NewOptions() any { return new(EchoOptions) }

// Options: how many messages a connection of the closed loop keeps
// outstanding.
func (echo) Options() []Option {
	return []Option{intOption("inflight", "1", "messages outstanding per connection in the closed loop (pipelining); 1 waits for each echo",
		func(p *Params) *int { return &ownOf[EchoOptions](*p).Inflight })}
}

// inflightOf is the messages outstanding per connection: 1 unless the
// option says more (a cell built without options has none).
func inflightOf(p Params) int                       { return max(1, ownOf[EchoOptions](p).Inflight) }
func (echo) Measures() Measured                     { return Traffic }
func (echo) ServerIdleTimeout(Params) time.Duration { return 0 }

// Profile: messages per second completed in the window, the round trip;
// open loop adds how well the schedule was kept and every message's fate.
func (echo) Profile() profile.Profile {
	common := []profile.Column{{Key: "throughput"}, {Key: "mb_per_s", Secondary: true}, {Key: "latency"}}
	return profile.Profile{
		Scenario:         "echo",
		Title:            "{scenario} · {mode}{label.inflight|, %s in flight} · {conns} conns · {messages} · {window}",
		Throughput:       profile.Throughput{Label: "msgs/s", Source: "messages"},
		Latency:          profile.Latency{Source: "latency", What: "round-trip latency"},
		PerMillion:       "msgs",
		ClientPerMillion: true,
		Columns:          append(common, profile.Column{Key: "handshake", Secondary: true}, profile.Column{Key: "errors"}, profile.Column{Key: "integrity"}),
		ByMode: map[string][]profile.Column{"open-loop": append(append([]profile.Column{{Key: "sent_rate"}}, common...),
			profile.Column{Key: "uncorrected_p99", Secondary: true}, profile.Column{Key: "send_late_p99", Secondary: true},
			profile.Column{Key: "behind_schedule", Secondary: true}, profile.Column{Key: "never_sent"}, profile.Column{Key: "never_answered"},
			profile.Column{Key: "errors"}, profile.Column{Key: "integrity"})},
		// Closed loop: who completes the most; open loop, at a rate every
		// server is given alike: whose tail is shortest.
		Rank:       []string{"throughput"},
		RankByMode: map[string][]string{"open-loop": {"p99"}},
		Noun:       "sent",
		Unit:       "messages",
		Figures:    []profile.Figure{{Name: BatchStalls, Merge: profile.Summed}},
	}
}

// BatchStalls is the figure counting a pipelined cell's batch waits that
// the driver's guard ended with replies short of its mark (see
// drivers.LowWater's Stalls): present only when there were some.
const BatchStalls = "batch_stalls"

func (e echo) Run(ctx context.Context, env *Env) (*Outcome, error) {
	codec, err := measure.NewCodec(env.Params.Payload, env.Params.Text)
	codec.Compressible = env.Params.Compression
	if err != nil {
		return nil, err
	}
	if env.Params.Rate > 0 {
		return runOpenLoop(ctx, env, codec)
	}
	out := &Outcome{Latency: env.Latency, Errors: map[string]uint64{}, Accounting: &measure.Accounting{}}
	inflight := inflightOf(env.Params)
	if inflight > 1 {
		// Only when pipelined: one in flight keeps the comparison key
		// and table title of results from before the option.
		out.Labels = map[string]string{"inflight": strconv.Itoa(inflight)}
	}
	var mu sync.Mutex // guards out while workers report
	var wg sync.WaitGroup
	finished := make([]chan struct{}, len(env.Clients))
	for i, c := range env.Clients {
		finished[i] = make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(finished[i])
			w := echoWorker{client: c, env: env, codec: codec, batch: out.Latency.Batch(), done: &env.Done[i]}
			if inflight > 1 {
				w.runPipelined(inflight)
			} else {
				w.run()
			}
			mu.Lock()
			out.Messages += w.messages
			out.DrainMessages += w.drained
			out.LowerBounds += w.acc.NeverAnswered
			a := out.Accounting
			a.Due += w.acc.Due
			a.Answered += w.acc.Answered
			a.AnsweredLate += w.acc.AnsweredLate
			a.NeverAnswered += w.acc.NeverAnswered
			out.Integrity.Add(w.integrity)
			if w.readErrs > 0 {
				out.Errors["read"] += w.readErrs
			}
			if w.writeErrs > 0 {
				out.Errors["write"] += w.writeErrs
			}
			if w.stalls > 0 {
				if out.Figures == nil {
					out.Figures = map[string]float64{}
				}
				out.Figures[BatchStalls] += float64(w.stalls)
			}
			mu.Unlock()
		}()
	}
	env.Settle(func() bool {
		for _, f := range finished {
			select {
			case <-f:
			default:
				return false
			}
		}
		return true
	})
	<-env.Ending()
	wg.Wait()
	env.Quiet()
	if e := env.Window.End(); e != 0 {
		out.Accounting.GaveUpAfterS = time.Duration(env.GaveUpAt() - e).Seconds()
	}
	return out, nil
}

// echoWorker is one connection's closed loop. Its counters are private until
// it finishes, so the hot path shares nothing but the histogram batch flushes.
type echoWorker struct {
	client *Client
	env    *Env
	codec  measure.Codec
	batch  *measure.Batch
	done   *Counter

	seqs      measure.SeqTracker
	integrity measure.Integrity
	// Round trips completed inside the window (throughput) and after it.
	messages, drained   uint64
	acc                 measure.Accounting
	readErrs, writeErrs uint64
	stalls              uint64 // pipelined: batch waits the driver's guard ended (drivers.LowWater)
}

func (w *echoWorker) run() {
	defer w.batch.Flush()
	defer w.countLost()
	c := w.client
	typ := drivers.Binary
	if w.codec.Text {
		typ = drivers.Text
	}
	tmpl := w.codec.Template(c.ID)
	send := newSender(c.Conn, typ, w.codec, c.ID, tmpl, 1)
	buf := make([]byte, w.codec.Size)
	clock := w.env.Clock
	win := w.env.Window
	for seq := uint64(0); ; seq++ {
		if win.Over() {
			return
		}
		sent := clock.Now()
		measured := win.Contains(sent)
		c.Busy.Store(true) // until the reply: a lost one leaves it waiting for ever
		if _, err := send.send(seq, 1, sent); err != nil {
			w.fail(&w.writeErrs)
			return
		}
		w.integrity.Sent++
		if measured {
			w.acc.Due++
		}
		valid := false
		for replied := false; !replied; {
			_, got, err := c.Conn.ReadMessage(buf)
			if err != nil {
				if !w.env.Ended() {
					w.env.CountClose(err)
				}
				w.fail(&w.readErrs)
				if measured {
					// Never answered: its latency is at least this.
					now := clock.Now()
					w.acc.NeverAnswered++
					w.batch.Record(now, time.Duration(now-sent))
				}
				return
			}
			buf = got[:cap(got)]
			h, ok := w.codec.Parse(got, tmpl)
			if !ok || h.Conn != c.ID {
				// In a closed loop the only message due is the reply, so a
				// corrupt one is taken as the reply rather than waited past;
				// it is no completed round trip.
				w.integrity.Corrupt++
				break
			}
			if !w.integrity.Arrive(&w.seqs, h.Seq) {
				continue
			}
			replied = h.Seq == seq
			valid = replied
		}
		c.Busy.Store(false)
		now := clock.Now()
		if !valid {
			if measured {
				w.acc.NeverAnswered++ // no valid reply: a lower bound
				w.batch.Record(now, time.Duration(now-sent))
			}
			continue
		}
		w.settle(now, sent, measured)
	}
}

// settle counts a valid reply that arrived at now to a message sent at
// sent: in the window or the drain, and its latency when measured.
func (w *echoWorker) settle(now, sent int64, measured bool) {
	win := w.env.Window
	switch {
	case win.Ended(now):
		w.drained++
	case win.Contains(now):
		w.messages++
	}
	if measured {
		w.batch.Record(now, time.Duration(now-sent))
		if win.Ended(now) {
			w.acc.AnsweredLate++
		} else {
			w.acc.Answered++
		}
	}
	w.done.Add(1)
}

// fail counts an I/O error unless the runner has ended the load.
func (w *echoWorker) fail(counter *uint64) {
	w.client.Broken.Store(true)
	if !w.env.Ended() {
		*counter++
	}
}
