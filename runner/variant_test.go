package runner

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// TestCellsAlternateVariants: an A/B run's variants are innermost, so the
// two halves of a pair run back to back, and their order flips every run
// (A B, B A), so each variant goes first equally often.
func TestCellsAlternateVariants(t *testing.T) {
	p := Plan{Scenario: sc("echo"), Servers: []string{"a", "b"}, Runs: 4,
		Variants: []report.Variant{{Name: "x"}, {Name: "y"}}}
	var order []string
	first := map[string]int{}
	for i, c := range p.Cells() {
		order = append(order, fmt.Sprintf("%d/%s", c.Run, c.Label()))
		if i%2 == 0 {
			first[c.Variant]++
		}
	}
	want := "1/a@x 1/a@y 1/b@x 1/b@y 2/a@y 2/a@x 2/b@y 2/b@x 3/a@x 3/a@y 3/b@x 3/b@y 4/a@y 4/a@x 4/b@y 4/b@x"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("order %s\nwant  %s", got, want)
	}
	if first["x"] != first["y"] {
		t.Errorf("x went first %d times, y %d: not balanced", first["x"], first["y"])
	}
}

// TestVariantsServeFromTheirOwnBinaryWithTheirArgs: each variant's servers
// are started from its binary with its arguments after the runner's, so
// they win: variant "tiny" limits messages to 64 bytes, and its cells
// alone see the server refuse the 256-byte echo.
func TestVariantsServeFromTheirOwnBinaryWithTheirArgs(t *testing.T) {
	t.Setenv("WSBENCH_TEST_SERVE", "1") // the test binary is every variant's wsbench
	d, _ := drivers.Lookup(drivers.Default)
	plan := Plan{Scenario: sc("echo"), Servers: []string{"gorilla"}, Driver: d, Params: quickParams(), Runs: 2,
		Settings: servers.DefaultSettings(),
		Variants: []report.Variant{{Name: "plain", Binary: os.Args[0]}, {Name: "tiny", Binary: os.Args[0], Args: []string{"--read-limit=64"}}}}
	recs := Run(context.Background(), plan, nil)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for i, r := range recs {
		wantVariant := []string{"plain", "tiny", "tiny", "plain"}[i]
		if r.Variant != wantVariant {
			t.Errorf("record %d is variant %q, want %q", i, r.Variant, wantVariant)
		}
		refused := r.Errors["read"]+r.Errors["closed"] > 0 || r.Status != report.StatusOK || len(r.CloseCodes) > 0
		if r.Variant == "plain" && !clean(r) {
			t.Errorf("plain run %d: %s %s, errors %v", r.Run, r.Status, r.Reason, r.Errors)
		}
		if r.Variant == "tiny" && !refused {
			t.Errorf("tiny run %d took 256-byte messages with --read-limit=64: its args did not reach its server (%s, errors %v)", r.Run, r.Status, r.Errors)
		}
	}
}

func TestCheckVariantRefusesAnotherSchemaOrProtocol(t *testing.T) {
	dir := t.TempDir()
	fake := func(name, answer string) string {
		path := dir + "/" + name
		script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo '" + answer + "'; exit 0; fi\nif [ \"$1\" = serve ]; then for a; do case $a in --bogus*) echo 'flag provided but not defined: -bogus' >&2; exit 2;; esac; done; exit 0; fi\nexit 2\n"
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	self := report.BuildInfo{WsbenchVersion: "v1.2.0", Schema: report.Schema, ServeProtocol: servers.Protocol}
	ctx := context.Background()

	v := report.Variant{Name: "old", Binary: fake("old", `{"wsbench_version":"v0.9.0","schema":"wsbench/v0","serve_protocol":"wsbench-serve/0"}`)}
	err := CheckVariant(ctx, &v, self)
	for _, want := range []string{"old=", "v0.9.0", "wsbench/v0", "wsbench-serve/0", "v1.2.0", report.Schema, servers.Protocol} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mismatched binary: error %v does not name %q", err, want)
		}
	}

	v = report.Variant{Name: "mute", Binary: fake("mute", `not json`)}
	if err := CheckVariant(ctx, &v, self); err == nil || !strings.Contains(err.Error(), "did not say its schema") {
		t.Errorf("binary without a version answer: %v", err)
	}

	good := `{"wsbench_version":"v1.2.1","schema":"` + report.Schema + `","serve_protocol":"` + servers.Protocol + `","libraries":{"github.com/gorilla/websocket":"v1.5.1"}}`
	v = report.Variant{Name: "pr", Binary: fake("pr", good), Args: []string{"--bogus=1"}}
	if err := CheckVariant(ctx, &v, self); err == nil || !strings.Contains(err.Error(), "does not take --bogus=1") || !strings.Contains(err.Error(), "not defined") {
		t.Errorf("bad serve args: %v", err)
	}
	v = report.Variant{Name: "pr", Binary: fake("pr2", good), Args: []string{"--gogc=400"}}
	if err := CheckVariant(ctx, &v, self); err != nil {
		t.Fatalf("good binary refused: %v", err)
	}
	if v.Build.Libraries["github.com/gorilla/websocket"] != "v1.5.1" || v.Build.WsbenchVersion != "v1.2.1" {
		t.Errorf("build info not recorded: %+v", v.Build)
	}
}

func TestModuleVersionNamesReplacements(t *testing.T) {
	for _, c := range []struct {
		d    debug.Module
		want string
	}{
		{debug.Module{Path: "github.com/gorilla/websocket", Version: "v1.5.3"}, "v1.5.3"},
		{debug.Module{Version: "v1.5.3", Replace: &debug.Module{Path: "github.com/gorilla/websocket", Version: "v1.5.1"}}, "v1.5.1 (replaced)"},
		{debug.Module{Version: "v1.5.3", Replace: &debug.Module{Path: "../websocket-pr", Version: "(devel)"}}, "=> ../websocket-pr"},
		{debug.Module{Version: "v1.5.3", Replace: &debug.Module{Path: "/src/ws"}}, "=> /src/ws"},
	} {
		if got := moduleVersion(&c.d); got != c.want {
			t.Errorf("moduleVersion(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}
