package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
)

// TestBadClientsHelpAndRefusals: `--bad-clients help` lists every kind
// and exits 0; a bad spec is refused before anything starts, naming what
// was wrong.
func TestBadClientsHelpAndRefusals(t *testing.T) {
	code, out, _ := wsbench(t, "run", "--bad-clients", "help")
	if code != exitOK {
		t.Fatalf("help: exit %d", code)
	}
	for _, kind := range []string{"non-reader", "slow-reader", "trickle", "stalled-upgrade", "idle-tcp", "oversize", "ping-flood", "deflate-bomb", "vanish"} {
		if !strings.Contains(out, kind) {
			t.Errorf("help does not name %s", kind)
		}
	}
	for args, want := range map[string]string{
		"--bad-clients slow-loris=3":                     "slow-loris",
		"--bad-clients deflate-bomb=1":                   "compression",
		"--scenario connect --bad-clients idle-tcp=2":    "measures its connect phase",
		"--conns 10,20 --bad-clients non-reader=10%":     "give counts, not percentages",
		"--bad-clients idle-tcp=2 --server-mem-cap lots": "--server-mem-cap",
		"--bad-clients idle-tcp=99999 --servers gorilla": "open-file limit",
	} {
		code, _, errOut := wsbench(t, append([]string{"run"}, strings.Fields(args)...)...)
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d %q, want %d naming %q", args, code, errOut, exitUsage, want)
		}
	}
}

// TestBadClientsRunAsPairs: one server, two runs: clean, bad, clean, bad
// in the file, the clean ones labelled none, the bad ones with what the
// server did to each idle socket, and a verdict row on stdout.
func TestBadClientsRunAsPairs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.json")
	code, out, errOut := wsbench(t, "run", "--servers", "gorilla", "--conns", "4", "--rate", "200", "--warmup", "100ms", "--duration", "500ms",
		"--runs", "2", "--bad-clients", "idle-tcp=3", "--out", file)
	if code != exitOK && code != exitDegraded {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	res, err := report.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var specs []string
	for _, r := range res.Records {
		if r.BadClients == nil {
			t.Fatalf("record without bad_clients: %+v", r)
		}
		specs = append(specs, r.BadClients.Spec)
		if !r.BadClients.Clean() {
			k := r.BadClients.Kinds
			if len(k) != 1 || k[0].Kind != "idle-tcp" || k[0].Clients != 3 || r.BadClients.Server == nil || r.BadClients.Server.With.OpenFiles < r.BadClients.Server.Before.OpenFiles {
				t.Errorf("bad cell recorded %+v, server %+v", k, r.BadClients.Server)
			}
		}
	}
	if got := strings.Join(specs, ","); got != "none,idle-tcp=3,none,idle-tcp=3" {
		t.Errorf("cells ran as %s, want clean and bad interleaved", got)
	}
	if !strings.Contains(out, "bad clients idle-tcp=3: what they did to the good clients") {
		t.Errorf("no verdict table on stdout:\n%s", out)
	}
}
