package vmctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The grace an orphan QEMU gets to exit after SIGTERM, and between
// SIGKILLs (one in uninterruptible sleep on its disks takes a while).
const (
	orphanGrace     = 10 * time.Second
	orphanKillGrace = 5 * time.Second
)

// endOrphan ends a QEMU left by a supervisor that died: it got SIGTERM
// then (Pdeathsig) and may still be exiting, holding its disks. It is
// known by its pid file and its QMP socket's path on its command line;
// it gets orphanGrace, then SIGKILL.
func endOrphan(ctx context.Context, env Env) error {
	o, err := findOrphan(env)
	if o == nil || err != nil {
		return err
	}
	defer o.Close()
	if exited, err := o.wait(ctx, orphanGrace); exited || err != nil {
		return err
	}
	for {
		if err := o.kill(); err != nil {
			return fmt.Errorf("end the QEMU its dead supervisor left (pid %d): %w", o.pid, err)
		}
		if exited, err := o.wait(ctx, orphanKillGrace); exited || err != nil {
			return err
		}
	}
}

// orphan is a QEMU that a dead supervisor left, held by a pidfd: a
// signal through it reaches that process or none, never one that was
// given its pid since (a kill by number after reading /proc/PID/cmdline
// could hit a process that took the pid in between).
type orphan struct {
	pid int
	fd  int // the pidfd
}

// findOrphan finds the QEMU of env's pid file, or nil when it is gone or
// the pid is now another process's. The pidfd is opened first and the
// command line checked after, then the pidfd's process is checked to be
// still alive: so the command line read was that process's.
func findOrphan(env Env) (*orphan, error) {
	data, err := os.ReadFile(env.Path(PIDFile))
	if err != nil {
		return nil, nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return nil, nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the QEMU its dead supervisor left (pid %d): pidfd_open: %w (end it yourself, then start again)", pid, err)
	}
	o := &orphan{pid: pid, fd: fd}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !ownQEMU(cmdline, env) || !o.alive() {
		o.Close()
		return nil, nil
	}
	return o, nil
}

// alive says whether the pidfd's process has not exited. One this user
// may not signal (a QEMU run as another user) is alive too: the kill
// then says why it cannot end it.
func (o *orphan) alive() bool {
	err := unix.PidfdSendSignal(o.fd, 0, nil, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// wait waits up to d for the process to exit: its pidfd becomes
// readable then.
func (o *orphan) wait(ctx context.Context, d time.Duration) (exited bool, err error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		fds := []unix.PollFd{{Fd: int32(o.fd), Events: unix.POLLIN}}
		// Short polls, so that ctx is seen.
		n, err := unix.Poll(fds, 50)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false, fmt.Errorf("wait for the QEMU its dead supervisor left (pid %d): %w", o.pid, err)
		}
		if n > 0 {
			return true, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
	return false, nil
}

// kill sends SIGKILL through the pidfd; a process that has exited
// meanwhile is not an error.
func (o *orphan) kill() error {
	err := unix.PidfdSendSignal(o.fd, unix.SIGKILL, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

func (o *orphan) Close() error { return unix.Close(o.fd) }

// ownQEMU says whether a command line is this VM's QEMU's: its sockets
// are passed open, so the one path of the VM's on it is the console log's,
// as the opaque of its -add-fd.
func ownQEMU(cmdline []byte, env Env) bool {
	return strings.Contains(string(cmdline), "opaque="+esc(env.Path(ConsoleLog))+"\x00")
}
