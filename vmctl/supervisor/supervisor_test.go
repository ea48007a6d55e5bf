//go:build linux

package supervisor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"spirit/agents/client"
	"spirit/errcode"
	"spirit/internal/agenttest"
	"spirit/internal/guesttest"
	"spirit/internal/spiritbin"
	"spirit/vmctl"
	"spirit/vmctl/control"
	"spirit/vmctl/supervisor"
)

// These tests run supervisor.Run in the test's own process, so that -race
// watches the supervisor's goroutines (the spirit binary that TestVM
// drives is built without it), against the real QEMU under TCG and the
// real agent in the demo guest.

// agentBin is the agent of this tree, put in the demo guest's initramfs.
var agentBin string

func TestMain(m *testing.M) { spiritbin.MainBins(m, spiritbin.Bins{Agent: &agentBin}) }

// newEnv is a VM's places for one test: a short runtime directory (a unix
// socket's path must stay under 108 bytes, and t.TempDir() may be longer)
// and a state directory.
func newEnv(t *testing.T) vmctl.Env {
	t.Helper()
	dir, err := os.MkdirTemp("", "sv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return vmctl.Env{Dir: dir, StateDir: t.TempDir()}
}

// newBootstrap is what vmctl.Manager.Plan would have the supervisor run
// for d in env, under TCG, QEMU as spirit-qemu when the test is root.
func newBootstrap(t *testing.T, d vmctl.Definition, env vmctl.Env) vmctl.Bootstrap {
	t.Helper()
	d = d.WithDefaults()
	l, err := vmctl.Build(d, env)
	if err != nil {
		t.Fatal(err)
	}
	qemu := guesttest.Program(t, "qemu-system-x86_64")
	b := vmctl.Bootstrap{Def: d, Env: env, QEMU: qemu, Args: l.Args, Notes: l.Notes, Files: l.Files, SysfsRoot: "/sys"}
	if os.Geteuid() == 0 {
		// As Plan has it: QEMU as its own user (scripts/deps.sh makes it).
		if b.User, err = vmctl.LookupRunAs(vmctl.DefaultQEMUUser); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// newDisk makes an empty qcow2 image.
func newDisk(t *testing.T) string {
	t.Helper()
	qemuImg := guesttest.Program(t, "qemu-img")
	path := filepath.Join(t.TempDir(), "disk.qcow2")
	if out, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", path, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	return path
}

// sv is a supervisor.Run running in a goroutine of the test.
type sv struct {
	env    vmctl.Env
	log    *agenttest.LockedBuffer
	cancel context.CancelFunc // Run's context: as a SIGTERM
	done   chan struct{}      // closed when Run has returned
	err    error              // Run's, once done
	pid    int                // QEMU's

	mu    sync.Mutex
	exits []int // the OnExit hooks that ran, in the order they ran
}

// supervise writes b down as the starter does and runs a supervisor on
// it, and returns once the supervisor said "ok" on its readiness pipe.
// The VM is killed when the test ends, if it still runs; the supervisor's
// log and the guest's console are shown if the test failed.
func supervise(t *testing.T, b vmctl.Bootstrap, stopTimeout time.Duration) *sv {
	t.Helper()
	env := b.Env
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env.Path(vmctl.BootstrapFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(env.Path(vmctl.LockFile), os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("lock %s: %v", env.Path(vmctl.LockFile), err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := &sv{env: env, log: &agenttest.LockedBuffer{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	hook := func(i int) func(context.Context) error {
		return func(context.Context) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.exits = append(s.exits, i)
			return nil
		}
	}
	o := supervisor.Options{
		Dir:         env.Dir,
		Version:     "test",
		Log:         slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready:       w,
		Lock:        lock,
		OnExit:      []func(context.Context) error{hook(1), hook(2)},
		StopTimeout: stopTimeout,
	}
	go func() {
		defer close(s.done)
		s.err = supervisor.Run(ctx, o)
		// The supervisor's process would end here, and the lock with it.
		lock.Close()
	}()
	t.Cleanup(func() {
		defer cancel()
		select {
		case <-s.done:
		default:
			kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _, err := control.Dial(kctx, env.Path(vmctl.ControlSocket), control.Request{Op: control.OpKill})
			kcancel()
			if err != nil {
				t.Logf("kill the VM at the test's end: %v", err)
				if s.pid != 0 {
					syscall.Kill(s.pid, syscall.SIGKILL)
				}
			}
			select {
			case <-s.done:
			case <-time.After(15 * time.Second):
				t.Errorf("supervisor.Run has not returned 15 s after a kill at the test's end")
			}
		}
		if t.Failed() {
			s.showLogs(t)
		}
	})
	r.SetReadDeadline(time.Now().Add(60 * time.Second))
	word, err := io.ReadAll(r)
	if err != nil || strings.TrimSpace(string(word)) != "ok" {
		t.Fatalf("readiness pipe: %q (%v), want ok", word, err)
	}
	st := s.status(t)
	s.pid = st.PID
	return s
}

func (s *sv) showLogs(t *testing.T) {
	t.Logf("supervisor log:\n%s", s.log.String())
	for _, f := range []string{s.env.Path(vmctl.QEMULog), s.env.Path(vmctl.ConsoleLog)} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		t.Logf("%s:\n%s", f, data)
	}
}

// call sends req and returns the reply and the supervisor's error reply
// (an *errcode.Error), if any; a failed exchange fails the test.
func (s *sv) call(t *testing.T, req control.Request) (control.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	rep, conn, err := control.Dial(ctx, s.env.Path(vmctl.ControlSocket), req)
	if err != nil && errcode.Of(err) == "" {
		t.Fatalf("%s request: %v", req.Op, err)
	}
	if conn != nil {
		conn.Close()
	}
	return rep, err
}

// must sends req and fails the test on an error reply.
func (s *sv) must(t *testing.T, req control.Request) control.Reply {
	t.Helper()
	rep, err := s.call(t, req)
	if err != nil {
		t.Fatalf("%s %s %s: %v (code %s)", req.Op, req.Action, req.Tag, err, errcode.Of(err))
	}
	return rep
}

// refused sends req and fails the test unless the reply is an error of
// code that says each of want (words for the user).
func (s *sv) refused(t *testing.T, req control.Request, code errcode.Code, want ...string) {
	t.Helper()
	_, err := s.call(t, req)
	var ce *errcode.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("%s %s %s: %v, want an error of code %s", req.Op, req.Action, req.Tag, err, code)
	}
	for _, w := range want {
		if !strings.Contains(ce.Msg, w) {
			t.Errorf("%s %s %s: %q does not say %q", req.Op, req.Action, req.Tag, ce.Msg, w)
		}
	}
}

func (s *sv) status(t *testing.T) control.Status {
	t.Helper()
	rep := s.must(t, control.Request{Op: control.OpStatus})
	if rep.Status == nil {
		t.Fatalf("status: a reply with no status: %+v", rep)
	}
	return *rep.Status
}

func (s *sv) wantState(t *testing.T, want string) {
	t.Helper()
	if st := s.status(t); st.State != want {
		t.Fatalf("state %s, want %s", st.State, want)
	}
}

// ended waits up to d for Run to return, and checks what a supervisor
// leaves behind: nothing but its logs and the lock, QEMU gone, the exit
// hooks run once each, last given first.
func (s *sv) ended(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("supervisor.Run has not returned %v after QEMU was told to end", d)
	}
	if s.err != nil {
		t.Errorf("supervisor.Run: %v, want nil", s.err)
	}
	if err := syscall.Kill(s.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("QEMU (pid %d) is still there after Run returned (kill 0: %v)", s.pid, err)
	}
	s.mu.Lock()
	exits := slices.Clone(s.exits)
	s.mu.Unlock()
	if !slices.Equal(exits, []int{2, 1}) {
		t.Errorf("exit hooks ran %v, want [2 1]: once each, in reverse order", exits)
	}
	files, _ := filepath.Glob(filepath.Join(s.env.Dir, "*"))
	for _, f := range files {
		if b := filepath.Base(f); strings.HasSuffix(b, ".sock") || strings.HasSuffix(b, ".pid") || b == "vm.json" {
			t.Errorf("left behind in the runtime directory: %s", b)
		}
	}
	for _, by := range []vmctl.Maker{vmctl.ByStarter, vmctl.BySupervisor} {
		for _, f := range s.env.Live(by) {
			if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s lasts as long as the supervisor, but is there after its end (%v)", f, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := control.Dial(ctx, s.env.Path(vmctl.ControlSocket), control.Request{Op: control.OpStatus}); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("a status request after the end: %v, want ErrNotRunning", err)
	}
}

// qemuGone waits up to d for QEMU to be gone.
func (s *sv) qemuGone(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for syscall.Kill(s.pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU (pid %d) still runs %v after it was told to end", s.pid, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bareDef is a VM with no OS to boot: SeaBIOS finds nothing on its disk
// and waits. QEMU runs, its guest has no agent and ignores the ACPI
// power button.
func bareDef(t *testing.T) vmctl.Definition {
	return vmctl.Definition{
		Name: "bare", OS: "linux", Memory: "64M",
		Disks:   []vmctl.Disk{{Path: newDisk(t)}},
		Network: vmctl.Network{Mode: "none"},
	}
}

// TestNoGuestOS drives a supervisor whose guest never answers: its
// control requests, their refusals, and each way it ends.
func TestNoGuestOS(t *testing.T) {
	t.Run("requests", func(t *testing.T) {
		t.Parallel()
		s := supervise(t, newBootstrap(t, bareDef(t), newEnv(t)), 0)
		testRequests(t, s)
	})
	t.Run("uefi", func(t *testing.T) {
		t.Parallel()
		testUEFISnapshots(t)
	})
	t.Run("gpu", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		b := newBootstrap(t, bareDef(t), env)
		// The definition says a GPU is passed through; the argv, made
		// without it, runs here.
		b.Def.GPU = []string{"0000:01:00.0"}
		s := supervise(t, b, 0)
		for _, action := range []string{"save", "load"} {
			s.refused(t, control.Request{Op: control.OpSnapshot, Action: action, Tag: "s1"}, errcode.Refused, "GPU", "cannot "+action+" a snapshot")
		}
		s.refused(t, control.Request{Op: control.OpSuspend}, errcode.Refused, "GPU", "cannot suspend")
		if _, err := os.Stat(env.Path(vmctl.SuspendFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused suspend left %s (%v)", env.Path(vmctl.SuspendFile), err)
		}
		s.wantState(t, control.StateRunning)

		// Requests that wait for the agent, and a client that has not
		// sent its request yet, when QEMU is killed: each ends at once.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		idle, err := net.Dial("unix", env.Path(vmctl.ControlSocket))
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		waits := make(chan error, 2)
		for _, op := range []string{control.OpWaitAgent, control.OpAgent} {
			go func() {
				_, conn, err := control.Dial(ctx, env.Path(vmctl.ControlSocket), control.Request{Op: op, Timeout: time.Minute})
				if conn != nil {
					conn.Close()
				}
				switch {
				case err == nil:
					err = fmt.Errorf("%s: no error after QEMU's end", op)
				case errors.Is(err, errcode.ErrState) && strings.Contains(err.Error(), "ended"):
					err = nil
				default:
					err = fmt.Errorf("%s: %w, want that the VM ended", op, err)
				}
				waits <- err
			}()
		}
		time.Sleep(200 * time.Millisecond) // for both to wait
		killed := time.Now()
		rep := s.must(t, control.Request{Op: control.OpKill})
		if !strings.Contains(rep.Message, "killed") {
			t.Errorf("kill: %q", rep.Message)
		}
		s.qemuGone(t, 2*time.Second)
		for range 2 {
			select {
			case err := <-waits:
				if err != nil {
					t.Error(err)
				}
			case <-ctx.Done():
				t.Fatal("a request that waited for the agent has not returned 30 s after QEMU's kill")
			}
		}
		s.ended(t, 2*time.Second)
		t.Logf("kill: Run returned %v after the kill", time.Since(killed).Round(time.Millisecond))
	})
	t.Run("sigterm", func(t *testing.T) {
		t.Parallel()
		s := supervise(t, newBootstrap(t, bareDef(t), newEnv(t)), time.Second)
		start := time.Now()
		s.cancel()
		s.ended(t, 10*time.Second)
		t.Logf("told to end: Run returned after %v (stop timeout 1 s)", time.Since(start).Round(time.Millisecond))
		if !strings.Contains(s.log.String(), "told to end") {
			t.Errorf("the supervisor's log does not say it was told to end")
		}
	})
	// Told to end while a long request holds the VM (a balloon that the
	// guest, with no driver, never follows): the stop comes after it.
	t.Run("sigterm while busy", func(t *testing.T) {
		t.Parallel()
		d := bareDef(t)
		d.Memory, d.Balloon = "128M", true
		env := newEnv(t)
		s := supervise(t, newBootstrap(t, d, env), time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		// A balloon is refused until the VM runs: wait for that first.
		for s.status(t).State != control.StateRunning {
			if ctx.Err() != nil {
				t.Fatal("the VM is not running after 30 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		ballooned := make(chan error, 1)
		go func() {
			_, _, err := control.Dial(ctx, env.Path(vmctl.ControlSocket), control.Request{Op: control.OpBalloon, Bytes: 64 << 20})
			ballooned <- err
		}()
		// A harmless request that says when the balloon holds the VM.
		deadline := time.Now().Add(10 * time.Second)
		for {
			// Refused (no such snapshot) until the balloon holds the VM.
			_, err := s.call(t, control.Request{Op: control.OpSnapshot, Action: "delete", Tag: "none"})
			if errors.Is(err, errcode.ErrState) {
				break
			}
			select {
			case err := <-ballooned:
				t.Fatalf("the balloon request ended before it held the VM: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("the balloon request has not started after 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		start := time.Now()
		s.cancel()
		s.ended(t, 20*time.Second)
		t.Logf("told to end during a balloon: Run returned after %v", time.Since(start).Round(time.Millisecond))
		select {
		case err := <-ballooned:
			t.Logf("the balloon request: %v", err)
		case <-ctx.Done():
			t.Error("the balloon request has not returned")
		}
	})
}

func testRequests(t *testing.T, s *sv) {
	st := s.status(t)
	if st.State != control.StateRunning || st.AgentReady || st.Accel != "tcg" || st.Name != "bare" {
		t.Errorf("status %+v, want bare running under tcg without its agent", st)
	}
	if st.Supervisor != os.Getpid() {
		t.Errorf("status: supervisor %d, want this process %d", st.Supervisor, os.Getpid())
	}
	if len(st.Pinning) != 1 || st.Pinning[0].Thread == 0 || len(st.Pinning[0].Cores) == 0 {
		t.Errorf("status: pinning %+v, want one vCPU thread and its cores", st.Pinning)
	}

	// Pause and resume.
	if rep := s.must(t, control.Request{Op: control.OpPause}); !strings.Contains(rep.Message, "paused") {
		t.Errorf("pause: %q", rep.Message)
	}
	s.wantState(t, control.StatePaused)
	s.refused(t, control.Request{Op: control.OpPause}, errcode.Paused, "--resume")
	s.refused(t, control.Request{Op: control.OpWaitAgent, Timeout: time.Minute}, errcode.Paused, "--resume")
	s.must(t, control.Request{Op: control.OpResume})
	s.wantState(t, control.StateRunning)
	s.refused(t, control.Request{Op: control.OpResume}, errcode.State, "not paused")

	// An agent that never answers.
	start := time.Now()
	s.refused(t, control.Request{Op: control.OpWaitAgent, Timeout: 300 * time.Millisecond}, errcode.Failed, "did not answer within 300ms")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("wait-agent of 300ms took %v", took)
	}
	s.refused(t, control.Request{Op: "frobnicate"}, errcode.Failed, "unknown request")

	// Internal snapshots of a guest without an agent.
	s.refused(t, control.Request{Op: control.OpSnapshot, Action: "load", Tag: "s1"}, errcode.Refused, "no snapshot s1 (snapshots: none)")
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "save", Tag: "s1"})
	s.refused(t, control.Request{Op: control.OpSnapshot, Action: "save", Tag: "s1"}, errcode.Refused, "already")
	if rep := s.must(t, control.Request{Op: control.OpSnapshot, Action: "list"}); len(rep.Snapshots) != 1 || rep.Snapshots[0].Name != "s1" {
		t.Errorf("snapshot list: %+v, want s1", rep.Snapshots)
	}
	start = time.Now()
	rep := s.must(t, control.Request{Op: control.OpSnapshot, Action: "load", Tag: "s1"})
	took := time.Since(start)
	t.Logf("snapshot load with no agent: %v: %s", took.Round(time.Millisecond), rep.Message)
	// Seconds would mean a wait for the agent: the wait itself, or the
	// reset of the supervisor's handshake in progress with no agent.
	if took > 3*time.Second {
		t.Errorf("snapshot load of a guest with no agent took %v: it waited for an agent that never answered", took)
	}
	s.wantState(t, control.StateRunning)
	// Loaded while paused, the guest stays paused.
	s.must(t, control.Request{Op: control.OpPause})
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "load", Tag: "s1"})
	s.wantState(t, control.StatePaused)
	s.must(t, control.Request{Op: control.OpResume})
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "delete", Tag: "s1"})
	if rep := s.must(t, control.Request{Op: control.OpSnapshot, Action: "list"}); len(rep.Snapshots) != 0 {
		t.Errorf("snapshot list after the delete: %+v, want none", rep.Snapshots)
	}

	s.refused(t, control.Request{Op: control.OpBalloon, Bytes: 32 << 20}, errcode.Refused, "no balloon device", "balloon = true")

	testConcurrent(t, s)

	// A stop of a guest that ignores the power button quits QEMU after
	// the timeout.
	pid := s.pid
	start = time.Now()
	rep = s.must(t, control.Request{Op: control.OpStop, Timeout: time.Second})
	took = time.Since(start)
	t.Logf("stop: %s (%v)", rep.Message, took.Round(time.Millisecond))
	if !strings.Contains(rep.Message, "did not power off within 1s: quit") {
		t.Errorf("stop: %q, want that it quit after the timeout", rep.Message)
	}
	if took < time.Second || took > 5*time.Second {
		t.Errorf("stop with a timeout of 1 s took %v", took)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		s.qemuGone(t, 2*time.Second)
	}
	s.ended(t, 5*time.Second)
}

// testConcurrent sends requests from 8 goroutines at once while a
// snapshot is saved: none may hang, and each reply is whole.
func testConcurrent(t *testing.T, s *sv) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	saved := make(chan struct{})
	var g errgroup.Group
	// checkReply says whether rep is well-formed for op.
	checkReply := func(op string, rep control.Reply) error {
		switch {
		case rep.Error != "" && !slices.Contains([]errcode.Code{errcode.Paused, errcode.State, errcode.Refused, errcode.Failed}, rep.Code):
			return fmt.Errorf("%s: error %q with code %q", op, rep.Error, rep.Code)
		case rep.Error == "" && op == control.OpStatus && rep.Status == nil:
			return fmt.Errorf("status: a reply with no status")
		case rep.Error == "" && op != control.OpStatus && rep.Message == "":
			return fmt.Errorf("%s: a reply with no message", op)
		}
		return nil
	}
	var mu sync.Mutex
	codes := map[string]int{}
	g.Go(func() error {
		defer close(saved)
		for {
			_, _, err := control.Dial(ctx, s.env.Path(vmctl.ControlSocket), control.Request{Op: control.OpSnapshot, Action: "save", Tag: "c1"})
			switch {
			case err == nil:
				return nil
			case !errors.Is(err, errcode.ErrState): // not busy
				return fmt.Errorf("snapshot save: %w", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	for i := range 8 {
		g.Go(func() error {
			ops := []string{control.OpStatus}
			if i%2 == 0 {
				ops = []string{control.OpPause, control.OpStatus, control.OpResume}
			}
			for n := 0; ; n++ {
				for _, op := range ops {
					rep, _, err := control.Dial(ctx, s.env.Path(vmctl.ControlSocket), control.Request{Op: op})
					if err != nil && errcode.Of(err) == "" {
						return fmt.Errorf("goroutine %d: %s: %w", i, op, err)
					}
					if err := checkReply(op, rep); err != nil {
						return fmt.Errorf("goroutine %d: %w", i, err)
					}
					mu.Lock()
					codes[op+" "+string(rep.Code)]++
					mu.Unlock()
				}
				select {
				case <-saved:
					if n > 0 {
						return nil
					}
				default:
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("replies during a snapshot save (op code: count): %v", codes)
	if st := s.status(t); st.State == control.StatePaused {
		s.must(t, control.Request{Op: control.OpResume})
	}
	s.wantState(t, control.StateRunning)
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "delete", Tag: "c1"})
}

// demoDef is the demo guest of vmctl/default.toml ([vm.linux]) on the
// files of one test.
func demoDef(files guesttest.Files) vmctl.Definition {
	return vmctl.Definition{
		Name: "linux", OS: "linux", Memory: "256M", Cores: 1,
		Kernel: files.Kernel, Initrd: files.Initrd, Append: "console=ttyS0 quiet panic=-1",
		Balloon: true,
		Network: vmctl.Network{Mode: "none"},
		Disks:   []vmctl.Disk{{Path: files.Disk, Format: "qcow2"}},
	}
}

// agentClient is a shell's client of the guest's agent, relayed by the
// supervisor, as the VM kind (kinds/vm.go) makes it; it is closed when
// the test ends.
func agentClient(t *testing.T, env vmctl.Env) *client.Client {
	c := client.New(client.Options{
		Name:    "linux",
		Version: "test",
		Dial: func(ctx context.Context) (net.Conn, error) {
			_, conn, err := control.Dial(ctx, env.Path(vmctl.ControlSocket), control.Request{Op: control.OpAgent})
			return conn, err
		},
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs text in the guest through c, with a deadline.
func run(t *testing.T, c *client.Client, text string) agenttest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	return agenttest.Run(ctx, c, text, nil)
}

// TestDemoGuest boots the demo guest once under a supervisor of this
// process and has shells use its agent through the supervisor's relay:
// at once, across a pause, a snapshot load, a suspend and resume, and
// QEMU's death.
func TestDemoGuest(t *testing.T) {
	files := guesttest.Prepare(t, guesttest.Options{Agent: agentBin})
	env := newEnv(t)
	b := newBootstrap(t, demoDef(files), env)
	s := supervise(t, b, 0)
	boot := time.Now()
	rep := s.must(t, control.Request{Op: control.OpWaitAgent, Timeout: 2 * time.Minute})
	if st := rep.Status; st == nil || !st.AgentReady || st.Agent == nil || st.Agent.Hostname != "spirit-demo" {
		t.Fatalf("wait-agent: status %+v, want the agent of spirit-demo ready", st)
	}
	t.Logf("boot to agent: %v (waited %v)", rep.Status.BootToAgent.Round(time.Millisecond), time.Since(boot).Round(time.Millisecond))

	c := agentClient(t, env)
	agenttest.MustRun(t, c, "uname -s", "Linux\n")

	if !t.Run("shells at once", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		var g errgroup.Group
		for i := range 3 {
			ci := agentClient(t, env)
			for j := range 5 {
				g.Go(func() error {
					want := fmt.Sprintf("%d-%d\n", i, j)
					r := agenttest.Run(ctx, ci, "echo "+strings.TrimSpace(want), nil)
					if r.Err != nil || r.Status != 0 || r.Stdout != want {
						return fmt.Errorf("shell %d exec %d: status %d err %v stdout %q, want %q", i, j, r.Status, r.Err, r.Stdout, want)
					}
					return nil
				})
			}
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}

	if !t.Run("pause", func(t *testing.T) {
		s.must(t, control.Request{Op: control.OpPause})
		r := run(t, c, "true")
		if !errors.Is(r.Err, errcode.ErrPaused) || !strings.Contains(r.Err.Error(), "--resume") {
			t.Errorf("exec on a paused VM: status %d err %v, want an error that says --resume", r.Status, r.Err)
		}
		s.must(t, control.Request{Op: control.OpResume})
		agenttest.MustRun(t, c, "echo again", "again\n")
	}) {
		return
	}

	if !t.Run("balloon", func(t *testing.T) {
		rep := s.must(t, control.Request{Op: control.OpBalloon, Bytes: 192 << 20})
		t.Log(rep.Message)
		if st := s.status(t); st.Balloon != 192<<20 {
			t.Errorf("balloon after a set to 192 MiB: %d MiB", st.Balloon>>20)
		}
		s.must(t, control.Request{Op: control.OpBalloon, Bytes: 256 << 20})
	}) {
		return
	}

	if !t.Run("snapshot", func(t *testing.T) {
		agenttest.MustRun(t, c, "echo kept > /tmp/snap && echo ok", "ok\n")
		start := time.Now()
		s.must(t, control.Request{Op: control.OpSnapshot, Action: "save", Tag: "s1"})
		saved := time.Since(start)
		agenttest.MustRun(t, c, "rm /tmp/snap && echo gone", "gone\n")
		start = time.Now()
		rep := s.must(t, control.Request{Op: control.OpSnapshot, Action: "load", Tag: "s1"})
		t.Logf("save %v, load %v: %s", saved.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), rep.Message)
		if !s.status(t).AgentReady {
			t.Errorf("the load replied before the agent answered again")
		}
		// The same client, whose connection the load ended, reconnects.
		agenttest.MustRun(t, c, "cat /tmp/snap", "kept\n")
		s.must(t, control.Request{Op: control.OpSnapshot, Action: "delete", Tag: "s1"})
	}) {
		return
	}

	if !t.Run("suspend", func(t *testing.T) {
		agenttest.MustRun(t, c, "echo in-ram > /tmp/ramfile && echo ok", "ok\n")
		start := time.Now()
		rep := s.must(t, control.Request{Op: control.OpSuspend})
		t.Logf("%s (%v)", rep.Message, time.Since(start).Round(time.Millisecond))
		s.ended(t, 10*time.Second)
		if _, err := os.Stat(env.Path(vmctl.SuspendFile)); err != nil {
			t.Fatalf("no saved state after the suspend: %v", err)
		}
		if r := run(t, c, "true"); r.Err == nil {
			t.Errorf("exec after the suspend succeeded, want an error")
		}
	}) {
		return
	}

	// What vmctl.Manager.Plan runs for a suspended VM.
	resumed := b
	resumed.Incoming = env.Path(vmctl.SuspendFile)
	resumed.Args = append(slices.Clone(b.Args), "-incoming", "defer")
	s = supervise(t, resumed, 0)

	if !t.Run("resume", func(t *testing.T) {
		st := s.status(t)
		if !st.Resumed || st.State != control.StateRunning {
			t.Errorf("status after the resume: %+v, want running, resumed", st)
		}
		if _, err := os.Stat(env.Path(vmctl.SuspendFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the saved state is still there once resumed (%v)", err)
		}
		s.must(t, control.Request{Op: control.OpWaitAgent, Timeout: time.Minute})
		// The client that the first supervisor served dials the second.
		agenttest.MustRun(t, c, "cat /tmp/ramfile", "in-ram\n")
	}) {
		return
	}

	t.Run("qemu killed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		done := make(chan agenttest.Result, 1)
		go func() { done <- agenttest.Run(ctx, c, "sleep 100", nil) }()
		other := agentClient(t, env)
		deadline := time.Now().Add(20 * time.Second)
		for run(t, other, "pidof sleep").Status != 0 {
			if time.Now().After(deadline) {
				t.Fatal("sleep 100 does not run in the guest after 20 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		killed := time.Now()
		if err := syscall.Kill(s.pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			t.Logf("sleep 100 ended %v after QEMU's kill: status %d, %v", time.Since(killed).Round(time.Millisecond), r.Status, r.Err)
			if r.Err == nil {
				t.Errorf("sleep 100 ended with status %d and no error, want an error", r.Status)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("sleep 100 still runs 5 s after QEMU was killed")
		}
		s.ended(t, 5*time.Second)
	})
}

// testUEFISnapshots runs OVMF with the VM's own variable store, made as
// vmctl.Manager makes it (qcow2): QEMU takes internal snapshots only when
// every writable drive can hold one, the firmware's included.
func testUEFISnapshots(t *testing.T) {
	for _, f := range []string{vmctl.DefaultOVMFCode, vmctl.DefaultOVMFVars} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%v: install Debian's UEFI firmware: apt-get install ovmf (scripts/deps.sh does)", err)
		}
	}
	d := bareDef(t)
	d.Firmware, d.Memory = "uefi", "128M"
	env := newEnv(t)
	argv := vmctl.VarsCopyArgs(d, env)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", argv, err, out)
	}
	s := supervise(t, newBootstrap(t, d, env), 0)
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "save", Tag: "u1"})
	rep := s.must(t, control.Request{Op: control.OpSnapshot, Action: "list"})
	if len(rep.Snapshots) != 1 || rep.Snapshots[0].Name != "u1" {
		t.Fatalf("snapshots after a save: %+v", rep.Snapshots)
	}
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "load", Tag: "u1"})
	s.must(t, control.Request{Op: control.OpSnapshot, Action: "delete", Tag: "u1"})
	s.wantState(t, control.StateRunning)
}
