package servers

import (
	"io"
	"net/http"
	"slices"
	"strings"
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

// writeDeadline is the deadline for a write starting now under the write
// timeout d; the zero time (no deadline) when d is zero or less.
func writeDeadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// deflateOffered reports whether the upgrade request offers
// permessage-deflate, for libraries that accept any such offer when
// compression is on and do not report the outcome.
func deflateOffered(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}
