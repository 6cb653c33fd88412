package servers

import (
	"sync"
	"sync/atomic"
)

// hub is the /broadcast fan-out, the same for every library: each publish is
// offered to every subscriber's bounded queue with a non-blocking send, so a
// slow subscriber costs the publisher nothing. T is what a library queues,
// the message encoded once per publish and shared, read-only, by every
// subscriber: always a pointer, so a queue costs the same 8 bytes a slot
// whatever the library. The library's writer goroutine drains the queue and
// writes to the socket; the hub itself never touches a socket.
type hub[T any] struct {
	queue      int  // length of each subscriber's queue
	disconnect bool // SlowDisconnect: close a slow subscriber, else drop
	ctr        *Counters

	mu   sync.RWMutex
	subs []*subscriber[T] // guarded by mu; order does not matter
}

// newHub makes the hub of one server process. A queue length below 1 is
// taken as 1; a policy other than SlowDisconnect is SlowDrop.
func newHub[T any](s Settings, ctr *Counters) *hub[T] {
	return &hub[T]{
		queue:      max(s.BroadcastQueue, 1),
		disconnect: s.SlowConsumer == SlowDisconnect,
		ctr:        ctr,
	}
}

// subscriber is one /broadcast connection's membership of the hub.
type subscriber[T any] struct {
	hub *hub[T]
	idx int // position in hub.subs, -1 once unsubscribed; guarded by hub.mu

	// queue holds the messages published to this subscriber and not yet
	// taken by its writer.
	queue chan T
	// slow is closed when the subscriber is disconnected as a slow
	// consumer; its writer must then stop writing queued messages, so the
	// close frame is next on the wire.
	slow chan struct{}
	// kicked is set, once, with slow's closing.
	kicked atomic.Bool
	// onSlow closes the connection with 1008; the hub runs it in a
	// goroutine of its own, so it may block.
	onSlow func()
}

// subscribe adds a subscriber, which from now on gets every publish.
// onSlow is run, in its own goroutine and at most once, if the subscriber
// is disconnected as a slow consumer; it must close the connection with
// 1008. A server subscribes before it answers the upgrade, so a client that
// has its handshake response is sure to get every later publish.
func (h *hub[T]) subscribe(onSlow func()) *subscriber[T] {
	s := &subscriber[T]{hub: h, queue: make(chan T, h.queue), slow: make(chan struct{}), onSlow: onSlow}
	h.mu.Lock()
	s.idx = len(h.subs)
	h.subs = append(h.subs, s)
	h.mu.Unlock()
	return s
}

// unsubscribe removes the subscriber; publishes no longer reach it. It may be
// called more than once. Messages still queued are left to the collector.
func (s *subscriber[T]) unsubscribe() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.idx < 0 {
		return
	}
	last := len(h.subs) - 1
	h.subs[s.idx] = h.subs[last]
	h.subs[s.idx].idx = s.idx
	h.subs[last] = nil
	h.subs = h.subs[:last]
	s.idx = -1
}

// isSlow reports whether the subscriber was disconnected as a slow consumer.
func (s *subscriber[T]) isSlow() bool { return s.kicked.Load() }

// publish offers msg to every subscriber without blocking: a full queue means
// a slow consumer, whose message is dropped (SlowDrop) or who is disconnected
// (SlowDisconnect). The lock is held only to walk the subscriber list and
// make channel sends that cannot block; it is shared, so publishes from many
// connections run in parallel. One publisher's messages reach each queue in
// the order it publishes them.
func (h *hub[T]) publish(msg T) {
	h.ctr.BroadcastPublished.Add(1)
	var enqueued, dropped uint64
	var kicked []*subscriber[T]
	h.mu.RLock()
	for _, s := range h.subs {
		if s.kicked.Load() {
			continue // disconnecting: nothing more is queued for it
		}
		select {
		case s.queue <- msg:
			enqueued++
		default:
			if !h.disconnect {
				dropped++
			} else if s.kicked.CompareAndSwap(false, true) {
				close(s.slow)
				kicked = append(kicked, s)
			}
		}
	}
	h.mu.RUnlock()
	h.ctr.BroadcastEnqueued.Add(enqueued)
	if dropped > 0 {
		h.ctr.BroadcastDropped.Add(dropped)
	}
	for _, s := range kicked {
		h.ctr.BroadcastDisconnected.Add(1)
		s.unsubscribe()
		go s.onSlow()
	}
}
