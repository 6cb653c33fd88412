package drivers

import "fmt"

// The optional parts of the Conn contract below let a sender with several
// messages ready for one connection (a pipelined closed loop, --inflight)
// pay the kernel's per-write cost once for all of them, and build a
// message's frame once instead of once per send. The load generator must
// cost less per message than the server it measures; at one write per
// message the loopback TCP path sets a floor both sides share. A Conn that
// offers none of them still works: WriteMessages falls back to one
// WriteMessage per message.

// Batcher is a Conn that sends several messages in one socket write.
type Batcher interface {
	// WriteMessages sends each of msgs as one message of type t, in
	// order, in as few socket writes as its buffer allows (one, when they
	// fit). Like WriteMessage it may run concurrently with ReadMessage
	// and Ping, not with itself or WriteMessage.
	WriteMessages(t MessageType, msgs [][]byte) error
}

// FramePreparer is a Conn that builds the frame of a message once (header,
// masking key and masked payload) and sends copies of it with only the
// message's first bytes rewritten: a sender whose messages differ only in
// a leading header (measure.Codec's) then masks those bytes per message,
// not the whole payload. The masking key is the connection's, reused by
// every prepared frame as pre-masked benchmark clients do: a server cannot
// tell, and RFC 6455's fresh key per frame guards browsers' intermediaries
// against cache poisoning, which a load generator's own traffic is not.
type FramePreparer interface {
	// PrepareFrames readies the connection to send messages of type t
	// that equal template after their first head bytes. It reports false
	// when it cannot (permessage-deflate negotiated: each payload
	// compresses differently); the connection is then used as before.
	// It is called before the connection's first WritePrepared, from the
	// goroutine that writes.
	PrepareFrames(t MessageType, template []byte, head int) bool
	// WritePrepared sends one message per element of heads, in order, in
	// as few socket writes as its buffer allows: the prepared template
	// with its first head bytes replaced by heads[i] (each head bytes
	// long). Concurrency as for WriteMessage.
	WritePrepared(heads [][]byte) error
}

// Readier is a Conn that can tell whether a message has arrived already.
type Readier interface {
	// Buffered reports whether the next ReadMessage starts on bytes
	// already received, without waiting on the network: a sender that
	// reads those replies first can then answer them all in one write.
	// Only the goroutine that calls ReadMessage may call it.
	Buffered() bool
}

// WriteBatching is a driver's own account of batched writes, for
// `wsbench list`: whether its connections implement Batcher, and why (not).
type WriteBatching interface {
	BatchedWrites() (yes bool, why string)
}

// BatchedWrites is what driver d says of batched writes; a driver that
// says nothing writes one message per write.
func BatchedWrites(d Driver) (yes bool, why string) {
	if b, ok := d.(WriteBatching); ok {
		return b.BatchedWrites()
	}
	return false, "not declared: one write per message"
}

// WriteMessages sends msgs through c, in one write where c is a Batcher
// and one WriteMessage each otherwise.
func WriteMessages(c Conn, t MessageType, msgs [][]byte) error {
	if b, ok := c.(Batcher); ok {
		return b.WriteMessages(t, msgs)
	}
	for i, m := range msgs {
		if err := c.WriteMessage(t, m); err != nil {
			return fmt.Errorf("message %d of %d: %w", i+1, len(msgs), err)
		}
	}
	return nil
}

// LowWater is a Conn whose reads can wait for several messages at once.
// A pipelined sender with n messages outstanding that wakes for each reply
// as it lands pays a wake-up and a read per message; told that the next
// wait on the network need not end before bytes more have arrived, the
// kernel wakes it once for all of them (SO_RCVLOWAT), and one read takes
// them in. A reply is timed when it is read, so its latency can include
// the wait for the others of its batch: bytes is the sender's trade.
type LowWater interface {
	// SetReadLowWater makes every later wait on the network for message
	// bytes last until the bytes of the frames being waited for (those
	// already buffered counted) reach bytes, or the peer closes; 0 or 1
	// restores waking on the first byte. It reports false when the
	// connection cannot (TLS: the socket's bytes are not frames). Only
	// the goroutine that calls ReadMessage may call it.
	SetReadLowWater(bytes int) bool
	// Stalls is how many waits under a mark were ended by the guard with
	// fewer bytes than it in the socket: the server did not send every
	// reply waited for without more messages first (it holds replies for
	// more, dropped several, or shortened them). Each such reply was read
	// late by up to the wait's bound. Only the reading goroutine may call
	// it.
	Stalls() uint64
}
