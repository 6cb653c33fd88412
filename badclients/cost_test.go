package badclients

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// childServerEnv makes the test binary an echo server in its own process,
// so the heap the cost test measures is the clients' alone.
const childServerEnv = "BADCLIENTS_TEST_ECHO_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(childServerEnv) == "1" {
		serveEcho()
		return
	}
	os.Exit(m.Run())
}

// serveEcho runs a gorilla echo server on 127.0.0.1, prints its address
// and exits when its stdin closes.
func serveEcho() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	up := websocket.Upgrader{}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			c.SetReadLimit(64 << 10)
			for {
				op, p, err := c.ReadMessage()
				if err != nil || c.WriteMessage(op, p) != nil {
					return
				}
			}
		}))
	}()
	fmt.Println(ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// echoProcess starts the echo server process and returns its ws:// URL.
func echoProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("echo server process: %v", err)
	}
	return "ws://" + strings.TrimSpace(line) + "/echo"
}

// TestGeneratorCostPerClient: 500 bad clients of the kinds that hold a
// connection open cost the generator a few KiB each: heap (socket, client
// state, a 512-byte buffer) and goroutine stack are measured after GC
// with runtime.MemStats, the server running in another process.
func TestGeneratorCostPerClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 500 connections")
	}
	url := echoProcess(t)
	s, err := Parse("non-reader=200,slow-reader=100,trickle=100,idle-tcp=100", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(s.Total())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := Start(ctx, url, s)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Started():
	case <-time.After(20 * time.Second):
		t.Fatal("500 clients did not start in 20 s")
	}
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(n)
	stack := (int64(after.StackInuse) - int64(before.StackInuse)) / int64(n)
	t.Logf("per bad client: heap %d B, goroutine stack %d B", heap, stack)
	if heap > 16<<10 {
		t.Errorf("heap per bad client %d B, want under 16 KiB", heap)
	}
	if stack > 16<<10 {
		t.Errorf("stack per bad client %d B, want under 16 KiB", stack)
	}
	cancel()
	for _, kr := range f.Wait().Kinds {
		if kr.Failed != 0 {
			t.Errorf("%s: %d failed: %v", kr.Kind, kr.Failed, kr.Errors)
		}
	}
}
