package runner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
)

// TestCellsExpandEveryDimensionOnce: servers, connection counts, rates and
// runs are one matrix whatever the mode, a capacity search included.
func TestCellsExpandEveryDimensionOnce(t *testing.T) {
	p := Plan{Scenario: sc("echo"), Servers: []string{"a", "b"}, ConnsList: []int{10, 20}, Runs: 2,
		RateSteps: []float64{100, 200, 300}}
	cells := p.Cells()
	if len(cells) != 2*2*3*2 {
		t.Fatalf("%d cells, want 24", len(cells))
	}
	var order []string
	for i, c := range cells {
		if c.Index != i+1 || c.Total != 24 {
			t.Fatalf("cell %d numbered %d of %d", i, c.Index, c.Total)
		}
		order = append(order, fmt.Sprintf("%d/%d/%g/%s", c.Run, c.Conns, c.Rate, c.Server))
	}
	// Runs outermost, servers innermost: A B A B, so drift falls on both.
	want := "1/10/100/a 1/10/100/b 1/10/200/a 1/10/200/b 1/10/300/a 1/10/300/b 1/20/100/a"
	if got := strings.Join(order[:7], " "); got != want {
		t.Fatalf("order %s\nwant  %s", got, want)
	}
	if last := order[len(order)-1]; last != "2/20/300/b" {
		t.Fatalf("last cell %s", last)
	}
}

// TestValidateChecksEveryCountAndRate: a parameter that only one cell of
// the matrix breaks is refused before anything starts, naming that cell.
func TestValidateChecksEveryCountAndRate(t *testing.T) {
	p := Plan{Scenario: sc("broadcast"), Servers: []string{"a"}, ConnsList: []int{50, 5}}
	p.Params.Payload, p.Params.Rate, p.Params.Own = 128, 100, &scenarios.BroadcastOptions{Publishers: 10}
	err := p.Validate()
	if err == nil || !strings.Contains(err.Error(), "--publishers 10") || !strings.Contains(err.Error(), "at 5 conns") {
		t.Fatalf("err %v: want the publishers refused at 5 conns", err)
	}
	p.ConnsList = []int{50, 20}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestShardedPlansShardsCannotMeasureAsOneAreRefused: each refusal names
// the flags and the numbers at fault.
func TestShardedPlansShardsCannotMeasureAsOneAreRefused(t *testing.T) {
	d, _ := drivers.Lookup(drivers.Default)
	base := func() Plan {
		return Plan{Scenario: sc("echo"), Target: "ws://127.0.0.1:1/echo", Driver: d, Runs: 1, Shard: Shard{Index: 2, Count: 3},
			Params: scenarios.Params{Conns: 30, Payload: 64, Duration: time.Second}}
	}
	slo := report.Threshold{}
	for _, c := range []struct {
		name string
		edit func(*Plan)
		want string
	}{
		{"zero share", func(p *Plan) { p.Params.Conns = 2 }, "--conns 2 over 3 shards leaves shard 2 of 3 no connection"},
		{"runs", func(p *Plan) { p.Runs = 2 }, "with 2 cells (--runs 2"},
		{"conns list", func(p *Plan) { p.ConnsList = []int{30, 60} }, "--conns 30,60"},
		{"capacity search", func(p *Plan) { p.RateSteps, p.SLO = []float64{100, 200}, &slo }, "--rate START:END:STEP (a capacity search) with --shard"},
		{"fault without start", func(p *Plan) {
			p.Scenario = sc("reconnect")
			p.Params.Own = &scenarios.ReconnectOptions{Fault: scenarios.Fault{Kind: "cmd", Cmd: "true"}}
		}, "--fault with --shard/--shards needs --start-at"},
	} {
		p := base()
		c.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if err := base().Validate(); err != nil {
		t.Errorf("one cell, 10 conns per shard: %v", err)
	}
}

// TestCellIDCarriesTheScenariosOwnOptions: shards of one plan name their
// cell alike, and two plans that differ only in a scenario's own option
// (which the runner knows nothing of) do not, so merge never adds shards
// of different fan-outs or faults.
func TestCellIDCarriesTheScenariosOwnOptions(t *testing.T) {
	plan := func(pubs int) *Plan {
		p := &Plan{Scenario: sc("broadcast"), Target: "ws://127.0.0.1:1/broadcast", Driver: defaultDriver()}
		p.Params.Conns, p.Params.Rate = 10, 100
		if err := scenarios.ApplyOptions(p.Scenario, &p.Params, map[string]string{"publishers": fmt.Sprint(pubs)}, scenarios.OptionContext{Target: true}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cell := Cell{Conns: 10, Rate: 100, Run: 1}
	a, again, b := plan(2).cellID(cell), plan(2).cellID(cell), plan(3).cellID(cell)
	if a != again {
		t.Errorf("one plan, two names: %q and %q", a, again)
	}
	if a == b || !strings.Contains(a, "Publishers:2") || !strings.Contains(b, "Publishers:3") {
		t.Errorf("2 and 3 publishers: %q and %q", a, b)
	}
	echo := &Plan{Scenario: sc("echo"), Target: "ws://127.0.0.1:1/echo", Driver: defaultDriver()}
	if id := echo.cellID(cell); strings.Contains(id, "options=") {
		t.Errorf("echo has no options of its own, yet its cell reads %q", id)
	}
}

func defaultDriver() drivers.Driver {
	d, _ := drivers.Lookup(drivers.Default)
	return d
}

// TestValidateRefusesWhatTheDriverLacks: --compression with a driver whose
// library has no permessage-deflate is refused up front, naming the driver;
// without it the same plan is fine, and a driver that has it takes it.
func TestValidateRefusesWhatTheDriverLacks(t *testing.T) {
	xnet, err := drivers.Lookup("xnet")
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Scenario: sc("echo"), Servers: []string{"a"}, Driver: xnet, Runs: 1}
	p.Params.Conns, p.Params.Payload = 1, 64
	if err := p.Validate(); err != nil {
		t.Fatalf("xnet without compression: %v", err)
	}
	p.Params.Compression = true
	err = p.Validate()
	if err == nil || !strings.Contains(err.Error(), "driver xnet") || !strings.Contains(err.Error(), "--compression") {
		t.Fatalf("xnet with compression: %v, want a refusal naming the driver and --compression", err)
	}
	p.Driver, _ = drivers.Lookup("gorilla")
	if err := p.Validate(); err != nil {
		t.Fatalf("gorilla with compression: %v", err)
	}
}
