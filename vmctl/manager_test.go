package vmctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"spirit/errcode"
	"spirit/gpu/gpusim"
	"spirit/target"
	"spirit/vmctl/control"
)

func TestPlacesFor(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		uid  int
		exe  string
		want Places
		err  string // in the error; "" for none
	}{
		{
			name: "root",
			uid:  0, exe: "/usr/local/bin/spirit",
			env:  []string{"XDG_RUNTIME_DIR=/run/user/0", "HOME=/root"},
			want: Places{Run: "/run/spirit", State: "/var/lib/spirit", Base: "/usr/local"},
		},
		{
			name: "user",
			uid:  1000, exe: "/home/u/src/spirit/bin/spirit",
			env:  []string{"XDG_RUNTIME_DIR=/run/user/1000", "XDG_STATE_HOME=/home/u/.state", "HOME=/home/u"},
			want: Places{Run: "/run/user/1000/spirit", State: "/home/u/.state/spirit", Base: "/home/u/src/spirit"},
		},
		{
			name: "user without XDG_STATE_HOME",
			uid:  1000,
			env:  []string{"XDG_RUNTIME_DIR=/run/user/1000", "HOME=/home/u"},
			want: Places{Run: "/run/user/1000/spirit", State: "/home/u/.local/state/spirit"},
		},
		{
			name: "relative XDG_STATE_HOME is ignored",
			uid:  1000,
			env:  []string{"XDG_RUNTIME_DIR=/run/user/1000", "XDG_STATE_HOME=state", "HOME=/home/u"},
			want: Places{Run: "/run/user/1000/spirit", State: "/home/u/.local/state/spirit"},
		},
		{
			name: "the last of a variable wins",
			uid:  1000,
			env:  []string{"XDG_RUNTIME_DIR=/a", "HOME=/home/u", "XDG_RUNTIME_DIR=/b"},
			want: Places{Run: "/b/spirit", State: "/home/u/.local/state/spirit"},
		},
		{
			name: "user without XDG_RUNTIME_DIR",
			uid:  1000,
			env:  []string{"HOME=/home/u"},
			err:  "set SPIRIT_RUNTIME_DIR",
		},
		{
			name: "relative XDG_RUNTIME_DIR",
			uid:  1000,
			env:  []string{"XDG_RUNTIME_DIR=run", "HOME=/home/u"},
			err:  "set SPIRIT_RUNTIME_DIR",
		},
		{
			name: "user without XDG_STATE_HOME nor HOME",
			uid:  1000,
			env:  []string{"XDG_RUNTIME_DIR=/run/user/1000"},
			err:  "set SPIRIT_STATE_DIR",
		},
		{
			name: "overrides",
			uid:  1000, exe: "/usr/bin/spirit",
			env:  []string{"SPIRIT_RUNTIME_DIR=/r", "SPIRIT_STATE_DIR=/s", "SPIRIT_BASE=/b"},
			want: Places{Run: "/r", State: "/s", Base: "/b"},
		},
		{
			name: "overrides for root",
			uid:  0, exe: "/usr/bin/spirit",
			env:  []string{"SPIRIT_RUNTIME_DIR=/r", "SPIRIT_STATE_DIR=/s"},
			want: Places{Run: "/r", State: "/s", Base: "/usr"},
		},
		{
			name: "relative SPIRIT_RUNTIME_DIR",
			uid:  1000,
			env:  []string{"SPIRIT_RUNTIME_DIR=r", "SPIRIT_STATE_DIR=/s"},
			err:  "r: want an absolute path",
		},
		{
			name: "relative SPIRIT_STATE_DIR",
			uid:  0,
			env:  []string{"SPIRIT_STATE_DIR=s"},
			err:  "s: want an absolute path",
		},
		{
			name: "relative SPIRIT_BASE",
			uid:  0,
			env:  []string{"SPIRIT_BASE=b"},
			err:  "b: want an absolute path",
		},
		{
			name: "relative executable",
			uid:  0, exe: "bin/spirit",
			err: ".: want an absolute path",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlacesFor(tt.env, tt.uid, tt.exe)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("PlacesFor: %+v, %v; want an error that says %q", got, err, tt.err)
				}
			case err != nil:
				t.Fatalf("PlacesFor: %v", err)
			case got != tt.want:
				t.Errorf("PlacesFor: %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestPlacesForRootRefusesAUsersBase: $SPIRIT_BASE survives sudo -E, and
// the built-in VMs' disks and kernels are found under it: as root, one
// that another user controls is refused (a disk swapped for a link to a
// host device would be written by a root QEMU).
func TestPlacesForRootRefusesAUsersBase(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("needs root, to give a directory to another user: run it as make test does, as root")
	}
	base := t.TempDir()
	if err := os.Chown(base, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	env := []string{"SPIRIT_BASE=" + base}
	if _, err := PlacesFor(env, 0, "/usr/bin/spirit"); err == nil || !strings.Contains(err.Error(), base+" belongs to user 1234") {
		t.Errorf("PlacesFor as root: %v; want a refusal of %s", err, base)
	}
	if p, err := PlacesFor(append(env, "XDG_RUNTIME_DIR=/run/user/1234", "HOME=/home/u"), 1234, "/usr/bin/spirit"); err != nil || p.Base != base {
		t.Errorf("PlacesFor as its owner: %+v, %v", p, err)
	}
}

func TestPlacesEnv(t *testing.T) {
	p := Places{Run: "/r", State: "/s", Base: "/b"}
	if got, want := p.Env("linux"), (Env{Dir: "/r/linux", StateDir: "/s/linux", Base: "/b"}); got != want {
		t.Errorf("Env: %+v, want %+v", got, want)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestPrivate(t *testing.T) {
	root := t.TempDir()

	t.Run("new", func(t *testing.T) {
		dir := filepath.Join(root, "new", "a", "b")
		if err := private(dir); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if m := mode(t, d); !m.IsDir() || m.Perm() != 0o700 {
				t.Errorf("%s: mode %v, want a directory of 0700", d, m)
			}
		}
	})

	t.Run("open to others", func(t *testing.T) {
		dir := filepath.Join(root, "open")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil { // whatever the umask
			t.Fatal(err)
		}
		if err := private(dir); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, dir); m.Perm() != 0o700 {
			t.Errorf("mode %v, want 0700", m)
		}
	})

	t.Run("file", func(t *testing.T) {
		f := filepath.Join(root, "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := private(f); err == nil {
			t.Errorf("private of a file: no error")
		}
	})

	// A symbolic link is refused, even to a directory of ours: the
	// runtime directory must be where it says, not where someone who
	// could write its parent wants it.
	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(root, "target")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(target, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(root, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		err := private(link)
		if err == nil || !strings.Contains(err.Error(), link) {
			t.Errorf("private of a symbolic link to a directory: %v, want an error that names it", err)
		}
		if m := mode(t, target); m.Perm() != 0o755 {
			t.Errorf("the link's target was changed to %v", m)
		}
		dangling := filepath.Join(root, "dangling")
		if err := os.Symlink(filepath.Join(root, "nowhere"), dangling); err != nil {
			t.Fatal(err)
		}
		if err := private(dangling); err == nil {
			t.Errorf("private of a dangling symbolic link: no error")
		}
	})

	t.Run("someone else's", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root, to give a directory to another user")
		}
		dir := filepath.Join(root, "theirs")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		if err := private(dir); err == nil || !strings.Contains(err.Error(), "belongs to user 1234") {
			t.Errorf("private of another user's directory: %v", err)
		}
	})

	// As root, under a directory of another user ($SPIRIT_STATE_DIR
	// kept by sudo -E): that user could rename root's directory away and
	// put links in its place, so nothing is made or used there.
	t.Run("under someone else's", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Fatal("needs root, to give a directory to another user: run it as make test does, as root")
		}
		theirs := filepath.Join(root, "their-state")
		if err := os.Mkdir(theirs, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(theirs, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{filepath.Join(theirs, "vm"), filepath.Join(theirs, "vm", "deeper")} {
			if err := private(dir); err == nil || !strings.Contains(err.Error(), theirs+" belongs to user 1234") {
				t.Errorf("private(%s): %v, want a refusal that names %s", dir, err, theirs)
			}
		}
		if _, err := os.Lstat(filepath.Join(theirs, "vm")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("root made a directory in another user's: %v", err)
		}
	})
}

// testManager is a manager of the VM t (defined in a file of its own,
// with a disk that exists, at line 6), whose places are empty
// directories: no supervisor runs.
func testManager(t *testing.T) (*Manager, Definition) {
	t.Helper()
	dir := t.TempDir()
	disk := filepath.Join(dir, "t.qcow2")
	if err := os.WriteFile(disk, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// As package config reads "[vm.t]\nos = ...\nmemory = ...\n\n[[vm.t.disks]]\npath = DISK\n".
	def := Definition{Name: "t", OS: "linux", Memory: "64M", Disks: []Disk{{Path: disk}},
		Source: filepath.Join(dir, "spirit.toml"),
		Lines:  map[string]int{"": 1, "os": 2, "memory": 3, "disks.0": 5, "disks.0.path": 6},
	}
	defs := Merge(map[string]Definition{"t": def})
	run, err := os.MkdirTemp("", "vm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	m := NewManager(ManagerOptions{
		Defs:   map[string]Definition{"t": defs["t"]},
		Places: Places{Run: run, State: t.TempDir(), Base: dir},
		KVM:    func(context.Context) (bool, string) { return false, "no KVM in this test" },
	})
	return m, defs["t"]
}

// suspend leaves a saved state for the VM name, as a suspend does.
func suspend(t *testing.T, m *Manager, name string) {
	t.Helper()
	env := m.Env(name)
	if err := os.MkdirAll(env.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env.Path(SuspendFile), []byte("state"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestManagerNotRunning(t *testing.T) {
	m, _ := testManager(t)
	ctx := testCtx(t)

	st, err := m.Status(ctx, "t")
	if err != nil || st.State != control.StateStopped || st.Name != "t" {
		t.Errorf("Status: %+v, %v; want t stopped", st, err)
	}
	_, err = m.Call(ctx, "t", control.Request{Op: control.OpPause})
	if !errors.Is(err, control.ErrNotRunning) || !strings.Contains(err.Error(), "vm t is not running: start it with: spirit vm start t (or @t --start)") {
		t.Errorf("Call: %v, want control.ErrNotRunning that says how to start it", err)
	}
	if _, err := m.Stop(ctx, "t", 0); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("Stop: %v, want control.ErrNotRunning", err)
	}
	if _, err := m.Call(ctx, "nope", control.Request{Op: control.OpStatus}); !errors.Is(err, target.ErrNotFound) || !strings.Contains(err.Error(), "no vm nope (vms: t)") {
		t.Errorf("Call of an undefined VM: %v", err)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 1 || list[0].State != control.StateStopped {
		t.Errorf("List: %+v, %v", list, err)
	}

	suspend(t, m, "t")
	if st, err := m.Status(ctx, "t"); err != nil || st.State != control.StateSuspended {
		t.Errorf("Status with a saved state: %+v, %v; want suspended", st, err)
	}
	_, err = m.Call(ctx, "t", control.Request{Op: control.OpStatus})
	if !errors.Is(err, control.ErrNotRunning) || !strings.Contains(err.Error(), "vm t is suspended") || !strings.Contains(err.Error(), "resume it with: spirit vm start t") {
		t.Errorf("Call of a suspended VM: %v", err)
	}
	if entries, _ := os.ReadDir(m.o.Places.Run); len(entries) != 0 {
		t.Errorf("calls to a VM that is not running left %d files in the runtime directory", len(entries))
	}
}

func TestManagerUnusable(t *testing.T) {
	m, _ := testManager(t)
	unusable := errors.New("spirit.toml:3: broken")
	m.o.Unusable = unusable
	ctx := testCtx(t)
	if _, err := m.Call(ctx, "t", control.Request{Op: control.OpStatus}); !errors.Is(err, unusable) {
		t.Errorf("Call: %v, want the configuration's error", err)
	}
	if _, err := m.Status(ctx, "t"); !errors.Is(err, unusable) {
		t.Errorf("Status: %v, want the configuration's error", err)
	}
	if _, err := m.Plan(ctx, "t", StartOptions{}); !errors.Is(err, unusable) {
		t.Errorf("Plan: %v, want the configuration's error", err)
	}
	if _, err := m.Start(ctx, "t", StartOptions{}); !errors.Is(err, unusable) {
		t.Errorf("Start: %v, want the configuration's error", err)
	}
	if _, err := m.Snapshot(ctx, "t", "save", "s1"); !errors.Is(err, unusable) {
		t.Errorf("Snapshot: %v, want the configuration's error", err)
	}
}

func TestManagerPlan(t *testing.T) {
	m, d := testManager(t)
	ctx := testCtx(t)

	b, err := m.Plan(ctx, "t", StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Incoming != "" || slices.Contains(b.Args, "-incoming") {
		t.Errorf("Plan of a stopped VM: incoming %q, args %q", b.Incoming, b.Args)
	}
	if b.Env.KVM || b.Env.NoKVM != "no KVM in this test" || b.Env.Dir != m.Env("t").Dir || b.QEMU != "qemu-system-x86_64" {
		t.Errorf("Plan: env %+v, qemu %q", b.Env, b.QEMU)
	}
	if len(b.Notes) == 0 {
		t.Errorf("Plan under TCG: no note that says so")
	}

	suspend(t, m, "t")
	b, err = m.Plan(ctx, "t", StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Args); b.Incoming != m.Env("t").Path(SuspendFile) || n < 2 || b.Args[n-2] != "-incoming" || b.Args[n-1] != "defer" {
		t.Errorf("Plan of a suspended VM: incoming %q, args ending %q; want the saved state and -incoming defer", b.Incoming, b.Args[max(0, len(b.Args)-2):])
	}
	b, err = m.Plan(ctx, "t", StartOptions{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.Incoming != "" || slices.Contains(b.Args, "-incoming") {
		t.Errorf("Plan of a fresh start: incoming %q, args %q", b.Incoming, b.Args)
	}
	if _, err := os.Stat(m.Env("t").Path(SuspendFile)); err != nil {
		t.Errorf("Plan changed the host: %v", err)
	}

	// A missing disk names the file and line that define it.
	os.Remove(d.Disks[0].Path)
	_, err = m.Plan(ctx, "t", StartOptions{})
	want := fmt.Sprintf("%s:6: vm.t.disks[0].path: %s: no such file", d.Source, d.Disks[0].Path)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "cannot start vm t") {
		t.Errorf("Plan with a missing disk: %v, want %q", err, want)
	}
	var novm *NoVMError
	if _, err := m.Plan(ctx, "nope", StartOptions{}); !errors.As(err, &novm) || novm.Name != "nope" {
		t.Errorf("Plan of an undefined VM: %v", err)
	}
}

// TestManagerCall checks how Call reports a supervisor's answers: an
// error reply is an error of its code, in the supervisor's words; a call
// cut short by its caller is not a VM that has stopped.
func TestManagerCall(t *testing.T) {
	dir, err := os.MkdirTemp("", "vm") // short: a socket's path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := "t"
	m := NewManager(ManagerOptions{Defs: map[string]Definition{name: {Name: name}}, Places: Places{Run: dir}})
	env := m.Env(name)
	if err := os.Mkdir(env.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", env.Path(ControlSocket))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := control.ReadRequest(bufio.NewReader(conn)); err == nil {
				io.WriteString(conn, `{"error":"vm t is paused: resume it","code":"paused"}`+"\n")
			}
			conn.Close()
		}
	})
	ctx := testCtx(t)
	_, err = m.Pause(ctx, name)
	if !errors.Is(err, errcode.ErrPaused) || errors.Is(err, errcode.ErrState) || err.Error() != "vm t is paused: resume it" {
		t.Errorf("Pause: %v, want errcode.ErrPaused in the supervisor's words", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if st, err := m.Status(cancelled, name); !errors.Is(err, context.Canceled) {
		t.Errorf("Status with a cancelled context: %+v, %v; want context.Canceled, not that the VM is %s", st, err, st.State)
	}
}

// TestTargetControlArgs checks the arguments of the VM's control words
// before anything reaches the VM: each mistake is a clear error, and the
// VM (not running) is not touched.
func TestTargetControlArgs(t *testing.T) {
	m, _ := testManager(t)
	do := func(ctx context.Context, word string, args []string, stdout io.Writer) error {
		return m.Control(ctx, "t", word, args, stdout, func() {})
	}
	tests := []struct {
		word string
		args []string
		want string
	}{
		{"--stop", []string{"--timeout", "bad"}, "--timeout bad: want a duration such as 30s or 2m"},
		{"--stop", []string{"--timeout", "-1s"}, "--timeout -1s: want a duration"},
		{"--stop", []string{"--timeout"}, "--stop takes only --timeout DURATION"},
		{"--stop", []string{"now"}, "--stop takes only --timeout DURATION"},
		{"--snapshot", nil, "usage: @t --snapshot save|load|list|delete [NAME]"},
		{"--snapshot", []string{"save", "a", "b"}, "usage: @t --snapshot"},
		{"--snapshot", []string{"save"}, "snapshot save: needs a snapshot name"},
		{"--snapshot", []string{"save", "a/b"}, "a snapshot name is letters, digits, . _ and -"},
		{"--snapshot", []string{"list", "a"}, "snapshot list: takes no name"},
		{"--snapshot", []string{"frobnicate"}, `unknown action "frobnicate" (save, load, list, delete)`},
		{"--balloon", nil, "usage: @t --balloon SIZE"},
		{"--balloon", []string{"1G", "2G"}, "usage: @t --balloon SIZE"},
		{"--balloon", []string{"lots"}, `"lots" is not a size`},
		{"--start", []string{"--bogus"}, "--start takes only --fresh"},
		{"--start", []string{"--fresh", "--fresh"}, "--start takes only --fresh"},
		{"--status", []string{"x"}, "--status takes no arguments"},
		{"--pause", []string{"x"}, "--pause takes no arguments"},
		{"--resume", []string{"x"}, "--resume takes no arguments"},
		{"--kill", []string{"-9"}, "--kill takes no arguments"},
		{"--suspend", []string{"now"}, "--suspend takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{tt.word}, tt.args...), " "), func(t *testing.T) {
			var out strings.Builder
			err := do(testCtx(t), tt.word, tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one that says %q", err, tt.want)
			}
			if errors.Is(err, control.ErrNotRunning) {
				t.Errorf("%v: the arguments were not checked before the VM was asked", err)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
	// Right arguments reach the VM, which does not run.
	for _, word := range []string{"--stop", "--pause", "--kill"} {
		if err := do(testCtx(t), word, nil, io.Discard); !errors.Is(err, control.ErrNotRunning) {
			t.Errorf("%s of a VM that does not run: %v, want control.ErrNotRunning", word, err)
		}
	}
	if entries, _ := os.ReadDir(m.o.Places.Run); len(entries) != 0 {
		t.Errorf("control words left %d files in the runtime directory", len(entries))
	}
	if entries, _ := os.ReadDir(m.o.Places.State); len(entries) != 0 {
		t.Errorf("control words left %d files in the state directory", len(entries))
	}
	if !slices.Contains(ControlWords(), "--snapshot") {
		t.Errorf("ControlWords: %q, want the VM's operations", ControlWords())
	}
}

// TestManagerPlanChecks refuses a start that huge pages or CPU pinning
// cannot serve, before anything runs.
func TestManagerPlanChecks(t *testing.T) {
	m, d := testManager(t)
	ctx := testCtx(t)
	sys := t.TempDir()
	m.o.SysfsRoot = sys
	pages := filepath.Join(sys, "kernel", "mm", "hugepages", "hugepages-2048kB")
	if err := os.MkdirAll(pages, 0o755); err != nil {
		t.Fatal(err)
	}
	reserve := func(total, free int) {
		os.WriteFile(filepath.Join(pages, "nr_hugepages"), []byte(fmt.Sprintln(total)), 0o644)
		os.WriteFile(filepath.Join(pages, "free_hugepages"), []byte(fmt.Sprintln(free)), 0o644)
	}
	d.HugePages = true
	m.o.Defs["t"] = d
	reserve(40, 10) // 64M needs 32 pages of 2 MiB
	if _, err := m.Plan(ctx, "t", StartOptions{}); err == nil || !strings.Contains(err.Error(), "needs 32 free 2 MiB pages, 10 are free") ||
		!strings.Contains(err.Error(), "echo 62 > /proc/sys/vm/nr_hugepages") {
		t.Errorf("Plan with too few huge pages: %v", err)
	}
	reserve(40, 32)
	b, err := m.Plan(ctx, "t", StartOptions{})
	if err != nil {
		t.Fatalf("Plan with enough huge pages: %v", err)
	}
	if !slices.ContainsFunc(b.Args, func(a string) bool { return strings.HasPrefix(a, "memory-backend-memfd,") }) {
		t.Errorf("Plan with huge pages: no huge page memfd backend in %q", b.Args)
	}

	d.HugePages = false
	d.CPUPinning = []int{4096}
	m.o.Defs["t"] = d
	if _, err := m.Plan(ctx, "t", StartOptions{}); err == nil || !strings.Contains(err.Error(), "vm t: cpu_pinning: core 4096") {
		t.Errorf("Plan pinned to a core the host lacks: %v", err)
	}
}

// TestManagerPlanGPU refuses a VM whose GPU functions the host still
// drives, and takes the functions a passthrough gives over the
// definition's.
func TestManagerPlanGPU(t *testing.T) {
	m, d := testManager(t)
	ctx := testCtx(t)
	sim, err := gpusim.Build(t.TempDir(), "../gpu/testdata/hosts/nvidia.toml")
	if err != nil {
		t.Fatal(err)
	}
	m.o.SysfsRoot = sim.Root
	d.GPU = []string{"0000:01:00.0", "0000:01:00.1"}
	m.o.Defs["t"] = d
	if _, err := m.Plan(ctx, "t", StartOptions{}); err == nil ||
		!strings.Contains(err.Error(), "its GPU function 0000:01:00.0 is on nvidia, not vfio-pci: spirit gpu passthrough --vm t") {
		t.Errorf("Plan with the GPU on nvidia: %v", err)
	}
	if _, err := m.Plan(ctx, "t", StartOptions{GPU: []string{"0000:07:00.0"}}); err == nil || !strings.Contains(err.Error(), "no PCI device 0000:07:00.0") {
		t.Errorf("Plan with a GPU the host lacks: %v", err)
	}
	// The audio function's unbind waits for PipeWire, which ends with
	// its session.
	if err := sim.TerminateSession(ctx, "2"); err != nil {
		t.Fatal(err)
	}
	for _, w := range [][2]string{
		{"bus/pci/devices/0000:01:00.1/driver/unbind", "0000:01:00.1"},
		{"bus/pci/devices/0000:01:00.1/driver_override", "vfio-pci"},
		{"bus/pci/drivers/vfio-pci/bind", "0000:01:00.1"},
	} {
		if err := sim.Load(ctx, "vfio-pci", nil); err != nil {
			t.Fatal(err)
		}
		if err := sim.Write(ctx, w[0], w[1]); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.Plan(ctx, "t", StartOptions{GPU: []string{"0000:01:00.1"}})
	if err != nil {
		t.Fatalf("Plan with the function on vfio-pci: %v", err)
	}
	if !slices.Contains(b.Args, "vfio-pci,host=0000:01:00.1,bus=gpuport0,addr=00.0") || slices.ContainsFunc(b.Args, func(a string) bool { return strings.Contains(a, "0000:01:00.0") }) {
		t.Errorf("Plan passes through %q", b.Args)
	}
	if len(b.VFIO) != 1 || !strings.HasPrefix(b.VFIO[0], "/dev/vfio/") {
		t.Errorf("Plan hands QEMU's user the VFIO groups %q, want the function's one", b.VFIO)
	}
	// A ROM file is checked before the start: present, a PCI ROM.
	rom := filepath.Join(t.TempDir(), "audio.rom")
	d.ROM = map[string]string{"0000:01:00.1": rom}
	m.o.Defs["t"] = d
	for _, tc := range []struct {
		content []byte
		err     string
	}{
		{nil, "no such file or directory"},
		{[]byte("MZ not a rom"), "is not a PCI option ROM (it does not start with 55 AA)"},
		{[]byte{0x55, 0xaa, 0x40}, ""},
	} {
		if tc.content != nil {
			if err := os.WriteFile(rom, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := m.Plan(ctx, "t", StartOptions{GPU: []string{"0000:01:00.1"}})
		if tc.err == "" {
			if err != nil || !slices.Contains(b.Args, "vfio-pci,host=0000:01:00.1,bus=gpuport0,addr=00.0,romfile="+rom) {
				t.Errorf("Plan with a ROM: %v %q", err, b.Args)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.err) || m.CheckGPUROMs("t") == nil {
			t.Errorf("Plan with the ROM %q: %v, want %q", tc.content, err, tc.err)
		}
	}
}
