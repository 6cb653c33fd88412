package measure

import (
	"hash/crc32"
	"testing"
)

func TestCRC32CMatchesHashCRC32(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("a"), []byte("123456789"), make([]byte, 24)} {
		if got, want := crc32c(b), crc32.Checksum(b, castagnoli); got != want {
			t.Fatalf("crc32c(%q) = %08x, hash/crc32 says %08x", b, got, want)
		}
	}
}

// TestCodecHotPathAllocatesNothing: stamping and parsing run once per
// message on every connection; an allocation there is garbage at the rate
// of the benchmark itself.
func TestCodecHotPathAllocatesNothing(t *testing.T) {
	for _, text := range []bool{false, true} {
		c, _ := NewCodec(1024, text)
		tmpl := c.Template(1)
		msg := append([]byte(nil), tmpl...)
		var seqs SeqTracker
		var in Integrity
		seq := uint64(0)
		allocs := testing.AllocsPerRun(200, func() {
			c.Stamp(msg, Header{Conn: 1, Seq: seq, SentNs: int64(seq), LateNs: 1500})
			h, ok := c.Parse(msg, tmpl)
			if !ok || !in.Arrive(&seqs, h.Seq) {
				t.Fatal("round trip failed")
			}
			seq++
		})
		if allocs != 0 {
			t.Fatalf("text=%v: %.1f allocations per stamp+parse, want 0", text, allocs)
		}
	}
}

// BenchmarkCodecRoundTrip is the harness's own cost per closed-loop round
// trip outside the driver: stamp the header, parse and verify the reply
// (header checksum and 1 KiB of filler), classify its sequence number.
func BenchmarkCodecRoundTrip(b *testing.B) {
	for _, text := range []bool{false, true} {
		name := "binary"
		if text {
			name = "text"
		}
		b.Run(name, func(b *testing.B) {
			c, _ := NewCodec(1024, text)
			tmpl := c.Template(1)
			msg := append([]byte(nil), tmpl...)
			var seqs SeqTracker
			var in Integrity
			b.ReportAllocs()
			for i := range b.N {
				c.Stamp(msg, Header{Conn: 1, Seq: uint64(i), SentNs: int64(i)})
				h, ok := c.Parse(msg, tmpl)
				if !ok {
					b.Fatal("parse failed")
				}
				in.Arrive(&seqs, h.Seq)
			}
		})
	}
}
