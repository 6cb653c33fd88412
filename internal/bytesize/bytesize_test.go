package bytesize

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1024": 1024, "512B": 512, "4KiB": 4096, "4k": 4096, "4 KB": 4096,
		"1MiB": 1 << 20, "1m": 1 << 20, "1GiB": 1 << 30, "2gb": 2 << 30, "1TiB": 1 << 40,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, err := Parse(Format(got)); err != nil || back != got {
			t.Errorf("Parse(Format(%d)) = %d, %v (Format %q)", got, back, err, Format(got))
		}
	}
	for _, bad := range []string{"", "x", "1x", "-1", "-1KiB", "1.5MiB", "KiB", "99999999999TiB"} {
		if n, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", bad, n)
		}
	}
	if got := Format(1000); got != "1000" {
		t.Errorf("Format(1000) = %q", got)
	}
}

// TestFlag: a size flag takes the same syntax in an int and an int64 field,
// and names its flag in the parse error.
func TestFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	limit := int64(7)
	buf := 4096
	Var(fs, &limit, "gomemlimit", "")
	Var(fs, &buf, "read-buffer", "")
	if def := fs.Lookup("read-buffer").DefValue; def != "4KiB" {
		t.Errorf("default shows as %q, want 4KiB", def)
	}
	if err := fs.Parse([]string{"--gomemlimit", "1GiB", "--read-buffer", "8k"}); err != nil {
		t.Fatal(err)
	}
	if limit != 1<<30 || buf != 8192 {
		t.Errorf("gomemlimit %d, read-buffer %d", limit, buf)
	}
	err := fs.Parse([]string{"--gomemlimit", "lots"})
	if err == nil || !strings.Contains(err.Error(), "gomemlimit") || !strings.Contains(err.Error(), Syntax) {
		t.Errorf("bad size: %v", err)
	}
}
