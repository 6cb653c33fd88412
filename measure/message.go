package measure

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// Every benchmark message starts with a header carrying the connection id,
// the sequence number and the send time, protected by a checksum so a
// corrupted header is told apart from a duplicate or reordered message. The
// rest of the message is a filler pattern fixed per connection, compared byte
// for byte on receipt.
const (
	binaryHeaderSize = 28 // conn id 4, seq 8, send ns 8, late ns 4, crc32c 4
	textHeaderSize   = 2 * binaryHeaderSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded header of a benchmark message.
type Header struct {
	Conn uint32
	Seq  uint64
	// SentNs is the send time in nanoseconds on the load generator's
	// monotonic clock (see Clock): for an open-loop sender the time the
	// message was due on its schedule.
	SentNs int64
	// LateNs is how far behind its schedule the message actually left;
	// SentNs+LateNs is the actual send time. It travels in whole
	// microseconds (rounded), saturating at about 71 minutes.
	LateNs int64
}

// Codec encodes and checks benchmark messages of one fixed size. Text
// messages carry the header hex-encoded and an ASCII filler, so they are
// valid UTF-8 for libraries that validate text frames.
type Codec struct {
	Size int
	Text bool
	// Compressible makes the filler repetitive JSON-like chat text instead
	// of pseudo-random bytes, for compression runs: random bytes do not
	// deflate, which would make a permessage-deflate comparison measure
	// nothing but overhead. A 1 KiB message deflates about 5.7:1 (see README).
	Compressible bool
}

// chatFiller is the compressible filler, repeated: what a chat or push
// service sends. %05d is the connection id, so connections still differ.
const chatFiller = `{"type":"message","room":"lobby","user":"user-%05d","text":"the quick brown fox jumps over the lazy dog","ts":1700000000},`

// NewCodec checks that size leaves room for the header.
func NewCodec(size int, text bool) (Codec, error) {
	c := Codec{Size: size, Text: text}
	if size < c.HeaderSize() {
		kind := "binary"
		if text {
			kind = "text"
		}
		return c, fmt.Errorf("payload of %d bytes is too small: %s messages need at least %d bytes for the header (connection id, sequence, send time, checksum)", size, kind, c.HeaderSize())
	}
	return c, nil
}

// HeaderSize is the number of leading bytes the header takes.
func (c Codec) HeaderSize() int {
	if c.Text {
		return textHeaderSize
	}
	return binaryHeaderSize
}

// Template returns a message of c.Size bytes holding connection conn's
// filler pattern; Stamp writes a header into a copy of it before each send.
func (c Codec) Template(conn uint32) []byte {
	b := make([]byte, c.Size)
	if c.Compressible {
		unit := fmt.Sprintf(chatFiller, conn%100000)
		for i := c.HeaderSize(); i < len(b); i++ {
			b[i] = unit[(i-c.HeaderSize())%len(unit)]
		}
		return b
	}
	for i := c.HeaderSize(); i < len(b); i++ {
		v := (uint32(i) + conn*0x9E3779B9) * 2654435761
		if c.Text {
			b[i] = 'a' + byte(v>>24)%26
		} else {
			b[i] = byte(v >> 24)
		}
	}
	return b
}

// Stamp writes the header for h into the start of msg. It allocates
// nothing: a binary header is written in place, and a text header is built
// in the bytes after its own and hex-encoded forwards over them (each byte
// is read before its position is overwritten).
func (c Codec) Stamp(msg []byte, h Header) {
	raw := msg[:binaryHeaderSize]
	if c.Text {
		raw = msg[binaryHeaderSize:textHeaderSize]
	}
	binary.LittleEndian.PutUint32(raw[0:], h.Conn)
	binary.LittleEndian.PutUint64(raw[4:], h.Seq)
	binary.LittleEndian.PutUint64(raw[12:], uint64(h.SentNs))
	binary.LittleEndian.PutUint32(raw[20:], saturate32(Micros(time.Duration(h.LateNs))))
	binary.LittleEndian.PutUint32(raw[24:], crc32.Checksum(raw[:24], castagnoli))
	if c.Text {
		hex.Encode(msg[:textHeaderSize], raw)
	}
}

// Parse decodes the header of msg and checks the rest against the connection's
// template. ok is false when the message is the wrong size, the header's
// checksum fails, or any filler byte differs: the message is corrupt.
func (c Codec) Parse(msg, template []byte) (h Header, ok bool) {
	if h, ok = c.ParseHeader(msg); !ok || !c.FillerOK(msg, template) {
		return Header{}, false
	}
	return h, true
}

// ParseHeader decodes the header of msg; ok is false when the message is the
// wrong size or the header's checksum fails. Receivers that learn from the
// header whose template to check against (broadcast) call FillerOK next.
// It allocates nothing.
func (c Codec) ParseHeader(msg []byte) (h Header, ok bool) {
	if len(msg) != c.Size {
		return h, false
	}
	var buf [binaryHeaderSize]byte
	raw := msg[:binaryHeaderSize]
	var sum uint32
	if c.Text {
		if _, err := hex.Decode(buf[:], msg[:textHeaderSize]); err != nil {
			return h, false
		}
		raw = buf[:]
		sum = crc32c(buf[:24]) // buf must stay on the stack
	} else {
		sum = crc32.Checksum(msg[:24], castagnoli) // msg is on the heap already
	}
	if sum != binary.LittleEndian.Uint32(raw[24:]) {
		return h, false
	}
	h.Conn = binary.LittleEndian.Uint32(raw[0:])
	h.Seq = binary.LittleEndian.Uint64(raw[4:])
	h.SentNs = int64(binary.LittleEndian.Uint64(raw[12:]))
	h.LateNs = int64(binary.LittleEndian.Uint32(raw[20:])) * 1000
	return h, true
}

// crc32c is CRC-32C (Castagnoli) of a short header, byte by byte from the
// standard table, for a header decoded into a stack buffer: hash/crc32 calls
// its accelerated path through a function value, which makes a slice passed
// to it escape to the heap, an allocation per message. Headers read in
// place from the message (already on the heap) use hash/crc32.
func crc32c(p []byte) uint32 {
	crc := ^uint32(0)
	for _, v := range p {
		crc = castagnoli[byte(crc)^v] ^ (crc >> 8)
	}
	return ^crc
}

// FillerOK reports whether every byte after the header matches template.
func (c Codec) FillerOK(msg, template []byte) bool {
	hs := c.HeaderSize()
	if len(msg) != c.Size || len(template) != c.Size {
		return false
	}
	return string(msg[hs:]) == string(template[hs:]) // compiles to a memequal, no allocation
}

// saturate32 clamps a count into a header's 32-bit field.
func saturate32(v int64) uint32 {
	if v <= 0 {
		return 0
	}
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}
