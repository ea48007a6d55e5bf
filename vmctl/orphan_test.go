package vmctl

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// orphanHelperEnv makes the test binary the helper of
// TestOrphanPIDReused, in a PID namespace of its own.
const orphanHelperEnv = "SPIRIT_ORPHAN_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(orphanHelperEnv); dir != "" {
		if err := orphanReuse(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeQEMU starts a process whose command line names env's console log,
// as QEMU's does, and writes its pid file.
func fakeQEMU(env Env) (*exec.Cmd, error) {
	cmd := exec.Command("/bin/sh", "-c", "while :; do sleep 1; done", "opaque="+esc(env.Path(ConsoleLog)))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, os.WriteFile(env.Path(PIDFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600)
}

// TestOrphanPIDReused: the orphan QEMU found by its pid and command line
// is held by a pidfd, so when it exits and another process is given its
// pid (a kill by number would hit that one), the kill reaches nobody.
// The helper runs in a PID namespace of its own, where it can hand out
// the pid again (ns_last_pid).
func TestOrphanPIDReused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (a PID namespace): run it with sudo")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanHelperEnv+"="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// orphanReuse is TestOrphanPIDReused's helper: pid 1 of its namespace.
func orphanReuse(dir string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		return fmt.Errorf("mount this namespace's /proc: %w", err)
	}
	env := Env{Dir: dir}
	qemu, err := fakeQEMU(env)
	if err != nil {
		return err
	}
	o, err := findOrphan(env)
	if o == nil || err != nil {
		b, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", qemu.Process.Pid))
		return fmt.Errorf("the fake QEMU (pid %d, command line %q %v) was not found: %v", qemu.Process.Pid, b, rerr, err)
	}
	defer o.Close()
	pid := o.pid
	qemu.Process.Kill()
	qemu.Wait()
	innocent, err := startWithPID(pid)
	if err != nil {
		return err
	}
	defer innocent.Process.Kill()
	if err := syscall.Kill(pid, 0); err != nil {
		return fmt.Errorf("pid %d names no process: the test is wrong", pid)
	}
	if err := o.kill(); err != nil {
		return fmt.Errorf("kill through the pidfd: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if wpid, err := syscall.Wait4(pid, nil, syscall.WNOHANG, nil); wpid != 0 || err != nil {
		return fmt.Errorf("the process that took the orphan's pid %d was killed (%d, %v)", pid, wpid, err)
	}
	if exited, err := o.wait(context.Background(), time.Second); !exited || err != nil {
		return fmt.Errorf("wait on the pidfd of the orphan that exited: %v %v", exited, err)
	}
	return nil
}

// startWithPID starts a sleep that gets pid (this namespace's next pid
// is set first: nothing else runs in it).
func startWithPID(pid int) (*exec.Cmd, error) {
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
		return nil, err
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if cmd.Process.Pid != pid {
		cmd.Process.Kill()
		return nil, fmt.Errorf("the pid %d was not given again (got %d)", pid, cmd.Process.Pid)
	}
	return cmd, nil
}

// TestEndOrphan: an orphan QEMU is ended; a pid file that names a
// process that is not the VM's QEMU, or none, ends nothing.
func TestEndOrphan(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	env := Env{Dir: t.TempDir()}
	qemu, err := fakeQEMU(env)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- qemu.Wait() }()
	if err := endOrphan(ctx, env); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("the orphan QEMU still runs")
	}
	other := exec.Command("sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill()
	if err := os.WriteFile(filepath.Join(env.Dir, "qemu.pid"), []byte(strconv.Itoa(other.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := endOrphan(ctx, env); err != nil || syscall.Kill(other.Process.Pid, 0) != nil {
		t.Errorf("a pid file naming another process: %v; it was killed: %v", err, syscall.Kill(other.Process.Pid, 0) != nil)
	}
	other.Process.Kill()
	other.Wait()
	if err := endOrphan(ctx, env); err != nil {
		t.Errorf("a pid file naming no process: %v", err)
	}
}
