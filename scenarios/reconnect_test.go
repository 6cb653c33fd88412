package scenarios

import (
	"testing"
	"time"
)

func TestBackoffPolicies(t *testing.T) {
	base, cap := 100*time.Millisecond, time.Second
	half := func() float64 { return 0.5 }
	for _, c := range []struct {
		policy string
		k      int
		want   time.Duration
	}{
		{"none", 0, 0}, {"none", 1, base}, {"none", 9, base},
		{"exponential", 0, base}, {"exponential", 2, 4 * base}, {"exponential", 10, cap}, {"exponential", 500, cap},
		{"full-jitter", 0, base / 2}, {"full-jitter", 3, 4 * base}, {"full-jitter", 10, cap / 2},
	} {
		b := Backoff{Policy: c.policy, Base: base, Cap: cap}
		if got := b.Delay(c.k, half); got != c.want {
			t.Errorf("%s attempt %d: %s, want %s", c.policy, c.k, got, c.want)
		}
	}
	// Full jitter spreads the first attempts of a herd over [0, base).
	b := Backoff{Policy: "full-jitter", Base: base, Cap: cap}
	if b.Delay(0, func() float64 { return 0 }) != 0 || b.Delay(0, func() float64 { return 0.999 }) >= base {
		t.Error("full jitter leaves [0, base)")
	}
	for _, bad := range []Backoff{{Policy: "linear", Base: base, Cap: cap}, {Policy: "none", Base: 0, Cap: cap}, {Policy: "none", Base: cap, Cap: base}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestReconnectNeedsAFaultThatEndsInTheWindow(t *testing.T) {
	o := &ReconnectOptions{Ping: Ping{Interval: time.Second, Timeout: time.Second},
		Backoff: Backoff{Policy: "none", Base: time.Second, Cap: time.Second}}
	p := Params{Conns: 1, Duration: 10 * time.Second, Own: o}
	if err := (reconnect{}).Validate(p); err == nil {
		t.Error("no fault accepted")
	}
	o.Fault = Fault{Kind: "kill", At: 5 * time.Second, For: 5 * time.Second}
	if err := (reconnect{}).Validate(p); err == nil {
		t.Error("a fault past the window accepted")
	}
	o.Fault.For = time.Second
	if err := (reconnect{}).Validate(p); err != nil {
		t.Error(err)
	}
}

// TestReconnectCountsConnectionsNotOutages: a connection dropped twice
// after the fault is one connection detected (and one lost again), and one
// lost in the warmup and back inside the window never lifts the timeline's
// "up" above the connections there are.
func TestReconnectCountsConnectionsNotOutages(t *testing.T) {
	const s = int64(time.Second)
	env := NewEnv(nil, Params{Own: &ReconnectOptions{Ping: Ping{Interval: time.Second, Timeout: time.Second},
		Backoff: Backoff{Policy: "none", Base: time.Second, Cap: time.Second}}})
	env.Window.Open(1 * s)
	env.Window.Close(3 * s)
	env.MarkFault(3 * s / 2)
	r := &reconnectRun{env: env, out: &Outcome{Latency: env.Latency, Errors: map[string]uint64{}}, slots: []rslot{
		{outages: []outage{{detected: 16 * s / 10, back: 17 * s / 10, how: "close_1001"}, {detected: 18 * s / 10, back: 2 * s, how: "read_error"}}},
		{outages: []outage{{detected: s / 2, back: 12 * s / 10, how: "missed_pong"}}}, // lost in the warmup
		{},
		{outages: []outage{{detected: 16 * s / 10, how: "close_1001"}}, isDown: true}, // never back
	}}
	f := r.outcome().Figures
	want := map[string]float64{"detected": 3, "detected_close": 2, "detected_missed_pong": 1, "detected_read_error": 0,
		"detected_before_fault": 1, "lost_after_fault": 2, "lost_again": 1, "never_recovered": 1}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %v, want %v (figures %v)", k, f[k], v, f)
		}
	}
	up := r.timeline().Column("up")
	if len(up) != 20 {
		t.Fatalf("%d intervals of up, want 20 over the 2 s window", len(up))
	}
	// Down as the window opens: 3 up, 4 once the warmup's loss is back,
	// 2 at the fault, 3 again as the first comes back, 3 at the end.
	for i, want := range map[int]float64{0: 3, 2: 4, 6: 2, 10: 3, 19: 3} {
		if up[i] != want {
			t.Errorf("up[%d] = %v, want %v (up %v)", i, up[i], want, up)
		}
	}
	for i, u := range up {
		if u > 4 || u < 0 {
			t.Fatalf("up[%d] = %v: outside 0…4 connections (up %v)", i, u, up)
		}
	}
}
