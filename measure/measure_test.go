package measure

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wsbench/wsbench/internal/deflate"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, text := range []bool{false, true} {
		c, err := NewCodec(200, text)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := c.Template(7)
		msg := append([]byte(nil), tmpl...)
		want := Header{Conn: 7, Seq: 1 << 40, SentNs: 123456789, LateNs: 10*int64(time.Second) + 4_242_000} // beyond a uint32 of ns
		c.Stamp(msg, want)
		got, ok := c.Parse(msg, tmpl)
		if !ok || got != want {
			t.Fatalf("text=%v: Parse = %+v, %v; want %+v, true", text, got, ok, want)
		}
		if text && !bytes.Equal(bytes.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return -1
			}
			return r
		}, msg), msg) {
			t.Fatalf("text message is not printable ASCII: %q", msg)
		}
	}
}

func TestCodecDetectsCorruption(t *testing.T) {
	c, _ := NewCodec(64, false)
	tmpl := c.Template(3)
	base := append([]byte(nil), tmpl...)
	c.Stamp(base, Header{Conn: 3, Seq: 9, SentNs: 42})
	for i := range base {
		msg := append([]byte(nil), base...)
		msg[i] ^= 0x01
		if _, ok := c.Parse(msg, tmpl); ok {
			t.Fatalf("flipping a bit of byte %d went unnoticed", i)
		}
	}
	if _, ok := c.Parse(base[:63], tmpl); ok {
		t.Fatal("a truncated message went unnoticed")
	}
	if _, ok := c.Parse(base, c.Template(4)); ok {
		t.Fatal("another connection's filler went unnoticed")
	}
}

func TestCodecRejectsTinyPayload(t *testing.T) {
	if _, err := NewCodec(binaryHeaderSize-1, false); err == nil {
		t.Fatal("want an error for a payload smaller than the header")
	}
	if _, err := NewCodec(binaryHeaderSize, true); err == nil {
		t.Fatal("want an error: text headers are hex, twice as long")
	}
}

func TestSeqTracker(t *testing.T) {
	var tr SeqTracker
	steps := []struct {
		seq  uint64
		want Arrival
	}{
		{0, InOrder}, {1, InOrder}, {1, Duplicate}, {3, InOrder}, {2, Reordered}, {2, Duplicate},
		{3, Duplicate}, {4, InOrder}, {4000, InOrder}, {3999, Reordered}, {10, TooOld}, {2977, Reordered},
	}
	for i, s := range steps {
		if got := tr.Observe(s.seq); got != s.want {
			t.Fatalf("step %d: Observe(%d) = %d, want %d", i, s.seq, got, s.want)
		}
	}
	// After a jump the bits of the skipped numbers must be clear again, even
	// where the ring wrapped over numbers seen long ago.
	var tr2 SeqTracker
	for s := uint64(0); s < 2000; s++ {
		tr2.Observe(s)
	}
	tr2.Observe(2000 + seqWindow - 1)
	if got := tr2.Observe(2500); got != Reordered {
		t.Fatalf("skipped number after a jump: got %d, want Reordered", got)
	}
}

// TestIntegrityVeryLateMessageIsNotLost: a reply 2000 sequence numbers late
// is a late arrival, not a duplicate; with every message back, nothing is
// lost or duplicated.
func TestIntegrityVeryLateMessageIsNotLost(t *testing.T) {
	var tr SeqTracker
	var in Integrity
	for s := uint64(1); s <= 3000; s++ {
		in.Sent++
		in.Arrive(&tr, s)
	}
	in.Sent++
	if !in.Arrive(&tr, 0) {
		t.Fatal("the very late message was not taken as new")
	}
	if in.Received != in.Sent || in.Duplicated != 0 || in.Reordered != 1 || in.TooOld != 1 {
		t.Fatalf("integrity %+v: want all received, 1 reordered (too old to check), none duplicated", in)
	}
}

func TestRecorderMergesBatchesAndClamps(t *testing.T) {
	r := NewRecorder()
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			b := r.Batch()
			for i := range 1000 {
				b.Record(0, time.Duration(g*1000+i+1)*time.Microsecond)
			}
			b.Flush()
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	r.Record(0, 2*time.Minute) // beyond 60 s
	r.Record(0, 100*time.Nanosecond)
	h, clamped := r.Snapshot()
	if h.TotalCount() != 4002 {
		t.Fatalf("count = %d, want 4002", h.TotalCount())
	}
	if clamped != 1 {
		t.Fatalf("clamped = %d, want 1", clamped)
	}
	if h.Max() < HighestUs*999/1000 {
		t.Fatalf("max = %d, want the clamped 60 s", h.Max())
	}
	if p50 := h.ValueAtQuantile(50); p50 < 1990 || p50 > 2010 {
		t.Fatalf("p50 = %d µs, want about 2000", p50)
	}
}

func TestHistogramEncodeDecodeIsLossless(t *testing.T) {
	h := NewHistogram()
	for i := int64(1); i < 100000; i += 7 {
		_ = h.RecordValue(i * i % HighestUs)
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	back, err := hdrhistogram.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equals(h) {
		t.Fatal("decoded histogram differs from the original")
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 {
		t.Fatalf("RSS %d bytes: implausibly small for a Go test binary", s.RSS)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Fatal("want an error for a process that does not exist")
	}
}

func TestIntegrityArrive(t *testing.T) {
	var in Integrity
	var tr SeqTracker
	for _, seq := range []uint64{0, 2, 1, 1, 3} {
		in.Arrive(&tr, seq)
	}
	if in.Received != 4 || in.Reordered != 1 || in.Duplicated != 1 {
		t.Fatalf("integrity %+v, want 4 received (1 reordered) and 1 duplicated", in)
	}
}

// TestCompressibleFiller checks what --compression sends: a filler that
// deflates at least 5:1 (random bytes would not deflate at all), still
// differs between connections, and still passes the integrity check, in
// binary and text.
func TestCompressibleFiller(t *testing.T) {
	for _, text := range []bool{false, true} {
		c, err := NewCodec(4096, text)
		if err != nil {
			t.Fatal(err)
		}
		random := c.Template(7)
		c.Compressible = true
		a, b := c.Template(7), c.Template(8)
		if bytes.Equal(a, b) {
			t.Errorf("text=%v: connections 7 and 8 share a filler", text)
		}
		z, err := deflate.Compress(nil, a, 1)
		if err != nil {
			t.Fatal(err)
		}
		zr, _ := deflate.Compress(nil, random, 1)
		if len(z)*5 > len(a) {
			t.Errorf("text=%v: compressible filler deflated %d → %d bytes, want at least 5:1", text, len(a), len(z))
		}
		if len(zr) <= len(z)*2 {
			t.Errorf("text=%v: the default filler (%d deflated) is not much less compressible than the chat one (%d)", text, len(zr), len(z))
		}
		msg := bytes.Clone(a)
		c.Stamp(msg, Header{Conn: 7, Seq: 3, SentNs: 99})
		if h, ok := c.Parse(msg, a); !ok || h.Seq != 3 {
			t.Errorf("text=%v: stamped compressible message does not parse: %+v %v", text, h, ok)
		}
		if _, ok := c.Parse(msg, b); ok {
			t.Errorf("text=%v: connection 7's message passed as connection 8's", text)
		}
		if text && !utf8.Valid(a) {
			t.Error("text filler is not valid UTF-8")
		}
	}
}

// TestTimelineMissingIsNullInJSON: a missing interval survives a round trip
// through the file as null, not as 0 (JSON has no NaN).
func TestTimelineMissingIsNullInJSON(t *testing.T) {
	tl := &Timeline{IntervalS: 0.1, Points: make([][]float64, 3)}
	tl.Add("rss", []float64{5, Missing(), 7})
	tl.Add("short", []float64{1})
	data, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"interval_s":0.1,"names":["rss","short"],"points":[[5,1],[null,null],[7,null]]}`; string(data) != want {
		t.Fatalf("got %s\nwant %s", data, want)
	}
	var back Timeline
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	rss := back.Column("rss")
	if len(rss) != 3 || rss[0] != 5 || !IsMissing(rss[1]) || rss[2] != 7 {
		t.Fatalf("read back %v", rss)
	}
	tl.Add("bad", []float64{math.Inf(1)})
	if _, err := json.Marshal(tl); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("an infinite value: %v, want an error naming the column", err)
	}
}

// TestQuantileBeyond: values that never ended count as infinitely late, so
// they push the percentile up, and make it unknown once they pass 100−q%.
func TestQuantileBeyond(t *testing.T) {
	h := NewHistogram()
	for v := int64(1); v <= 100; v++ {
		_ = h.RecordValue(v * 1000)
	}
	for _, c := range []struct {
		beyond uint64
		q      float64
		want   int64
		ok     bool
	}{
		{0, 50, 50_000, true}, {100, 50, 100_000, true}, {100, 25, 50_000, true},
		{101, 50, 0, false}, {1, 100, 0, false}, {0, 100, 100_000, true},
	} {
		got, ok := QuantileBeyond(h, c.beyond, c.q)
		if ok != c.ok || (ok && !h.ValuesAreEquivalent(got, c.want)) {
			t.Errorf("q%g with %d beyond: %d %v, want %d %v", c.q, c.beyond, got, ok, c.want, c.ok)
		}
	}
	if _, ok := QuantileBeyond(NewHistogram(), 0, 50); ok {
		t.Error("a percentile of nothing")
	}
}

// TestRecorderUpToKeepsLongValues: a recorder with a ceiling of an hour
// keeps 90 s as 90 s, where the default one clamps it to 60 s.
func TestRecorderUpToKeepsLongValues(t *testing.T) {
	long, short := NewRecorderUpTo(3_600_000_000), NewRecorder()
	long.Record(1, 90*time.Second)
	short.Record(1, 90*time.Second)
	hl, cl := long.Snapshot()
	hs, cs := short.Snapshot()
	if cl != 0 || hl.Max() < 89_000_000 || cs != 1 || hs.Max() > 60_100_000 {
		t.Fatalf("hour ceiling: max %d clamped %d; default: max %d clamped %d", hl.Max(), cl, hs.Max(), cs)
	}
}
