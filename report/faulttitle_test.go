package report

import (
	"strings"
	"testing"
)

// reconnectRecord is a reconnect cell of server, its fault acted on at
// at (by the clock) though planned at 2 s.
func reconnectRecord(server string, at float64, f Fault) Record {
	f.AtS, f.PlanAtS = at, 2
	return Record{Scenario: "reconnect", Mode: "reconnect", Server: server, Driver: "gorilla", Conns: 10, PayloadBytes: 64,
		Run: 1, Status: StatusOK, DurationS: 10, WarmupS: 1, Messages: 100, ThroughputMsgsPerS: 10,
		Heartbeat: &Heartbeat{PingIntervalS: 1, PongTimeoutS: 1}, Labels: map[string]string{"backoff": "none"}, Fault: &f}
}

// TestAFaultStruckLateByTheClockKeepsOneTable: the servers of one run,
// their faults 2.00 s and 2.03 s into the window by the clock, share one
// table titled with the planned instant.
func TestAFaultStruckLateByTheClockKeepsOneTable(t *testing.T) {
	res := &Result{Records: []Record{
		reconnectRecord("gorilla", 2.0, Fault{Kind: "kill", ForS: 3, DownS: 3.2}),
		reconnectRecord("gws", 2.03, Fault{Kind: "kill", ForS: 3, DownS: 3.4}),
	}}
	gs := groups(res)
	if len(gs) != 1 {
		t.Fatalf("%d tables, want one: %q", len(gs), titles(gs))
	}
	if !strings.Contains(gs[0].title, "fault kill for 3.00s at 2.00s ·") {
		t.Fatalf("title %q: want the planned fault", gs[0].title)
	}
	// A file written before plan_at_s still shows when the fault struck.
	old := reconnectRecord("gorilla", 2.03, Fault{Kind: "kill", ForS: 3})
	old.Fault.PlanAtS = 0
	if title := groups(&Result{Records: []Record{old}})[0].title; !strings.Contains(title, "at 2.03s") {
		t.Fatalf("title %q: want the instant recorded", title)
	}
}

// TestAFaultCmdTitleShowsWhatItTook: a user's command decides how long the
// target is down: the title shows what it took over the table's runs and
// its bound, not --fault-for, and runs that took different times still
// share one table.
func TestAFaultCmdTitleShowsWhatItTook(t *testing.T) {
	cmd := func(down float64) Fault {
		return Fault{Kind: "cmd", Cmd: "systemctl restart chat", DownS: down, CmdTimeoutS: 8}
	}
	a, b := reconnectRecord("", 2.0, cmd(3.1)), reconnectRecord("", 2.01, cmd(3.42))
	a.Target, b.Target, b.Run = "ws://127.0.0.1:9000/ws", "ws://127.0.0.1:9000/ws", 2
	gs := groups(&Result{Records: []Record{a, b}})
	if len(gs) != 1 {
		t.Fatalf("%d tables, want one: %q", len(gs), titles(gs))
	}
	want := `fault "systemctl restart chat" at 2.00s, ran 3.10–3.42s (bound 8.00s)`
	if !strings.Contains(gs[0].title, want) || strings.Contains(gs[0].title, " for ") {
		t.Fatalf("title %q: want %q", gs[0].title, want)
	}
	// Killed at its bound, the command took no measured time to show.
	a.Fault.DownS = 0
	if title := groups(&Result{Records: []Record{a}})[0].title; strings.Contains(title, "ran") || !strings.Contains(title, "(bound 8.00s)") {
		t.Fatalf("title %q: want the bound and no run time", title)
	}
}

func titles(gs []group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.title)
	}
	return out
}
