package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

func init() { Register(broadcast{}) }

// broadcast is the fan-out scenario: every connection subscribes to the
// server's /broadcast endpoint; Publishers of them publish Rate messages per
// second in total on a fixed schedule; the server sends each message to every
// connection. Latency is measured at every receiver, from the publish time
// the message carries, and each message's fan-out is complete when the last
// subscriber has it.
type broadcast struct{}

func (broadcast) Name() string { return "broadcast" }
func (broadcast) Description() string {
	return "fan-out: publishers send at --rate on a fixed schedule; latency measured at every subscriber"
}
func (broadcast) Path() string       { return "/broadcast" }
func (broadcast) Mode(Params) string { return "open-loop" }
func (broadcast) Validate(p Params) error {
	if _, err := measure.NewCodec(p.Payload, p.Text); err != nil {
		return fmt.Errorf("--payload: %w", err)
	}
	if p.Publishers < 1 || p.Publishers > p.Conns {
		return fmt.Errorf("--publishers %d: must be between 1 and --conns (%d)", p.Publishers, p.Conns)
	}
	if p.Rate <= 0 {
		return fmt.Errorf("--rate %g: the broadcast scenario needs a publish rate above 0 (messages/s across all publishers)", p.Rate)
	}
	return nil
}
func (broadcast) ServerSettings(_ Params, s servers.Settings) servers.Settings { return s }

func (b broadcast) Run(ctx context.Context, env *Env) (*Outcome, error) {
	p := env.Params
	codec, err := measure.NewCodec(p.Payload, p.Text)
	codec.Compressible = p.Compression
	if err != nil {
		return nil, err
	}
	pubs := min(p.Publishers, len(env.Clients))
	templates := make([][]byte, pubs)
	for i := range templates {
		templates[i] = codec.Template(uint32(i))
	}
	out := &Outcome{Latency: env.Latency, Errors: map[string]uint64{}}
	fan := newFanout(pubs, len(env.Clients), &env.Window)
	var publishes, measuredPublishes, late atomic.Uint64
	var mu sync.Mutex // guards out while goroutines report

	// Subscribers: every connection reads until its connection closes.
	var subs sync.WaitGroup
	var delivered atomic.Uint64 // unique deliveries so far, to know when the drain is done
	for i, c := range env.Clients {
		subs.Add(1)
		go func() {
			defer subs.Done()
			s := subscriber{client: c, env: env, codec: codec, templates: templates, fan: fan,
				seqs: make([]measure.SeqTracker, pubs), batch: out.Latency.Batch(), done: &env.Done[i], delivered: &delivered}
			s.run()
			mu.Lock()
			out.Messages += s.measured
			out.Integrity.Add(s.integrity)
			for k, v := range s.errors {
				out.Errors[k] += v
			}
			mu.Unlock()
		}()
	}

	// Publishers: the first pubs connections, each on its own fixed
	// schedule, interleaved so the total rate is even.
	var pubsWG sync.WaitGroup
	interval := time.Duration(float64(pubs) / p.Rate * float64(time.Second))
	start := time.Now()
	for i := range pubs {
		pubsWG.Add(1)
		go func() {
			defer pubsWG.Done()
			c := env.Clients[i]
			typ := drivers.Binary
			if codec.Text {
				typ = drivers.Text
			}
			msg := append([]byte(nil), templates[i]...)
			offset := time.Duration(float64(i) / p.Rate * float64(time.Second))
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for seq := uint64(0); ; seq++ {
				due := start.Add(offset + time.Duration(seq)*interval)
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				if env.Phases.Load() >= Drain {
					return
				}
				if time.Since(due) > interval {
					late.Add(1)
				}
				// The message carries its intended publish time, so a
				// publisher running behind schedule shows as latency
				// instead of hiding it.
				sent := env.Clock.Now() - int64(time.Since(due))
				codec.Stamp(msg, measure.Header{Conn: uint32(i), Seq: seq, SentNs: sent})
				fan.publish(i, seq, sent)
				if err := c.Conn.WriteMessage(typ, msg); err != nil {
					if env.Phases.Load() < Closing {
						mu.Lock()
						out.Errors["write"]++
						mu.Unlock()
					}
					return
				}
				publishes.Add(1)
				if env.Window.Contains(sent) {
					measuredPublishes.Add(1)
				}
			}
		}()
	}

	// Drain: once the publishers have stopped, wait until every
	// subscriber has every message, or the drain timeout passes.
	pubsWG.Wait()
	expected := publishes.Load() * uint64(len(env.Clients))
	deadline := time.Now().Add(env.DrainTimeout)
	for delivered.Load() < expected && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	env.MarkDrained()
	subs.Wait()

	in := &out.Integrity
	in.Sent = expected
	if got := in.Received + in.Corrupt; expected > got {
		in.Lost = expected - got
	}
	fanLat, fanClamped, incomplete := fan.result()
	fanout, _ := report.NewLatency(fanLat, fanClamped)
	measured := measuredPublishes.Load()
	bc := &report.Broadcast{
		Publishers: pubs, Subscribers: len(env.Clients), TargetRate: p.Rate,
		Publishes: publishes.Load(), MeasuredPublishes: measured, LateSends: late.Load(),
		Fanout: fanout, IncompleteFanouts: incomplete,
	}
	if d := env.Window.end.Load() - env.Window.start.Load(); d > 0 && env.Window.start.Load() > 0 {
		bc.AchievedRate = float64(measured) / time.Duration(d).Seconds()
	}
	out.Broadcast = bc
	return out, nil
}

// subscriber is one connection's receiving side.
type subscriber struct {
	client    *Client
	env       *Env
	codec     measure.Codec
	templates [][]byte
	fan       *fanout
	seqs      []measure.SeqTracker // one per publisher
	batch     *measure.Batch
	done      *Counter
	delivered *atomic.Uint64

	integrity measure.Integrity
	measured  uint64
	errors    map[string]uint64
}

func (s *subscriber) run() {
	defer s.batch.Flush()
	s.errors = map[string]uint64{}
	buf := make([]byte, s.codec.Size)
	for {
		_, got, err := s.client.Conn.ReadMessage(buf)
		if err != nil {
			s.client.Broken.Store(true)
			if s.env.Phases.Load() < Closing {
				var ce *drivers.CloseError
				if errors.As(err, &ce) {
					s.errors["closed_by_server"]++
				} else {
					s.errors["read"]++
				}
			}
			return
		}
		buf = got[:cap(got)]
		now := s.env.Clock.Now()
		h, ok := s.codec.ParseHeader(got)
		if !ok || int(h.Conn) >= len(s.templates) || !s.codec.FillerOK(got, s.templates[h.Conn]) {
			s.integrity.Corrupt++
			continue
		}
		if !s.integrity.Arrive(&s.seqs[h.Conn], h.Seq) {
			continue
		}
		s.delivered.Add(1)
		s.fan.deliver(int(h.Conn), h.Seq, now)
		if s.env.Window.Contains(h.SentNs) {
			s.batch.Record(time.Duration(now - h.SentNs))
			s.measured++
		}
		s.done.Add(1)
	}
}

// fanoutRing is how many recent messages per publisher are tracked for
// fan-out completion; older ones still in flight count as incomplete.
const fanoutRing = 4096

// fanout tracks, per published message, how many subscribers have it, so
// the time until the last one has it can be recorded.
type fanout struct {
	subs     int32
	rings    [][]fanSlot
	rec      *measure.Recorder
	window   *Window
	complete atomic.Uint64
}

type fanSlot struct {
	seq   atomic.Uint64 // seq+1 of the message in the slot; 0 when empty
	sent  atomic.Int64
	count atomic.Int32
}

func newFanout(pubs, subs int, window *Window) *fanout {
	f := &fanout{subs: int32(subs), rings: make([][]fanSlot, pubs), rec: measure.NewRecorder(), window: window}
	for i := range f.rings {
		f.rings[i] = make([]fanSlot, fanoutRing)
	}
	return f
}

// publish claims the slot of a message before it is sent.
func (f *fanout) publish(pub int, seq uint64, sent int64) {
	s := &f.rings[pub][seq%fanoutRing]
	s.count.Store(0)
	s.sent.Store(sent)
	s.seq.Store(seq + 1)
}

// deliver counts one subscriber's receipt; the last one records the
// message's fan-out latency.
func (f *fanout) deliver(pub int, seq uint64, now int64) {
	s := &f.rings[pub][seq%fanoutRing]
	if s.seq.Load() != seq+1 {
		return // overwritten: too old to track
	}
	if s.count.Add(1) == f.subs {
		f.complete.Add(1)
		sent := s.sent.Load()
		if f.window.Contains(sent) {
			f.rec.Record(time.Duration(now - sent))
		}
	}
}

// result returns the fan-out histogram and the number of measured messages
// that never reached every subscriber.
func (f *fanout) result() (h *hdrhistogram.Histogram, clamped, incomplete uint64) {
	for _, ring := range f.rings {
		for i := range ring {
			s := &ring[i]
			if s.seq.Load() != 0 && s.count.Load() < f.subs && f.window.Contains(s.sent.Load()) {
				incomplete++
			}
		}
	}
	h, clamped = f.rec.Snapshot()
	return h, clamped, incomplete
}
