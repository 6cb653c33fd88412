package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsbench/wsbench/drivers"
	"github.com/wsbench/wsbench/report"
	"github.com/wsbench/wsbench/servers"
)

// startServe runs a reference server in its own process (this test binary
// as `wsbench serve`) and returns its address.
func startServe(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--server", name, "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("no ready line from wsbench serve")
	}
	addr, _, err := servers.ParseReady(sc.Text())
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestThreeShardsMergeIntoTheWhole: three shard processes against one
// server, one start instant; merged, their counts, rate and histograms are
// the shards' sums and the totals asked for.
func TestThreeShardsMergeIntoTheWhole(t *testing.T) {
	const conns, rate = 31, 900
	url := "ws://" + startServe(t, "gorilla") + "/echo"
	dir := t.TempDir()
	startAt := time.Now().Add(2500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	var files []string
	var cmds []*exec.Cmd
	var logs []*bytes.Buffer
	for i := range 3 {
		f := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		files = append(files, f)
		cmd := exec.Command(os.Args[0], "run", "--target", url, "--conns", fmt.Sprint(conns), "--rate", fmt.Sprint(rate),
			"--shard", fmt.Sprintf("%d/3", i), "--start-at", startAt, "--duration", "1s", "--warmup", "300ms", "--out", f)
		cmd.Env = append(os.Environ(), "WSBENCH_TEST_CLI=1")
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, logs = append(cmds, cmd), append(logs, &log)
	}
	var shards []report.Record
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, logs[i])
		}
		res, err := report.Load(files[i])
		if err != nil {
			t.Fatal(err)
		}
		r := res.Records[0]
		if r.Shard == nil || r.Shard.Index != i || r.Shard.Count != 3 || r.Shard.LateS != 0 {
			t.Fatalf("shard %d record: %+v", i, r.Shard)
		}
		// The target is a wsbench serve: its /stats fill the server columns.
		if r.RemoteServer != "gorilla" || r.ServerCPUS == nil || *r.ServerCPUS <= 0 || r.ServerClockSkewS == nil {
			t.Fatalf("shard %d: remote server %q, cpu %v, skew %v", i, r.RemoteServer, r.ServerCPUS, r.ServerClockSkewS)
		}
		// That CPU is the whole server's: a shard divides it by no one's
		// messages, and its table says whose it is.
		if r.ServerCPUPerMillion != nil {
			t.Errorf("shard %d: server CPU per 1M %v from the whole server's CPU over this shard's messages", i, *r.ServerCPUPerMillion)
		}
		code, out, errOut := wsbench(t, "report", files[i])
		flat := strings.Join(strings.Fields(out), " ")
		if code != exitOK || !strings.Contains(flat, "(whole server)") || !strings.Contains(flat, "after merge") ||
			!strings.Contains(flat, fmt.Sprintf("This is shard %d (of 0–2)", i)) {
			t.Errorf("shard %d's table: exit %d %s\n%s", i, code, errOut, out)
		}
		shards = append(shards, r)
	}
	// 31 = 11 + 10 + 10; 900/s = 300/s each.
	if shards[0].Conns != 11 || shards[1].Conns != 10 || shards[2].Conns != 10 || shards[0].OpenLoop.TargetRate != 300 {
		t.Fatalf("shares: %d, %d, %d conns; %g/s", shards[0].Conns, shards[1].Conns, shards[2].Conns, shards[0].OpenLoop.TargetRate)
	}
	spread := shards[0].Shard.OpenedAt.Sub(shards[2].Shard.OpenedAt).Abs()
	if spread > 100*time.Millisecond {
		t.Errorf("windows opened %s apart: the start instant did not hold", spread)
	}

	merged := filepath.Join(dir, "merged.json")
	code, _, errOut := wsbench(t, append(append([]string{"merge"}, files...), "-o", merged, "--format", "none")...)
	if code != exitOK || !strings.Contains(errOut, "opened within") {
		t.Fatalf("merge: exit %d %s", code, errOut)
	}
	_, out, _ := wsbench(t, "report", merged, "--wide")
	// The merged table: the server's CPU per message of every shard; the
	// client CPU share labelled as one generator's, each one's listed.
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"busiest of 3", "Merged from 3 shards, 3 load generators against one server", "generators: shard 0 ", "; shard 2 "} {
		if !strings.Contains(flat, want) {
			t.Errorf("merged table lacks %q:\n%s", want, out)
		}
	}
	res, err := report.Load(merged)
	if err != nil || len(res.Records) != 1 {
		t.Fatalf("merged: %v, %d records", err, len(res.Records))
	}
	m := res.Records[0]
	var count int64
	var msgs, due uint64
	for _, s := range shards {
		count += s.Latency.Count
		msgs += s.Messages
		due += s.Accounting.Due
	}
	if m.Conns != conns || m.OpenLoop.TargetRate != rate || m.Shard != nil {
		t.Fatalf("merged: %d conns at %g/s", m.Conns, m.OpenLoop.TargetRate)
	}
	if m.Latency.Count != count || m.Messages != msgs || m.Accounting.Due != due {
		t.Fatalf("merged: %d latencies, %d messages, %d due; the shards' sums are %d, %d, %d", m.Latency.Count, m.Messages, m.Accounting.Due, count, msgs, due)
	}
	if want := rate * m.DurationS; float64(due) < 0.95*want || float64(due) > 1.05*want {
		t.Fatalf("%d due in the merged window of %.2fs; %.0f asked", due, m.DurationS, want)
	}
	if m.ServerCPUS == nil || *m.ServerCPUS != *shards[0].ServerCPUS || m.ServerCPUPerMillion == nil || *m.ServerCPUPerMillion != *m.ServerCPUS/float64(msgs)*1e6 {
		t.Fatalf("merged server CPU %v per 1M %v, want shard 0's %v over all %d messages: one server, one reading", m.ServerCPUS, m.ServerCPUPerMillion, *shards[0].ServerCPUS, msgs)
	}
	if m.ClientCPUS != shards[0].ClientCPUS+shards[1].ClientCPUS+shards[2].ClientCPUS || len(m.Merged.Clients) != 3 {
		t.Fatalf("merged client CPU %vs, %d generators: want the shards' sum and each", m.ClientCPUS, len(m.Merged.Clients))
	}
	h, err := m.Latency.Histogram()
	if err != nil || h.TotalCount() != count || m.Latency.Max < shards[0].Latency.Max {
		t.Fatalf("merged histogram: %v, %d values, max %d", err, h.TotalCount(), m.Latency.Max)
	}

	// What is not the shards of one plan is refused, naming why; so is
	// a missing shard, by index.
	other := filepath.Join(dir, "other-plan.json")
	res, err = report.Load(files[2])
	if err != nil {
		t.Fatal(err)
	}
	res.Records[0].Shard.Count = 4
	if err := report.Save(other, res); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "copy-of-shard-0.json")
	if data, err := os.ReadFile(files[0]); err != nil || os.WriteFile(copied, data, 0o644) != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.json")
	if code, _, errOut := wsbench(t, "run", "--target", url, "--conns", "2", "--duration", "200ms", "--warmup", "0s", "--out", plain); code != exitOK {
		t.Fatalf("unsharded run: exit %d %s", code, errOut)
	}
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{files[0], files[1]}, "shard 2 (of 0–2) missing"},
		{[]string{files[0], files[0]}, files[0] + " is given twice"},
		{[]string{files[0], copied, files[1], files[2]}, "shard 0 (of 0–2) given twice (" + files[0] + " and " + copied + ")"},
		{[]string{plain, plain}, plain + " is given twice"},
		{[]string{plain}, plain + " holds no shards (it was not run with --shard I/N)"},
		{[]string{files[0], files[1], other}, other + " is shard 2 of 4 and " + files[0] + " shard 0 of 3: shards of different plans"},
	} {
		code, _, errOut := wsbench(t, append(append([]string{"merge"}, c.files...), "-o", filepath.Join(dir, "refused.json"), "--format", "none")...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("merge %v: exit %d %q, want %q", c.files, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "refused.json")); err == nil {
		t.Error("a refused merge wrote its file")
	}
}

func TestShardFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "3/3", "--target", "ws://127.0.0.1:1/echo"}, "0 ≤ index < count"},
		{[]string{"--shard", "1/3"}, "--target"},
		{[]string{"--shard", "x"}, "want I/N"},
		{[]string{"--shards", "4", "--target", "ws://127.0.0.1:1/echo"}, "JOB_COMPLETION_INDEX"},
		{[]string{"--start-at", "tomorrow"}, "RFC 3339"},
		{[]string{"--conns", "2", "--shard", "2/3", "--target", "ws://127.0.0.1:1/echo"}, "--conns 2 over 3 shards leaves shard 2 of 3 no connection"},
		{[]string{"--runs", "3", "--shard", "0/2", "--target", "ws://127.0.0.1:1/echo"}, "with 3 cells (--runs 3"},
		{[]string{"--rate", "100:300:100", "--slo", "p99=10ms", "--shard", "0/2", "--target", "ws://127.0.0.1:1/echo"}, "a capacity search) with --shard"},
		{[]string{"--scenario", "reconnect", "--fault-cmd", "true", "--shard", "1/2", "--target", "ws://127.0.0.1:1/echo"}, "needs --start-at"},
	} {
		code, _, errOut := wsbench(t, append([]string{"run"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestParseSources(t *testing.T) {
	ips, err := parseSources("127.0.0.2-127.0.0.4,::1")
	if err != nil || len(ips) != 4 || ips[0].String() != "127.0.0.2" || ips[2].String() != "127.0.0.4" || ips[3].String() != "::1" {
		t.Fatalf("%v %v", ips, err)
	}
	for _, bad := range []string{"x", "127.0.0.9-127.0.0.2", "127.0.0.2-127.0.1.3"} {
		if _, err := parseSources(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSourcesSpreadTheConnections: with --source, a target sees the
// connections come from every address given.
func TestSourcesSpreadTheConnections(t *testing.T) {
	var mu sync.Mutex
	from := map[string]int{}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			http.NotFound(w, r) // the runner asks every target for /stats
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host]++
		mu.Unlock()
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, p, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, p) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := wsbench(t, "run", "--target", "ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", "--conns", "9",
		"--source", "127.0.0.2-127.0.0.4", "--duration", "300ms", "--warmup", "0s", "--out", filepath.Join(t.TempDir(), "r.json"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	// 9 connections round-robin, and the reachability check from the first.
	if len(from) != 3 || from["127.0.0.2"] != 4 || from["127.0.0.3"] != 3 || from["127.0.0.4"] != 3 {
		t.Fatalf("connections from %v, want 3 from each of 127.0.0.2-4 (and the check from .2)", from)
	}
}

// TestPlainHTTPTargetNamesItsStatus: a target that answers HTTP without
// upgrading is reported by the status it answered, with every driver, not
// as unreachable.
func TestPlainHTTPTargetNamesItsStatus(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusOK} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprintln(w, "<html>a web page</html>")
		}))
		t.Cleanup(srv.Close)
		for _, d := range drivers.Names() {
			code, out, errOut := wsbench(t, "run", "--target", "ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", "--driver", d,
				"--conns", "1", "--duration", "300ms", "--warmup", "0s", "--out", filepath.Join(t.TempDir(), "r.json"))
			want := fmt.Sprintf("answered HTTP %d (want 101 Switching Protocols)", status)
			if code != exitUsage || out != "" || !strings.Contains(errOut, want) || strings.Contains(errOut, "unreachable") {
				t.Errorf("%d via %s: exit %d, stderr %q; want a usage error saying %q", status, d, code, errOut, want)
			}
		}
	}
}

// TestSourceCheckedBeforeTheRun: a --source address this machine does not
// have is refused by name before any connection is tried; loopback ones
// pass. 192.0.2.1 (TEST-NET-1) is on no interface here, and binding to it
// sends nothing.
func TestSourceCheckedBeforeTheRun(t *testing.T) {
	if err := checkSources([]net.IP{net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.9"), net.ParseIP("127.0.0.1")}); err != nil {
		t.Fatalf("loopback sources refused: %v", err)
	}
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	code, out, errOut := wsbench(t, "run", "--target", "ws"+strings.TrimPrefix(srv.URL, "http")+"/echo",
		"--source", "127.0.0.2,192.0.2.1", "--duration", "300ms", "--warmup", "0s", "--out", filepath.Join(t.TempDir(), "r.json"))
	if code != exitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q; want a usage error", code, out)
	}
	for _, want := range []string{"--source 192.0.2.1", "cannot assign requested address"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not say %q", errOut, want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the target saw %d requests; the check must come before any dial", n)
	}
}

func TestFaultFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "reconnect"}, "needs a fault"},
		{[]string{"--fault", "kill"}, "only to reconnect"},
		{[]string{"--scenario", "reconnect", "--fault", "explode"}, "want term, kill, stop or restart"},
		{[]string{"--scenario", "reconnect", "--fault-cmd", "true"}, "plays the fault of a --target"},
		{[]string{"--scenario", "reconnect", "--fault", "kill", "--target", "ws://127.0.0.1:1/echo"}, "--fault-cmd"},
		{[]string{"--scenario", "reconnect", "--fault", "stop", "--fault-at", "8s", "--fault-for", "3s", "--duration", "10s"}, "must end inside --duration"},
		{[]string{"--scenario", "reconnect", "--fault", "stop", "--backoff", "linear"}, "--backoff \"linear\""},
	} {
		code, _, errOut := wsbench(t, append([]string{"run"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}
