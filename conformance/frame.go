package conformance

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Opcodes of RFC 6455 §5.2; 3–7 and 0xB–0xF are reserved.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// The reserved bits as they sit in Frame.RSV: RSV1 is permessage-deflate's
// "compressed" bit (RFC 7692 §6).
const (
	RSV1 byte = 4
	RSV2 byte = 2
	RSV3 byte = 1
)

// Frame is one WebSocket frame as a case writes it or the raw peers read
// it. Its fields allow what RFC 6455 forbids, because the cases need to
// send it.
type Frame struct {
	Fin     bool
	RSV     byte // three bits: RSV1<<2 | RSV2<<1 | RSV3
	Opcode  byte
	Payload []byte
	// Length, when above zero or when LengthSet, is written in the header
	// instead of len(Payload): safety probes announce more than they send.
	Length    uint64
	LengthSet bool
	// LengthBytes forces the extended length encoding: 2 (16-bit) or 8
	// (64-bit) even for a short payload; 0 is the minimal encoding.
	LengthBytes int
	// Masked is set on a frame read from the wire when it carried a mask.
	Masked bool
}

// IsControl reports whether the opcode is a control opcode (§5.5).
func (f Frame) IsControl() bool { return f.Opcode&0x8 != 0 }

// announced is the payload length the header carries.
func (f Frame) announced() uint64 {
	if f.LengthSet || f.Length > 0 {
		return f.Length
	}
	return uint64(len(f.Payload))
}

// Append writes f to dst as it goes on the wire. With mask the payload is
// masked with key, as a client must (§5.3); without, it goes in clear, as a
// server must.
func (f Frame) Append(dst []byte, mask bool, key [4]byte) []byte {
	b0 := f.Opcode & 0x0f
	b0 |= (f.RSV & 7) << 4
	if f.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if mask {
		b1 = 0x80
	}
	n := f.announced()
	switch {
	case f.LengthBytes == 8 || (f.LengthBytes == 0 && n > 0xffff):
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, n)
	case f.LengthBytes == 2 || (f.LengthBytes == 0 && n > 125):
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, b1|byte(n))
	}
	if !mask {
		return append(dst, f.Payload...)
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, f.Payload...)
	for i := range f.Payload {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// String describes the frame for a case record: "text fin len=5 rsv=4".
func (f Frame) String() string {
	var b strings.Builder
	b.WriteString(OpcodeName(f.Opcode))
	if f.Fin {
		b.WriteString(" fin")
	}
	if f.RSV != 0 {
		fmt.Fprintf(&b, " rsv=%d", f.RSV)
	}
	if f.Masked {
		b.WriteString(" masked")
	}
	fmt.Fprintf(&b, " len=%d", f.announced())
	if f.announced() != uint64(len(f.Payload)) {
		fmt.Fprintf(&b, " (sent %d)", len(f.Payload))
	}
	if f.LengthBytes != 0 {
		fmt.Fprintf(&b, " len-encoding=%dB", f.LengthBytes)
	}
	switch {
	case f.Opcode == OpClose && len(f.Payload) >= 2:
		fmt.Fprintf(&b, " code=%d", binary.BigEndian.Uint16(f.Payload))
		if len(f.Payload) > 2 {
			fmt.Fprintf(&b, " reason=%s", quoteBytes(f.Payload[2:], 24))
		}
	case len(f.Payload) > 0 && len(f.Payload) <= 16:
		fmt.Fprintf(&b, " %s", quoteBytes(f.Payload, 16))
	}
	return b.String()
}

// quoteBytes shows up to max bytes: quoted when valid UTF-8, hex otherwise.
func quoteBytes(p []byte, max int) string {
	more := ""
	if len(p) > max {
		p, more = p[:max], "…"
	}
	if utf8.Valid(p) {
		return fmt.Sprintf("%q%s", p, more)
	}
	return "0x" + hex.EncodeToString(p) + more
}

// OpcodeName names an opcode ("text", "reserved-3").
func OpcodeName(op byte) string {
	switch op {
	case OpContinuation:
		return "cont"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("reserved-%d", op)
}

// errTooLarge is returned by ReadFrame for a frame beyond the reader's own
// bound: the raw peers protect themselves from the peer under test.
var errTooLarge = errors.New("frame larger than the raw peer accepts")

// ReadFrame reads one frame from r, unmasking its payload. A payload
// announced above max bytes is not read (errTooLarge). It checks nothing
// else: judging the frame is the case's job.
func ReadFrame(r *bufio.Reader, max uint64) (Frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Fin: h[0]&0x80 != 0, RSV: (h[0] >> 4) & 7, Opcode: h[0] & 0x0f, Masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	var key [4]byte
	if f.Masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return f, err
		}
	}
	if n > max {
		return f, fmt.Errorf("%w: %d bytes announced", errTooLarge, n)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, err
	}
	if f.Masked {
		for i := range f.Payload {
			f.Payload[i] ^= key[i&3]
		}
	}
	return f, nil
}

// ClosePayload is a close frame's payload: the status code and reason.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// CloseCode reads a close frame's status code: 1005 (no status) for an
// empty payload, -1 for a one-byte payload, which no code fits.
func CloseCode(payload []byte) int {
	switch len(payload) {
	case 0:
		return 1005
	case 1:
		return -1
	}
	return int(binary.BigEndian.Uint16(payload))
}
