//go:build linux

package vmctl

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"spirit/internal/guesttest"
)

func TestParseCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  string
	}{
		{in: "", want: nil},
		{in: "0", want: []int{0}},
		{in: "0-1\n", want: []int{0, 1}},
		{in: "0-3,8,10-11", want: []int{0, 1, 2, 3, 8, 10, 11}},
		{in: "5,1-2,2,1", want: []int{1, 2, 5}},
		{in: "7-7", want: []int{7}},
		{in: "a", err: `"a" is not a CPU number`},
		{in: "-1", err: `"" is not a CPU number`},
		{in: "+1", err: `"+1" is not a CPU number`},
		{in: "1,,2", err: `"" is not a CPU number`},
		{in: "0-", err: `"" is not a CPU number`},
		{in: "1-2-3", err: `"2-3" is not a CPU number`},
		{in: "3-1", err: "range 3-1 ends before it starts"},
		{in: "0-4000000000", err: "CPU 4000000000 is beyond the 65536 there can be"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCPUList(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseCPUList(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestFormatCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{3}, "3"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 1, 2, 3, 8, 10, 11}, "0-3,8,10-11"},
		{[]int{11, 0, 2, 1, 10, 2}, "0-2,10-11"},
		{[]int{1, 3, 5}, "1,3,5"},
	} {
		if got := FormatCPUList(tc.in); got != tc.want {
			t.Errorf("FormatCPUList(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzCPUList checks that whatever parses formats back into the same
// list.
func FuzzCPUList(f *testing.F) {
	for _, s := range []string{"", "0", "0-3,8,10-11", "5,1-2", "1-0", "0-65535", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUList(s)
		if err != nil {
			return
		}
		again, err := ParseCPUList(FormatCPUList(cpus))
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("%q: %v formats as %q, which parses as %v, %v", s, cpus, FormatCPUList(cpus), again, err)
		}
	})
}

// pinUsable is what this process may run on, read as CheckPinning does.
func pinUsable(t *testing.T) []int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	return cpusOf(&set)
}

func TestCheckPinning(t *testing.T) {
	usable := pinUsable(t)
	list := FormatCPUList(usable)
	if err := CheckPinning("w", usable); err != nil {
		t.Errorf("CheckPinning(%v), every usable CPU: %v", usable, err)
	}
	if err := CheckPinning("w", nil); err != nil {
		t.Errorf("CheckPinning(nil): %v", err)
	}
	for _, tc := range []struct {
		cores []int
		want  string
	}{
		{[]int{99}, "vm w: cpu_pinning: core 99 is not one of this host's usable CPUs (" + list + ")"},
		{[]int{-1}, "vm w: cpu_pinning: core -1 is not one of this host's usable CPUs (" + list + ")"},
		{[]int{usable[0], 99, -1}, "vm w: cpu_pinning: cores 99, -1 are not among this host's usable CPUs (" + list + ")"},
	} {
		err := CheckPinning("w", tc.cores)
		if err == nil || err.Error() != tc.want {
			t.Errorf("CheckPinning(%v) = %v, want %s", tc.cores, err, tc.want)
		}
	}
}

func TestAffinity(t *testing.T) {
	// Nothing pins this process's threads: each has the process's mask.
	got, err := Affinity(os.Getpid(), os.Getpid())
	if want := pinUsable(t); err != nil || !slices.Equal(got, want) {
		t.Errorf("Affinity of the main thread: %v, %v; want %v", got, err, want)
	}
	if _, err := Affinity(os.Getpid(), 1); err == nil {
		t.Errorf("Affinity of a thread that is not this process's: no error")
	}
}

// TestPinHelperProcess is not a test: it is the multi-threaded process
// that TestPinVCPUs pins, when run with SPIRIT_PIN_HELPER=N. It starts N
// goroutines each locked to a thread of its own, prints their thread ids
// on a line, and sleeps until it is killed.
func TestPinHelperProcess(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("SPIRIT_PIN_HELPER"))
	if err != nil {
		return
	}
	tids := make(chan int)
	for range n {
		go func() {
			runtime.LockOSThread()
			tids <- unix.Gettid()
			time.Sleep(time.Hour)
		}()
	}
	var line []string
	for range n {
		line = append(line, strconv.Itoa(<-tids))
	}
	fmt.Println(strings.Join(line, " "))
	time.Sleep(time.Hour)
}

// pinCPUs picks two CPUs of this process for a child to run on, so that
// "every CPU but the vCPUs'" is the same on any host.
func pinCPUs(t *testing.T) (a, b int) {
	t.Helper()
	usable := pinUsable(t)
	if len(usable) < 2 {
		t.Skipf("pinning needs two usable CPUs, this process has %s", FormatCPUList(usable))
	}
	return usable[0], usable[len(usable)-1]
}

// pinStart starts name with args on CPUs a and b only (through taskset),
// and kills it when the test ends.
func pinStart(t *testing.T, cmd *exec.Cmd, a, b int) {
	t.Helper()
	taskset := guesttest.Program(t, "taskset")
	cmd.Args = append([]string{taskset, "-c", FormatCPUList([]int{a, b})}, cmd.Args...)
	cmd.Path = taskset
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// pinCheck checks the mask of every thread of pid: each vCPU thread on
// its core, every other one on others.
func pinCheck(t *testing.T, pid int, vcpus, cores, others []int) {
	t.Helper()
	tids, err := threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		want := others
		if i := slices.Index(vcpus, tid); i >= 0 {
			want = cores[i : i+1]
		}
		got, err := Affinity(pid, tid)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("thread %d (%s): Cpus_allowed_list %s, want %s", tid, pinComm(pid, tid), FormatCPUList(got), FormatCPUList(want))
		}
	}
}

func pinComm(pid, tid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", pid, tid))
	return strings.TrimSpace(string(b))
}

func TestPinVCPUs(t *testing.T) {
	a, b := pinCPUs(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPinHelperProcess$")
	cmd.Env = append(os.Environ(), "SPIRIT_PIN_HELPER=3")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pinStart(t, cmd, a, b)
	pid := cmd.Process.Pid
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	var locked []int
	select {
	case s := <-line:
		for f := range strings.FieldsSeq(s) {
			tid, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("helper printed %q, want thread ids", s)
			}
			locked = append(locked, tid)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the helper process printed no thread ids within 30 s")
	}
	if len(locked) != 3 {
		t.Fatalf("helper printed %v, want 3 thread ids", locked)
	}
	both := []int{a, b}

	// Errors change nothing.
	for _, tc := range []struct {
		tids, cores []int
		want        string
	}{
		{locked[:1], []int{a, b}, "1 thread ids, 2 cores"},
		{[]int{os.Getpid()}, []int{a}, fmt.Sprintf("thread %d is not a thread of process %d", os.Getpid(), pid)},
		{locked[:2], []int{a, 99}, fmt.Sprintf("to core 99: the process may not run there (it may use %s)", FormatCPUList(both))},
		{locked[:1], []int{-1}, "to core -1: not a core number"},
	} {
		err := PinVCPUs(pid, tc.tids, tc.cores)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PinVCPUs(%d, %v, %v) = %v, want an error with %q", pid, tc.tids, tc.cores, err, tc.want)
		}
	}
	pinCheck(t, pid, nil, nil, both)

	// Two vCPUs on both CPUs: none is left for the other threads, which
	// keep theirs.
	start := time.Now()
	if err := PinVCPUs(pid, locked[:2], []int{b, a}); err != nil {
		t.Fatal(err)
	}
	t.Logf("PinVCPUs, 2 vCPUs and no core left: %v", time.Since(start))
	pinCheck(t, pid, locked[:2], []int{b, a}, both)

	// One vCPU on b: every other thread, the formerly pinned one
	// included, goes to a. The process may still use both (its main
	// thread's mask was read from before), so b is free again for any.
	start = time.Now()
	if err := PinVCPUs(pid, locked[2:], []int{b}); err != nil {
		t.Fatal(err)
	}
	t.Logf("PinVCPUs, 1 vCPU: %v", time.Since(start))
	pinCheck(t, pid, locked[2:], []int{b}, []int{a})
}

// TestPinVCPUsQEMU pins the vCPU threads of a real QEMU, found by the
// names debug-threads=on gives them.
func TestPinVCPUsQEMU(t *testing.T) {
	qemu := guesttest.Program(t, "qemu-system-x86_64")
	a, b := pinCPUs(t)
	for _, tc := range []struct {
		smp         int
		cores       []int
		others      []int // nil: left as they were, on a and b
		description string
	}{
		{2, []int{b, a}, nil, "2 vCPUs on both CPUs: the other threads left as they are"},
		{1, []int{b}, []int{a}, "1 vCPU: the other threads on the other CPU"},
	} {
		t.Run(fmt.Sprintf("smp%d", tc.smp), func(t *testing.T) {
			cmd := exec.Command(qemu, "-nodefaults", "-no-user-config", "-display", "none",
				"-machine", "q35,accel=tcg", "-m", "64", "-smp", strconv.Itoa(tc.smp),
				"-name", "x,debug-threads=on", "-S")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			pinStart(t, cmd, a, b)
			pid := cmd.Process.Pid
			vcpus := qemuVCPUs(t, pid, tc.smp)
			start := time.Now()
			if err := PinVCPUs(pid, vcpus, tc.cores); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: PinVCPUs took %v", tc.description, time.Since(start))
			others := tc.others
			if others == nil {
				others = []int{a, b}
			}
			pinCheck(t, pid, vcpus, tc.cores, others)
		})
	}
}

// qemuVCPUs waits for QEMU's n vCPU threads ("CPU 0/TCG", ...) and
// returns their ids in vCPU order.
func qemuVCPUs(t *testing.T, pid, n int) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		vcpus := make([]int, n)
		found := 0
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
		for _, task := range tasks {
			tid, _ := strconv.Atoi(filepath.Base(task))
			var i int
			if _, err := fmt.Sscanf(pinComm(pid, tid), "CPU %d/TCG", &i); err == nil && i < n {
				vcpus[i] = tid
				found++
			}
		}
		if found == n {
			return vcpus
		}
		if time.Now().After(deadline) {
			t.Fatalf("QEMU (pid %d) has %d of its %d vCPU threads after 30 s", pid, found, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
