package secret

import (
	"bytes"
	"strings"
	"testing"
)

func TestURLHidesPasswordAndQueryValues(t *testing.T) {
	for _, c := range []struct{ raw, shown string }{
		{"ws://127.0.0.1:8080/echo", "ws://127.0.0.1:8080/echo"},
		{"wss://bob:hunter2-long@127.0.0.1/ws?room=lobby&access_token=abc%2Fdef123", "wss://bob:[redacted]@127.0.0.1/ws?room=[redacted]&access_token=[redacted]"},
		{"ws://bob@127.0.0.1/ws?flag", "ws://bob@127.0.0.1/ws?flag=[redacted]"},
	} {
		shown, hidden := URL(c.raw)
		if shown != c.shown {
			t.Errorf("URL(%q) = %q, want %q", c.raw, shown, c.shown)
		}
		var s Set
		for _, h := range hidden {
			s.Add(h)
		}
		if strings.Contains(c.raw, "hunter2") && (strings.Contains(s.Redact("dial "+c.raw+": refused"), "hunter2") || strings.Contains(s.Redact(c.raw), "abc/def123")) {
			t.Errorf("the values of %q survive Redact: %q", c.raw, s.Redact(c.raw))
		}
	}
}

func TestRedactKeepsShortValuesAndCatchesWords(t *testing.T) {
	var s Set
	s.Add("Bearer tok-3f9a8b7c")
	s.Add("1") // too short to hide anywhere
	got := s.Redact("sent Bearer tok-3f9a8b7c; later tok-3f9a8b7c alone; 1 connection; tok-3f9a8b7c%21 no")
	if strings.Contains(got, "tok-3f9a8b7c") || !strings.Contains(got, "1 connection") {
		t.Errorf("Redact: %q", got)
	}
	var buf bytes.Buffer
	w := s.Writer(&buf)
	if n, err := w.Write([]byte("token tok-3f9a8b7c\n")); err != nil || n != 19 {
		t.Errorf("Write = %d, %v", n, err)
	}
	if buf.String() != "token [redacted]\n" {
		t.Errorf("Writer wrote %q", buf.String())
	}
}

func TestScrubReachesEveryString(t *testing.T) {
	type inner struct {
		Output string
		Errors map[string]uint64
	}
	type rec struct {
		Target string
		Notes  []string
		Fault  *inner
		Extra  map[string]any
		n      string // unexported: left alone, not a panic
	}
	const tok = "s3cr3t-token-77"
	r := &rec{Target: "x", Notes: []string{"a " + tok}, Fault: &inner{Output: tok + "\n", Errors: map[string]uint64{"dial " + tok: 3, "eof": 1}},
		Extra: map[string]any{"k": "v " + tok}, n: tok}
	var s Set
	s.Add(tok)
	s.Scrub(r)
	if r.Notes[0] != "a [redacted]" || r.Fault.Output != "[redacted]\n" || r.Fault.Errors["dial [redacted]"] != 3 || r.Fault.Errors["eof"] != 1 || len(r.Fault.Errors) != 2 {
		t.Errorf("scrubbed: %+v %+v", r, r.Fault)
	}
	if r.Extra["k"] != "v [redacted]" {
		t.Errorf("interface value: %v", r.Extra["k"])
	}
	var empty Set
	empty.Scrub(r) // nothing to do, no panic
}
