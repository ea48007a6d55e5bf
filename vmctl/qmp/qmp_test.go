package qmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"spirit/internal/guesttest"
)

const guestRAM = 64 << 20

// testVM is a QEMU started for one test and killed when it ends.
type testVM struct {
	cmd    *exec.Cmd
	sock   string
	exited chan struct{} // closed when the process has been waited for
}

// startQEMU starts an x86_64 QEMU under TCG with no guest OS (SeaBIOS finds
// nothing to boot and waits: a running guest with RAM) and its QMP socket in
// a short directory.
func startQEMU(t *testing.T, extra ...string) *testVM {
	t.Helper()
	bin := guesttest.Program(t, "qemu-system-x86_64")
	dir, err := os.MkdirTemp("", "q") // a unix socket path must be < 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "qmp.sock")
	args := append([]string{
		"-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "q35,accel=tcg", "-m", "64",
		"-qmp", "unix:" + sock + ",server=on,wait=off",
	}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	vm := &testVM{cmd: cmd, sock: sock, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(vm.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-vm.exited
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("qemu stderr:\n%s", &stderr)
		}
	})
	return vm
}

// newDisk makes an empty 16 MiB qcow2 image and returns QEMU's options for
// it as drive "disk0".
func newDisk(t *testing.T) (path string, opts []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "disk.qcow2")
	out, err := exec.Command("qemu-img", "create", "-f", "qcow2", path, "16M").CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img: %v: %s (apt-get install qemu-system-x86 qemu-utils)", err, out)
	}
	return path, diskOpts(path)
}

func diskOpts(path string) []string {
	return []string{
		"-drive", "file=" + path + ",if=none,id=disk0,format=qcow2",
		"-device", "virtio-blk-pci,drive=disk0",
	}
}

// dial connects to vm's QMP socket, retrying while QEMU starts.
func dial(t *testing.T, vm *testVM) *Monitor {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for {
		m, err := Dial(ctx, vm.sock, log)
		if err == nil {
			t.Cleanup(func() { m.Close() })
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dial: %v", err)
		case <-vm.exited:
			t.Fatalf("qemu exited: %v", vm.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantStatus(t *testing.T, ctx context.Context, m *Monitor, want string) {
	t.Helper()
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != want || st.Running != (want == "running") {
		t.Fatalf("status %+v, want %q", st, want)
	}
}

// waitEvent waits for an event named name on events.
func waitEvent(t *testing.T, events <-chan Event, name string) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event channel closed before %s", name)
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

func TestStopCont(t *testing.T) {
	ctx := testContext(t)
	m := dial(t, startQEMU(t))
	wantStatus(t, ctx, m, "running")

	events, unsubscribe := m.Subscribe()
	defer unsubscribe()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ctx, m, "paused")
	ev := waitEvent(t, events, "STOP")
	if time.Since(ev.Time) > time.Minute || time.Since(ev.Time) < -time.Minute {
		t.Errorf("STOP event time %v, now %v", ev.Time, time.Now())
	}

	if err := m.Cont(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, ctx, m, "running")
	waitEvent(t, events, "RESUME")

	// No guest OS acts on the button, but QEMU reports pressing it.
	if err := m.Powerdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, "POWERDOWN")
	wantStatus(t, ctx, m, "running")

	unsubscribe()
	if _, ok := <-events; ok {
		// Buffered events may remain; the channel must be closed after them.
		for range events {
		}
	}
}

// TestDialBusy checks that a second client waits for its context: QEMU
// serves one QMP client at a time and greets the next only when the first
// has gone.
func TestDialBusy(t *testing.T) {
	vm := startQEMU(t)
	m := dial(t, vm)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if m2, err := Dial(ctx, vm.sock, nil); !errors.Is(err, context.DeadlineExceeded) {
		if m2 != nil {
			m2.Close()
		}
		t.Fatalf("second Dial: %v, want DeadlineExceeded", err)
	}
	wantStatus(t, testContext(t), m, "running")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, testContext(t), dial(t, vm), "running")
}

func TestErrorReply(t *testing.T) {
	ctx := testContext(t)
	m := dial(t, startQEMU(t))
	err := m.Run(ctx, "no-such-command", nil, nil)
	var qerr *Error
	if !errors.As(err, &qerr) || qerr.Class != "CommandNotFound" || qerr.Command != "no-such-command" {
		t.Fatalf("got %v (%#v), want a CommandNotFound *Error", err, qerr)
	}
	// The message names the command before QEMU's words.
	if want := "qmp no-such-command: " + qerr.Desc; err.Error() != want || qerr.Desc == "" {
		t.Errorf("message %q, want %q", err, want)
	}
	// Arguments that QEMU rejects.
	err = m.Run(ctx, "query-status", map[string]int{"bogus": 1}, nil)
	if !errors.As(err, &qerr) || qerr.Class != "GenericError" {
		t.Fatalf("got %v, want a GenericError *Error", err)
	}
}

func TestVCPUs(t *testing.T) {
	ctx := testContext(t)
	vm := startQEMU(t, "-smp", "2")
	m := dial(t, vm)
	cpus, err := m.VCPUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) != 2 {
		t.Fatalf("%d vCPUs, want 2: %+v", len(cpus), cpus)
	}
	seen := map[int]bool{}
	for i, c := range cpus {
		if c.Index != i {
			t.Errorf("vCPU %d has index %d", i, c.Index)
		}
		if seen[c.ThreadID] {
			t.Errorf("thread %d shared: %+v", c.ThreadID, cpus)
		}
		seen[c.ThreadID] = true
		task := fmt.Sprintf("/proc/%d/task/%d", vm.cmd.Process.Pid, c.ThreadID)
		if _, err := os.Stat(task); err != nil {
			t.Errorf("vCPU %d: %v", i, err)
		}
	}
}

func TestBalloon(t *testing.T) {
	ctx := testContext(t)
	t.Run("device", func(t *testing.T) {
		m := dial(t, startQEMU(t, "-device", "virtio-balloon-pci"))
		if got, err := m.Balloon(ctx); err != nil || got != guestRAM {
			t.Fatalf("balloon %d, %v; want %d", got, err, guestRAM)
		}
		if err := m.SetBalloon(ctx, guestRAM/2); err != nil {
			t.Fatal(err)
		}
		// No driver in the guest: the target is recorded, the size stays.
		if got, err := m.Balloon(ctx); err != nil || got != guestRAM {
			t.Fatalf("balloon after SetBalloon %d, %v; want %d", got, err, guestRAM)
		}
	})
	t.Run("none", func(t *testing.T) {
		m := dial(t, startQEMU(t))
		var qerr *Error
		if err := m.SetBalloon(ctx, guestRAM/2); !errors.As(err, &qerr) || qerr.Class != "DeviceNotActive" {
			t.Fatalf("SetBalloon without a device: %v, want DeviceNotActive", err)
		}
		if _, err := m.Balloon(ctx); !errors.As(err, &qerr) || qerr.Class != "DeviceNotActive" {
			t.Fatalf("Balloon without a device: %v, want DeviceNotActive", err)
		}
	})
}

func TestKVM(t *testing.T) {
	ctx := testContext(t)
	m := dial(t, startQEMU(t))
	enabled, present, err := m.KVM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if enabled {
		t.Errorf("KVM enabled under accel=tcg")
	}
	t.Logf("kvm present (built in): %v", present)
}

func TestSnapshots(t *testing.T) {
	ctx := testContext(t)
	_, disk := newDisk(t)
	m := dial(t, startQEMU(t, disk...))

	drives, err := m.Drives(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(drives) != 1 || drives[0].Device != "disk0" || drives[0].NodeName == "" ||
		drives[0].Format != "qcow2" || drives[0].ReadOnly || len(drives[0].Snapshots) != 0 {
		t.Fatalf("drives %+v, want disk0 alone, writable qcow2 with a node name and no snapshot", drives)
	}
	node := drives[0].NodeName
	devices := []string{node}

	start := time.Now()
	if err := m.SnapshotSave(ctx, "s1", node, devices); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot-save: %v", time.Since(start))
	wantStatus(t, ctx, m, "running")

	drives, err = m.Drives(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snaps := drives[0].Snapshots
	if len(snaps) != 1 || snaps[0].Name != "s1" || snaps[0].VMStateSize == 0 ||
		time.Since(snaps[0].Date) > time.Minute {
		t.Fatalf("snapshots %+v, want s1 with VM state, taken just now", snaps)
	}
	t.Logf("snapshot: %+v", snaps[0])

	start = time.Now()
	if err := m.SnapshotLoad(ctx, "s1", node, devices); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot-load: %v", time.Since(start))
	wantStatus(t, ctx, m, "running")

	err = m.SnapshotLoad(ctx, "nope", node, devices)
	var jerr *JobError
	if !errors.As(err, &jerr) || jerr.Command != "snapshot-load" || jerr.Desc == "" {
		t.Fatalf("loading a missing snapshot: %v (%#v), want a snapshot-load *JobError", err, jerr)
	}
	// The user reads which snapshot is missing.
	if !strings.Contains(err.Error(), "nope") {
		t.Errorf("loading a missing snapshot: %v, want an error naming it", err)
	}
	t.Logf("missing snapshot: %v", err)

	if err := m.SnapshotDelete(ctx, "s1", devices); err != nil {
		t.Fatal(err)
	}
	drives, err = m.Drives(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(drives[0].Snapshots) != 0 {
		t.Fatalf("snapshots after delete: %+v", drives[0].Snapshots)
	}

	// Every job was dismissed, the failed one too.
	var jobs []any
	if err := m.Run(ctx, "query-jobs", nil, &jobs); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs left: %v, %v", jobs, err)
	}
}

// TestMigrateFile suspends a VM to a file and resumes it in a second QEMU.
// The restored VM takes the run state the source had when it was saved.
func TestMigrateFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop bool   // stop the source first, as a suspend does
		want string // status after MigrateFromFile
	}{
		{"stopped", true, "paused"},
		{"running", false, "running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			path, disk := newDisk(t)
			state := filepath.Join(t.TempDir(), "state")

			src := startQEMU(t, disk...)
			m := dial(t, src)
			if tc.stop {
				if err := m.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			if err := m.MigrateToFile(ctx, state); err != nil {
				t.Fatal(err)
			}
			t.Logf("migrate to file: %v", time.Since(start))
			fi, err := os.Stat(state)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
				t.Fatalf("state file %v, %d bytes", fi.Mode(), fi.Size())
			}
			t.Logf("state file: %d bytes", fi.Size())
			wantStatus(t, ctx, m, "postmigrate")
			if err := m.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			<-src.exited

			dst := startQEMU(t, append(diskOpts(path), "-incoming", "defer")...)
			m = dial(t, dst)
			wantStatus(t, ctx, m, "inmigrate")
			start = time.Now()
			if err := m.MigrateFromFile(ctx, state); err != nil {
				t.Fatal(err)
			}
			t.Logf("migrate from file: %v", time.Since(start))
			wantStatus(t, ctx, m, tc.want)
			if tc.want == "paused" {
				if err := m.Cont(ctx); err != nil {
					t.Fatal(err)
				}
			}
			wantStatus(t, ctx, m, "running")
		})
	}
}

func TestMigrateFileErrors(t *testing.T) {
	ctx := testContext(t)
	t.Run("incoming from garbage", func(t *testing.T) {
		garbage := filepath.Join(t.TempDir(), "garbage")
		if err := os.WriteFile(garbage, []byte("not a migration stream"), 0o600); err != nil {
			t.Fatal(err)
		}
		vm := startQEMU(t, "-incoming", "defer")
		m := dial(t, vm)
		err := m.MigrateFromFile(ctx, garbage)
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed: QEMU 7.2 exits when loading fails", err)
		}
		t.Logf("garbage: %v", err)
		select {
		case <-vm.exited:
			t.Logf("qemu: %v", vm.cmd.ProcessState)
		case <-time.After(5 * time.Second):
			t.Fatal("qemu still running")
		}
	})
	t.Run("incoming without -incoming", func(t *testing.T) {
		garbage := filepath.Join(t.TempDir(), "garbage")
		if err := os.WriteFile(garbage, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		m := dial(t, startQEMU(t))
		err := m.MigrateFromFile(ctx, garbage)
		var qerr *Error
		if !errors.As(err, &qerr) || qerr.Command != "migrate-incoming" {
			t.Fatalf("got %v, want a migrate-incoming error", err)
		}
	})
}

func TestQuit(t *testing.T) {
	ctx := testContext(t)
	vm := startQEMU(t)
	m := dial(t, vm)
	if err := m.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after quit")
	}
	select {
	case <-vm.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("qemu still running after quit")
	}
	if err := m.Run(ctx, "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after quit: %v, want ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close after quit: %v", err)
	}
}

func TestRunContext(t *testing.T) {
	vm := startQEMU(t)
	m := dial(t, vm)

	t.Run("expired", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		err := m.Run(ctx, "query-status", nil, nil)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "query-status") {
			t.Fatalf("got %v, want context.Canceled naming the command", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})

	t.Run("unanswered", func(t *testing.T) {
		// A frozen QEMU never answers: the Run ends with its context, and
		// once QEMU thaws the late reply is dropped and later Runs work.
		if err := vm.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		thawed := false
		defer func() {
			if !thawed {
				vm.cmd.Process.Signal(syscall.SIGCONT)
			}
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := m.Run(ctx, "query-status", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v", d)
		}
		vm.cmd.Process.Signal(syscall.SIGCONT)
		thawed = true
		ctx = testContext(t)
		for range 3 {
			wantStatus(t, ctx, m, "running")
		}
	})
}

func TestCloseUnblocksRun(t *testing.T) {
	vm := startQEMU(t)
	m := dial(t, vm)
	if err := vm.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer vm.cmd.Process.Signal(syscall.SIGCONT)

	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background(), "query-status", nil, nil) }()
	time.Sleep(100 * time.Millisecond) // let it send and wait
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock a waiting Run")
	}
	events, _ := m.Subscribe()
	if _, ok := <-events; ok {
		t.Fatal("Subscribe after Close gave an open channel")
	}
}

func TestRunAfterKill(t *testing.T) {
	vm := startQEMU(t)
	m := dial(t, vm)
	events, _ := m.Subscribe()
	if err := vm.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-vm.exited

	ctx := testContext(t)
	start := time.Now()
	err := m.Run(ctx, "query-status", nil, nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	select {
	case <-m.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
	if _, ok := <-events; ok {
		t.Fatal("subscriber channel still open")
	}
}

func TestConcurrentRuns(t *testing.T) {
	ctx := testContext(t)
	_, disk := newDisk(t)
	m := dial(t, startQEMU(t, disk...))
	g, ctx := errgroup.WithContext(ctx)
	for i := range 8 {
		g.Go(func() error {
			for j := range 20 {
				switch (i + j) % 4 {
				case 0:
					st, err := m.Status(ctx)
					if err != nil {
						return err
					}
					if st.Status != "running" {
						return fmt.Errorf("status %+v", st)
					}
				case 1:
					drives, err := m.Drives(ctx)
					if err != nil {
						return err
					}
					if len(drives) != 1 {
						return fmt.Errorf("drives %+v", drives)
					}
				case 2:
					cpus, err := m.VCPUs(ctx)
					if err != nil {
						return err
					}
					if len(cpus) != 1 {
						return fmt.Errorf("vcpus %+v", cpus)
					}
				case 3:
					// A reply of several KiB: go-qemu's reader races on those.
					var cmds []struct{ Name string }
					if err := m.Run(ctx, "query-commands", nil, &cmds); err != nil {
						return err
					}
					if len(cmds) < 100 {
						return fmt.Errorf("%d commands", len(cmds))
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestJobCancel checks that a job outliving its context is cancelled and
// dismissed. Snapshot jobs finish before QEMU answers anything else, so a
// backup crawling at 1 byte/s stands in for a slow one.
func TestJobCancel(t *testing.T) {
	_, disk := newDisk(t)
	m := dial(t, startQEMU(t, disk...))
	ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := m.runJob(ctx, "drive-backup", map[string]any{
		"device": "disk0", "target": filepath.Join(t.TempDir(), "backup.qcow2"), "format": "qcow2",
		"sync": "full", "speed": 1, "auto-dismiss": false,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	var jobs []any
	if err := m.Run(testContext(t), "query-jobs", nil, &jobs); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs left: %v, %v", jobs, err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}`,
		`{"return": {}, "id": 1}`,
		`{"return": [{"cpu-index": 0, "thread-id": 12}], "id": 18446744073709551615}`,
		`{"id": 3, "error": {"class": "CommandNotFound", "desc": "The command x has not been found"}}`,
		`{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword"}}`,
		`{"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event": "STOP"}`,
		`{"timestamp": {"seconds": -1, "microseconds": -1}, "event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "j"}}`,
		`{"id": "text"}`, `[]`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		msg, err := decodeMessage(line)
		if err != nil {
			return
		}
		if msg.QMP == nil && msg.Event == "" && msg.Return == nil && msg.Error == nil {
			t.Fatalf("accepted %q as %+v", line, msg)
		}
		_ = msg.response.decode("x", new(any))
	})
}

// TestJobCancelWhileStarting: the deadline ends while QEMU has not yet
// answered the command that starts the job (QEMU is stopped then); the job
// it starts once it runs again is cancelled and dismissed all the same.
func TestJobCancelWhileStarting(t *testing.T) {
	_, disk := newDisk(t)
	vm := startQEMU(t, disk...)
	m := dial(t, vm)
	ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
	defer cancel()
	if err := vm.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := time.AfterFunc(time.Second, func() { vm.cmd.Process.Signal(syscall.SIGCONT) })
	defer resumed.Stop()
	err := m.runJob(ctx, "drive-backup", map[string]any{
		"device": "disk0", "target": filepath.Join(t.TempDir(), "backup.qcow2"), "format": "qcow2",
		"sync": "full", "speed": 1, "auto-dismiss": false,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	var jobs []any
	if err := m.Run(testContext(t), "query-jobs", nil, &jobs); err != nil || len(jobs) != 0 {
		t.Fatalf("jobs left: %v, %v", jobs, err)
	}
}
