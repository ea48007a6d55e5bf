package vmctl

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"spirit/gpu"
	"spirit/vmctl/control"
)

// Bootstrap is what a supervisor runs, written by the starter into the
// runtime directory (Env.BootstrapFile) before the supervisor starts, so
// that the supervisor works from exactly what was checked and shown.
type Bootstrap struct {
	Def Definition `json:"definition"`
	Env Env        `json:"env"`
	// QEMU is the program, Args its arguments, Files what it gets
	// open, in order from descriptor 3 (see PassedFile).
	QEMU  string       `json:"qemu"`
	Args  []string     `json:"args"`
	Notes []Note       `json:"notes,omitempty"`
	Files []PassedFile `json:"files,omitempty"`
	// User is who QEMU runs as; nil is spirit's own user (root only
	// when spirit.toml says [qemu] user = "root").
	User *RunAs `json:"user,omitempty"`
	// VFIO are the VFIO group devices of the GPU's functions
	// (/dev/vfio/N), which QEMU opens by path: the supervisor makes
	// them User's for QEMU's life (see HandOver).
	VFIO []string `json:"vfio,omitempty"`
	// Incoming is a suspended VM's saved state to resume from; QEMU then
	// starts with -incoming defer.
	Incoming string `json:"incoming,omitempty"`
	// SysfsRoot is /sys, but for tests.
	SysfsRoot string `json:"sysfs_root"`
	// GPUDir is where the GPU handover keeps its journal and lock
	// (Places.GPUDir): a VM with a GPU gives it back to the host when
	// its QEMU ends.
	GPUDir string `json:"gpu_dir,omitempty"`
	// GPUDisplayUnits are the display units of the passthrough that
	// started the VM ([gpu] display_units): the GPU's return at QEMU's
	// end starts them again, and its journal may name them.
	GPUDisplayUnits []string `json:"gpu_display_units,omitempty"`
}

// StartOptions change how a VM starts.
type StartOptions struct {
	// Fresh boots anew even when the VM was suspended, dropping the
	// saved state.
	Fresh bool
	// GPU, when set, are the PCI functions passed through instead of
	// the definition's: spirit gpu passthrough's.
	GPU []string
	// GPUDisplayUnits go to the bootstrap (Bootstrap.GPUDisplayUnits).
	GPUDisplayUnits []string
}

// Plan checks the VM name and the host for a start and returns what the
// supervisor would run. It changes nothing on the host.
func (m *Manager) Plan(ctx context.Context, name string, so StartOptions) (Bootstrap, error) {
	d, err := m.Definition(name)
	if err != nil {
		return Bootstrap{}, err
	}
	if m.o.Unusable != nil {
		return Bootstrap{}, fmt.Errorf("vm %s: %w", name, m.o.Unusable)
	}
	if so.GPU != nil {
		d.GPU = so.GPU
	}
	if problems := d.Check(m.o.Places.Base); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = d.where(p.Key) + p.Error()
		}
		return Bootstrap{}, fmt.Errorf("cannot start vm %s:\n  %s", name, strings.Join(msgs, "\n  "))
	}
	if d.HugePages {
		size, _ := ParseSize(d.Memory)
		if err := CheckHugePages(m.o.SysfsRoot, size); err != nil {
			return Bootstrap{}, fmt.Errorf("cannot start vm %s: %w", name, err)
		}
	}
	if len(d.CPUPinning) > 0 {
		if err := CheckPinning(name, d.CPUPinning); err != nil {
			return Bootstrap{}, err // it names the VM
		}
	}
	vfio, err := m.checkVFIO(d)
	if err != nil {
		return Bootstrap{}, err
	}
	if err := m.CheckGPUROMs(name); err != nil {
		return Bootstrap{}, fmt.Errorf("cannot start %w", err)
	}
	env := m.Env(name)
	env.KVM, env.NoKVM = m.o.KVM(ctx)
	l, err := Build(d, env)
	if err != nil {
		return Bootstrap{}, err
	}
	b := Bootstrap{Def: d, Env: env, QEMU: m.o.QEMU, Args: l.Args, Notes: l.Notes, Files: l.Files,
		SysfsRoot: m.o.SysfsRoot, GPUDir: m.o.Places.GPUDir(), VFIO: vfio, GPUDisplayUnits: so.GPUDisplayUnits}
	if b.User, err = m.runAs(env); err != nil {
		return Bootstrap{}, fmt.Errorf("cannot start vm %s: %w", name, err)
	}
	if b.User == nil && m.o.UID == 0 {
		b.Notes = append(b.Notes, Note("QEMU runs as root, as spirit.toml says ([qemu] user = \"root\"): "+
			"a flaw in its device emulation would give the guest the host"))
	}
	if !so.Fresh && m.suspended(name) {
		b.Incoming = env.Path(SuspendFile)
		b.Args = append(b.Args, "-incoming", "defer")
	}
	return b, nil
}

// runAs is the user QEMU runs as: none of its own unless spirit runs as
// root.
func (m *Manager) runAs(env Env) (*RunAs, error) {
	if m.o.UID != 0 {
		return nil, nil
	}
	r, err := LookupRunAs(m.o.QEMUUser)
	if err != nil || r == nil || !env.KVM {
		return r, err
	}
	return r, r.withKVM(m.o.KVMDevice)
}

// suspended says whether the VM name has a saved state to resume.
func (m *Manager) suspended(name string) bool {
	_, err := os.Stat(m.Env(name).Path(SuspendFile))
	return err == nil
}

// Start starts the VM name under a supervisor of its own, detached from
// this process, and returns once QEMU runs (the guest boots on: see
// WaitAgent). A VM that runs already is an error.
func (m *Manager) Start(ctx context.Context, name string, so StartOptions) (control.Status, error) {
	b, err := m.Plan(ctx, name, so)
	if err != nil {
		return control.Status{}, err
	}
	env := b.Env
	for _, dir := range []string{m.o.Places.Run, env.Dir, env.StateDir} {
		if err := private(dir); err != nil {
			return control.Status{}, fmt.Errorf("start %s: runtime directory: %w", name, err)
		}
	}
	lock, err := m.lock(name, env)
	if err != nil {
		return control.Status{}, err
	}
	defer lock.Close() // the supervisor holds its own copy
	if so.Fresh {
		if err := os.Remove(env.Path(SuspendFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return control.Status{}, fmt.Errorf("start %s: drop the suspended state: %w", name, err)
		}
	}
	if err := endOrphan(ctx, env); err != nil {
		return control.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	if err := prepareDir(env); err != nil {
		return control.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	if err := m.prepareFirmware(ctx, b); err != nil {
		return control.Status{}, err
	}
	if err := writeJSON(env.Path(BootstrapFile), b); err != nil {
		return control.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	if err := m.spawn(ctx, name, env, lock); err != nil {
		return control.Status{}, err
	}
	return m.Status(ctx, name)
}

// ErrRunning is wrapped by a start of a VM that runs already.
var ErrRunning = errors.New("already running")

// lock takes the VM's lock, which its supervisor holds for its life: a
// second start finds it taken. A lock left by a supervisor that died is
// free again, as the kernel drops it with the process.
func (m *Manager) lock(name string, env Env) (*os.File, error) {
	f, err := os.OpenFile(env.Path(LockFile), os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("vm %s is %w (or starting): see spirit vm status %s", name, ErrRunning, name)
		}
		return nil, fmt.Errorf("start %s: lock %s: %w", name, env.Path(LockFile), err)
	}
	return f, nil
}

// prepareDir removes what a supervisor that died left in the runtime
// directory; the lock, held, says none runs.
func prepareDir(env Env) error {
	for _, f := range env.leftovers() {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// prepareFirmware makes the VM's UEFI variable store on its first start.
func (m *Manager) prepareFirmware(ctx context.Context, b Bootstrap) error {
	if b.Def.Firmware != "uefi" {
		return nil
	}
	if _, err := os.Stat(b.Env.Path(VarsFile)); err == nil {
		return nil
	}
	argv := VarsCopyArgs(b.Def, b.Env)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		os.Remove(b.Env.Path(VarsFile))
		return fmt.Errorf("start %s: make its UEFI variable store: %s: %v: %s", b.Def.Name, strings.Join(argv, " "), err, out)
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadBootstrap reads what the starter wrote for the supervisor, and
// checks its definition as the configuration does: one that the
// configuration would refuse is refused with the same message (file,
// line, field), placed from what the bootstrap carries, since the
// supervisor does not read spirit.toml.
func ReadBootstrap(path string) (Bootstrap, error) {
	var b Bootstrap
	data, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	if err := b.Def.Validate(b.Def.Name); err != nil {
		return b, b.Def.placed(err)
	}
	return b, nil
}

// The files a supervisor inherits: its readiness pipe and the lock.
const (
	ReadyFD = 3
	LockFD  = 4
)

// spawn runs the supervisor command and waits for its word on the
// readiness pipe: "ok", or why it failed.
func (m *Manager) spawn(ctx context.Context, name string, env Env, lock *os.File) error {
	if len(m.o.Supervise) < 2 {
		return fmt.Errorf("start %s: no supervisor command configured", name)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := os.OpenFile(env.Path(SupervisorLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close()
	cmd := &exec.Cmd{
		Path: m.o.Supervise[0],
		// The VM's runtime directory is all it needs: what to run is in
		// the bootstrap file there.
		Args:       append(append([]string{}, m.o.Supervise[1:]...), env.Dir),
		Stdout:     logf,
		Stderr:     logf,
		ExtraFiles: []*os.File{w, lock},
		// Its own session: no terminal's signals reach it.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start %s: run the supervisor: %w", name, err)
	}
	// The command detaches (it starts the real supervisor and exits), so
	// this wait is short and leaves no zombie behind.
	werr := cmd.Wait()
	word, rerr := readReady(ctx, r)
	switch {
	case rerr != nil:
		return fmt.Errorf("start %s: %w", name, rerr)
	case word == "ok":
		return nil
	case word != "":
		return fmt.Errorf("start %s: %s", name, word)
	case werr != nil:
		return fmt.Errorf("start %s: the supervisor failed (%v); its log: %s", name, werr, env.Path(SupervisorLog))
	}
	return fmt.Errorf("start %s: the supervisor ended without a word; its log: %s", name, env.Path(SupervisorLog))
}

// readReady reads the supervisor's readiness pipe to its end.
func readReady(ctx context.Context, r *os.File) (string, error) {
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	data, err := io.ReadAll(bufio.NewReader(io.LimitReader(r, control.MaxLine)))
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// SupervisorFiles are the readiness pipe and the lock that a supervisor
// inherits, as the starter passed them.
func SupervisorFiles() (ready, lock *os.File) {
	return os.NewFile(ReadyFD, "ready"), os.NewFile(LockFD, "lock")
}

// awaitStart waits for the supervisor that another process is starting
// for the VM name (it holds the lock) to answer, and fails when that start
// failed (the lock is free again with no supervisor).
func (m *Manager) awaitStart(ctx context.Context, name string) error {
	env := m.Env(name)
	for {
		if _, _, err := control.Dial(ctx, env.Path(ControlSocket), control.Request{Op: control.OpStatus}); err == nil {
			return nil
		}
		f, err := m.lock(name, env)
		if err == nil {
			f.Close()
			return fmt.Errorf("vm %s: a start by another process failed: see %s", name, env.Path(SupervisorLog))
		}
		if !errors.Is(err, ErrRunning) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkVFIO says which of the VM's GPU functions the host still drives:
// QEMU can only take them from vfio-pci, which spirit gpu passthrough
// binds them to. It returns the VFIO group devices QEMU opens for them.
func (m *Manager) checkVFIO(d Definition) ([]string, error) {
	sys := gpu.Sys{Root: m.o.SysfsRoot}
	var groups []string
	for _, addr := range d.GPU {
		dev, err := sys.Device(addr)
		if err != nil {
			return nil, fmt.Errorf("cannot start vm %s: gpu: %w", d.Name, err)
		}
		if dev.Driver != "vfio-pci" {
			return nil, fmt.Errorf("cannot start vm %s: its GPU function %s is on %s, not vfio-pci: spirit gpu passthrough --vm %s hands it over",
				d.Name, addr, cmp.Or(dev.Driver, "no driver"), d.Name)
		}
		if g := "/dev/vfio/" + strconv.Itoa(dev.Group); dev.Group >= 0 && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return groups, nil
}

// CheckGPUROMs checks the ROM files that the VM's definition gives its
// GPU functions (rom = {...}): each a regular file that starts with a
// PCI option ROM's signature (55 AA), readable by whoever runs QEMU
// (others may read it when QEMU is another user). spirit gpu
// passthrough calls it before it changes anything.
func (m *Manager) CheckGPUROMs(name string) error {
	d, err := m.Definition(name)
	if err != nil {
		return err
	}
	otherUser := m.o.UID == 0 && m.o.QEMUUser != "root"
	for _, addr := range slices.Sorted(maps.Keys(d.ROM)) {
		if err := checkROM(d.ROM[addr], otherUser); err != nil {
			return fmt.Errorf("vm %s: the ROM of %s: %w", name, addr, err)
		}
	}
	return nil
}

func checkROM(path string, otherUser bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", path)
	}
	if otherUser && st.Mode().Perm()&0o004 == 0 {
		return fmt.Errorf("%s is not readable by QEMU's user: chmod o+r %s", path, path)
	}
	sig := make([]byte, 2)
	if _, err := io.ReadFull(f, sig); err != nil || sig[0] != 0x55 || sig[1] != 0xaa {
		return fmt.Errorf("%s is not a PCI option ROM (it does not start with 55 AA): dump the card's ROM again, or take the VBIOS from the vendor's update", path)
	}
	return nil
}
