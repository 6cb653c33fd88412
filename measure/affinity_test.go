package measure

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	good := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"1-3", []int{1, 2, 3}},
		{"0,2,4-5", []int{0, 2, 4, 5}},
		{" 3 , 1-2\n", []int{1, 2, 3}},
		{"2,2,1-3", []int{1, 2, 3}},
		{"7-7", []int{7}},
		{"1023", []int{1023}},
	}
	for _, c := range good {
		got, err := ParseCPUList(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, says string }{
		{"", "empty"},
		{"  ", "empty"},
		{"x", `"x"`},
		{"0,,2", `bad item ""`},
		{"1-", `bad item "1-"`},
		{"-1", `bad item "-1"`},
		{"3-1", "ends before it starts"},
		{"0-2:1", `"2:1"`},
		{"+1", `"+1"`},
		{"1024", "out of range"},
		{"0-99999999", "out of range"},
	}
	for _, c := range bad {
		got, err := ParseCPUList(c.in)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want an error saying %s", c.in, got, err, c.says)
		}
	}
}

func TestFormatCPUList(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "0-2,5": "0-2,5", "0,2,4-5": "0,2,4-5", "3,1,2": "1-3"} {
		cpus, err := ParseCPUList(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatCPUList(cpus); got != want {
			t.Errorf("FormatCPUList(%v) = %q, want %q", cpus, got, want)
		}
	}
}

// threadCPULists returns Cpus_allowed_list of every thread of pid.
func threadCPULists(t *testing.T, pid int) map[string]string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("list threads of %d: %v", pid, err)
	}
	lists := map[string]string{}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue // the thread exited
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				lists[filepath.Base(d)] = strings.TrimSpace(v)
			}
		}
	}
	return lists
}

func TestPinProcessSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	pid := os.Getpid()
	orig, err := AllowedCPUs(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig) == 0 {
		t.Fatal("no allowed CPUs")
	}
	if self, err := AllowedCPUs(0); err != nil || !slices.Equal(self, orig) {
		t.Fatalf("AllowedCPUs(0) = %v, %v; AllowedCPUs(%d) = %v", self, err, pid, orig)
	}
	if err := PinProcess(pid, orig); err != nil {
		t.Fatal(err)
	}
	if got, err := AllowedCPUs(pid); err != nil || !slices.Equal(got, orig) {
		t.Fatalf("after pinning to %v: AllowedCPUs = %v, %v", orig, got, err)
	}
	if len(orig) < 2 {
		return
	}
	// Narrow to one CPU briefly, check every thread, then restore.
	defer func() {
		if err := PinProcess(pid, orig); err != nil {
			t.Fatalf("restore affinity %v: %v", orig, err)
		}
		for tid, l := range threadCPULists(t, pid) {
			if l != FormatCPUList(orig) {
				t.Errorf("thread %s: Cpus_allowed_list %s after restoring %v", tid, l, orig)
			}
		}
	}()
	one := orig[len(orig)-1:]
	if err := PinProcess(0, one); err != nil {
		t.Fatal(err)
	}
	for tid, l := range threadCPULists(t, pid) {
		if l != FormatCPUList(one) {
			t.Errorf("thread %s: Cpus_allowed_list %s, want %v", tid, l, one)
		}
	}
}

func TestPinProcessErrors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	const nopid = 1 << 30 // above the kernel's pid_max limit
	err := PinProcess(nopid, []int{0})
	if err == nil || !strings.Contains(err.Error(), "1073741824") || !strings.Contains(err.Error(), "no such process") {
		t.Fatalf("pinning a missing process: %v", err)
	}
	if _, err := AllowedCPUs(nopid); err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Fatalf("AllowedCPUs of a missing process: %v", err)
	}
	if err := PinProcess(os.Getpid(), nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty CPU list: %v", err)
	}
	if err := PinProcess(os.Getpid(), []int{MaxCPU}); err == nil || !strings.Contains(err.Error(), "CPU 1024") {
		t.Fatalf("CPU out of range: %v", err)
	}
}

func TestPinChildProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	path, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	allowed, err := AllowedCPUs(0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	pid := cmd.Process.Pid
	cpu := allowed[len(allowed)-1]
	if err := PinProcess(pid, []int{cpu}); err != nil {
		t.Fatal(err)
	}
	if got, err := AllowedCPUs(pid); err != nil || !slices.Equal(got, []int{cpu}) {
		t.Fatalf("child pinned to CPU %d: AllowedCPUs = %v, %v", cpu, got, err)
	}
	for tid, l := range threadCPULists(t, pid) {
		if got, err := ParseCPUList(l); err != nil || !slices.Equal(got, []int{cpu}) {
			t.Fatalf("child thread %s: Cpus_allowed_list %q, want %d", tid, l, cpu)
		}
	}
	// Our own set is untouched.
	if own, err := AllowedCPUs(0); err != nil || !slices.Equal(own, allowed) {
		t.Fatalf("own CPUs changed to %v, %v; were %v", own, err, allowed)
	}
}
