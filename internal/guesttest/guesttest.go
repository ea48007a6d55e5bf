//go:build linux

// Package guesttest boots spirit's demo guest (build/guest, made by `make
// guest`) under QEMU for tests: one throwaway VM per test, its agent's
// virtio-serial port spirit.0 on a unix socket, killed when the test ends.
// It is not the VM machinery of spirit (vmctl): no supervisor, no state
// kept, and QMP only as a socket and a bare exchange for tests of what the
// guest does on a QMP command.
package guesttest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"spirit/agents/client"
)

// Options change how Boot starts the guest; the zero value boots the
// guest as built.
type Options struct {
	// Agent, if set, is a static spirit-agent binary put in place of the
	// initramfs's own, so that a test checks the agent it was built with
	// even if build/guest is older.
	Agent string
	// Debug runs the agent with --debug: a line on the console per
	// request.
	Debug bool
	// Timeout bounds the boot, from QEMU's start until the agent answers;
	// zero means 2 minutes.
	Timeout time.Duration
	// QMP gives QEMU a QMP socket, VM.QMP, for VM.Execute.
	QMP bool
}

// VM is a running demo guest.
type VM struct {
	// Sock is the unix socket of the agent's port: the host side of the
	// chardev behind virtserialport spirit.0, one host at a time.
	Sock string
	// Log is the file the serial console (ttyS0) is written to.
	Log string
	// Disk is the scratch disk the guest mounts at /data: an overlay of
	// the built one, for this VM only.
	Disk string
	// QMP is QEMU's QMP socket, with Options.QMP.
	QMP string
	// Ready is the time from QEMU's start until a handshake with the
	// agent succeeded and it answered a ping.
	Ready time.Duration

	cmd    *exec.Cmd
	stderr bytes.Buffer  // QEMU's own messages; read after exited
	exited chan struct{} // closed when QEMU has exited
	err    error         // QEMU's Wait, once exited
}

// Accel is the QEMU accelerator the tests use: TCG, which runs anywhere,
// unless SPIRIT_TEST_KVM=1 says that /dev/kvm really works here (probing
// it costs more than a TCG boot).
func Accel() string {
	if os.Getenv("SPIRIT_TEST_KVM") == "1" {
		return "kvm"
	}
	return "tcg"
}

// Dir is the directory of the built guest: $SPIRIT_GUEST_DIR, or
// build/guest at the root of the module.
func Dir() (string, error) {
	if d := os.Getenv("SPIRIT_GUEST_DIR"); d != "" {
		// Absolute: qemu-img takes a backing file's path relative to
		// the overlay.
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "build", "guest"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// Boot starts the demo guest and waits until its agent answers. The VM is
// killed when the test ends, and its console shown if the test failed. A
// guest that is not built, or a QEMU that is not installed, fails the
// test with what to run.
func Boot(t *testing.T, o Options) *VM {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	// A short directory: a unix socket's path must be under 108 bytes,
	// and t.TempDir() may be longer.
	dir, err := os.MkdirTemp("", "sg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	files := prepare(t, dir, o)
	vm := &VM{
		Sock:   filepath.Join(dir, "spirit.0.sock"),
		Log:    filepath.Join(dir, "console.log"),
		Disk:   files.Disk,
		exited: make(chan struct{}),
	}
	disk, initrd := files.Disk, files.Initrd
	appendLine := "console=ttyS0 quiet panic=-1"
	if o.Debug {
		appendLine += " spirit.debug=1"
	}
	args := []string{
		"-nodefaults", "-no-user-config",
		"-accel", Accel(),
		"-machine", "q35", "-m", "256", "-smp", "1",
		"-display", "none", "-serial", "file:" + vm.Log,
		"-no-reboot",
		"-kernel", files.Kernel, "-initrd", initrd, "-append", appendLine,
		"-drive", "file=" + disk + ",if=none,id=scratch,format=qcow2",
		"-device", "virtio-blk-pci,drive=scratch",
		"-chardev", "socket,id=spirit0,path=" + vm.Sock + ",server=on,wait=off",
		"-device", "virtio-serial-pci",
		"-device", "virtserialport,chardev=spirit0,name=spirit.0",
		"-device", "virtio-rng-pci",
	}
	if o.QMP {
		vm.QMP = filepath.Join(dir, "qmp.sock")
		args = append(args, "-qmp", "unix:"+vm.QMP+",server=on,wait=off")
	}
	// Not tied to a context: QEMU is killed in Cleanup, and with this
	// process if it dies first.
	vm.cmd = exec.Command("qemu-system-x86_64", args...)
	vm.cmd.Stdout, vm.cmd.Stderr = &vm.stderr, &vm.stderr
	vm.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	go func() {
		vm.err = vm.cmd.Wait()
		close(vm.exited)
	}()
	t.Cleanup(func() {
		vm.cmd.Process.Kill()
		<-vm.exited
		if t.Failed() {
			t.Logf("qemu %s\n%s\nconsole:\n%s", strings.Join(args, " "), vm.stderr.String(), vm.Console())
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), o.Timeout)
	defer cancel()
	// A boot cut short by QEMU's exit ends the wait at once.
	go func() {
		select {
		case <-vm.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := vm.waitAgent(ctx, o.Timeout); err != nil {
		select {
		case <-vm.exited:
			t.Fatalf("qemu exited during the boot (%v): %v", vm.err, err)
		default:
		}
		t.Fatalf("the demo guest's agent did not answer within %v of QEMU's start: %v", o.Timeout, err)
	}
	vm.Ready = time.Since(start)
	return vm
}

// waitAgent connects to the port as soon as QEMU listens and pings the
// agent. The host's handshake resends its sync until the agent, once up,
// answers, so one handshake spans the boot.
func (vm *VM) waitAgent(ctx context.Context, timeout time.Duration) error {
	c := client.New(client.Options{Name: "linux", Version: "guesttest", Dial: vm.Dial, HandshakeTimeout: timeout})
	defer c.Close()
	for {
		_, err := c.Ping(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		// Nothing listens yet, or the handshake failed: again.
		time.Sleep(50 * time.Millisecond)
	}
}

// Dial connects to the agent's port.
func (vm *VM) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", vm.Sock)
}

// Client returns a client of the guest's agent, as target name; it is
// closed when the test ends.
func (vm *VM) Client(t *testing.T, name string) *client.Client {
	c := client.New(client.Options{Name: name, Version: "guesttest", Dial: vm.Dial})
	t.Cleanup(func() { c.Close() })
	return c
}

// Console is what the guest has written on its serial console so far.
func (vm *VM) Console() string {
	b, err := os.ReadFile(vm.Log)
	if err != nil {
		return fmt.Sprintf("(no console log: %v)", err)
	}
	return string(b)
}

// Exited reports whether QEMU has exited, and how.
func (vm *VM) Exited() (bool, error) {
	select {
	case <-vm.exited:
		return true, vm.err
	default:
		return false, nil
	}
}

// Wait waits until QEMU exits and returns how it did.
func (vm *VM) Wait(ctx context.Context) error {
	select {
	case <-vm.exited:
		return vm.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Execute sends QEMU one QMP command, such as
// {"execute":"system_powerdown"}, on a connection of its own to VM.QMP
// after the capabilities negotiation, and returns the reply (events that
// come first are skipped). A reply of "error" is an error.
func (vm *VM) Execute(ctx context.Context, command string) (string, error) {
	if vm.QMP == "" {
		return "", errors.New("no QMP socket: boot with Options.QMP")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", vm.QMP)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	r := bufio.NewReader(conn)
	if greeting, err := r.ReadString('\n'); err != nil || !strings.Contains(greeting, `"QMP"`) {
		return "", fmt.Errorf("qmp greeting %q: %v", greeting, err)
	}
	// reply sends cmd and reads up to its answer.
	reply := func(cmd string) (string, error) {
		if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
			return "", err
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", fmt.Errorf("qmp %s: %w", cmd, err)
			}
			switch {
			case strings.HasPrefix(line, `{"return"`):
				return strings.TrimSpace(line), nil
			case strings.HasPrefix(line, `{"error"`):
				return "", fmt.Errorf("qmp %s: %s", cmd, strings.TrimSpace(line))
			}
		}
	}
	if _, err := reply(`{"execute":"qmp_capabilities"}`); err != nil {
		return "", err
	}
	return reply(command)
}

// withAgent writes to dst the initramfs src followed by a second archive
// holding agent as /bin/spirit-agent: the kernel unpacks them in turn, so
// the later file replaces the earlier.
func withAgent(dst, src, agent string) error {
	bin, err := os.ReadFile(agent)
	if err != nil {
		return fmt.Errorf("the agent to put in the guest: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		gz, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
		err = errors.Join(writeNewc(gz, "bin/spirit-agent", 0o100755, bin), gz.Close())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// writeNewc writes a cpio archive in the "newc" format the kernel reads,
// with one regular file of the given mode (type bits included), owned by
// root.
func writeNewc(w io.Writer, name string, mode uint32, data []byte) error {
	entry := func(ino, mode uint32, name string, data []byte) error {
		// magic, then 13 fields of 8 hex digits: ino, mode, uid, gid,
		// nlink, mtime, filesize, devmajor, devminor, rdevmajor,
		// rdevminor, namesize (with its NUL), check.
		hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		var b bytes.Buffer
		b.WriteString(hdr)
		b.WriteString(name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		_, err := w.Write(b.Bytes())
		return err
	}
	if err := entry(1, mode, name, data); err != nil {
		return err
	}
	return entry(0, 0, "TRAILER!!!", nil)
}

// Files are a demo guest's files for one test.
type Files struct {
	Kernel string
	// Initrd is the built initramfs, or a copy with Options.Agent in it.
	Initrd string
	// Disk is an overlay of the built scratch disk, for this test only:
	// the built one stays as it is (and, being qcow2, the overlay allows
	// internal snapshots).
	Disk string
}

// Prepare makes the files of a demo guest for one test, as Boot uses
// them, for a test that boots the guest some other way (spirit's own
// VMs). Only o.Agent matters. They are removed when the test ends. A
// guest that is not built, or QEMU's tools that are not installed, fail
// the test with what to run.
func Prepare(t *testing.T, o Options) Files {
	t.Helper()
	return prepare(t, t.TempDir(), o)
}

func prepare(t *testing.T, dir string, o Options) Files {
	t.Helper()
	guest, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	Program(t, "qemu-system-x86_64")
	Program(t, "qemu-img")
	built := Files{
		Kernel: filepath.Join(guest, "vmlinuz"),
		Initrd: filepath.Join(guest, "initramfs.cpio.gz"),
		Disk:   filepath.Join(guest, "scratch.qcow2"),
	}
	for _, p := range []string{built.Kernel, built.Initrd, built.Disk} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the demo guest is not built (%v): run `make guest` (scripts/guest.sh)", err)
		}
	}
	f := Files{Kernel: built.Kernel, Initrd: built.Initrd, Disk: filepath.Join(dir, "scratch.qcow2")}
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2",
		"-b", built.Disk, "-F", "qcow2", f.Disk).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create an overlay of %s: %v\n%s", built.Disk, err, out)
	}
	if o.Agent != "" {
		f.Initrd = filepath.Join(dir, "initramfs.cpio.gz")
		if err := withAgent(f.Initrd, built.Initrd, o.Agent); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// packages are the Debian packages of the programs tests need.
var packages = map[string]string{"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils", "taskset": "util-linux"}

// Program finds the program name (QEMU's, taskset), or fails the test
// with the command that installs it.
func Program(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run scripts/deps.sh (apt-get install %s)", name, packages[name])
	}
	return path
}

// KillVM ends what a test's spirit VM left running in its runtime
// directory dir: its supervisor, then QEMU (which would end on its own
// a moment later).
func KillVM(dir string) {
	for _, f := range []string{"supervisor.pid", "qemu.pid"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
