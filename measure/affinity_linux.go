package measure

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// AllowedCPUs returns the CPUs process pid may run on, sorted. pid 0 means
// the calling thread, which for a Go process is the process's set unless a
// thread was pinned on its own. For another process it is the set of its
// main thread (the thread whose id is pid).
func AllowedCPUs(pid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("allowed CPUs of process %d: no such process: %w", pid, err)
		}
		return nil, fmt.Errorf("allowed CPUs of process %d: %w", pid, err)
	}
	cpus := make([]int, 0, set.Count())
	for c := range MaxCPU {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// PinProcess restricts every thread of process pid (0: this process) to the
// given CPUs. Affinity is per thread on Linux, so it sets each thread listed
// in /proc/PID/task; threads created later inherit the set of the thread
// that creates them. It lists the threads again until a pass finds no new
// one, so a thread started by a not-yet-pinned thread during the call is
// pinned too. Threads that exit meanwhile are skipped.
func PinProcess(pid int, cpus []int) error {
	if pid == 0 {
		pid = os.Getpid()
	}
	if len(cpus) == 0 {
		return fmt.Errorf("pin process %d: empty CPU list", pid)
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if c < 0 || c >= MaxCPU {
			return fmt.Errorf("pin process %d: CPU %d out of range 0-%d", pid, c, MaxCPU-1)
		}
		set.Set(c)
	}
	list := FormatCPUList(cpus)
	taskDir := "/proc/" + strconv.Itoa(pid) + "/task"
	done := map[int]bool{}
	pinned := 0
	for pass := 0; pass < 10; pass++ {
		entries, err := os.ReadDir(taskDir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("pin process %d to CPUs %s: no such process", pid, list)
			}
			return fmt.Errorf("pin process %d to CPUs %s: list threads: %w", pid, list, err)
		}
		fresh := 0
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid] = true
			fresh++
			err = unix.SchedSetaffinity(tid, &set)
			switch {
			case err == nil:
				pinned++
			case errors.Is(err, unix.ESRCH):
				// The thread exited after the listing.
			case errors.Is(err, unix.EINVAL):
				return fmt.Errorf("pin process %d (thread %d) to CPUs %s: none of them is online and allowed by the process's cpuset: %w", pid, tid, list, err)
			case errors.Is(err, unix.EPERM):
				return fmt.Errorf("pin process %d (thread %d) to CPUs %s: not permitted (another user's process needs CAP_SYS_NICE): %w", pid, tid, list, err)
			default:
				return fmt.Errorf("pin process %d (thread %d) to CPUs %s: %w", pid, tid, list, err)
			}
		}
		if fresh == 0 {
			break
		}
	}
	if pinned == 0 {
		return fmt.Errorf("pin process %d to CPUs %s: the process exited", pid, list)
	}
	return nil
}
