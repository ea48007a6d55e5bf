package gpu

import (
	"context"
	"time"
)

// Kernel takes the writes and module changes of a passthrough: the real
// one writes sysfs and calls the kernel; a simulator stands in for tests.
// A sysfs write may block in the kernel (an unbind waits for the
// device's users): ctx bounds how long it is waited for.
type Kernel interface {
	// Write writes value to a sysfs attribute, path relative to the root.
	Write(ctx context.Context, path, value string) error
	// Unload removes a module; it fails while the module is in use.
	Unload(ctx context.Context, module string) error
	// Load loads a module and what it needs, with params ("key=value")
	// for the module itself; loading a driver binds it to the devices
	// it matches.
	Load(ctx context.Context, module string, params []string) error
}

// Units are systemd's services, driven over its D-Bus API.
type Units interface {
	// Active says whether the unit is active; a unit that is not
	// installed is not.
	Active(ctx context.Context, unit string) (bool, error)
	// Loaded says whether systemd knows the unit (it is installed).
	Loaded(ctx context.Context, unit string) (bool, error)
	Stop(ctx context.Context, unit string) error
	Start(ctx context.Context, unit string) error
}

// Session is a logind session.
type Session struct {
	ID, Seat, Type, User string
	// Self says the session is this process's own: ending it would end
	// the passthrough too.
	Self bool
}

// Sessions are logind's sessions, over its D-Bus API.
type Sessions interface {
	// Graphical lists the seat's live x11, wayland and mir sessions.
	Graphical(ctx context.Context, seat string) ([]Session, error)
	// Terminate ends a session and its processes; one already gone is
	// no error.
	Terminate(ctx context.Context, id string) error
}

// VMs start and stop the VM that gets the GPU.
type VMs interface {
	// Start starts the VM with the PCI functions passed through, and
	// returns once QEMU runs.
	Start(ctx context.Context, vm string, functions []string) error
	// Stop powers the VM off, and quits it after timeout.
	Stop(ctx context.Context, vm string, timeout time.Duration) error
	// Running says whether the VM runs.
	Running(ctx context.Context, vm string) (bool, error)
	// Check checks, before anything changes, what the VM's start will
	// need besides the GPU on vfio-pci (its ROM files).
	Check(ctx context.Context, vm string) error
}
