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
