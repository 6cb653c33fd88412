package runner

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/scenarios"
	"github.com/wsbench/wsbench/servers"
)

// TestMain lets the test binary stand in for `wsbench serve`, so runner
// tests start real server processes without building the CLI first.
func TestMain(m *testing.M) {
	if os.Getenv("WSBENCH_TEST_SERVE") == "1" {
		os.Exit(testServe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func testServe(args []string) int {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:] // started as an A/B variant's binary: BINARY serve …
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg servers.ServeConfig
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := servers.Lookup(cfg.Name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if d, err := time.ParseDuration(os.Getenv("WSBENCH_TEST_DIE_AFTER")); err == nil {
		go func() {
			time.Sleep(d)
			fmt.Fprintln(os.Stderr, "test server dying on purpose")
			os.Exit(3)
		}()
	}
	if err := servers.Serve(ctx, srv, cfg.Listen, cfg.Settings, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testServeCommand runs this test binary as `wsbench serve`, with extra
// environment variables.
func testServeCommand(env ...string) ServeCommand {
	return func(args []string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(append(os.Environ(), "WSBENCH_TEST_SERVE=1"), env...)
		return cmd
	}
}

// quickParams keep runner tests short.
func quickParams() scenarios.Params {
	return scenarios.Params{Conns: 8, Payload: 256, Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond}
}

// clean reports a record measured without failure, errors or integrity
// faults. Unlike Record.Marked it ignores the client-bound flag: tests share
// a small machine with other tests, so the load generator may well be
// saturated, and that is not what these tests check.
func clean(r report.Record) bool {
	return r.Status == report.StatusOK && r.ErrorCount() == 0 && r.Integrity.Faults() == 0 &&
		(r.Heartbeat == nil || r.Heartbeat.Missed+r.Heartbeat.ClosedByServer == 0) &&
		(r.Broadcast == nil || r.Broadcast.IncompleteFanouts == 0)
}

// wsURL is the WebSocket URL of path on an httptest server.
func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// sc is the named built-in scenario.
func sc(name string) scenarios.Scenario {
	s, err := scenarios.Lookup(name)
	if err != nil {
		panic(err)
	}
	return s
}
