// Package framescan follows WebSocket frame boundaries (RFC 6455 §5.2) in a
// byte stream, reading headers only and skipping payloads by count, to find
// the data messages without payload that end in it. It exists for
// github.com/lesismal/nbio v1.6.8, whose parser never hands such a message to
// OnMessage: the nbio server and driver scan what they read and deliver the
// empty messages themselves, in order.
package framescan

import "encoding/binary"

// Scanner follows the frame boundaries of one connection's byte stream; the
// zero value starts at a frame boundary.
type Scanner struct {
	hdr   [14]byte // the header being read
	nhdr  uint8
	skip  uint64 // payload bytes of the current frame still to come
	total uint64 // payload bytes of the data message in progress
	op    byte   // the opcode of its first frame
}

// Next consumes data up to the end of the first data message without
// payload that ends in it, and returns how many bytes that is and the
// message's opcode (1 text, 2 binary); when no such message ends in data,
// all of data and 0.
func (s *Scanner) Next(data []byte) (n int, opcode byte) {
	for n < len(data) {
		if s.skip > 0 {
			k := min(s.skip, uint64(len(data)-n))
			n += int(k)
			s.skip -= k
			continue
		}
		s.hdr[s.nhdr] = data[n]
		s.nhdr++
		n++
		need := uint8(2)
		if s.nhdr >= 2 {
			switch s.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
			if s.hdr[1]&0x80 != 0 {
				need += 4 // the mask key
			}
		}
		if s.nhdr < need {
			continue
		}
		length := uint64(s.hdr[1] & 0x7f)
		switch length {
		case 126:
			length = uint64(binary.BigEndian.Uint16(s.hdr[2:4]))
		case 127:
			length = binary.BigEndian.Uint64(s.hdr[2:10])
		}
		fin, op := s.hdr[0]&0x80 != 0, s.hdr[0]&0x0f
		s.nhdr, s.skip = 0, length
		if op&0x8 != 0 {
			continue // a control frame, between or inside messages
		}
		if op != 0 {
			s.op, s.total = op, 0
		}
		s.total += length
		if fin && s.total == 0 {
			return n, s.op
		}
	}
	return n, 0
}
