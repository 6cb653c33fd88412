package framescan

import "testing"

// TestScanner: the scan finds exactly the data messages without
// payload, across fragments, control frames and any split of the stream.
func TestScanner(t *testing.T) {
	frame := func(fin bool, op byte, masked bool, n int) []byte {
		b := []byte{op, 0}
		if fin {
			b[0] |= 0x80
		}
		switch {
		case n < 126:
			b[1] = byte(n)
		case n < 1<<16:
			b = append(b, 0, 0)
			b[1] = 126
			b[2], b[3] = byte(n>>8), byte(n)
		default:
			b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
			b[1] = 127
			for i := range 8 {
				b[9-i] = byte(n >> (8 * i))
			}
		}
		if masked {
			b[1] |= 0x80
			b = append(b, 1, 2, 3, 4)
		}
		return append(b, make([]byte, n)...)
	}
	for _, masked := range []bool{true, false} {
		var stream []byte
		add := func(f []byte) int { stream = append(stream, f...); return len(stream) }
		add(frame(true, 2, masked, 5))
		empty1 := add(frame(true, 1, masked, 0)) // empty text
		add(frame(true, 9, masked, 0))           // empty ping: not a message
		add(frame(false, 2, masked, 0))          // an empty message in three fragments,
		add(frame(true, 10, masked, 3))          // a pong between them,
		add(frame(false, 0, masked, 0))
		empty2 := add(frame(true, 0, masked, 0)) // ends here
		add(frame(false, 2, masked, 0))          // fragments that carry bytes
		add(frame(true, 0, masked, 70000))
		empty3 := add(frame(true, 2, masked, 0))
		want := []int{empty1, empty2, empty3}
		for _, chunk := range []int{1, 2, 3, 7, 100, len(stream)} {
			var s Scanner
			var ends []int
			off := 0
			for data := stream; len(data) > 0; {
				piece := data[:min(chunk, len(data))]
				data = data[len(piece):]
				for len(piece) > 0 {
					n, op := s.Next(piece)
					off += n
					piece = piece[n:]
					if op != 0 {
						ends = append(ends, off)
					}
				}
			}
			if len(ends) != len(want) || ends[0] != want[0] || ends[1] != want[1] || ends[2] != want[2] {
				t.Errorf("masked %v, chunks of %d: empty messages end at %v, want %v", masked, chunk, ends, want)
			}
		}
	}
}
