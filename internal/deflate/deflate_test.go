package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	msgs := [][]byte{
		{},
		[]byte("a"),
		[]byte(strings.Repeat(`{"user":"ada","text":"hello, room"}`, 200)),
		bytes.Repeat([]byte{0, 1, 2, 3, 250}, 10000),
	}
	for level := flate.BestSpeed; level <= flate.BestCompression; level += 4 {
		for _, m := range msgs {
			c, err := Compress(nil, m, level)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) > 1000 && len(c) >= len(m)/4 {
				t.Errorf("level %d: %d bytes of repetitive text deflated to %d", level, len(m), len(c))
			}
			if bytes.HasSuffix(c, tail) {
				t.Errorf("level %d: the 00 00 ff ff tail was not stripped", level)
			}
			got, err := Decompress(make([]byte, 0, 3), c, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, m) {
				t.Fatalf("level %d: round trip of %d bytes gave %d different bytes", level, len(m), len(got))
			}
		}
	}
}

// TestRFCExample inflates the RFC 7692 §7.2.3.1 example: "Hello" deflated,
// its tail stripped.
func TestRFCExample(t *testing.T) {
	got, err := Decompress(nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 0)
	if err != nil || string(got) != "Hello" {
		t.Fatalf("inflate RFC example: %q, %v", got, err)
	}
}

func TestLimit(t *testing.T) {
	c, err := Compress(nil, make([]byte, 1<<20), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decompress(nil, c, 64<<10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("1 MiB of zeros under a 64 KiB limit: %v, want ErrTooLarge", err)
	}
	if _, err := Decompress(nil, []byte{0xff, 0xff, 0xff}, 0); err == nil {
		t.Fatal("garbage inflated without an error")
	}
}

func TestAppends(t *testing.T) {
	c, _ := Compress([]byte("hdr"), []byte("payload payload payload"), 1)
	if !bytes.HasPrefix(c, []byte("hdr")) {
		t.Fatalf("Compress did not append to dst: %q", c)
	}
	got, err := Decompress([]byte("x"), c[3:], 0)
	if err != nil || string(got) != "xpayload payload payload" {
		t.Fatalf("Decompress did not append to dst: %q, %v", got, err)
	}
}
