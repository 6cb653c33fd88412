package drivers

import "io"

// minGrow is the smallest buffer readInto allocates, so that a nil or tiny
// buf does not go through many doublings for small messages.
const minGrow = 512

// readInto reads r until io.EOF into buf, using buf's whole capacity and
// growing it when the message does not fit. It returns the message bytes, a
// prefix of the (possibly reallocated) buffer. sizeHint, when positive, is a
// length the message is known to reach; it lets the caller size the buffer
// once instead of doubling. r must report the end of the message with io.EOF,
// which is what the libraries' message readers do.
//
// The drivers return an empty slice of the buffer with their errors, so that
// a caller that keeps the returned slice as its next buf does not lose it.
func readInto(r io.Reader, buf []byte, sizeHint int) ([]byte, error) {
	buf = buf[:cap(buf)]
	if sizeHint > len(buf) {
		buf = grow(buf, 0, sizeHint)
	}
	n := 0
	for {
		if n == len(buf) {
			// The buffer is full: probe with an empty read before growing,
			// so that a message that exactly fits does not reallocate. An
			// empty read is answered with io.EOF at the end of the message
			// by all three libraries; anything else means more may follow.
			if _, err := r.Read(buf[n:]); err == io.EOF {
				return buf[:n], nil
			} else if err != nil {
				return buf[:n], err
			}
			buf = grow(buf, n, n+1)
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return buf[:n], err
		}
	}
}

// grow returns a buffer of at least want bytes (length equal to capacity)
// whose first used bytes are those of buf. It at least doubles the capacity
// so that a message read in many small pieces costs O(log n) allocations.
func grow(buf []byte, used, want int) []byte {
	c := max(want, 2*cap(buf), minGrow)
	nb := make([]byte, c)
	copy(nb, buf[:used])
	return nb
}
