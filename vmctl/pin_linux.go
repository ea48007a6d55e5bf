package vmctl

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cpuSetBits is the number of CPUs a unix.CPUSet holds.
const cpuSetBits = int(unsafe.Sizeof(unix.CPUSet{})) * 8

// CheckPinning reports the cores of a VM's cpu_pinning that this process
// may not run on (not in its sched_getaffinity mask, which a cpuset or
// taskset narrows and which never holds more than the host's CPUs), with
// the usable ones in the message. QEMU inherits that mask, so a vCPU
// could not be pinned to those cores. It is called before QEMU starts.
func CheckPinning(name string, cores []int) error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("vm %s: cpu_pinning: the CPUs this process may use: %w", name, err)
	}
	usable := cpusOf(&set)
	var bad []int
	for _, c := range cores {
		if !slices.Contains(usable, c) {
			bad = append(bad, c)
		}
	}
	switch len(bad) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("vm %s: cpu_pinning: core %d is not one of this host's usable CPUs (%s)",
			name, bad[0], FormatCPUList(usable))
	}
	words := make([]string, len(bad))
	for i, c := range bad {
		words[i] = strconv.Itoa(c)
	}
	return fmt.Errorf("vm %s: cpu_pinning: cores %s are not among this host's usable CPUs (%s)",
		name, strings.Join(words, ", "), FormatCPUList(usable))
}

// PinVCPUs pins each vCPU thread of process pid, vcpuTIDs[i], to the host
// core cores[i], and every other thread of pid to the CPUs pid may use
// (those of any of its threads) less those cores, so that QEMU's main
// loop, I/O and RCU threads stay off the vCPUs' cores. When no CPU would
// be left for them, the other threads are left as they are.
//
// A thread created later takes the mask of the thread that creates it.
// In QEMU that is the main loop or another non-vCPU thread, so new
// threads get the rest of the CPUs: the thread pool's workers in
// particular are spawned from a bottom half in the main loop, not by the
// vCPU thread that asked for work, so as not to inherit a vCPU's mask
// (util/thread-pool.c). Threads that appear while PinVCPUs runs are
// pinned too.
func PinVCPUs(pid int, vcpuTIDs []int, cores []int) error {
	if len(vcpuTIDs) != len(cores) {
		return fmt.Errorf("pin the vCPUs of process %d: %d thread ids, %d cores", pid, len(vcpuTIDs), len(cores))
	}
	tids, err := threads(pid)
	if err != nil {
		return fmt.Errorf("pin the vCPUs of process %d: %w", pid, err)
	}
	// What pid may use: every CPU one of its threads may run on, read
	// before any changes. No single thread tells, once pinned: not even
	// the main thread, which in other programs than QEMU may be a vCPU.
	var all unix.CPUSet
	for _, tid := range tids {
		var set unix.CPUSet
		err := unix.SchedGetaffinity(tid, &set)
		if errors.Is(err, unix.ESRCH) {
			continue // it ended meanwhile
		}
		if err != nil {
			return fmt.Errorf("pin the vCPUs of process %d: the CPUs thread %d may use: %w", pid, tid, err)
		}
		for i := range all {
			all[i] |= set[i]
		}
	}
	// Every argument is checked before any thread changes.
	for i, tid := range vcpuTIDs {
		if !slices.Contains(tids, tid) {
			return fmt.Errorf("pin vCPU %d to core %d: thread %d is not a thread of process %d", i, cores[i], tid, pid)
		}
		// CPUSet.Set would take -1 for CPU 63.
		if cores[i] < 0 || cores[i] >= cpuSetBits {
			return fmt.Errorf("pin vCPU %d (thread %d of process %d) to core %d: not a core number", i, tid, pid, cores[i])
		}
		if !all.IsSet(cores[i]) {
			return fmt.Errorf("pin vCPU %d (thread %d of process %d) to core %d: the process may not run there (it may use %s)",
				i, tid, pid, cores[i], FormatCPUList(cpusOf(&all)))
		}
	}
	rest := all
	for i, tid := range vcpuTIDs {
		var one unix.CPUSet
		one.Set(cores[i])
		if err := unix.SchedSetaffinity(tid, &one); err != nil {
			return fmt.Errorf("pin vCPU %d (thread %d of process %d) to core %d: %w", i, tid, pid, cores[i], err)
		}
		rest.Clear(cores[i])
	}
	if rest.Count() == 0 {
		return nil
	}
	// A thread that starts between the listing of the threads and the
	// change of its creator's mask has the old one: list again until no
	// new thread turns up.
	done := map[int]bool{}
	for _, tid := range vcpuTIDs {
		done[tid] = true
	}
	for round := 0; ; round++ {
		changed := false
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			done[tid] = true
			changed = true
			err := unix.SchedSetaffinity(tid, &rest)
			if errors.Is(err, unix.ESRCH) {
				continue // it ended meanwhile
			}
			if err != nil {
				return fmt.Errorf("pin thread %d of process %d to cores %s: %w", tid, pid, FormatCPUList(cpusOf(&rest)), err)
			}
		}
		if !changed || round == 10 {
			return nil
		}
		if tids, err = threads(pid); err != nil {
			return fmt.Errorf("pin the threads of process %d: %w", pid, err)
		}
	}
}

// Affinity reads the CPUs a thread may run on from the Cpus_allowed_list
// of /proc/PID/task/TID/status: for status output and tests.
func Affinity(pid, tid int) ([]int, error) {
	path := fmt.Sprintf("/proc/%d/task/%d/status", pid, tid)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Cpus_allowed_list:"); ok {
			cpus, err := ParseCPUList(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return cpus, nil
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nil, fmt.Errorf("%s: no Cpus_allowed_list", path)
}

// threads lists the thread ids of process pid.
func threads(pid int) ([]int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// cpusOf lists the CPUs of set.
func cpusOf(set *unix.CPUSet) []int {
	var cpus []int
	for c := range cpuSetBits {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}
