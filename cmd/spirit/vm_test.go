package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"spirit/internal/agenttest"
	"spirit/internal/guesttest"
	"spirit/vmctl/control"
)

// vmHarness runs the real spirit against the demo guest as the VM
// @linux, under spirit's own supervisor, on files of the test's own: an
// overlay of the scratch disk, and an initramfs with the agent built for
// this test.
type vmHarness struct {
	t    *testing.T
	env  []string
	run  string // SPIRIT_RUNTIME_DIR
	core int    // the host core vCPU 0 is pinned to
}

func newVMHarness(t *testing.T) *vmHarness {
	files := guesttest.Prepare(t, guesttest.Options{Agent: agentBin})
	h := &vmHarness{t: t, run: shortDir(t)}
	if runtime.NumCPU() > 1 {
		h.core = 1
	}
	cfg := t.TempDir()
	toml := fmt.Sprintf(`[vm.linux]
os = "linux"
memory = "256M"
kernel = %q
initrd = %q
append = "console=ttyS0 quiet panic=-1"
balloon = true
autostart = true
cpu_pinning = [%d]

[vm.linux.network]
mode = "none"

[[vm.linux.disks]]
path = %q
`, files.Kernel, files.Initrd, h.core, files.Disk)
	if err := os.MkdirAll(filepath.Join(cfg, "spirit"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "spirit", "spirit.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = append(baseEnv(t), "XDG_CONFIG_HOME="+cfg, "SPIRIT_RUNTIME_DIR="+h.run)
	t.Cleanup(h.cleanup)
	return h
}

// cleanup kills the VM if it runs, and shows its logs if the test failed.
func (h *vmHarness) cleanup() {
	dir := filepath.Join(h.run, "linux")
	if h.t.Failed() {
		for _, f := range []string{"supervisor.log", "qemu.log", "console.log"} {
			data, _ := os.ReadFile(filepath.Join(dir, f))
			h.t.Logf("%s:\n%s", f, data)
		}
	}
	guesttest.KillVM(dir)
}

// spirit runs the spirit binary with args.
func (h *vmHarness) spirit(args ...string) result {
	h.t.Helper()
	return runIn(h.t, h.t.TempDir(), h.env, "", append([]string{spiritBin}, args...)...)
}

// must runs spirit and fails the test unless it exits 0.
func (h *vmHarness) must(args ...string) result {
	h.t.Helper()
	r := h.spirit(args...)
	if r.status != 0 {
		h.t.Fatalf("spirit %q: status %d\nstdout: %s\nstderr: %s", args, r.status, r.stdout, r.stderr)
	}
	return r
}

func (h *vmHarness) status() control.Status {
	h.t.Helper()
	var st control.Status
	r := h.must("vm", "status", "linux", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		h.t.Fatalf("vm status --json: %v\n%s", err, r.stdout)
	}
	return st
}

// TestVM drives the demo guest through spirit's whole VM life cycle, one
// VM for all the steps (each boot costs seconds under TCG).
func TestVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	h := newVMHarness(t)
	steps := []struct {
		name string
		f    func(*testing.T, *vmHarness)
	}{
		{"autostart", vmAutostart},
		{"sandbox", vmSandbox},
		{"pinning", vmPinning},
		{"errors", vmErrors},
		{"console", vmConsole},
		{"pause", vmPause},
		{"snapshot", vmSnapshot},
		{"balloon", vmBalloon},
		{"two shells", vmTwoShells},
		{"interrupt", vmInterrupt},
		{"suspend", vmSuspend},
		{"stop", vmStop},
		{"qemu killed", vmKilled},
		{"supervisor killed", vmSupervisorKilled},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { h.t = t; s.f(t, h) }) {
			break
		}
	}
}

// vmAutostart has two shells use the stopped VM at once: one starts it,
// the other waits for that start, and both get their answer.
func vmAutostart(t *testing.T, h *vmHarness) {
	start := time.Now()
	var rs [2]result
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() { rs[i] = h.spirit("-c", "@linux uname -s | @spirit tr a-z A-Z") })
	}
	wg.Wait()
	took := time.Since(start)
	starts := 0
	for i, r := range rs {
		if r.status != 0 || r.stdout != "LINUX\n" {
			t.Fatalf("shell %d: status %d, stdout %q, want LINUX; stderr %q", i, r.status, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "starting vm linux (autostart)") {
			starts++
		}
		if !strings.Contains(r.stderr, "vm linux is up") {
			t.Errorf("shell %d: no progress line on stderr: %q", i, r.stderr)
		}
	}
	if starts == 0 {
		t.Errorf("no shell said it started the VM: %q, %q", rs[0].stderr, rs[1].stderr)
	}
	st := h.status()
	if st.State != control.StateRunning || !st.AgentReady {
		t.Fatalf("status %+v, want running with its agent", st)
	}
	t.Logf("boot to agent ready: %.2f s (QEMU start to the agent's first answer); first command done after %.2f s", st.BootToAgent.Seconds(), took.Seconds())
}

// vmSandbox checks that QEMU runs in its seccomp sandbox (Seccomp: 2,
// a filter) and not as root, and that no other user reaches its runtime
// directory.
func vmSandbox(t *testing.T, h *vmHarness) {
	st := h.status()
	status := procStatus(t, st.PID)
	t.Logf("qemu (pid %d): Uid: %s, Gid: %s, Groups: %s, Seccomp: %s", st.PID, status["Uid"], status["Gid"], status["Groups"], status["Seccomp"])
	if status["Seccomp"] != "2" {
		t.Errorf("qemu's Seccomp: %q, want 2 (its -sandbox filter)", status["Seccomp"])
	}
	for _, id := range append(strings.Fields(status["Uid"]), strings.Fields(status["Gid"])...) {
		if id == "0" {
			t.Errorf("qemu runs as Uid: %s, Gid: %s: want neither root's", status["Uid"], status["Gid"])
			break
		}
	}
	if g := status["Groups"]; g != "" {
		t.Errorf("qemu has the groups %q: want none (it needs no group's files)", g)
	}
	fi, err := os.Stat(filepath.Join(h.run, "linux"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		t.Errorf("runtime directory: %v, owner %d: want 0700 and spirit's user's", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	// QEMU's user reaches none of the VM's paths: only what was passed.
	uid, _ := strconv.Atoi(strings.Fields(status["Uid"])[0])
	gid, _ := strconv.Atoi(strings.Fields(status["Gid"])[0])
	ls := exec.CommandContext(t.Context(), "ls", filepath.Join(h.run, "linux"))
	ls.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	if out, err := ls.CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("ls of the runtime directory as QEMU's user: %v, %s; want Permission denied", err, out)
	}
}

// procStatus reads /proc/PID/status into its fields.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func vmPinning(t *testing.T, h *vmHarness) {
	st := h.status()
	if len(st.Pinning) != 1 {
		t.Fatalf("pinning %+v, want one vCPU", st.Pinning)
	}
	vcpu := st.Pinning[0].Thread
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", st.PID))
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(h.core)
	others := "0"
	if runtime.NumCPU() > 2 {
		others = fmt.Sprintf("0,2-%d", runtime.NumCPU()-1)
	}
	for _, task := range tasks {
		got := cpusAllowed(t, st.PID, task.Name())
		switch {
		case task.Name() == strconv.Itoa(vcpu) && got != want:
			t.Errorf("vCPU thread %d: Cpus_allowed_list %s, want %s", vcpu, got, want)
		case task.Name() != strconv.Itoa(vcpu) && runtime.NumCPU() > 1 && got != others:
			t.Errorf("QEMU thread %s: Cpus_allowed_list %s, want %s (off the vCPU's core)", task.Name(), got, others)
		}
	}
}

func cpusAllowed(t *testing.T, pid int, tid string) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list for thread %s", tid)
	return ""
}

func vmPause(t *testing.T, h *vmHarness) {
	h.must("-c", "@linux --pause")
	if r := h.must("vm", "status", "linux"); !strings.Contains(r.stdout, "paused") {
		t.Fatalf("vm status after --pause:\n%s", r.stdout)
	}
	r := h.spirit("-c", "@linux true")
	if r.status == 0 || !strings.Contains(r.stderr, "@linux --resume") {
		t.Fatalf("@linux true on a paused VM: status %d, stderr %q; want a failure that says @linux --resume", r.status, r.stderr)
	}
	h.must("-c", "@linux --resume")
	if r := h.must("-c", "@linux echo again"); r.stdout != "again\n" {
		t.Fatalf("after --resume: %q", r.stdout)
	}
}

func vmSnapshot(t *testing.T, h *vmHarness) {
	// One shell for it all: the same connection must work after the load.
	r := h.must("-c", `
		@linux echo kept > /data/f && @linux sync
		@linux --snapshot save s1
		@linux rm /data/f && @linux sync
		@linux test -e /data/f || echo gone
		@linux --snapshot load s1
		@linux cat /data/f
		@linux --snapshot list`)
	for _, want := range []string{"saved snapshot s1", "gone\n", "loaded snapshot s1", "kept\n", "s1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := h.must("-c", "@linux cat /data/f"); r.stdout != "kept\n" {
		t.Errorf("a new shell after the load: %q", r.stdout)
	}
	h.must("vm", "snapshot", "delete", "linux", "s1")
	if r := h.spirit("vm", "snapshot", "load", "linux", "s1"); r.status == 0 || !strings.Contains(r.stderr, "no snapshot s1") {
		t.Errorf("load of a deleted snapshot: status %d, stderr %q", r.status, r.stderr)
	}
}

func vmBalloon(t *testing.T, h *vmHarness) {
	r := h.must("vm", "balloon", "linux", "192M")
	t.Log(strings.TrimSpace(r.stdout))
	// The status's balloon is QMP's query-balloon.
	if st := h.status(); st.Balloon != 192<<20 {
		t.Errorf("query-balloon: %d MiB, want 192", st.Balloon>>20)
	}
	h.must("vm", "balloon", "linux", "256M")
}

func vmTwoShells(t *testing.T, h *vmHarness) {
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Go(func() {
			results[i] = h.spirit("-c", fmt.Sprintf(
				`for n in $(seq 1 15); do N=$n @linux echo "p%d-$N"; done; @linux seq 1 20000 | @spirit wc -l`, i))
		})
	}
	wg.Wait()
	for i, r := range results {
		var want strings.Builder
		for n := 1; n <= 15; n++ {
			fmt.Fprintf(&want, "p%d-%d\n", i, n)
		}
		want.WriteString("20000\n")
		if r.status != 0 || r.stdout != want.String() {
			t.Errorf("shell %d: status %d stdout %q stderr %q", i, r.status, r.stdout, r.stderr)
		}
	}
	if st := h.status(); st.State != control.StateRunning {
		t.Errorf("after both shells: %s, want running", st.State)
	}
}

func vmSuspend(t *testing.T, h *vmHarness) {
	h.must("-c", "@linux echo in-ram > /tmp/ramfile")
	pid := h.status().PID
	r := h.must("vm", "suspend", "linux")
	t.Log(strings.TrimSpace(r.stdout))
	if st := h.status(); st.State != control.StateSuspended {
		t.Fatalf("after suspend: %s, want suspended", st.State)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("QEMU (pid %d) still runs after suspend", pid)
	}
	h.must("vm", "start", "linux", "--wait")
	if r := h.must("-c", "@linux cat /tmp/ramfile"); r.stdout != "in-ram\n" {
		t.Errorf("after resume: %q, want the file written before the suspend", r.stdout)
	}
	if st := h.status(); !st.Resumed {
		t.Errorf("status %+v: want resumed", st)
	}
}

func vmStop(t *testing.T, h *vmHarness) {
	pid := h.status().PID
	start := time.Now()
	r := h.must("vm", "stop", "linux", "--timeout", "20s")
	took := time.Since(start)
	t.Logf("%s (%.1f s)", strings.TrimSpace(r.stdout), took.Seconds())
	if took > 35*time.Second {
		t.Errorf("stop took %v, beyond its 20 s timeout and the quit after it", took)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("QEMU (pid %d) still runs after stop", pid)
	}
	// The agent, told to end by the power-off, ends: it once spun on its
	// port, a line a millisecond, until killed.
	console, _ := os.ReadFile(filepath.Join(h.run, "linux", "console.log"))
	if n := strings.Count(string(console), "host connection ended"); n > 5 {
		t.Errorf("the guest's agent logged %d ended connections on the console during the power-off", n)
	}
	var list []control.Status
	out := h.must("vm", "list", "--json").stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("vm list --json: %v\n%s", err, out)
	}
	i := slices.IndexFunc(list, func(s control.Status) bool { return s.Name == "linux" })
	if i < 0 || list[i].State != control.StateStopped {
		t.Errorf("vm list --json: %s", out)
	}
}

func vmKilled(t *testing.T, h *vmHarness) {
	h.must("vm", "start", "linux", "--wait")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, spiritBin, "-c", "@linux sleep 100")
	cmd.Env = h.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitGuest(t, h, "sleep 100", true)
	pid := h.status().PID
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("@linux sleep 100 ended %v after QEMU's kill: %v: %s", time.Since(killed).Round(time.Millisecond), err, strings.TrimSpace(stderr.String()))
		if err == nil {
			t.Errorf("@linux sleep 100 succeeded after QEMU was killed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("@linux sleep 100 still runs 5 s after QEMU was killed")
	}
	// The supervisor cleans up right after QEMU's end.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftovers(h)
		st := h.status().State
		if len(left) == 0 && st == control.StateStopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after QEMU was killed: state %s, left behind: %q", st, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftovers are the sockets and pid files in the VM's runtime directory.
func leftovers(h *vmHarness) []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(h.run, "linux", "*"))
	for _, f := range files {
		if strings.HasSuffix(f, ".sock") || strings.HasSuffix(f, ".pid") {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

// vmErrors checks what spirit says to requests the VM's state refuses.
func vmErrors(t *testing.T, h *vmHarness) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vm", "start", "linux"}, "vm linux is already running"},
		{[]string{"vm", "resume", "linux"}, "vm linux is not paused: it is running"},
		{[]string{"vm", "balloon", "linux", "lots"}, `"lots" is not a size`},
		{[]string{"vm", "balloon", "linux", "1G"}, "outside 64 MiB..256M"},
		{[]string{"vm", "snapshot", "load", "linux", "nope"}, "vm linux has no snapshot nope (snapshots: none)"},
		{[]string{"vm", "status", "nope"}, "no vm nope (vms: linux windows)"},
		{[]string{"vm", "stop", "windows"}, "vm windows is not running: start it with: spirit vm start windows"},
		{[]string{"-c", "@linux --snapshot frobnicate"}, "unknown action"},
	} {
		r := h.spirit(c.args...)
		if r.status == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("spirit %q: status %d, stderr %q; want a failure that says %q", c.args, r.status, r.stderr, c.want)
		}
	}
	if r := h.must("-c", "@linux --status"); !strings.Contains(r.stdout, "running") || !strings.Contains(r.stdout, "spirit-demo") {
		t.Errorf("@linux --status:\n%s", r.stdout)
	}
}

// vmConsole types a command on the serial console and leaves with Ctrl-].
func vmConsole(t *testing.T, h *vmHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, spiritBin, "vm", "console", "linux")
	cmd.Env = h.env
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out agenttest.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The shell on the console may still be starting: say it until heard.
	for !strings.Contains(out.String(), "console-42") {
		if ctx.Err() != nil {
			t.Fatalf("no answer on the console:\n%s", out.String())
		}
		io.WriteString(in, "echo console-$((6*7))\n")
		time.Sleep(300 * time.Millisecond)
	}
	in.Write([]byte{0x1d})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vm console after Ctrl-]: %v\n%s", err, out.String())
	}
}

// vmInterrupt sends SIGINT to spirit during `@linux sleep 100`, as Ctrl-C
// would: status 130 at once, and the sleep is gone from the guest.
func vmInterrupt(t *testing.T, h *vmHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, spiritBin, "-c", "@linux sleep 101")
	cmd.Env = h.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitGuest(t, h, "sleep 101", true)
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	t.Logf("spirit ended %v after SIGINT: %v", time.Since(start).Round(time.Millisecond), err)
	// As bash -c 'sleep 101' does, spirit (bash, then the stand-in it
	// became) dies of the SIGINT once the guest's command is gone: a
	// calling shell's $? is 130.
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if cmd.ProcessState.ExitCode() != 130 && !(ws.Signaled() && ws.Signal() == syscall.SIGINT) {
		t.Errorf("status %d after SIGINT, want 130 or death by SIGINT", cmd.ProcessState.ExitCode())
	}
	waitGuest(t, h, "sleep 101", false)
}

// waitGuest waits until the guest's ps shows what (or, with !present,
// no longer does).
func waitGuest(t *testing.T, h *vmHarness, what string, present bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Contains(h.spirit("-c", "@linux ps").stdout, what) != present {
		if time.Now().After(deadline) {
			t.Fatalf("%q in the guest's ps: want %v after 20 s", what, present)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vmSupervisorKilled kills the supervisor: its QEMU gets SIGTERM and
// ends, and a start at once waits for that end (QEMU holds the disk
// until then) and works.
func vmSupervisorKilled(t *testing.T, h *vmHarness) {
	h.must("vm", "start", "linux", "--wait")
	st := h.status()
	if err := syscall.Kill(st.Supervisor, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := h.must("vm", "start", "linux", "--wait")
	t.Log(strings.TrimSpace(r.stdout))
	if syscall.Kill(st.PID, 0) == nil {
		t.Errorf("the old QEMU (pid %d) still runs", st.PID)
	}
	if r := h.must("-c", "@linux echo back"); r.stdout != "back\n" {
		t.Errorf("after the restart: %q", r.stdout)
	}
	h.must("vm", "kill", "linux")
}
