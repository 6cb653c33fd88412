package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/runner"
)

// TestSummaryShowsTheScenarioHeadline: a cell's closing line shows what
// its scenario measures: a connect storm its connections per second and
// handshake time, not a message rate and latency it never had.
func TestSummaryShowsTheScenarioHeadline(t *testing.T) {
	connect := &report.Record{Scenario: "connect", Status: report.StatusOK,
		Connect:   report.Connect{Established: 500, RatePerS: 1234.4},
		Handshake: report.Latency{Count: 500, P50: 310, P99: 870}}
	got := summary(connect)
	if want := "1,234 conns/s, handshake p50 310µs p99 870µs"; got != want {
		t.Errorf("connect: %q, want %q", got, want)
	}
	echo := &report.Record{Scenario: "echo", Status: report.StatusOK, DurationS: 1, Messages: 20000,
		ThroughputMsgsPerS: 20000, Latency: report.Latency{Count: 20000, P50: 45, P99: 120}}
	if got, want := summary(echo), "20,000 msgs/s, p50 45µs p99 120µs"; got != want {
		t.Errorf("echo: %q, want %q", got, want)
	}
	hb := &report.Record{Scenario: "heartbeat", Status: report.StatusOK, DurationS: 1, Messages: 100,
		ThroughputMsgsPerS: 100, Latency: report.Latency{Count: 100, P50: 30, P99: 90}}
	if got, want := summary(hb), "100 pongs/s, pong p50 30µs p99 90µs"; got != want {
		t.Errorf("heartbeat: %q, want %q", got, want)
	}
}

// TestLiveLineNamesTheRate: the live line names the rate as the scenario
// does, and shows none for a scenario whose headline is not messages.
func TestLiveLineNamesTheRate(t *testing.T) {
	ev := runner.Event{Cell: runner.Cell{Index: 1, Total: 1, Server: "gorilla", Conns: 10}, Phase: "measure",
		Rate: 250, Elapsed: time.Second, Length: 5 * time.Second}
	for scenario, want := range map[string]string{"echo": "250 msgs/s", "heartbeat": "250 pongs/s", "connect": ""} {
		var b bytes.Buffer
		newProgress(&b, "gobwas", scenario).event(ev)
		line := b.String()
		if want == "" && strings.Contains(line, "/s") || want != "" && !strings.Contains(line, want) {
			t.Errorf("%s: live line %q, want %q", scenario, line, want)
		}
	}
}
