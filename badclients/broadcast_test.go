package badclients

import (
	"context"
	"testing"
	"time"

	"github.com/wsbench/wsbench/badclients/badtest"
)

// broadcastOptions: 4 KiB every 5 ms into an 8 KiB send buffer, so one
// subscriber that stops reading blocks a writer within a few messages.
func broadcastOptions() badtest.BroadcastOptions {
	return badtest.BroadcastOptions{Interval: 5 * time.Millisecond, Size: 4096, SendBuffer: 8192, Queue: 16, WriteTimeout: 100 * time.Millisecond}
}

// progress is how many messages sub receives over d.
func progress(sub *badtest.Subscriber, d time.Duration) int64 {
	n := sub.Received()
	time.Sleep(d)
	return sub.Received() - n
}

// withNonReader connects two good subscribers to srv, checks they receive,
// then adds one non-reader and returns the fleet, running.
func withNonReader(t *testing.T, srv *badtest.Server) (*Fleet, context.CancelFunc, [2]*badtest.Subscriber) {
	t.Helper()
	good := [2]*badtest.Subscriber{badtest.Subscribe(t, srv.URL), badtest.Subscribe(t, srv.URL)}
	for _, g := range good {
		if p := progress(g, 200*time.Millisecond); p < 10 {
			t.Fatalf("a good subscriber got %d messages in 200 ms before any bad client", p)
		}
	}
	s, _ := Parse("non-reader=1", 0, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f, err := Start(ctx, srv.URL, s)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	<-f.Started()
	settled(t, srv, good)
	return f, cancel, good
}

// settled waits until the non-reader's receive window and the server's
// send buffer are full, as either server shows it: the queueing one
// drops it, the blocking one stops delivering (a 100 ms with no message
// for the good subscribers). Five seconds is the bound, not the wait.
func settled(t *testing.T, srv *badtest.Server, good [2]*badtest.Subscriber) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if srv.Drops() > 0 || progress(good[0], 100*time.Millisecond) == 0 {
			return
		}
	}
	t.Fatal("5 s after the non-reader connected, the server neither dropped it nor stalled")
}

// TestNonReaderStallsBlockingBroadcast: a server that waits for each
// subscriber in turn stops delivering to everyone once one stops reading.
func TestNonReaderStallsBlockingBroadcast(t *testing.T) {
	srv := badtest.BlockingBroadcast(t, broadcastOptions())
	f, cancel, good := withNonReader(t, srv)
	for i, g := range good {
		if p := progress(g, 500*time.Millisecond); p != 0 {
			t.Errorf("good subscriber %d received %d messages in 500 ms behind a non-reader; want a stall", i, p)
		}
	}
	cancel()
	if kr := kind(t, f.Wait(), NonReader); kr.Open != 1 {
		t.Errorf("the blocking server dropped the non-reader: %+v", kr)
	}
}

// TestNonReaderDroppedByQueueingBroadcast: a server that queues per
// subscriber drops the non-reader and good subscribers keep receiving.
// The drop is behind data the non-reader never read, so it is found when
// the fleet stops, and counted so.
func TestNonReaderDroppedByQueueingBroadcast(t *testing.T) {
	srv := badtest.QueueingBroadcast(t, broadcastOptions())
	f, cancel, good := withNonReader(t, srv)
	for i, g := range good {
		// 100 messages are due in 500 ms; half is plenty on a busy machine.
		if p := progress(g, 500*time.Millisecond); p < 50 {
			t.Errorf("good subscriber %d received %d messages in 500 ms beside a non-reader; want about 100", i, p)
		}
	}
	if srv.Drops() != 1 {
		t.Errorf("the server dropped %d subscribers, want the non-reader", srv.Drops())
	}
	cancel()
	kr := kind(t, f.Wait(), NonReader)
	if kr.Dropped() != 1 || kr.Open != 0 {
		t.Errorf("non-reader: %+v, want it seen dropped", kr)
	}
	t.Logf("non-reader: closed %v, eof %d, reset %d, seen at end %d", kr.ClosedByCode, kr.EOF, kr.Reset, kr.SeenAtEnd)
}
