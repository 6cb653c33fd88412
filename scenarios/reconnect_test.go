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
	p := Params{Conns: 1, PingInterval: time.Second, PongTimeout: time.Second, Duration: 10 * time.Second,
		Backoff: Backoff{Policy: "none", Base: time.Second, Cap: time.Second}}
	if err := (reconnect{}).Validate(p); err == nil {
		t.Error("no fault accepted")
	}
	p.Fault = Fault{Kind: "kill", At: 5 * time.Second, For: 5 * time.Second}
	if err := (reconnect{}).Validate(p); err == nil {
		t.Error("a fault past the window accepted")
	}
	p.Fault.For = time.Second
	if err := (reconnect{}).Validate(p); err != nil {
		t.Error(err)
	}
}
