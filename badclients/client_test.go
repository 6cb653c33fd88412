package badclients

import (
	"context"
	"testing"
	"time"

	"github.com/wsbench/wsbench/badclients/badtest"
)

// play runs spec against url until the clients end or d passes.
func play(t *testing.T, url, spec string, compression bool, d time.Duration) Results {
	t.Helper()
	s, err := Parse(spec, 100, compression)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	f, err := Start(ctx, url, s)
	if err != nil {
		t.Fatal(err)
	}
	return f.Wait()
}

func kind(t *testing.T, r Results, k Kind) KindResult {
	t.Helper()
	kr, ok := r.Kind(k)
	if !ok {
		t.Fatalf("no result for %s", k)
	}
	if kr.Failed > 0 {
		t.Fatalf("%s: %d failed: %v (%s)", k, kr.Failed, kr.Errors, kr.ErrorSample)
	}
	return kr
}

// dropWithin checks every client of kr was dropped, timed, between lo and hi.
func dropWithin(t *testing.T, kr KindResult, lo, hi time.Duration) {
	t.Helper()
	if kr.Dropped() != kr.Clients || kr.Drop.TotalCount() != int64(kr.Clients) {
		t.Errorf("%s: %d of %d dropped (%d timed): %+v", kr.Kind, kr.Dropped(), kr.Clients, kr.Drop.TotalCount(), kr)
		return
	}
	if min, max := time.Duration(kr.Drop.Min())*time.Microsecond, time.Duration(kr.Drop.Max())*time.Microsecond; min < lo || max > hi {
		t.Errorf("%s: dropped after %v–%v, want within %v–%v", kr.Kind, min, max, lo, hi)
	}
}

// TestHandshakeTimeoutDrops: a server that bounds reading the upgrade
// request ends stalled upgrades and idle sockets after about that bound,
// seen as EOF or reset, not as a close frame (there is no WebSocket yet).
func TestHandshakeTimeoutDrops(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{HandshakeTimeout: 300 * time.Millisecond})
	r := play(t, srv.URL, "idle-tcp=3,stalled-upgrade=3", false, 5*time.Second)
	for _, k := range []Kind{IdleTCP, StalledUpgrade} {
		kr := kind(t, r, k)
		dropWithin(t, kr, 250*time.Millisecond, 2*time.Second)
		if kr.Closed() != 0 || kr.EOF+kr.Reset != 3 {
			t.Errorf("%s: want EOF or reset, got %+v", k, kr)
		}
	}
}

// TestOversizeClosed: gorilla with a read limit answers a 2^63-1 header
// with close 1009 at once, long before the trickled payload matters.
func TestOversizeClosed(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{ReadLimit: 64 << 10})
	kr := kind(t, play(t, srv.URL, "oversize=3:50ms", false, 5*time.Second), Oversize)
	dropWithin(t, kr, 0, time.Second)
	if kr.ClosedByCode[1009]+kr.Reset != 3 {
		t.Errorf("oversize: want close 1009 (or reset), got %+v", kr)
	}
}

// TestDeflateBombClosed: the bomb is negotiated, and a server with a read
// limit stops it with 1009 (or a reset) within a second.
func TestDeflateBombClosed(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{ReadLimit: 64 << 10, Compression: true})
	kr := kind(t, play(t, srv.URL, "deflate-bomb=2", true, 10*time.Second), DeflateBomb)
	dropWithin(t, kr, 0, 2*time.Second)
	if kr.ClosedByCode[1009]+kr.Reset != 2 || kr.Sent == 0 {
		t.Errorf("deflate-bomb: want close 1009 (or reset) after sending, got %+v", kr)
	}
	// Without compression on the server side, the bomb fails to start and
	// says why.
	plain := badtest.Echo(t, badtest.EchoOptions{ReadLimit: 64 << 10})
	r := play(t, plain.URL, "deflate-bomb=1", true, 5*time.Second)
	if kr := r.Kinds[0]; kr.Failed != 1 || kr.Errors["handshake: "+errNoDeflate.Error()] != 1 {
		t.Errorf("bomb without deflate: %+v", kr)
	}
}

// TestTrickleEchoed: a message sent a byte at a time is still a message:
// the echo server answers each once its last byte is in, and keeps the
// trickler open.
func TestTrickleEchoed(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{ReadLimit: 64 << 10})
	kr := kind(t, play(t, srv.URL, "trickle=2:2ms", false, 800*time.Millisecond), Trickle)
	if kr.Received < 2 || kr.Received > kr.Sent || kr.Open != 2 {
		t.Errorf("trickle: sent %d, echoed %d, open %d; want echoes of what was sent, still open", kr.Sent, kr.Received, kr.Open)
	}
}

// TestPingFloodCounts: pings go out by the thousand while nothing is read.
func TestPingFloodCounts(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{ReadLimit: 64 << 10})
	kr := kind(t, play(t, srv.URL, "ping-flood=2", false, 500*time.Millisecond), PingFlood)
	if kr.Sent < 1000 || kr.Received != 0 || kr.Open+kr.Dropped() != 2 {
		t.Errorf("ping-flood: %+v", kr)
	}
}

// TestNonReaderSeesClose: a client that never reads still learns, from
// its TCP state, when the server closes it, and times it.
func TestNonReaderSeesClose(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{ReadLimit: 64 << 10})
	s, _ := Parse("non-reader=3", 0, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := Start(ctx, srv.URL, s)
	if err != nil {
		t.Fatal(err)
	}
	<-f.Started()
	time.Sleep(100 * time.Millisecond)
	srv.Close()
	kr := kind(t, f.Wait(), NonReader)
	dropWithin(t, kr, 100*time.Millisecond, 2*time.Second)
	if ctx.Err() != nil {
		t.Errorf("the fleet ran until its deadline; the drops were not seen")
	}
}

// TestSlowReaderRate: a slow reader takes in about its rate and no more.
func TestSlowReaderRate(t *testing.T) {
	srv := badtest.QueueingBroadcast(t, badtest.BroadcastOptions{Interval: 5 * time.Millisecond, Size: 1024, Queue: 1000, WriteTimeout: 5 * time.Second})
	// 8 KiB/s for about a second, in 1 KiB messages (and their headers).
	kr := kind(t, play(t, srv.URL, "slow-reader=2:8KiB/s", false, time.Second), SlowReader)
	if per := kr.Received / 2; per < 3 || per > 12 {
		t.Errorf("slow-reader at 8KiB/s read %d messages of 1 KiB each in a second", per)
	}
}

// TestStopIsBounded: clients the server never drops stop soon after the
// context ends, each counted as still open, however long their interval
// (a minute here; the server has no read limit, so oversize stays open).
func TestStopIsBounded(t *testing.T) {
	srv := badtest.Echo(t, badtest.EchoOptions{})
	s, _ := Parse("non-reader=4,slow-reader=4:10/s,trickle=4:1m,stalled-upgrade=4,idle-tcp=4,ping-flood=2,oversize=2:1m", 0, false)
	ctx, cancel := context.WithCancel(context.Background())
	f, err := Start(ctx, srv.URL, s)
	if err != nil {
		t.Fatal(err)
	}
	<-f.Started()
	time.Sleep(50 * time.Millisecond)
	cancel()
	t0 := time.Now()
	r := f.Wait()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("stopping took %v", d)
	}
	for _, e := range s.Entries {
		if kr := kind(t, r, e.Kind); kr.Open != e.Count {
			t.Errorf("%s: %+v, want all %d open", e.Kind, kr, e.Count)
		}
	}
}

func TestStartRefusesWSS(t *testing.T) {
	if _, err := Start(context.Background(), "wss://127.0.0.1:1/echo", Spec{}); err == nil {
		t.Error("wss:// accepted")
	}
}
