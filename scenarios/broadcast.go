package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/measure"
	"github.com/wsbench/wsbench/profile"
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
func (broadcast) Path() string { return "/broadcast" }

// BroadcastOptions are the broadcast scenario's own options.
type BroadcastOptions struct {
	// Publishers of the connections publish at the shared Params.Rate.
	Publishers int
}

func (broadcast) NewOptions() any { return new(BroadcastOptions) }

// Options: how many connections publish; the rate is the shared --rate.
func (broadcast) Options() []Option {
	return []Option{intOption("publishers", "10", "connections that publish",
		func(p *Params) *int { return &ownOf[BroadcastOptions](*p).Publishers })}
}

// DefaultRate is a small chat room's, when --rate is not given.
func (broadcast) DefaultRate() string { return "100" }

// Unshardable: deliveries would cross shards.
func (broadcast) Unshardable() string {
	return "every shard's subscribers receive every shard's publishes, so deliveries cross shards"
}
func (broadcast) Mode(Params) string { return "open-loop" }
func (broadcast) Validate(p Params) error {
	if _, err := measure.NewCodec(p.Payload, p.Text); err != nil {
		return fmt.Errorf("--payload: %w", err)
	}
	if pubs := ownOf[BroadcastOptions](p).Publishers; pubs < 1 || pubs > p.Conns {
		return fmt.Errorf("--publishers %d: must be between 1 and --conns (%d)", pubs, p.Conns)
	}
	if p.Rate <= 0 {
		return fmt.Errorf("--rate %g: the broadcast scenario needs a publish rate above 0 (messages/s across all publishers)", p.Rate)
	}
	return nil
}
func (broadcast) Measures() Measured                     { return Traffic }
func (broadcast) ServerIdleTimeout(Params) time.Duration { return 0 }

// Profile: deliveries per second at the subscribers, publish→receipt
// latency at every one of them, and the time until the last one has a
// message.
func (broadcast) Profile() profile.Profile {
	return profile.Profile{
		Scenario:    "broadcast",
		Title:       "broadcast · open loop · {conns} conns, {publishers} publishing {target_rate} msgs/s in total · {messages} · {window}",
		SearchTitle: "broadcast · open loop, capacity search for {objective} · {conns} conns, {publishers} publishing · {messages} · {window}",
		Throughput:  profile.Throughput{Label: "deliveries/s", Source: "messages"},
		Latency:     profile.Latency{Source: "latency", What: "publish→receipt latency"},
		PerMillion:  "deliveries",
		// The rates are the schedule's (a publisher behind it marks its
		// row): --wide shows them.
		Columns: []profile.Column{{Key: "publish_rate", Secondary: true}, {Key: "publish_late_p99", Secondary: true},
			{Key: "throughput", Secondary: true}, {Key: "latency"},
			{Key: "fanout"}, {Key: "complete"}, {Key: "slow_consumer_drops"}, {Key: "errors"}, {Key: "integrity"}},
		// The rate is given: what tells servers apart is how late the
		// messages reach the subscribers.
		Rank: []string{"p99"},
		Noun: "deliveries expected",
		Unit: "deliveries",
	}
}

func (broadcast) Run(ctx context.Context, env *Env) (*Outcome, error) {
	p := env.Params
	codec, err := measure.NewCodec(p.Payload, p.Text)
	codec.Compressible = p.Compression
	if err != nil {
		return nil, err
	}
	pubs := min(ownOf[BroadcastOptions](p).Publishers, len(env.Clients))
	r := &broadcastRun{env: env, codec: codec, pubs: pubs, templates: make([][]byte, pubs),
		out: &Outcome{Latency: env.Latency, Errors: map[string]uint64{}}, acc: &measure.Accounting{},
		fan: newFanout(pubs, len(env.Clients), env.Window), lateness: measure.NewRecorder(), sent: make([]atomic.Uint64, pubs)}
	for i := range r.templates {
		r.templates[i] = codec.Template(uint32(i))
	}
	r.subscribe()
	// Publishers: the first pubs connections, on one paced schedule,
	// interleaved so the total rate is even.
	r.pace = startPaced(ctx, env, p.Rate, pubs)
	for i := range pubs {
		r.pubsWG.Add(1)
		go r.publish(ctx, i)
	}
	// Settled once the publishers have sent everything due in the window
	// and every subscriber has every message.
	pubsDone := make(chan struct{})
	go func() { r.pubsWG.Wait(); close(pubsDone) }()
	nsubs := uint64(len(env.Clients))
	env.Settle(func() bool {
		select {
		case <-pubsDone:
			return r.delivered.Load() >= r.publishes.Load()*nsubs
		default:
			return false
		}
	})
	<-env.Ending()
	r.pace.halt()
	r.pubsWG.Wait() // the runner aborted those blocked in a write
	expected := r.publishes.Load() * nsubs
	env.Quiet()
	r.subs.Wait()
	return r.outcome(ctx, expected), nil
}

// broadcastRun is one broadcast cell under way.
type broadcastRun struct {
	env       *Env
	codec     measure.Codec
	pubs      int
	templates [][]byte
	fan       *fanout
	pace      *paced
	lateness  *measure.Recorder
	sent      []atomic.Uint64 // per publisher: messages written, in order

	publishes, delivered atomic.Uint64 // delivered: unique deliveries so far
	subs, pubsWG         sync.WaitGroup

	mu   sync.Mutex // guards out, acc and late while goroutines report
	out  *Outcome
	acc  *measure.Accounting
	late uint64
}

// subscribe starts every connection's reader; each reads until its
// connection closes.
func (r *broadcastRun) subscribe() {
	for i, c := range r.env.Clients {
		r.subs.Add(1)
		go func() {
			defer r.subs.Done()
			s := subscriber{client: c, env: r.env, codec: r.codec, templates: r.templates, fan: r.fan,
				seqs: make([]measure.SeqTracker, r.pubs), batch: r.out.Latency.Batch(), done: &r.env.Done[i], delivered: &r.delivered}
			s.run()
			r.mu.Lock()
			defer r.mu.Unlock()
			r.out.Messages += s.inWindow
			r.out.DrainMessages += s.inDrain
			r.acc.Answered += s.answeredIn
			r.acc.AnsweredLate += s.answeredLate
			r.out.Integrity.Add(s.integrity)
			for k, v := range s.errors {
				r.out.Errors[k] += v
			}
		}()
	}
}

// publish is publisher i's loop. Each message carries its intended publish
// time, so a publisher running behind schedule shows as latency instead of
// hiding it.
func (r *broadcastRun) publish(ctx context.Context, i int) {
	defer r.pubsWG.Done()
	env, c := r.env, r.env.Clients[i]
	typ := drivers.Binary
	if r.codec.Text {
		typ = drivers.Text
	}
	msg := append([]byte(nil), r.templates[i]...)
	lb := r.lateness.Batch()
	defer lb.Flush()
	var behind uint64
	defer func() { r.mu.Lock(); r.late += behind; r.mu.Unlock() }()
	for seq := uint64(0); r.pace.next(ctx, i, seq); seq++ {
		due := r.pace.Due(i, seq)
		now := env.Clock.Now()
		r.codec.Stamp(msg, measure.Header{Conn: uint32(i), Seq: seq, SentNs: due, LateNs: now - due})
		r.fan.publish(i, seq, due)
		if err := writeBusy(c, typ, msg); err != nil {
			if !env.Ended() {
				r.mu.Lock()
				r.out.Errors["write"]++
				r.mu.Unlock()
			}
			return
		}
		r.sent[i].Store(seq + 1)
		r.publishes.Add(1)
		if sendLateness(env, lb, due, now) {
			behind++
		}
	}
}

// outcome accounts for every delivery due in the window once the load has
// ended; expected is the deliveries the publishes sent call for.
func (r *broadcastRun) outcome(ctx context.Context, expected uint64) *Outcome {
	env, out, acc := r.env, r.out, r.acc
	in := &out.Integrity
	in.Sent = expected
	if got := in.Received + in.Corrupt; expected > got {
		in.Lost = expected - got
	}
	fanLat, fanClamped, incomplete := r.fan.result()
	fanout, _ := measure.NewLatency(fanLat, fanClamped)
	bc := &measure.Broadcast{
		Publishers: r.pubs, Subscribers: len(env.Clients), TargetRate: env.Params.Rate,
		Publishes: r.publishes.Load(), LateSends: r.late,
		Fanout: fanout, IncompleteFanouts: incomplete,
	}
	if w := env.Window; w.Start() != 0 && w.End() != 0 {
		nsubs := uint64(len(env.Clients))
		measured := r.pace.sentInWindow(w, r.sent)
		due := r.pace.dueInWindow(w)
		bc.MeasuredPublishes = measured
		bc.NeverSentPublishes = due - measured
		acc.Due = due * nsubs
		acc.NeverSent = bc.NeverSentPublishes * nsubs
		if got := acc.Answered + acc.AnsweredLate; measured*nsubs > got {
			acc.NeverAnswered = measured*nsubs - got
		}
		acc.GaveUpAfterS = time.Duration(env.GaveUpAt() - w.End()).Seconds()
		if d := time.Duration(w.End() - w.Start()); d > 0 {
			bc.AchievedRate = float64(measured) / d.Seconds()
		}
	}
	h, clamped := r.lateness.Snapshot()
	bc.SendLateness, _ = measure.NewLatency(h, clamped)
	if srv := env.Server; srv != nil {
		bc.SlowConsumer = srv.SlowConsumer
		if c, err := srv.Counters(ctx); err == nil {
			dropped, disconnected := c["broadcast_dropped"], c["broadcast_disconnected"]
			bc.ServerDropped, bc.ServerDisconnected = &dropped, &disconnected
		}
	}
	out.Broadcast, out.Accounting = bc, acc
	return out
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
	// Deliveries received inside the window and after it; of those due
	// in the window, delivered inside it and after it.
	inWindow, inDrain        uint64
	answeredIn, answeredLate uint64
	errors                   map[string]uint64
}

func (s *subscriber) run() {
	defer s.batch.Flush()
	s.errors = map[string]uint64{}
	buf := make([]byte, s.codec.Size)
	for {
		_, got, err := s.client.Conn.ReadMessage(buf)
		if err != nil {
			s.client.Broken.Store(true)
			if !s.env.Ended() {
				if s.env.CountClose(err) {
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
		w := s.env.Window
		switch {
		case w.Ended(now):
			s.inDrain++
		case w.Contains(now):
			s.inWindow++
		}
		if w.Contains(h.SentNs) {
			s.batch.Record(now, time.Duration(now-h.SentNs))
			if w.Ended(now) {
				s.answeredLate++
			} else {
				s.answeredIn++
			}
		}
		s.done.Add(1)
	}
}

// fanoutRing is how many recent messages per publisher are tracked for
// fan-out completion; a measured message still short of some subscribers
// when its slot is taken by a newer one is counted as incomplete then.
const fanoutRing = 4096

// fanout tracks, per published message, how many subscribers have it, so
// the time until the last one has it can be recorded.
type fanout struct {
	subs     int32
	rings    [][]fanSlot
	rec      *measure.Recorder
	window   *measure.Span
	complete atomic.Uint64
	evicted  atomic.Uint64 // measured messages overwritten while incomplete
}

type fanSlot struct {
	seq   atomic.Uint64 // seq+1 of the message in the slot; 0 when empty
	sent  atomic.Int64
	count atomic.Int32
}

func newFanout(pubs, subs int, window *measure.Span) *fanout {
	f := &fanout{subs: int32(subs), rings: make([][]fanSlot, pubs), rec: measure.NewRecorder(), window: window}
	for i := range f.rings {
		f.rings[i] = make([]fanSlot, fanoutRing)
	}
	return f
}

// publish claims the slot of a message before it is sent.
func (f *fanout) publish(pub int, seq uint64, sent int64) {
	s := &f.rings[pub][seq%fanoutRing]
	if s.seq.Load() != 0 && s.count.Load() < f.subs && f.window.Contains(s.sent.Load()) {
		f.evicted.Add(1)
	}
	s.seq.Store(0) // late deliveries of the old message no longer count here
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
			f.rec.Record(now, time.Duration(now-sent))
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
	return h, clamped, incomplete + f.evicted.Load()
}
