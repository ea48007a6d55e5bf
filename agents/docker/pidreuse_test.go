//go:build linux

package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"spirit/internal/dockertest"
)

// The fake agent: the test binary run again as another user, in a root of
// its own, listening at the socket path the host is about to dial. The
// environment variables name its root and its socket.
const (
	fakeRootEnv = "SPIRIT_TEST_FAKE_AGENT_ROOT"
	fakeSockEnv = "SPIRIT_TEST_FAKE_AGENT_SOCK"
	fakeUID     = 54321 // a user of the host's, not root
)

// runHelper runs the fake agent when the environment asks for it, and
// says whether it did.
func runHelper() (int, bool) {
	if hold := os.Getenv(holdEnv); hold != "" {
		return holdAsUser(hold), true
	}
	root := os.Getenv(fakeRootEnv)
	if root == "" {
		return 0, false
	}
	if err := fakeAgent(root, os.Getenv(fakeSockEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 1, true
	}
	return 0, true
}

// holdEnv asks the test binary to become fakeUID and hold a container's
// process: "PID ID STARTEDAT".
const holdEnv = "SPIRIT_TEST_HOLD"

// holdAsUser becomes fakeUID, holds the process that hold names, and
// prints what became of it: "held", "unreachable", "gone" or the error.
func holdAsUser(hold string) int {
	var pid int
	var id, started string
	if _, err := fmt.Sscan(hold, &pid, &id, &started); err != nil {
		fmt.Println(err)
		return 1
	}
	if err := syscall.Setuid(fakeUID); err != nil {
		fmt.Println(err)
		return 1
	}
	h, err := holdProcess("c1", id, pid, started)
	switch {
	case err == nil:
		h.close()
		fmt.Println("held")
	case errors.Is(err, errUnreachable):
		fmt.Println("unreachable")
	case errors.Is(err, ErrProcessGone):
		fmt.Println("gone:", err)
	default:
		fmt.Println(err)
	}
	return 0
}

// fakeAgent makes root its root, becomes fakeUID, listens on sock as a
// private socket of its own (what the host's checks of a container's
// agent socket ask for), prints "ready", then "conn" for each connection
// and "bytes N" for what each sends first, which is all it reads.
func fakeAgent(root, sock string) error {
	if err := syscall.Chroot(root); err != nil {
		return err
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := os.MkdirAll(path.Dir(sock), 0o755); err != nil {
		return err
	}
	if err := os.Chown(path.Dir(sock), fakeUID, fakeUID); err != nil {
		return err
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setgid(fakeUID); err != nil {
		return err
	}
	if err := syscall.Setuid(fakeUID); err != nil {
		return err
	}
	// A change of uid makes a process undumpable, and so its /proc
	// directory root's; any user may undo that for its own.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		return err
	}
	syscall.Umask(0o077)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		fmt.Println("conn")
		go func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			n, _ := c.Read(buf)
			fmt.Printf("bytes %d\n", n)
		}()
	}
}

// TestAgentPidReuse: the container's first process exits while spirit
// connects to its agent, and a process of another user, listening at
// the socket's path in a root of its own, gets its PID (as any user's
// process can, once PIDs wrap). spirit refuses with a message that says
// so, and the other user's socket gets nothing: no connection, no byte.
func TestAgentPidReuse(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t, "")
	b := agentBackend(t, false)
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)

	var (
		once    sync.Once
		fake    *fakeProc
		fakeErr error
		pid     int
	)
	b.beforeConnect = func(p int, sock string) {
		once.Do(func() {
			pid = p
			fake, fakeErr = takePid(ctx, p, root, sock)
		})
	}
	res := run(ctx, b.Target(name), "echo reached", nil)
	if fakeErr != nil {
		t.Fatalf("giving the container's PID to another user's process: %v", fakeErr)
	}
	if fake == nil {
		t.Fatalf("spirit did not connect to an agent socket: %+v", res)
	}
	got := fake.stop(t)
	if len(got) > 0 {
		t.Errorf("the other user's socket got %q, want nothing", got)
	}
	t.Logf("spirit said: %v", res.err)
	want := fmt.Sprintf("its process %d exited while spirit connected", pid)
	if res.err == nil || !errors.Is(res.err, ErrProcessGone) || !strings.Contains(res.err.Error(), want) {
		t.Errorf("got status %d, error %v, stderr %q; want an error (ErrProcessGone) that says %q", res.status, res.err, res.stderr, want)
	}
}

// fakeProc is a running fake agent.
type fakeProc struct {
	cmd   *exec.Cmd
	lines chan string // what it printed after "ready"; closed at its end
}

// stop kills the fake agent and returns what it reported.
func (f *fakeProc) stop(t *testing.T) []string {
	t.Helper()
	_ = f.cmd.Process.Kill()
	var got []string
	for l := range f.lines {
		got = append(got, l)
	}
	_ = f.cmd.Wait()
	return got
}

// takePid kills the process pid (a container's first process: the
// container stops), waits until its PID is free, then starts fake agents
// until one gets that PID, by setting the kernel's last PID just below
// it (root's privilege, standing in for a user who forks until the PIDs
// wrap around).
func takePid(ctx context.Context, pid int, root, sock string) (*fakeProc, error) {
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		return nil, fmt.Errorf("kill %d: %w", pid, err)
	}
	for unix.Kill(pid, 0) == nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("process %d was not reaped: %w", pid, ctx.Err())
		}
		time.Sleep(time.Millisecond)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for range 1000 {
		// A process of the machine's may have taken the PID first: wait
		// for its end.
		for unix.Kill(pid, 0) == nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("PID %d stays taken: %w", pid, ctx.Err())
			}
			time.Sleep(time.Millisecond)
		}
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), fakeRootEnv+"="+root, fakeSockEnv+"="+sock)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		// Other processes of the machine may fork between the write and
		// the start: try again.
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		if cmd.Process.Pid != pid {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			continue
		}
		lines := make(chan string, 100)
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "ready" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("the fake agent did not start: %q %v", sc.Text(), sc.Err())
		}
		go func() {
			defer close(lines)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		return &fakeProc{cmd: cmd, lines: lines}, nil
	}
	return nil, fmt.Errorf("no fake agent got PID %d in 1000 tries", pid)
}
