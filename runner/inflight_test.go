package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// inflightParams are quickParams with --inflight n applied.
func inflightParams(t *testing.T, n string) scenarios.Params {
	t.Helper()
	p := quickParams()
	if err := scenarios.ApplyOptions(sc("echo"), &p, map[string]string{"inflight": n}, scenarios.OptionContext{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInflightAgainstReferenceServers: eight in flight per connection
// against reference server processes, with the default driver (prepared
// frames, batched writes) and gorilla's (one write per message): no loss
// or reorder, one latency value per message, the table titled with it.
func TestInflightAgainstReferenceServers(t *testing.T) {
	p := inflightParams(t, "8")
	for _, tc := range []struct{ driver, server string }{
		{drivers.Default, "gorilla"}, {drivers.Default, "nbio"}, {"gorilla", "gorilla"},
	} {
		d, _ := drivers.Lookup(tc.driver)
		plan := Plan{Scenario: sc("echo"), Servers: []string{tc.server}, Driver: d, Params: p, Runs: 1,
			Settings: servers.DefaultSettings(), Serve: testServeCommand()}
		recs := Run(context.Background(), plan, nil)
		if len(recs) != 1 {
			t.Fatalf("%s → %s: %d records", tc.driver, tc.server, len(recs))
		}
		r := recs[0]
		name := tc.driver + " → " + tc.server
		if !clean(r) {
			t.Fatalf("%s: status %s %s, errors %v, integrity %+v", name, r.Status, r.Reason, r.Errors, r.Integrity)
		}
		if in := r.Integrity; in.Sent != in.Received || in.Sent == 0 {
			t.Fatalf("%s: integrity %+v, want every message sent received", name, in)
		}
		a := r.Accounting
		if a == nil || a.NeverAnswered != 0 || a.Due != a.Answered+a.AnsweredLate || r.Latency.Count != int64(a.Due) {
			t.Fatalf("%s: accounting %+v, latency count %d: want one value per message due", name, a, r.Latency.Count)
		}
		// The window's edges differ by at most eight in flight per
		// connection each; a latency per batch would be an eighth.
		if d := int64(r.Messages) - r.Latency.Count; r.Messages == 0 || d > 16*int64(p.Conns) || -d > 16*int64(p.Conns) {
			t.Fatalf("%s: %d messages in the window, %d latency values", name, r.Messages, r.Latency.Count)
		}
		if r.Labels["inflight"] != "8" {
			t.Fatalf("%s: labels %v", name, r.Labels)
		}
		if title := report.GroupTitle(r, "w"); !strings.Contains(title, "closed loop, 8 in flight") {
			t.Fatalf("%s: title %q does not name the messages in flight", name, title)
		}
		if r.Close.Clean != p.Conns {
			t.Fatalf("%s: closes %+v", name, r.Close)
		}
	}
}

// TestOneInFlightHasNoLabel: the default keeps the title and comparison
// key results had before the option.
func TestOneInFlightHasNoLabel(t *testing.T) {
	d, _ := drivers.Lookup("gorilla")
	url := replyServer(t, func(msg []byte) [][]byte { return [][]byte{msg} })
	plan := Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: inflightParams(t, "1"), Runs: 1,
		Settings: servers.DefaultSettings()}
	r := Run(context.Background(), plan, nil)[0]
	if !clean(r) || r.Labels != nil {
		t.Fatalf("status %s %s, labels %v", r.Status, r.Reason, r.Labels)
	}
	if title := report.GroupTitle(r, "w"); strings.Contains(title, "in flight") || !strings.Contains(title, "closed loop · 8 conns") {
		t.Fatalf("title %q", title)
	}
}

// batchingServer echoes nothing until a connection has sent it eight
// messages, then echoes those eight: only a client keeping eight in
// flight gets any reply.
func batchingServer(t *testing.T) string {
	t.Helper()
	return lateBatchingServer(t, 0)
}

// lateBatchingServer is batchingServer writing the eighth echo of each
// batch late by lag.
func lateBatchingServer(t *testing.T, lag time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var held [][]byte
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if held = append(held, msg); len(held) < 8 {
				continue
			}
			for i, m := range held {
				if i == len(held)-1 && lag > 0 {
					time.Sleep(lag)
				}
				if err := c.WriteMessage(websocket.BinaryMessage, m); err != nil {
					return
				}
			}
			held = held[:0]
		}
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/echo")
}

// TestInflightKeepsNOutstanding: against a server that answers only
// eight at a time, eight in flight flows and seven stalls, with either
// driver kind.
func TestInflightKeepsNOutstanding(t *testing.T) {
	url := batchingServer(t)
	for _, driver := range []string{drivers.Default, "gorilla"} {
		d, _ := drivers.Lookup(driver)
		for _, n := range []string{"8", "7"} {
			plan := Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: inflightParams(t, n), Runs: 1,
				Settings: servers.DefaultSettings(), DrainTimeout: 200 * time.Millisecond}
			r := Run(context.Background(), plan, nil)[0]
			flows := r.Messages > 0 && r.Integrity.Received > 0
			// The last, partial batch of a connection (sent one message at a
			// time by a driver that does not batch) waits for messages the
			// ended loop no longer sends: fewer than 8 per connection may
			// go unanswered at the end, and nothing else may go wrong.
			in := r.Integrity
			tail := in.Lost < 8*uint64(r.Conns) && in.Duplicated == 0 && in.Reordered == 0 && in.Corrupt == 0
			if n == "8" && (!flows || !tail) {
				t.Fatalf("%s, %s in flight: messages %d, status %s %s, integrity %+v", driver, n, r.Messages, r.Status, r.Reason, r.Integrity)
			}
			if n == "7" && (flows || r.Integrity.Sent != 7*uint64(r.Conns)) {
				t.Fatalf("%s, %s in flight: messages %d, integrity %+v: want 7 sent per connection, none answered", driver, n, r.Messages, r.Integrity)
			}
		}
	}
}

// TestInflightThroughAServerThatHoldsReplies: the default driver waits
// for all but one of a batch's replies at once (SO_RCVLOWAT). A server
// that writes the eighth echo late has the client read seven and send
// seven more, which that server holds until the client sends one more:
// the client must not keep waiting for replies that cannot come, with
// the eighth unread in its socket, until the window closes.
func TestInflightThroughAServerThatHoldsReplies(t *testing.T) {
	url := lateBatchingServer(t, 5*time.Millisecond)
	r := runEightInFlight(t, url)
	in := r.Integrity
	// Stuck, fewer than eight replies a connection came in; each stall
	// costs up to the guard's bound (tens of ms here), so a loaded
	// machine still fits several batches in the window.
	batches := in.Received / 8 / uint64(r.Conns)
	t.Logf("%d batches answered per connection, %v stalls", batches, r.Figures[scenarios.BatchStalls])
	if batches < 3 {
		t.Fatalf("%d batches answered per connection in %v, want at least 3 (integrity %+v, status %s %s)", batches, quickParams().Duration, in, r.Status, r.Reason)
	}
	if in.Lost >= 8*uint64(r.Conns) || in.Duplicated+in.Reordered+in.Corrupt > 0 {
		t.Fatalf("integrity %+v: only each connection's last, partial batch may go unanswered", in)
	}
	// The replies the guard's waits held are said to be late.
	if r.Figures[scenarios.BatchStalls] == 0 || !r.Marked() {
		t.Fatalf("figures %v, marked %v: want the batch stalls counted and the row marked", r.Figures, r.Marked())
	}
}

// TestInflightThroughAServerThatShortensReplies: a server that echoes
// half of each message never fills the default driver's mark (all but
// one of the batch, at full length). Its replies must still be read, and
// counted corrupt, batch after batch, not left in the socket until the
// window closes.
func TestInflightThroughAServerThatShortensReplies(t *testing.T) {
	url := replyServer(t, func(msg []byte) [][]byte { return [][]byte{msg[:len(msg)/2]} })
	r := runEightInFlight(t, url)
	in := r.Integrity
	batches := in.Corrupt / 8 / uint64(r.Conns)
	t.Logf("%d batches of short replies read per connection", batches)
	if batches < 3 || in.Received > 0 {
		t.Fatalf("%d batches of short replies read per connection in %v, want at least 3, all corrupt (integrity %+v)", batches, quickParams().Duration, in)
	}
	if r.Status == report.StatusOK {
		t.Fatalf("status ok with every reply corrupt: %s", r.Reason)
	}
}

// runEightInFlight runs one echo cell of the default driver at eight in
// flight against url.
func runEightInFlight(t *testing.T, url string) report.Record {
	t.Helper()
	d, _ := drivers.Lookup(drivers.Default)
	plan := Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: inflightParams(t, "8"), Runs: 1,
		Settings: servers.DefaultSettings(), DrainTimeout: 200 * time.Millisecond}
	return Run(context.Background(), plan, nil)[0]
}

// TestInflightCountsIntegrityFaults: the faulty server duplicates message
// 3, corrupts 5 and drops 7 on every connection. With eight in flight the
// pipeline goes on past the lost message, and each fault is counted once.
func TestInflightCountsIntegrityFaults(t *testing.T) {
	url := faultyServer(t)
	for _, driver := range []string{drivers.Default, "gorilla"} {
		d, _ := drivers.Lookup(driver)
		p := inflightParams(t, "8")
		plan := Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p, Runs: 1,
			Settings: servers.DefaultSettings(), DrainTimeout: 300 * time.Millisecond}
		r := Run(context.Background(), plan, nil)[0]
		n := uint64(p.Conns)
		in := r.Integrity
		if in.Duplicated != n || in.Corrupt != n || in.Lost != n || in.Reordered != 0 {
			t.Fatalf("%s: integrity %+v, want %d duplicated, corrupt and lost, none reordered", driver, in, n)
		}
		if in.Received+in.Corrupt+in.Lost != in.Sent || in.Received < 40*n {
			t.Fatalf("%s: integrity %+v: want the pipeline to go on past the lost message", driver, in)
		}
		if !r.Marked() {
			t.Fatalf("%s: a run with integrity faults must be marked", driver)
		}
	}
}
