package badclients

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"testing"
)

// serverFrame is an unmasked frame as a server sends it.
func serverFrame(op byte, payload []byte) []byte {
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|op, byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|op, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|op, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// TestFrameReader: messages are counted and a close code found across any
// split of the stream, one byte at a time included.
func TestFrameReader(t *testing.T) {
	var stream []byte
	stream = append(stream, serverFrame(opBinary, []byte("hello"))...)
	stream = append(stream, serverFrame(opBinary, make([]byte, 300))...)
	stream = append(stream, serverFrame(opBinary, make([]byte, 70000))...)
	stream = append(stream, serverFrame(opPing, []byte("p"))...)
	stream = append(stream, serverFrame(opText, nil)...)
	stream = append(stream, serverFrame(opClose, []byte{0x03, 0xf1, 'b', 'i', 'g'})...) // 1009
	for _, step := range []int{1, 2, 7, 512, len(stream)} {
		var r frameReader
		code := 0
		for i := 0; i < len(stream) && code == 0; i += step {
			code = r.feed(stream[i:min(i+step, len(stream))])
		}
		if code != 1009 || r.messages != 4 {
			t.Errorf("step %d: code %d, messages %d; want 1009, 4", step, code, r.messages)
		}
	}
	var r frameReader
	if code := r.feed(serverFrame(opClose, nil)); code != 1005 {
		t.Errorf("close without status: %d, want 1005", code)
	}
}

// TestSharedFrames: the frames the clients write are what they claim.
func TestSharedFrames(t *testing.T) {
	if trickleFrame[0] != 0x82 || trickleFrame[1] != 0x80|byte(len(trickleMessage)) {
		t.Errorf("trickle frame header % x", trickleFrame[:2])
	}
	got := make([]byte, len(trickleMessage))
	for i := range got {
		got[i] = trickleFrame[6+i] ^ frameKey[i%4]
	}
	if !bytes.Equal(got, trickleMessage) {
		t.Errorf("trickle payload unmasks to %q", got)
	}
	if len(oversizeHeader) != 14 || oversizeHeader[1] != 0xff || binary.BigEndian.Uint64(oversizeHeader[2:10]) != 1<<63-1 {
		t.Errorf("oversize header % x", oversizeHeader)
	}
	if len(pingBatch) != pingsPerWrite*pingFrameLen || pingBatch[0] != 0x89 || pingBatch[1] != 0x80 {
		t.Errorf("ping batch: %d bytes, starts % x", len(pingBatch), pingBatch[:2])
	}
}

// TestBombInflates: copies of the chunk in a row, the sync tail removed
// and appended again by the receiver (RFC 7692), inflate to copies MiB of
// zeros; checked on a small bomb, and the real one's arithmetic after.
func TestBombInflates(t *testing.T) {
	const copies = 5
	b := buildBomb(copies)
	var msg []byte
	for range copies {
		msg = append(msg, b.chunk...)
	}
	msg = msg[:len(msg)-len(syncTail)]
	var r frameReader
	r.feed(b.header)
	if n := r.remain; n != uint64(len(msg)) || b.header[0] != 0xc2 || r.nhdr != len(b.header) {
		t.Fatalf("header announces %d bytes (flags % x), message is %d", n, b.header[0], len(msg))
	}
	fr := flate.NewReader(io.MultiReader(bytes.NewReader(msg), bytes.NewReader(syncTail)))
	var zeros, total int64
	buf := make([]byte, 64<<10)
	for {
		n, err := fr.Read(buf)
		total += int64(n)
		zeros += int64(n - len(bytes.Trim(buf[:n], "\x00")))
		if err != nil {
			break // io.ErrUnexpectedEOF: no final block, as RFC 7692 sends
		}
	}
	if total != b.inflated() || zeros != total {
		t.Errorf("inflated %d bytes (%d zeros), want %d", total, zeros, b.inflated())
	}
	real := bomb()
	wire := int64(len(real.chunk) * real.copies)
	if real.inflated() <= 1<<30 || wire > 2<<20 {
		t.Errorf("the bomb inflates to %d from %d bytes; want past 1 GiB from at most 2 MiB", real.inflated(), wire)
	}
}

// TestAcceptKey: the example of RFC 6455 §1.3.
func TestAcceptKey(t *testing.T) {
	if got := acceptFor("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("acceptFor = %s", got)
	}
}
