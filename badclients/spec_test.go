package badclients

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseExamples(t *testing.T) {
	for _, c := range []struct {
		spec string
		good int
		want string
	}{
		{"non-reader=1%", 1000, "non-reader=10"},
		{"trickle=20,stalled-upgrade=200", 500, "trickle=20:1s,stalled-upgrade=200"},
		{"slow-reader=5%:1KiB/s,idle-tcp=500", 5000, "slow-reader=250:1KiB/s,idle-tcp=500"},
		{"slow-reader=3:512", 10, "slow-reader=3:512/s"},
		{"oversize=2:250ms, ping-flood=1", 10, "oversize=2:250ms,ping-flood=1"},
		{"deflate-bomb=1", 10, "deflate-bomb=1"},
		// Rounding: nearest, halves up, never below 1.
		{"non-reader=0.01%", 1000, "non-reader=1"},
		{"non-reader=1.5%", 100, "non-reader=2"},
		{"non-reader=1.4%", 100, "non-reader=1"},
		{"", 10, "none"},
		{"none", 10, "none"},
	} {
		s, err := Parse(c.spec, c.good, true)
		if err != nil {
			t.Errorf("Parse(%q, %d): %v", c.spec, c.good, err)
			continue
		}
		if got := s.String(); got != c.want {
			t.Errorf("Parse(%q, %d) = %s, want %s", c.spec, c.good, got, c.want)
		}
		// The canonical form reads back to the same spec.
		back, err := Parse(s.String(), c.good, true)
		if err != nil || back.String() != s.String() || back.Total() != s.Total() {
			t.Errorf("Parse(%q) = %v, %v; want %s back", s.String(), back, err, s)
		}
	}
}

func TestParseFields(t *testing.T) {
	s, err := Parse("slow-reader=5%:2KiB/s,trickle=3:20ms", 1000, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Kind: SlowReader, Count: 50, Percent: 5, Rate: 2048},
		{Kind: Trickle, Count: 3, Interval: 20 * time.Millisecond},
	}
	if len(s.Entries) != len(want) {
		t.Fatalf("entries %+v", s.Entries)
	}
	for i := range want {
		if s.Entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, s.Entries[i], want[i])
		}
	}
	if s.Total() != 53 {
		t.Errorf("Total = %d", s.Total())
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		spec        string
		compression bool
		want        []string // every piece must be in the error
	}{
		{"slow-writer=1", true, []string{`"slow-writer"`, "unknown kind", "non-reader, slow-reader, trickle"}},
		{"non-reader", true, []string{"KIND=COUNT|PERCENT[:ARG]"}},
		{"non-reader=x", true, []string{"non-reader=x", `count "x"`}},
		{"non-reader=0", true, []string{`count "0"`}},
		{"non-reader=-3", true, []string{`count "-3"`}},
		{"non-reader=0%", true, []string{`percentage "0%"`}},
		{"non-reader=abc%", true, []string{`percentage "abc%"`}},
		{"non-reader=1:5s", true, []string{"non-reader takes no ARG", `"5s"`}},
		{"idle-tcp=1:x", true, []string{"idle-tcp takes no ARG"}},
		{"slow-reader=1:fast", true, []string{"slow-reader rate", `"fast"`}},
		{"slow-reader=1:0/s", true, []string{"slow-reader rate"}},
		{"trickle=1:soon", true, []string{"trickle interval", `"soon"`}},
		{"trickle=1:-1s", true, []string{"trickle interval"}},
		{"trickle=1,idle-tcp=2,trickle=3", true, []string{"trickle given twice", `"trickle=3"`}},
		{"deflate-bomb=1", false, []string{"deflate-bomb needs compression"}},
		{"vanish=1", true, []string{"vanish", "namespace"}},
		{"non-reader=2000000", true, []string{"at most"}},
	} {
		_, err := Parse(c.spec, 100, c.compression)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", c.spec)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) = %q, want it to mention %q", c.spec, err, w)
			}
		}
	}
	if _, err := Parse("non-reader=1%", 0, false); err == nil || !strings.Contains(err.Error(), "give a count") {
		t.Errorf("a percentage of no good connections: %v", err)
	}
	if _, err := Parse("help", 10, false); !errors.Is(err, ErrHelp) {
		t.Errorf("help: %v", err)
	}
}

// TestHelp: every kind is in the help with its default, and no line is
// wider than a terminal.
func TestHelp(t *testing.T) {
	h := Help()
	for _, k := range Kinds() {
		if !strings.Contains(h, "  "+string(k)) {
			t.Errorf("help lacks %s", k)
		}
	}
	for _, w := range []string{"slow-reader[:BYTES/s]  (default 1KiB/s)", "trickle[:INTERVAL]  (default 1s)", "1% of 1000 is", "time from its misbehaviour"} {
		if !strings.Contains(h, w) {
			t.Errorf("help lacks %q", w)
		}
	}
	for _, line := range strings.Split(h, "\n") {
		if len(line) > 80 {
			t.Errorf("help line of %d columns: %q", len(line), line)
		}
	}
}
