package runner

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// TestSubprotocolRefusalNamedInTheRow: a target that chooses none of the
// subprotocols offered fails the cell, and the row says why and counts
// every connection under dial_subprotocol.
func TestSubprotocolRefusalNamedInTheRow(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 3, Payload: 128, Duration: 200 * time.Millisecond}
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: fastEcho(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Subprotocols: []string{"chat.v2"}}, nil)[0]
	if r.Status != report.StatusFailed || !strings.Contains(r.Reason, "server chose no subprotocol (offered chat.v2)") {
		t.Errorf("status %s, reason %q: want failed, naming the subprotocol refusal", r.Status, r.Reason)
	}
	if got := r.Errors["dial_subprotocol"]; got != 3 {
		t.Errorf("errors %v: want 3 dial_subprotocol", r.Errors)
	}
}

// TestRequestRecordedByName: the record keeps the header names sent and
// not their values.
func TestRequestRecordedByName(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	p := scenarios.Params{Conns: 2, Payload: 128, Duration: 200 * time.Millisecond}
	h := http.Header{"X-Api-Key": {"v4lue-k3pt-out"}, "authorization": {"Bearer t0ken-k3pt-out"}}
	r := Run(context.Background(), Plan{Scenario: sc("echo"), Target: fastEcho(t), Driver: d, Params: p, Runs: 1,
		Settings: servers.DefaultSettings(), Header: h}, nil)[0]
	if r.Status != report.StatusOK {
		t.Fatalf("status %s: %s", r.Status, r.Reason)
	}
	if r.Request == nil || strings.Join(r.Request.Headers, ",") != "Authorization,X-Api-Key" || r.Request.Subprotocol != "" {
		t.Fatalf("request recorded as %+v, want the two header names and no subprotocol", r.Request)
	}
}
