package servers

import (
	"io"
	"slices"
	"time"
)

// closeGrace bounds each step of telling a connection to go away: writing the
// 1001 close frame, and then waiting for the peer's close reply before the
// socket is closed. Waiting for the reply matters: closing a socket that
// still has unread input sends a TCP reset, which can destroy the close frame
// before the peer reads it.
const closeGrace = time.Second

// minMessageBuf is the first size of a connection's message buffer. The
// buffer is allocated on the first message, not at accept, so idle
// connections cost every library the same (nothing) here.
const minMessageBuf = 512

// readMessage reads r to EOF into buf[:0] and returns the filled slice. The
// buffer grows only when a message is larger than any before on the
// connection, so in steady state a message is read without allocating. The
// caller keeps the returned slice for the next message.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(minMessageBuf, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
