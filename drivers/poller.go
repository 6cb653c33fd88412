package drivers

import "syscall"

// An idle connection (a heartbeat fleet's) spends its life waiting; a
// goroutine blocked in ReadMessage for each one costs its stack and the
// library's read buffer, which dominate the load generator's memory at
// tens of thousands of connections. A Poller holds such connections with
// none of that: one epoll set watches every socket, and the goroutine that
// calls Wait reads, without blocking, what has arrived on those that are
// readable, answers pings and close frames, and reports pongs and deaths.
// Pings are sent without waiting (Poller.Ping), so one timer structure can
// drive all of them.
//
// Only a driver whose connections implement heldConn can be held (gobwas,
// over plain TCP; `wsbench list` says which); any other connection is read
// by a goroutine as before.

// Event is what Wait saw on one held connection.
type Event struct {
	// Token is the connection's, given to Hold.
	Token uint32
	// Pong: the pong of the last Ping arrived.
	Pong bool
	// Err is the read side's final error once the connection has ended
	// (what ReadMessage would have returned): the peer's close frame as a
	// *CloseError, or a read error. The Poller has let go of it.
	Err error
}

// heldConn is a Conn a Poller can hold. Between hold and release only the
// Poller's goroutine reads it (ReadMessage must not be called); Close may
// be called from any goroutine and waits for the Poller to read the peer's
// answer, as it waits for a ReadMessage running elsewhere.
type heldConn interface {
	Conn
	// rawConn is the socket to watch; false when the connection cannot be
	// held (TLS: the bytes on the socket are not frames).
	rawConn() (syscall.RawConn, bool)
	// hold hands reading to the Poller; false when it cannot take it now
	// (a ReadMessage runs, or the connection has ended).
	hold() bool
	// readHeld reads without blocking whatever has arrived, into scratch
	// (the Poller's, shared by all its connections), and handles every
	// complete frame: pings answered, close frames answered, data messages
	// dropped. pong reports that the outstanding held ping was answered;
	// err the read side's final error once the connection ended.
	readHeld(scratch []byte) (pong bool, err error)
	// pingHeld writes a ping and returns without waiting for its pong.
	pingHeld() error
	// release hands reading back to ReadMessage and Close.
	release()
}

// holdsIdle is implemented by a Driver whose connections a Poller can hold.
type holdsIdle interface{ holdsIdle() }

// HoldsIdle reports whether d's connections can wait without a goroutine
// each (held by a Poller) where the platform allows it.
func HoldsIdle(d Driver) bool {
	_, ok := d.(holdsIdle)
	return ok && pollerSupported
}

// Holdable reports whether a Poller can hold c.
func Holdable(c Conn) bool {
	h, ok := c.(heldConn)
	if !ok || !pollerSupported {
		return false
	}
	_, ok = h.rawConn()
	return ok
}
