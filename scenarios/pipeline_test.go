package scenarios

import (
	"strings"
	"testing"
)

func TestOutstandingAnswersOutOfOrderAndGivesUpTheStuck(t *testing.T) {
	o := newOutstanding(2) // 8 slots
	for seq := range uint64(2) {
		if _, _, _, gave := o.add(seq, int64(100+seq), true); gave {
			t.Fatalf("gave up at %d with room left", seq)
		}
	}
	// 1 answered before 0: 0 stays the oldest.
	if sent, measured, ok := o.answer(1); !ok || sent != 101 || !measured {
		t.Fatalf("answer(1) = %d %v %v", sent, measured, ok)
	}
	if _, _, ok := o.answer(1); ok {
		t.Fatal("a message answered twice")
	}
	if seq, sent, _, ok := o.oldest(); !ok || seq != 0 || sent != 100 || o.count != 1 {
		t.Fatalf("oldest = %d %d %v, count %d", seq, sent, ok, o.count)
	}
	// 0 never comes back: seven later ones do, and the eighth needs its
	// slot, so 0 is given up.
	var gave []uint64
	for seq := uint64(2); seq < 10; seq++ {
		if g, sent, _, ok := o.add(seq, int64(100+seq), false); ok {
			gave = append(gave, g)
			if sent != 100 {
				t.Fatalf("gave up %d sent at %d", g, sent)
			}
		}
		o.answer(seq)
	}
	if len(gave) != 1 || gave[0] != 0 {
		t.Fatalf("gave up %v, want [0]", gave)
	}
	if o.count != 0 {
		t.Fatalf("%d outstanding, want 0", o.count)
	}
	if _, _, ok := o.answer(0); ok {
		t.Fatal("a message given up was answered")
	}
	if _, _, ok := o.answer(10); ok {
		t.Fatal("a message never sent was answered")
	}
}

func TestInflightOption(t *testing.T) {
	s, _ := Lookup("echo")
	apply := func(v string, rate float64) error {
		p := Params{Conns: 10, Payload: 64, Rate: rate}
		if err := ApplyOptions(s, &p, map[string]string{"inflight": v}, OptionContext{}); err != nil {
			return err
		}
		if n := ownOf[EchoOptions](p).Inflight; n >= 1 && inflightOf(p) != n {
			t.Fatalf("inflightOf = %d, option %d", inflightOf(p), n)
		}
		return s.Validate(p)
	}
	for _, tc := range []struct {
		v    string
		rate float64
		want string // "" when accepted
	}{
		{"1", 0, ""}, {"8", 0, ""}, {"1024", 0, ""}, {"1", 100, ""},
		{"0", 0, "between 1 and 1024"}, {"1025", 0, "between 1 and 1024"},
		{"8", 100, "closed loop only"}, {"x", 0, "whole number"},
	} {
		err := apply(tc.v, tc.rate)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("--inflight %s --rate %g: %v", tc.v, tc.rate, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--inflight")):
			t.Errorf("--inflight %s --rate %g: %v, want an error naming --inflight saying %q", tc.v, tc.rate, err, tc.want)
		}
	}
	if got := inflightOf(Params{}); got != 1 {
		t.Fatalf("a cell without options has %d in flight, want 1", got)
	}
}
