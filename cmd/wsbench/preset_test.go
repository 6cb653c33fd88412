package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
)

// TestEveryPresetRuns runs each built-in preset with tiny numbers: flags on
// the command line override the preset's values.
func TestEveryPresetRuns(t *testing.T) {
	names := scenarios.PresetNames()
	if len(names) < 4 {
		t.Fatalf("presets %v, want chat, game, idle-fleet and push at least", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, _ := scenarios.Preset(name)
			if presetDescription(data) == "" {
				t.Errorf("preset %s has no description", name)
			}
			file := filepath.Join(t.TempDir(), "r.json")
			code, out, errOut := wsbench(t, "run", name, "--servers", "gorilla", "--conns", "6", "--publishers", "2",
				"--duration", "400ms", "--warmup", "0s", "--ping-interval", "100ms", "--out", file)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			res, err := report.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			r := res.Records[0]
			if r.Conns != 6 || r.Status != report.StatusOK {
				t.Fatalf("record: conns %d status %s %q", r.Conns, r.Status, r.Reason)
			}
			var want struct{ scenario string }
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "scenario: "); ok {
					want.scenario = strings.TrimSpace(v)
				}
			}
			if r.Scenario != want.scenario {
				t.Fatalf("ran %s, preset says %s", r.Scenario, want.scenario)
			}
		})
	}
}

func TestPresetFileErrorsNameFieldAndLine(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"scenario: echo\nconns: 10\nburst: 3\n":          `:3: unknown field "burst"`,
		"scenario: echo\nduration: ten\n":                `:2: duration: "ten": want a duration`,
		"scenario: echo\nconns: many\n":                  `:2: conns: "many": want a number of connections`,
		"scenario: echo\npayload: 1x\n":                  `:2: payload: "1x": want a size`,
		"scenario: echo\nruns: lots\n":                   `:2: runs: "lots" is not a valid value`,
		"- just\n- a list\n":                             `:1: a preset is a mapping`,
		"scenario: broadcast\nconns: 5\npublishers: 9\n": `--publishers 9: must be between 1 and --conns (5)`,
	}
	for body, want := range cases {
		file := filepath.Join(dir, "p.yaml")
		os.WriteFile(file, []byte(body), 0o644)
		code, _, errOut := wsbench(t, "run", file)
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("preset %q: exit %d, stderr %q, want it to say %q", body, code, errOut, want)
		}
	}
	code, _, errOut := wsbench(t, "run", "nosuchpreset")
	if code != exitUsage || !strings.Contains(errOut, "built in: chat") {
		t.Errorf("unknown preset: exit %d, %q", code, errOut)
	}
}

// TestPresetAcceptsRunFlags: a preset file takes every run flag by its
// name, threshold as a list, and warns about a key its scenario ignores.
func TestPresetAcceptsRunFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	body := "scenario: echo\nservers: gorilla\nconns: 3\nduration: 300ms\nwarmup: 0s\nping_interval: 2s\n" +
		"out: " + filepath.Join(dir, "p.json") + "\nhtml: " + filepath.Join(dir, "p.html") + "\nformat: csv\nfail-on: none\n" +
		"threshold:\n  - errors==0\n  - p99<10s\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := wsbench(t, "run", file)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "scenario,mode,") || !strings.Contains(errOut, "✓ errors==0") || !strings.Contains(errOut, "✓ p99<10s") {
		t.Errorf("format or thresholds from the file not applied:\n%s\n%s", out, errOut)
	}
	if !strings.Contains(errOut, "p.yaml:6: ping_interval does not apply to the echo scenario") {
		t.Errorf("no warning for a key the scenario ignores:\n%s", errOut)
	}
	for _, f := range []string{"p.json", "p.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("out/html from the file: %v", err)
		}
	}
	for body, want := range map[string]string{
		"scenario: echo\nconns: [1, 2\n":                                    `p.yaml:2: did not find expected`,
		"target: ws://127.0.0.1:1/echo\nduration: 1s\nwarmup: 0s\n":         "target ws://127.0.0.1:1/echo unreachable",
		"scenario: heartbeat\nslo: p99=10ms\n":                              "warning",
		"scenario: echo\nrate: 5000:1000:500\nslo: p99=10ms\n":              "END must not be below START",
		"scenario: echo\nout: " + filepath.Join(dir, "no", "x.json") + "\n": "does not exist",
	} {
		os.WriteFile(file, []byte(body), 0o644)
		// Each is refused before a connection opens; should one start, it is short.
		args := []string{"run", file, "--duration", "1ms", "--warmup", "0s", "--conns", "1"}
		if !strings.Contains(body, "out:") {
			args = append(args, "--out", filepath.Join(dir, "r.json"))
		}
		if !strings.Contains(body, "target") {
			args = append(args, "--servers", "gorilla")
		}
		_, _, errOut := wsbench(t, args...)
		if !strings.Contains(errOut, want) {
			t.Errorf("preset %q: stderr %q, want %q", body, errOut, want)
		}
	}
}

// TestPresetHelpShowsItsScenarioAndSettings: `wsbench run chat --help`
// names what the preset sets and its scenario's own options, not only the
// general flags.
func TestPresetHelpShowsItsScenarioAndSettings(t *testing.T) {
	_, _, errOut := wsbench(t, "run", "chat", "--help")
	for _, want := range []string{"Options of the broadcast scenario", "--publishers int", "The run with preset chat", "publishers: 50 (line 6)", "scenario: broadcast"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("run chat --help lacks %q:\n%s", want, errOut)
		}
	}
	_, _, errOut = wsbench(t, "run", "chat", "--publishers", "7", "--help")
	if !strings.Contains(errOut, "publishers: 7") {
		t.Errorf("the command line's --publishers 7 not shown over the preset's:\n%s", errOut)
	}
}

// TestPresetTakesAHeaderList: header, like threshold, may be a list in a
// preset; each reaches the upgrade request.
func TestPresetTakesAHeaderList(t *testing.T) {
	url, upgrades := newGuardedService(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	t.Setenv("WSBENCH_TEST_TOKEN", testToken)
	body := "target: " + url + "\nconns: 2\nwarmup: 0s\nduration: 300ms\nsubprotocol: chat.v2\norigin: https://app.example.internal\n" +
		"out: " + filepath.Join(dir, "p.json") + "\nheader:\n  - 'Authorization: Bearer $WSBENCH_TEST_TOKEN'\n  - 'X-Api-Key: " + testAPIKey + "'\n  - 'Cookie: session=" + testCookie + "'\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := wsbench(t, "run", file)
	if code != exitOK || upgrades.Load() < 2 {
		t.Fatalf("exit %d, %d upgrades\n%s\n%s", code, upgrades.Load(), out, errOut)
	}
}
