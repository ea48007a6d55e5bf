package vmctl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"spirit/errcode"
	"spirit/target"
	"spirit/vmctl/control"
)

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Defs are the VMs defined, with defaults applied (see Merge).
	Defs   map[string]Definition
	Places Places
	// Unusable, when set, is why no VM can be used (no Places, or a
	// configuration file with errors): every start or call fails with
	// it, rather than run a VM that the user meant to be other.
	Unusable error
	// Supervise is the command that runs a supervisor detached from
	// its caller: Path and the arguments before the VM's runtime
	// directory (Env.Dir), e.g. {"/usr/bin/spirit", "spirit", "vm",
	// "supervise", "--detach"}.
	Supervise []string
	// QEMU is the emulator; empty means qemu-system-x86_64 from PATH.
	QEMU string
	// KVM says whether KVM can run a guest here; nil means KVMUsable.
	KVM func(context.Context) (bool, string)
	// KVMDevice is /dev/kvm, but for tests: QEMU's user gets its group.
	KVMDevice string
	// UID is spirit's user's (os.Geteuid()). As root, QEMU runs as
	// QEMUUser (DefaultQEMUUser when empty), which must exist.
	UID      int
	QEMUUser string
	// SysfsRoot is /sys, but for tests.
	SysfsRoot string
	// Version is spirit's, told to the guests' agents.
	Version string
	// Progress gets a line when a VM starts on first use, and when it
	// is ready (the shell's stderr). nil: nothing is said.
	Progress io.Writer
	// BootTimeout bounds the wait for a guest's agent after a start;
	// zero means 5 minutes.
	BootTimeout time.Duration
	Log         *slog.Logger
}

// Manager starts VMs and talks to their supervisors. It holds no
// connection of its own: each call dials the VM's supervisor, so any
// number of shells can manage the same VMs at once.
type Manager struct {
	o ManagerOptions
}

// NewManager returns a manager of the VMs in o.Defs.
func NewManager(o ManagerOptions) *Manager {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.KVM == nil {
		o.KVM = KVMUsable
	}
	o.QEMU = cmp.Or(o.QEMU, "qemu-system-x86_64")
	o.QEMUUser = cmp.Or(o.QEMUUser, DefaultQEMUUser)
	o.KVMDevice = cmp.Or(o.KVMDevice, "/dev/kvm")
	o.SysfsRoot = cmp.Or(o.SysfsRoot, "/sys")
	o.BootTimeout = cmp.Or(o.BootTimeout, 5*time.Minute)
	return &Manager{o: o}
}

// QEMU is the emulator the VMs run: a path, or a name looked up in PATH.
func (m *Manager) QEMU() string { return m.o.QEMU }

// QEMUUser is who QEMU runs as when spirit runs as root.
func (m *Manager) QEMUUser() string { return m.o.QEMUUser }

// Names lists the VMs defined, sorted.
func (m *Manager) Names() []string { return slices.Sorted(maps.Keys(m.o.Defs)) }

// Definition returns the definition of the VM name.
func (m *Manager) Definition(name string) (Definition, error) {
	d, ok := m.o.Defs[name]
	if !ok {
		return Definition{}, &NoVMError{Name: name, Known: m.Names()}
	}
	return d, nil
}

// NoVMError is a name that no VM has; it is a target.ErrNotFound.
type NoVMError struct {
	Name  string
	Known []string // the VMs there are, for the message
}

func (e *NoVMError) Error() string {
	return fmt.Sprintf("no vm %s (vms: %s)", e.Name, joinNames(e.Known))
}

func (e *NoVMError) Is(err error) bool { return err == target.ErrNotFound }

// Env is where the VM name keeps its files.
func (m *Manager) Env(name string) Env { return m.o.Places.Env(name) }

// Call sends req to the supervisor of the VM name. A VM that is not
// running gives an error that wraps control.ErrNotRunning and says how to
// start it; an error reply is its *errcode.Error, which errors.Is matches
// against errcode's sentinels (errcode.ErrPaused, ...).
func (m *Manager) Call(ctx context.Context, name string, req control.Request) (control.Reply, error) {
	rep, _, err := m.dial(ctx, name, req)
	return rep, err
}

// dial is Call that also returns the connection of an OpAgent request.
func (m *Manager) dial(ctx context.Context, name string, req control.Request) (control.Reply, net.Conn, error) {
	if _, err := m.Definition(name); err != nil {
		return control.Reply{}, nil, err
	}
	if m.o.Unusable != nil {
		return control.Reply{}, nil, fmt.Errorf("vm %s: %w", name, m.o.Unusable)
	}
	rep, conn, err := control.Dial(ctx, m.Env(name).Path(ControlSocket), req)
	var refused *errcode.Error
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return control.Reply{}, nil, m.notRunning(name)
	case errors.As(err, &refused):
		return rep, nil, err // the supervisor's words name the VM
	case err != nil:
		return control.Reply{}, nil, fmt.Errorf("vm %s: %w", name, err)
	}
	return rep, conn, nil
}

// notRunning is the error for a call to a VM with no supervisor.
func (m *Manager) notRunning(name string) error {
	how := fmt.Sprintf("start it with: spirit vm start %s (or @%s --start)", name, name)
	if m.suspended(name) {
		return fmt.Errorf("vm %s is suspended (%w): resume it with: spirit vm start %s (or @%s --start)", name, control.ErrNotRunning, name, name)
	}
	return fmt.Errorf("vm %s is %w: %s", name, control.ErrNotRunning, how)
}

// Status says what state the VM name is in. A VM without a supervisor is
// stopped or suspended, not an error.
func (m *Manager) Status(ctx context.Context, name string) (control.Status, error) {
	rep, err := m.Call(ctx, name, control.Request{Op: control.OpStatus})
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return m.ended(name), nil
	case err != nil:
		return control.Status{}, err
	case rep.Status == nil:
		return control.Status{}, fmt.Errorf("vm %s: the supervisor sent no status", name)
	case rep.Status.State == control.StateStopped:
		// QEMU is gone and its supervisor is cleaning up.
		return m.ended(name), nil
	}
	return *rep.Status, nil
}

// ended is the status of a VM whose QEMU is not running: stopped, or
// suspended when its RAM is saved.
func (m *Manager) ended(name string) control.Status {
	st := control.Status{Name: name, State: control.StateStopped}
	if m.suspended(name) {
		st.State = control.StateSuspended
	}
	return st
}

// List is the status of every VM defined, in name order.
func (m *Manager) List(ctx context.Context) ([]control.Status, error) {
	var out []control.Status
	for _, name := range m.Names() {
		st, err := m.Status(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// WaitAgent waits until the guest's agent of the running VM name
// answers, for at most the boot timeout.
func (m *Manager) WaitAgent(ctx context.Context, name string) (control.Status, error) {
	rep, err := m.Call(ctx, name, control.Request{Op: control.OpWaitAgent, Timeout: m.o.BootTimeout})
	if err != nil {
		return control.Status{}, err
	}
	return *rep.Status, nil
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "none defined"
	}
	return strings.Join(names, " ")
}
