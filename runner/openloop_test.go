package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// slowEcho is an echo server that answers each message after delay(now),
// in order, without blocking the reading of the next message.
func slowEcho(t *testing.T, delay func(now time.Time) time.Duration) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		type pending struct {
			typ int
			msg []byte
			at  time.Time
		}
		queue := make(chan pending, 4096)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range queue {
				time.Sleep(time.Until(p.at))
				if c.WriteMessage(p.typ, p.msg) != nil {
					return
				}
			}
		}()
		defer wg.Wait()
		defer close(queue)
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			queue <- pending{typ, msg, now.Add(delay(now))}
		}
	}))
	t.Cleanup(srv.Close)
	return wsURL(srv, "/echo")
}

func TestOpenLoopMeasuresAFixedDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	url := slowEcho(t, func(time.Time) time.Duration { return delay })
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 10, Payload: 128, Rate: 200, Warmup: 100 * time.Millisecond, Duration: time.Second}
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings()}, nil)[0]
	if !clean(r) || r.Mode != "open-loop" {
		t.Fatalf("status %s %q mode %s errors %v integrity %+v", r.Status, r.Reason, r.Mode, r.Errors, r.Integrity)
	}
	p50 := time.Duration(r.Latency.P50) * time.Microsecond
	if p50 < delay || p50 > delay*104/100 {
		t.Fatalf("open-loop p50 %s, want within 4%% above the server's fixed %s", p50, delay)
	}
	if r.OpenLoop == nil || r.OpenLoop.AchievedRate < 180 || r.OpenLoop.AchievedRate > 220 {
		t.Fatalf("achieved rate %+v, want about 200/s", r.OpenLoop)
	}
	if r.ServiceTime == nil || r.ServiceTime.Count != r.Latency.Count {
		t.Fatalf("service time %+v, want one per measured message", r.ServiceTime)
	}
}

// TestOpenLoopSeesAStallThatClosedLoopHides is coordinated omission in one
// test: the server stops answering for 150 ms of every second. Open loop
// keeps sending on schedule, so a tenth of its messages wait in the stall
// and p99 shows it. Closed loop sends nothing while it waits, so the stall
// is one sample per connection among thousands, and its p99 stays small:
// only its max admits the stall.
func TestOpenLoopSeesAStallThatClosedLoopHides(t *testing.T) {
	const period, stall = time.Second, 150 * time.Millisecond
	origin := time.Now()
	url := slowEcho(t, func(now time.Time) time.Duration {
		if phase := now.Sub(origin) % period; phase < stall {
			return stall - phase
		}
		return 0
	})
	d, _ := drivers.Lookup(drivers.Default)
	base := scenarios.Params{Conns: 10, Payload: 128, Warmup: 50 * time.Millisecond, Duration: 2 * time.Second}
	open, closed := base, base
	open.Rate = 500
	var recs []report.Record
	for _, p := range []scenarios.Params{open, closed} {
		recs = append(recs, Run(context.Background(), Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p,
			Runs: 1, Settings: servers.DefaultSettings()}, nil)[0])
	}
	o, c := recs[0], recs[1]
	if o.Status != report.StatusOK || c.Status != report.StatusOK {
		t.Fatalf("statuses %s %q / %s %q", o.Status, o.Reason, c.Status, c.Reason)
	}
	if p99 := time.Duration(o.Latency.P99) * time.Microsecond; p99 < stall/2 {
		t.Fatalf("open-loop p99 %s: the %s stalls must show", p99, stall)
	}
	if p99 := time.Duration(c.Latency.P99) * time.Microsecond; p99 > stall/5 {
		t.Fatalf("closed-loop p99 %s: expected coordinated omission to hide the stall", p99)
	}
	if max := time.Duration(c.Latency.Max) * time.Microsecond; max < stall/2 {
		t.Fatalf("closed-loop max %s: the stall must still appear as the max", max)
	}
	if c.Mode != "closed-loop" || o.Mode != "open-loop" {
		t.Fatalf("modes %s / %s", o.Mode, c.Mode)
	}
}

func TestOpenLoopAgainstReferenceServers(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 20, Payload: 256, Rate: 2000, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond}
	plan := Plan{Scenario: sc("echo"), Servers: servers.Names(), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Serve: testServeCommand()}
	for _, r := range Run(context.Background(), plan, nil) {
		if !clean(r) || r.OpenLoop == nil {
			t.Errorf("%s: status %s %q errors %v integrity %+v", r.Server, r.Status, r.Reason, r.Errors, r.Integrity)
			continue
		}
		if r.Integrity.Received != r.Integrity.Sent || r.Close.Clean != p.Conns {
			t.Errorf("%s: integrity %+v close %+v", r.Server, r.Integrity, r.Close)
		}
	}
}

func TestCapacitySearchStopsAtTheFirstBrokenStep(t *testing.T) {
	url := slowEcho(t, func(time.Time) time.Duration { return 10 * time.Millisecond })
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 5, Payload: 128, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond}
	for _, c := range []struct {
		limit     time.Duration
		wantSteps int
		wantPass  bool
	}{{5 * time.Millisecond, 1, false}, {200 * time.Millisecond, 2, true}} {
		slo, err := report.ParseSLO("p99=" + c.limit.String())
		if err != nil {
			t.Fatal(err)
		}
		plan := Plan{Scenario: sc("echo"), Target: url, Driver: d, Params: p, Runs: 1, Settings: servers.DefaultSettings(),
			RateSteps: []float64{100, 200}, SLO: &slo}
		recs := Run(context.Background(), plan, nil)
		if len(recs) != c.wantSteps {
			t.Fatalf("SLO %s: %d steps run, want %d", c.limit, len(recs), c.wantSteps)
		}
		for i, r := range recs {
			if r.SLO == nil || r.SLO.Pass != c.wantPass || r.SLO.Rate != plan.RateSteps[i] || r.OpenLoop.TargetRate != plan.RateSteps[i] {
				t.Fatalf("SLO %s step %d: %+v", c.limit, i, r.SLO)
			}
		}
		if !c.wantPass && !strings.Contains(recs[0].SLO.Reason, "p99 was") {
			t.Fatalf("reason %q, want the percentile that broke", recs[0].SLO.Reason)
		}
	}
}
