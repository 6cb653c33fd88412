package badclients

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Outcome is how a bad client's connection ended, seen from the client.
type Outcome int

const (
	// Open: still open when the fleet stopped; the server never dropped it
	// (or dropped it behind data the client never read; see SeenAtEnd).
	Open Outcome = iota
	// Closed: the server sent a close frame (its code is recorded).
	Closed
	// Reset: the connection was reset (RST), or a write found it gone.
	Reset
	// EOF: the server closed the TCP connection without a close frame.
	EOF
	// Failed: the client never got to misbehave (dial or handshake failed,
	// or the fleet stopped first).
	Failed
)

var outcomeNames = [...]string{Open: "open", Closed: "closed", Reset: "reset", EOF: "eof", Failed: "failed"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// end is what one client reports when it is done.
type end struct {
	outcome   Outcome
	code      int           // close code, for Closed
	after     time.Duration // from misbehaviour start to the end, when timed
	timed     bool          // false for Open, Failed and drops found only at the end
	seenAtEnd bool          // a drop found by draining when the fleet stopped
	errClass  string        // for Failed and unexpected errors
	errText   string
	sent      uint64 // frames (ping-flood), messages (trickle) or bytes (oversize, deflate-bomb) sent
	received  uint64 // data messages received
}

// errClass names the cause of err without addresses or ports, so errors
// of many clients add up under one name.
func errClass(stage string, err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return stage
	case errors.Is(err, io.EOF):
		return stage + ": EOF"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return stage + ": timeout"
	case errors.Is(err, errNoDeflate):
		return stage + ": " + errNoDeflate.Error()
	case errors.As(err, &errno):
		return stage + ": " + errno.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return stage + ": timeout"
	}
	return stage + ": other"
}

// isTimeout reports a deadline that expired (ours, or the fleet's stop).
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isReset reports an error that means the peer reset the connection or a
// write found it gone.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}
