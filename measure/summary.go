package measure

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency summarises a latency histogram in microseconds and carries the
// histogram itself, encoded losslessly, so files can be merged exactly and
// any percentile recomputed later.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
	// Clamped counts values above the histogram's 60 s ceiling, recorded as 60 s.
	Clamped uint64 `json:"clamped,omitempty"`
	// Hist is the HdrHistogram in V2 compressed encoding (base64, "HISTF…").
	Hist string `json:"hist"`
}

// NewLatency summarises h, whose values are microseconds.
func NewLatency(h *hdrhistogram.Histogram, clamped uint64) (Latency, error) {
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return Latency{}, fmt.Errorf("encode histogram: %w", err)
	}
	l := Latency{Count: h.TotalCount(), Clamped: clamped, Hist: string(enc)}
	if l.Count > 0 {
		l.Mean = h.Mean()
		l.P50 = h.ValueAtQuantile(50)
		l.P90 = h.ValueAtQuantile(90)
		l.P99 = h.ValueAtQuantile(99)
		l.P999 = h.ValueAtQuantile(99.9)
		l.Max = h.Max()
	}
	return l, nil
}

// Histogram decodes the stored histogram.
func (l Latency) Histogram() (*hdrhistogram.Histogram, error) {
	h, err := hdrhistogram.Decode([]byte(l.Hist))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// Accounting follows every message due (open loop, broadcast) or sent
// (closed loop) in the measured window to its end. For broadcast the units
// are deliveries: one message due to reach one subscriber.
type Accounting struct {
	Due uint64 `json:"due"`
	// Answered came back inside the window; AnsweredLate after it ended,
	// during the drain (their latency is recorded in full, their count is
	// not in msgs/s).
	Answered     uint64 `json:"answered"`
	AnsweredLate uint64 `json:"answered_late"`
	// NeverSent were due but not sent by the time the cell gave up (the
	// sender was blocked); NeverAnswered were sent and got no valid reply.
	NeverSent     uint64 `json:"never_sent"`
	NeverAnswered uint64 `json:"never_answered"`
	// GaveUpAfterS is when the cell stopped waiting, in seconds after the
	// window ended: never-sent and never-answered messages are in the
	// latency histogram at their age then, a lower bound.
	GaveUpAfterS float64 `json:"gave_up_after_s"`
}

// Missing is the messages due in the window that never completed.
func (a *Accounting) Missing() uint64 {
	if a == nil {
		return 0
	}
	return a.NeverSent + a.NeverAnswered
}

// BehindThreshold is how late a send may leave before it counts as behind
// schedule.
const BehindThreshold = time.Millisecond

// OpenLoop holds how well an open-loop sender kept its schedule.
type OpenLoop struct {
	// TargetRate is --rate, messages per second across all connections.
	TargetRate float64 `json:"target_rate_msgs_per_s"`
	// AchievedRate is messages whose write started inside the measured
	// window, per second, whenever they were due: a backlog written after
	// the window closed does not count.
	AchievedRate float64 `json:"achieved_rate_msgs_per_s"`
	// Sent is the messages sent over the whole cell; BehindSchedule those
	// due in the window whose write finished more than BehindThreshold
	// (1 ms) after they were due, for whatever reason: a late pacer, a busy
	// generator, or a write blocked by the server's back-pressure.
	Sent           uint64 `json:"sent"`
	BehindSchedule uint64 `json:"behind_schedule"`
	// SendLateness is, per message due in the window, how long after its due
	// time its write began: the generator's own lateness plus any backlog
	// behind a blocked write. Service time excludes it; Latency includes it.
	SendLateness Latency `json:"send_lateness_us"`
}

// Broadcast holds what a broadcast cell measured beyond the common fields.
// There, Messages counts deliveries (one message reaching one subscriber)
// in the measured window, Latency is publish→receipt at every subscriber,
// and Integrity counts deliveries: Sent is the expected deliveries
// (publishes × subscribers), Lost the missing ones.
type Broadcast struct {
	Publishers  int `json:"publishers"`
	Subscribers int `json:"subscribers"`
	// TargetRate is --rate, publishes per second across all publishers.
	TargetRate float64 `json:"target_rate_msgs_per_s"`
	// Publishes were sent over the whole cell; MeasuredPublishes within
	// the measured window, and AchievedRate is those per second.
	Publishes         uint64  `json:"publishes"`
	MeasuredPublishes uint64  `json:"measured_publishes"`
	AchievedRate      float64 `json:"achieved_rate_msgs_per_s"`
	// LateSends are publishes due in the window whose write finished more
	// than BehindThreshold (1 ms) after they were due.
	LateSends uint64 `json:"late_sends"`
	// SendLateness is how long after its due time each publish due in the
	// window began to be written.
	SendLateness Latency `json:"send_lateness_us"`
	// NeverSentPublishes were due in the window and never sent.
	NeverSentPublishes uint64 `json:"never_sent_publishes"`
	// Fanout is publish → the last subscriber's receipt, per message
	// that reached every subscriber.
	Fanout Latency `json:"fanout_us"`
	// IncompleteFanouts are measured publishes that did not reach every
	// subscriber: still short when the cell gave up, or when their
	// publisher had sent fanoutRing (4096) more messages since.
	IncompleteFanouts uint64 `json:"incomplete_fanouts"`
	// ServerDropped and ServerDisconnected are the server's slow-consumer
	// actions (unknown for a --target).
	ServerDropped      *uint64 `json:"server_dropped"`
	ServerDisconnected *uint64 `json:"server_disconnected"`
	// SlowConsumer is the server's policy: "drop" or "disconnect".
	SlowConsumer string `json:"slow_consumer,omitempty"`
}

// Heartbeat holds what a heartbeat cell measured beyond the common fields.
// There, Latency is the ping→pong round trip and Messages the pongs
// received in the measured window.
type Heartbeat struct {
	PingIntervalS float64 `json:"ping_interval_s"`
	PongTimeoutS  float64 `json:"pong_timeout_s"`
	// ServerIdleTimeoutS is the reference server's idle timeout (0: a
	// --target, unknown).
	ServerIdleTimeoutS float64 `json:"server_idle_timeout_s"`
	Pings              uint64  `json:"pings"`
	Pongs              uint64  `json:"pongs"`
	// Missed are pings with no pong within the pong timeout.
	Missed uint64 `json:"missed"`
	// ClosedByServer are connections the server closed before the close
	// phase; StayedUp those still open when it began.
	ClosedByServer uint64 `json:"closed_by_server"`
	StayedUp       int    `json:"stayed_up"`
}

// Span is a measured window on a Clock, in nanoseconds: opened and closed
// by the runner, read by a scenario's goroutines.
type Span struct{ start, end atomic.Int64 }

// Open starts the window at clock time t (at least 1).
func (w *Span) Open(t int64) { w.start.Store(max(t, 1)) }

// Close ends the window at clock time t.
func (w *Span) Close(t int64) { w.end.Store(max(t, 1)) }

// Start is the clock time the window began (0: not yet).
func (w *Span) Start() int64 { return w.start.Load() }

// End is the clock time the window ended (0: not yet).
func (w *Span) End() int64 { return w.end.Load() }

// Over reports whether the window has closed.
func (w *Span) Over() bool { return w.end.Load() != 0 }

// Ended reports whether clock time t is at or after the window's end.
func (w *Span) Ended(t int64) bool {
	e := w.end.Load()
	return e != 0 && t >= e
}

// Contains reports whether clock time t falls in the window: after its start
// and, once the window has ended, before its end.
func (w *Span) Contains(t int64) bool {
	s := w.start.Load()
	if s == 0 || t < s {
		return false
	}
	e := w.end.Load()
	return e == 0 || t < e
}
