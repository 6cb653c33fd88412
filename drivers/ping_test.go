package drivers

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// bgReader runs ReadMessage in a loop in its own goroutine, as a scenario's
// reader does, until it returns an error.
type bgReader struct {
	msgs  chan []byte // copies of the messages read; dropped when full
	count atomic.Int64
	done  chan error // the final error
}

func startReader(c Conn) *bgReader {
	r := &bgReader{msgs: make(chan []byte, 64), done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			_, got, err := c.ReadMessage(buf)
			if err != nil {
				r.done <- err
				return
			}
			r.count.Add(1)
			select {
			case r.msgs <- bytes.Clone(got):
			default:
			}
			buf = got[:cap(got)]
		}
	}()
	return r
}

// next returns the next message the reader read.
func (r *bgReader) next(t *testing.T) []byte {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case err := <-r.done:
		t.Fatalf("reader ended before the message: %v", err)
	case <-time.After(2 * time.Second):
		t.Fatal("no message within 2s")
	}
	return nil
}

// end returns the reader's final error, waiting at most d for it.
func (r *bgReader) end(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(d):
		t.Fatalf("ReadMessage still running %v later", d)
	}
	return nil
}

// readSideOf returns the conn's read side bookkeeping: the readSide field
// named rs of a driver's conn struct, nil for a driver without one.
func readSideOf(c Conn) *readSide {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("rs")
	if !f.IsValid() || f.Type() != reflect.TypeFor[readSide]() {
		return nil
	}
	return (*readSide)(unsafe.Pointer(f.UnsafeAddr()))
}

// waitReading waits until a ReadMessage is running on c, so that a Close
// that follows takes the concurrent-reader path.
func waitReading(t *testing.T, c Conn) {
	t.Helper()
	rs := readSideOf(c)
	if rs == nil {
		t.Log("unknown driver: Close may or may not find the reader running")
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for rs.state.Load()&rsReading == 0 {
		if time.Now().After(deadline) {
			t.Fatal("ReadMessage not running 2s after the reader started")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// wantCloseError checks that err carries a *CloseError with code.
func wantCloseError(t *testing.T, err error, code int) *CloseError {
	t.Helper()
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) carries no *CloseError", err, err)
	}
	if ce.Code != code {
		t.Errorf("CloseError.Code = %d, want %d (%v)", ce.Code, code, err)
	}
	return ce
}

func pingWithin(c Conn, d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx)
	return time.Since(start), err
}

func TestPing(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		rd := startReader(c)
		const n = 100
		rtts := make([]time.Duration, 0, n)
		for i := range n {
			rtt, err := pingWithin(c, 2*time.Second)
			if err != nil {
				t.Fatalf("ping %d: %v", i, err)
			}
			rtts = append(rtts, rtt)
		}
		slices.Sort(rtts)
		if med := rtts[n/2]; med > 100*time.Millisecond {
			t.Errorf("median ping RTT on loopback %v, want < 100ms", med)
		}
		t.Logf("ping RTT min %v, median %v, max %v", rtts[0], rtts[n/2], rtts[n-1])
		// Data still flows both ways, and the pings did not reach the
		// reader as messages.
		if err := c.WriteMessage(Text, []byte("after pings")); err != nil {
			t.Fatal(err)
		}
		if got := rd.next(t); string(got) != "after pings" {
			t.Errorf("echo %q, want %q", got, "after pings")
		}
		clean, err := c.Close(2 * time.Second)
		if !clean || err != nil {
			t.Errorf("Close = %v, %v; want true, nil", clean, err)
		}
		wantCloseError(t, rd.end(t, 2*time.Second), 1000)
		// Ping after Close fails at once.
		if _, err := pingWithin(c, 2*time.Second); err == nil {
			t.Error("Ping after Close: no error")
		} else if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping after Close waited for its context: %v", err)
		}
	})
}

// TestPingTimeout: a ping the server does not answer times out, the
// connection stays usable, and the pong of the abandoned ping, arriving
// later, does not complete the next Ping.
func TestPingTimeout(t *testing.T) {
	url := newEchoServer(t) + "/?latepong=1"
	forEachDriver(t, func(t *testing.T, d Driver) {
		c := dialT(t, d, url, testOpts)
		rd := startReader(c)
		// Ping 1: no answer. Ping 2: only the late pong of ping 1.
		for i := 1; i <= 2; i++ {
			el, err := pingWithin(c, 200*time.Millisecond)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("ping %d: %v, want context.DeadlineExceeded", i, err)
			}
			if el > 300*time.Millisecond {
				t.Errorf("ping %d with a 200ms context returned after %v", i, el)
			}
		}
		if err := c.WriteMessage(Text, []byte("still there")); err != nil {
			t.Fatal(err)
		}
		if got := rd.next(t); string(got) != "still there" {
			t.Errorf("echo %q, want %q", got, "still there")
		}
		for i := 3; i <= 4; i++ {
			if _, err := pingWithin(c, 2*time.Second); err != nil {
				t.Fatalf("ping %d, answered: %v", i, err)
			}
		}
		if clean, err := c.Close(2 * time.Second); !clean || err != nil {
			t.Errorf("Close = %v, %v; want true, nil", clean, err)
		}
	})
}

func TestPingNoAnswer(t *testing.T) {
	url := newEchoServer(t) + "/?noping=1"
	forEachDriver(t, func(t *testing.T, d Driver) {
		t.Run("timeout", func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			rd := startReader(c)
			el, err := pingWithin(c, 200*time.Millisecond)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Ping: %v, want context.DeadlineExceeded", err)
			}
			if el > 300*time.Millisecond {
				t.Errorf("Ping with a 200ms context returned after %v", el)
			}
			roundTripVia(t, c, rd, []byte("echo after a lost ping"))
			if clean, err := c.Close(2 * time.Second); !clean || err != nil {
				t.Errorf("Close = %v, %v; want true, nil", clean, err)
			}
		})
		t.Run("ended-context", func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			rd := startReader(c)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := c.Ping(ctx); err != context.Canceled {
				t.Errorf("Ping with a cancelled context = %v, want context.Canceled", err)
			}
			roundTripVia(t, c, rd, []byte("still usable"))
		})
		t.Run("abort", func(t *testing.T) {
			// A Ping waiting for a pong that will not come returns when
			// the connection ends, not when its context does.
			c := dialT(t, d, url, testOpts)
			rd := startReader(c)
			pingErr := make(chan error, 1)
			go func() {
				_, err := pingWithin(c, 10*time.Second)
				pingErr <- err
			}()
			roundTripVia(t, c, rd, []byte("reader running"))
			c.Abort()
			select {
			case err := <-pingErr:
				if err == nil || errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Ping ended by Abort = %v, want a connection error", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Ping still waiting 2s after Abort")
			}
			if err := rd.end(t, 2*time.Second); err == nil {
				t.Error("reader: no error after Abort")
			}
		})
	})
}

// roundTripVia sends p and waits for its echo from the background reader.
func roundTripVia(t *testing.T, c Conn, rd *bgReader, p []byte) {
	t.Helper()
	if err := c.WriteMessage(Binary, p); err != nil {
		t.Fatal(err)
	}
	if got := rd.next(t); !bytes.Equal(got, p) {
		t.Fatalf("echo %q, want %q", got, p)
	}
}

// TestReadCloseError: ReadMessage reports the peer's close frame as a
// *CloseError with its status, and keeps reporting it.
func TestReadCloseError(t *testing.T) {
	url := newEchoServer(t)
	for _, tc := range []struct {
		msg    string
		code   int
		reason string
	}{
		{"close-me", 1000, "bye"},
		{"close-me:1001", 1001, "bye"},
		{"close-me:1008", 1008, "bye"},
		{"close-me:4000", 4000, "bye"},
		{"close-me:none", 1005, ""},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d Driver) {
				c := dialT(t, d, url, testOpts)
				buf := roundTrip(t, c, Text, []byte("hello"), nil)
				if err := c.WriteMessage(Text, []byte(tc.msg)); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.ReadMessage(buf)
				ce := wantCloseError(t, err, tc.code)
				if ce.Reason != tc.reason {
					t.Errorf("CloseError.Reason = %q, want %q", ce.Reason, tc.reason)
				}
				_, _, err2 := c.ReadMessage(buf)
				wantCloseError(t, err2, tc.code)
				clean, err := c.Close(2 * time.Second)
				if clean != (tc.code == 1000) || err != nil {
					t.Errorf("Close after the peer's %d = %v, %v; want %v, nil", tc.code, clean, err, tc.code == 1000)
				}
			})
		})
	}
}

// TestCloseConcurrentRead: Close while another goroutine is blocked in
// ReadMessage leaves the reading to it (run with -race).
func TestCloseConcurrentRead(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		t.Run("idle", func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			rd := startReader(c)
			roundTripVia(t, c, rd, []byte("warm up"))
			waitReading(t, c)
			start := time.Now()
			clean, err := c.Close(2 * time.Second)
			if !clean || err != nil {
				t.Errorf("Close = %v, %v; want true, nil", clean, err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("Close took %v", el)
			}
			wantCloseError(t, rd.end(t, 2*time.Second), 1000)
			// Later reads report the same.
			_, _, err = c.ReadMessage(nil)
			wantCloseError(t, err, 1000)
		})
		t.Run("echoes-in-flight", func(t *testing.T) {
			// The reader gets the echoes sent before the close frame,
			// intact and in order, then the close. It may miss the last
			// ones: if Close starts while the reader is between two
			// ReadMessage calls, Close reads, and skips them, itself.
			c := dialT(t, d, url, testOpts)
			rd := startReader(c)
			waitReading(t, c)
			sizes := []int{10, 70000, 10}
			for _, n := range sizes {
				if err := c.WriteMessage(Binary, payload(n)); err != nil {
					t.Fatal(err)
				}
			}
			clean, err := c.Close(2 * time.Second)
			if !clean || err != nil {
				t.Errorf("Close = %v, %v; want true, nil", clean, err)
			}
			wantCloseError(t, rd.end(t, 2*time.Second), 1000)
			close(rd.msgs) // the reader has returned
			i := 0
			for got := range rd.msgs {
				if i == len(sizes) {
					t.Fatalf("reader got more than the %d echoes", len(sizes))
				}
				if !bytes.Equal(got, payload(sizes[i])) {
					t.Errorf("echo %d: %d bytes, want the %d sent", i, len(got), sizes[i])
				}
				i++
			}
			t.Logf("reader got %d of %d echoes before the close", i, len(sizes))
		})
		t.Run("peer-answers-1001", func(t *testing.T) {
			c := dialT(t, d, url+"/?away=1", testOpts)
			rd := startReader(c)
			waitReading(t, c)
			clean, err := c.Close(2 * time.Second)
			if clean || err != nil {
				t.Errorf("Close = %v, %v; want false, nil", clean, err)
			}
			wantCloseError(t, rd.end(t, 2*time.Second), 1001)
		})
		t.Run("no-answer", func(t *testing.T) {
			c := dialT(t, d, url+"/?noclose=1", testOpts)
			rd := startReader(c)
			waitReading(t, c)
			start := time.Now()
			clean, err := c.Close(200 * time.Millisecond)
			if clean || err == nil {
				t.Errorf("Close against a server that never answers = %v, %v; want false and an error", clean, err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("Close(200ms) took %v", el)
			}
			if err := rd.end(t, 2*time.Second); err == nil {
				t.Error("reader: no error")
			}
		})
		t.Run("read-after-close", func(t *testing.T) {
			// No reader while Close reads itself; ReadMessage afterwards
			// reports the close.
			c := dialT(t, d, url, testOpts)
			roundTrip(t, c, Binary, payload(10), nil)
			clean, err := c.Close(2 * time.Second)
			if !clean || err != nil {
				t.Errorf("Close = %v, %v; want true, nil", clean, err)
			}
			_, _, err = c.ReadMessage(nil)
			wantCloseError(t, err, 1000)
		})
	})
}

// TestCloseConcurrentPingWrite: Close while a Ping loop and a WriteMessage
// loop run (run with -race).
func TestCloseConcurrentPingWrite(t *testing.T) {
	url := newEchoServer(t)
	forEachDriver(t, func(t *testing.T, d Driver) {
		for _, withReader := range []bool{true, false} {
			name := "with-reader"
			if !withReader {
				name = "no-reader"
			}
			t.Run(name, func(t *testing.T) {
				c := dialT(t, d, url, testOpts)
				var rd *bgReader
				if withReader {
					rd = startReader(c)
				}
				var wg sync.WaitGroup
				var pings, writes atomic.Int64
				pinging, writing := make(chan struct{}), make(chan struct{})
				// The ping loop starts first: without a reader the writer
				// soon blocks on a full socket, and a driver that writes
				// pings under its write lock (gobwas) would then never
				// send a first one.
				wg.Add(2)
				go func() {
					defer wg.Done()
					for {
						// Without a reader, no pong arrives until Close
						// reads: the pings wait for their contexts.
						_, err := pingWithin(c, 100*time.Millisecond)
						if pings.Add(1) == 1 {
							close(pinging)
						}
						if err != nil && !errors.Is(err, context.DeadlineExceeded) {
							return
						}
					}
				}()
				select {
				case <-pinging:
				case <-time.After(2 * time.Second):
					t.Fatal("ping loop not running after 2s")
				}
				go func() {
					defer wg.Done()
					msg := payload(1000)
					for {
						err := c.WriteMessage(Binary, msg)
						if writes.Add(1) == 100 {
							close(writing)
						}
						if err != nil {
							if writes.Load() < 100 {
								close(writing)
							}
							return
						}
					}
				}()
				select {
				case <-writing:
				case <-time.After(2 * time.Second):
					t.Fatal("write loop not running after 2s")
				}
				timeout := 2 * time.Second
				if !withReader {
					// Nothing reads the echoes until Close does: the server
					// may stall on a full socket buffer, and the writer
					// with it.
					timeout = 500 * time.Millisecond
				}
				start := time.Now()
				clean, err := c.Close(timeout)
				if el := time.Since(start); el > timeout+time.Second {
					t.Errorf("Close(%v) took %v", timeout, el)
				}
				if withReader && (!clean || err != nil) {
					t.Errorf("Close = %v, %v; want true, nil", clean, err)
				}
				t.Logf("Close = %v, %v after %d pings and %d writes", clean, err, pings.Load(), writes.Load())
				loops := make(chan struct{})
				go func() { wg.Wait(); close(loops) }()
				select {
				case <-loops:
				case <-time.After(2 * time.Second):
					t.Fatal("ping or write loop still running 2s after Close")
				}
				if withReader {
					if err := rd.end(t, 2*time.Second); err == nil {
						t.Error("reader: no error after Close")
					}
				}
			})
		}
	})
}

// pingAllocs is the most allocations one Ping may cost each driver, with a
// reader running. All of gorilla's are inside the library: WriteControl
// allocates the frame and a time.Timer (three objects), and the reader
// hands the pong's payload to the pong handler as a string.
// fasthttp/websocket, gorilla's fork, allocates the frame and a timer too.
// gws boxes the ping frame's payload and copies every control frame it
// reads (the pong) into a new slice. nbio: its own frame, the pong read and
// assembled, the executor closure, the payload as a string for the handler,
// and the pong's pooled buffer, which nbio never frees on a client.
var pingAllocs = map[string]float64{
	"fasthttp": 3,
	"gobwas":   0,
	"gorilla":  5,
	"gws":      2,
	"nbio":     8,
}

func TestPingAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	srv := httptest.NewServer(http.HandlerFunc(rawEchoHandler))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	for _, name := range Names() {
		want, ok := pingAllocs[name]
		if !ok {
			continue // coder allocates per ping inside the library
		}
		d, _ := Lookup(name)
		t.Run(name, func(t *testing.T) {
			c := dialT(t, d, url, testOpts)
			rd := startReader(c)
			ctx := context.Background()
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			var err error
			got := testing.AllocsPerRun(200, func() {
				if err == nil {
					err = c.Ping(ctx)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got > want {
				t.Errorf("%v allocations per ping, want at most %v", got, want)
			}
			c.Close(time.Second)
			rd.end(t, 2*time.Second)
		})
	}
}
