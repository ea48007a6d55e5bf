package vmctl

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLookupRunAs(t *testing.T) {
	if _, err := LookupRunAs("spirit-test-nosuch"); !errors.Is(err, ErrNoQEMUUser) ||
		!strings.Contains(err.Error(), "create it as root with: useradd --system --no-create-home --shell /usr/sbin/nologin spirit-test-nosuch") {
		t.Errorf("a missing user: %v, want ErrNoQEMUUser with the useradd that makes it", err)
	}
	if r, err := LookupRunAs("root"); r != nil || err != nil {
		t.Errorf("root: %+v, %v; want nil (spirit's own user, root)", r, err)
	}
	r, err := LookupRunAs("nobody")
	if err != nil || r == nil || r.UID != 65534 {
		t.Fatalf("nobody: %+v, %v", r, err)
	}
	if c := r.Credential(); c.Uid != 65534 || c.Groups == nil || len(c.Groups) != 0 {
		t.Errorf("credential %+v: want nobody's uid and no groups (root's dropped)", c)
	}
	var none *RunAs
	if none.Credential() != nil {
		t.Error("no user: want no credential")
	}
}

// TestRunAsKVM gives QEMU the group of the KVM device, and only it.
func TestRunAsKVM(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kvm")
	if err := os.WriteFile(dev, nil, 0o660); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dev, 0, 4242); err != nil {
		t.Fatalf("chown (needs root): %v", err)
	}
	r := &RunAs{Name: "q", UID: 900, GID: 900}
	if err := r.withKVM(dev); err != nil || len(r.Groups) != 1 || r.Groups[0] != 4242 {
		t.Errorf("groups %v, %v; want [4242]", r.Groups, err)
	}
	if err := (&RunAs{}).withKVM(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no device: %v", err)
	}
}

// TestManagerPlanUser: as root, a start plans QEMU under its user, and
// refuses one that does not exist; as another user, QEMU runs as that
// user.
func TestManagerPlanUser(t *testing.T) {
	m, _ := testManager(t)
	ctx := testCtx(t)
	for _, tt := range []struct {
		user   string
		uid    int
		want   string // the user planned; "" for none
		errHas string
		note   string
	}{
		{user: "nobody", uid: 0, want: "nobody"},
		{user: "spirit-test-nosuch", uid: 0, errHas: "cannot start vm t: QEMU runs as the user spirit-test-nosuch, and there is no such user spirit-test-nosuch: create it as root with: useradd"},
		{user: "spirit-test-nosuch", uid: 1000},
		{user: "root", uid: 0, note: `QEMU runs as root, as spirit.toml says ([qemu] user = "root")`},
	} {
		m.o.QEMUUser, m.o.UID = tt.user, tt.uid
		b, err := m.Plan(ctx, "t", StartOptions{})
		if tt.errHas != "" {
			if !errors.Is(err, ErrNoQEMUUser) || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%s as uid %d: %v, want %q", tt.user, tt.uid, err, tt.errHas)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s as uid %d: %v", tt.user, tt.uid, err)
		}
		if got := userName(b.User); got != tt.want {
			t.Errorf("%s as uid %d: QEMU planned as %q, want %q", tt.user, tt.uid, got, tt.want)
		}
		if tt.note != "" && !strings.Contains(notesText(b.Notes), tt.note) {
			t.Errorf("%s as uid %d: notes %q lack %q", tt.user, tt.uid, b.Notes, tt.note)
		}
	}
}

func userName(r *RunAs) string {
	if r == nil {
		return ""
	}
	return r.Name
}

func notesText(notes []Note) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(string(n) + "\n")
	}
	return b.String()
}

// TestOpenPassed opens each kind of passed file as the supervisor does.
func TestOpenPassed(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "vmlinuz")
	public := filepath.Join(dir, "initrd")
	if err := os.WriteFile(private, []byte("kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, []byte("initrd"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "console.log")
	os.WriteFile(log, []byte("old"), 0o644)
	sock := filepath.Join(dir, "s.sock")
	files, err := OpenPassed([]PassedFile{
		{Path: private, How: PassLoad}, {Path: public, How: PassLoad}, {Path: log, How: PassLog}, {Path: sock, How: PassListen}, {Path: public, How: PassReadWrite},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ClosePassed(files)
	if !strings.HasPrefix(files[0].Name(), "memfd:") || files[1].Name() != public {
		t.Errorf("load: %s, %s; want a memfd for the file others may not read, the file itself for the other", files[0].Name(), files[1].Name())
	}
	if _, err := files[0].Write([]byte("x")); !errors.Is(err, syscall.EPERM) {
		t.Errorf("a write to the sealed memfd: %v, want EPERM", err)
	}
	if fi, _ := os.Stat(log); fi.Size() != 0 {
		t.Errorf("the log was not truncated: %d bytes", fi.Size())
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, %v; want a socket of mode 0600, left in place", fi, err)
	}
	if _, err := OpenPassed([]PassedFile{{Path: filepath.Join(dir, "none"), How: PassRead}}, false); !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "open "+filepath.Join(dir, "none")+" for qemu") {
		t.Errorf("a missing file: %v", err)
	}
}

// TestLoadAsAnotherUser reads a kernel that only root may read, in a
// directory only root may enter, as QEMU's user would: through
// /proc/self/fd/N.
func TestLoadAsAnotherUser(t *testing.T) {
	nobody, err := LookupRunAs("nobody")
	if err != nil || nobody == nil {
		t.Fatalf("the user nobody: %v", err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("kernel bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := OpenPassed([]PassedFile{{Path: kernel, How: PassLoad}}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ClosePassed(files)
	cmd := exec.CommandContext(t.Context(), "cat", "/proc/self/fd/3")
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody.Credential()}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "kernel bytes" {
		t.Errorf("cat /proc/self/fd/3 as nobody: %q, %v", out, err)
	}
}

// TestHandOver makes a VFIO group's device QEMU's user's, and gives it
// back.
func TestHandOver(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "11"), filepath.Join(dir, "12")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(b, 7, 8)
	owner := func(p string) [2]uint32 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return [2]uint32{st.Uid, st.Gid}
	}
	r := &RunAs{Name: "q", UID: 900, GID: 901}
	restore, err := HandOver([]string{a, b}, r)
	if err != nil {
		t.Fatalf("HandOver (needs root): %v", err)
	}
	if owner(a) != [2]uint32{900, 901} || owner(b) != [2]uint32{900, 901} {
		t.Errorf("owners %v %v, want QEMU's user's", owner(a), owner(b))
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if owner(a) != [2]uint32{0, 0} || owner(b) != [2]uint32{7, 8} {
		t.Errorf("owners %v %v after restore, want back as they were", owner(a), owner(b))
	}
	if _, err := HandOver([]string{a, filepath.Join(dir, "none")}, r); !errors.Is(err, os.ErrNotExist) || owner(a) != [2]uint32{0, 0} {
		t.Errorf("a missing device: %v, owner of the first %v: want the error and the first given back", err, owner(a))
	}
	if restore, err := HandOver([]string{filepath.Join(dir, "none")}, nil); err != nil || restore() != nil {
		t.Errorf("no user: %v; want nothing done", err)
	}
}

// TestOpenTap runs a bridge helper that sends a descriptor, as
// qemu-bridge-helper sends its tap, and one that fails.
func TestOpenTap(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(t.TempDir(), "helper")
	script := "#!/bin/sh\nSPIRIT_BRIDGE_HELPER=1 exec " + exe + " -test.run='^TestBridgeHelperProcess$' -- \"$@\"\n"
	if err := os.WriteFile(helper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := OpenPassed([]PassedFile{{Path: helper, How: PassTap, Bridge: "br0"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ClosePassed(files)
	data := make([]byte, 64)
	n, _ := files[0].Read(data)
	if got := string(data[:n]); got != "tap of br0\n" {
		t.Errorf("the descriptor sent reads %q, want the helper's", got)
	}
	_, err = OpenPassed([]PassedFile{{Path: helper, How: PassTap, Bridge: "denied"}}, false)
	if err == nil || !strings.Contains(err.Error(), "bridge denied: "+helper) || !strings.Contains(err.Error(), "access denied by acl file") {
		t.Errorf("a helper that fails: %v, want its words", err)
	}
}

// TestBridgeHelperProcess is not a test: with SPIRIT_BRIDGE_HELPER=1 it
// is a bridge helper that sends, on --fd=3, the read end of a pipe that
// names the bridge (or fails for the bridge "denied", as the real one
// does for a bridge its ACL does not allow).
func TestBridgeHelperProcess(t *testing.T) {
	if os.Getenv("SPIRIT_BRIDGE_HELPER") != "1" {
		return
	}
	args := strings.Join(os.Args, " ")
	if !strings.Contains(args, "--use-vnet") || !strings.Contains(args, "--fd=3") {
		fmt.Fprintln(os.Stderr, "usage: helper --use-vnet --br=BR --fd=3")
		os.Exit(2)
	}
	_, br, _ := strings.Cut(args, "--br=")
	br, _, _ = strings.Cut(br, " ")
	if br == "denied" {
		fmt.Fprintln(os.Stderr, "access denied by acl file")
		os.Exit(1)
	}
	r, w, _ := os.Pipe()
	fmt.Fprintf(w, "tap of %s\n", br)
	w.Close()
	if err := unix.Sendmsg(3, []byte{0}, unix.UnixRights(int(r.Fd())), nil, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
