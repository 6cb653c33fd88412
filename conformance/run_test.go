package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/runner"
	"github.com/wsbench/wsbench/servers"
)

// TestMain lets the test binary stand in for a server process: a strict
// echo server that crashes on a close with status 4999, started through
// the runner's process model as a reference server is.
func TestMain(m *testing.M) {
	if os.Getenv("WSBENCH_CONFORMANCE_TEST_CHILD") == "1" {
		var name, ids string
		for i, a := range os.Args {
			switch a {
			case "--child-driver":
				name = os.Args[i+1]
			case "--cases":
				ids = os.Args[i+1]
			}
		}
		if err := RunDriverChild(context.Background(), name, Options{IDs: strings.Split(ids, ",")}, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("WSBENCH_CONFORMANCE_TEST_SERVE") == "1" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(2)
		}
		s := &echoServer{ln: ln, checkUTF8: true, checkRSV: true, readLimit: 1 << 20, exitOn: 4999}
		fmt.Printf("wsbench serve: ready server=crashy addr=%s pid=%d\n", ln.Addr(), os.Getpid())
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			go s.serve(c)
		}
	}
	os.Exit(m.Run())
}

func crashyServe(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WSBENCH_CONFORMANCE_TEST_SERVE=1")
	return cmd
}

func testChild(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), "WSBENCH_CONFORMANCE_TEST_CHILD=1")
	return cmd
}

// panickyDriver is gorilla's driver with a flaw: an empty message makes it
// panic in a goroutine of its own, where no recover reaches, as a library's
// read loop can.
type panickyDriver struct{ drivers.Driver }

func (panickyDriver) Name() string { return "panicky" }

func (p panickyDriver) Dial(ctx context.Context, url string, opts drivers.DialOptions) (drivers.Conn, error) {
	c, err := p.Driver.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return panickyConn{c}, nil
}

type panickyConn struct{ drivers.Conn }

func (c panickyConn) ReadMessage(buf []byte) (drivers.MessageType, []byte, error) {
	t, p, err := c.Conn.ReadMessage(buf)
	if err == nil && len(p) == 0 {
		done := make(chan struct{})
		go func() { defer close(done); panic("boom in the driver's own goroutine") }()
		<-done
	}
	return t, p, err
}

func init() {
	if d, err := drivers.Lookup("gorilla"); err == nil {
		drivers.Register(panickyDriver{d})
	}
}

// TestDriverCrashIsTheCaseOutcome: a driver that panics in its own
// goroutine kills the child process playing it; that case fails with the
// panic's message, and a new child plays the rest.
func TestDriverCrashIsTheCaseOutcome(t *testing.T) {
	got, err := RunDriverProcess(context.Background(), "panicky", Options{IDs: []string{"framing.1", "framing.3", "framing.4"}}, testChild)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cases) != 3 || got.Restarts != 1 {
		t.Fatalf("%d cases, %d restarts: %+v", len(got.Cases), got.Restarts, got.Cases)
	}
	if c := got.Cases[0]; c.ID != "framing.1" || c.Outcome != Fail || !strings.Contains(c.Reason, "panic: boom in the driver's own goroutine") {
		t.Errorf("the empty message: %+v, want a fail quoting the panic", c)
	}
	for _, c := range got.Cases[1:] {
		if c.Outcome != Pass {
			t.Errorf("%s after the crash: %s %s", c.ID, c.Outcome, c.Reason)
		}
	}
}

// TestCrashIsTheCaseOutcome plays the close group against a server process
// that exits on one case: that case fails naming the crash, the server is
// restarted once, and the cases after it are played against the new one.
func TestCrashIsTheCaseOutcome(t *testing.T) {
	sub := ServerSubject{Name: "crashy", Serve: func(ctx context.Context) (*runner.ServerProcess, error) {
		return runner.StartServerProcess(ctx, crashyServe, "crashy", servers.DefaultSettings(), 5*time.Second)
	}}
	got, err := RunServer(context.Background(), sub, Options{IDs: []string{"close"}, ReadLimit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if got.Restarts != 1 {
		t.Errorf("%d restarts, want 1", got.Restarts)
	}
	crashed := ""
	for i, c := range got.Cases {
		info := byID(c.ID)
		switch {
		case strings.Contains(info.Title, "status 4999"):
			crashed = c.ID
			if c.Outcome != Fail || !strings.Contains(c.Reason, "crashed") {
				t.Errorf("%s (%s): %s %q, want a fail naming the crash", c.ID, info.Title, c.Outcome, c.Reason)
			}
		case crashed != "" && (c.Outcome == Fail || c.Outcome == Timeout):
			t.Errorf("%s after the crash: %s %s", c.ID, c.Outcome, c.Reason)
		case i == len(got.Cases)-1 && crashed == "":
			t.Errorf("no case crashed the server")
		}
	}
}

// TestDriverSide plays cases against a real driver through the raw
// server. gorilla/websocket does not validate UTF-8 on read (its
// documentation says so), so the invalid-text cases fail and say why;
// framing, ping/pong and fragmentation pass.
func TestDriverSide(t *testing.T) {
	d, err := drivers.Lookup("gorilla")
	if err != nil {
		t.Skip(err)
	}
	got, err := RunDriver(context.Background(), d, Options{Groups: []string{"framing", "pingpong", "fragmentation", "utf8"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Side != "client" || len(got.Cases) == 0 {
		t.Fatalf("subject %+v", got)
	}
	for _, c := range got.Cases {
		info := byID(c.ID)
		switch {
		case c.Group != "utf8" && c.Outcome != Pass:
			t.Errorf("%s (%s): %s %s", c.ID, info.Title, c.Outcome, c.Reason)
		case strings.HasPrefix(info.Title, "invalid text:") && (c.Outcome != Fail || !strings.Contains(c.Reason, "accepted the violation")):
			t.Errorf("%s (%s): %s %s, want a fail: gorilla echoes invalid UTF-8", c.ID, info.Title, c.Outcome, c.Reason)
		case strings.HasPrefix(info.Requirement, reqUTF8Valid) && c.Outcome != Pass:
			t.Errorf("%s (%s): %s %s", c.ID, info.Title, c.Outcome, c.Reason)
		}
		if len(c.FramesSent) == 0 {
			t.Errorf("%s records no frames sent", c.ID)
		}
	}
}

// TestGateCountsOnlyNewOutcomes checks --fail-on with and without a
// baseline.
func TestGateCountsOnlyNewOutcomes(t *testing.T) {
	mk := func(outcomes ...Outcome) *Result {
		s := Subject{Name: "lib", Side: "server"}
		for i, o := range outcomes {
			s.Cases = append(s.Cases, CaseResult{ID: fmt.Sprintf("utf8.%d", i+1), Group: "utf8", Outcome: o})
		}
		return &Result{Schema: Schema, Subjects: []Subject{s}}
	}
	old := mk(Pass, Fail, Timeout)
	cur := mk(Fail, Fail, Timeout)
	if b := Gate(cur, []Outcome{Fail}, nil); len(b) != 2 {
		t.Errorf("no baseline: %d breaches, want 2 (every fail)", len(b))
	}
	b := Gate(cur, []Outcome{Fail, Timeout}, old)
	if len(b) != 1 || b[0].Case.ID != "utf8.1" || b[0].Was != Pass {
		t.Errorf("with a baseline: %+v, want only utf8.1, which was pass", b)
	}
	if b := Gate(cur, nil, nil); len(b) != 0 {
		t.Errorf("--fail-on none: %d breaches", len(b))
	}
}

// TestRenderers checks the markdown and HTML reports hold the summary, a
// table per library, the disagreements with their requirement and the
// per-case matrix.
func TestRenderers(t *testing.T) {
	strict, sloppy := startEchoServer(t, true), startEchoServer(t, false)
	r := &Result{Schema: Schema}
	for _, c := range All() {
		if c.Group == "rsv" {
			r.Cases = append(r.Cases, c.Info())
		}
	}
	for name, url := range map[string]string{"strict": strict.url(), "sloppy": sloppy.url()} {
		s, err := RunServer(context.Background(), ServerSubject{Name: name, URL: url}, Options{Groups: []string{"rsv"}})
		if err != nil {
			t.Fatal(err)
		}
		r.Subjects = append(r.Subjects, s)
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	n := len(r.Cases)
	for _, want := range []string{
		"| strict | server | " + fmt.Sprint(n) + " | 0 | 0 | 0 | 0 |",
		"| sloppy | server | 0 | 0 | " + fmt.Sprint(n) + " | 0 | 0 |",
		"## sloppy (server)", "| rsv | 0 | 0 | " + fmt.Sprint(n) + " |",
		"## Where libraries disagree", "**rsv.1**", "MUST be 0 unless an extension is negotiated",
		"| rsv.1 | text message with RSV=1 | ",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var html bytes.Buffer
	if err := RenderHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<td class="fail"`, `<td class="pass"`, "rsv.18", "accepted the violation"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	var txt bytes.Buffer
	if err := RenderText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), fmt.Sprintf("sloppy (server): %d failed", n)) {
		t.Errorf("text lacks the sloppy server's failures:\n%s", txt.String())
	}
}

// TestDriverWithoutDeflateIsUnsupportedNotRefused: a driver whose library
// has no permessage-deflate (xnet) offers none, so it connects for every
// case and its deflate cases are unsupported; before, each of its cases
// failed at Dial after the raw server's accept timeout.
func TestDriverWithoutDeflateIsUnsupportedNotRefused(t *testing.T) {
	d, err := drivers.Lookup("xnet")
	if err != nil || drivers.LacksOf(d).Compression == "" {
		t.Skip("no driver without compression here")
	}
	out, err := RunDriver(context.Background(), d, Options{Groups: []string{"framing", "deflate"}})
	if err != nil {
		t.Fatal(err)
	}
	tot := map[string]map[Outcome]int{}
	for _, c := range out.Cases {
		if tot[c.Group] == nil {
			tot[c.Group] = map[Outcome]int{}
		}
		tot[c.Group][c.Outcome]++
		if strings.Contains(c.Reason, "did not connect") {
			t.Errorf("%s: %s", c.ID, c.Reason)
		}
	}
	if tot["framing"][Pass] == 0 || tot["deflate"][Unsupported] == 0 {
		t.Errorf("outcomes by group %v: want framing cases passing and deflate ones unsupported", tot)
	}
}
