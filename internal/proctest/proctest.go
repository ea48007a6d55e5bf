// Package proctest finds processes in /proc for tests that check what a
// command left running.
package proctest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// UniqueSleep is a sleep command of about secs seconds that no other
// process has, so that /proc tells it apart.
func UniqueSleep(secs int) string {
	return fmt.Sprintf("sleep %d.%06d", secs, rand.IntN(1e6))
}

// With lists the live processes whose command line (arguments joined by
// spaces) is cmd and, if ancestor > 0, that descend from it.
func With(cmd string, ancestor int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		line, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || strings.TrimSuffix(string(bytes.ReplaceAll(line, []byte{0}, []byte{' '})), " ") != cmd {
			continue
		}
		if Alive(pid) && (ancestor <= 0 || descends(pid, ancestor)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stat returns a process's state letter and parent.
func stat(pid int) (state byte, ppid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid, true
}

// Alive reports whether pid is a process that has not exited (a zombie
// has: where pid 1 does not reap, zombies stay).
func Alive(pid int) bool {
	s, _, ok := stat(pid)
	return ok && s != 'Z' && s != 'X'
}

func descends(pid, ancestor int) bool {
	for range 64 {
		_, ppid, ok := stat(pid)
		if !ok || ppid <= 1 {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}

// Wait waits up to 10 s until at least n live processes descending from
// ancestor have the command line cmd, and returns them.
func Wait(t *testing.T, cmd string, ancestor, n int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := With(cmd, ancestor)
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %d processes %q under pid %d, want %d; anywhere: %v", len(pids), cmd, ancestor, n, With(cmd, 0))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitNone waits up to d until no live process descending from ancestor
// (anywhere if 0) has the command line cmd.
func WaitNone(t *testing.T, cmd string, ancestor int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		pids := With(cmd, ancestor)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v (%q) still alive after %v", pids, cmd, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitGone waits up to d until none of pids is alive.
func WaitGone(t *testing.T, pids []int, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, pid := range pids {
			if Alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: pids %v still alive after %v", what, left, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// KillAll kills pids with SIGKILL.
func KillAll(pids []int) {
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
