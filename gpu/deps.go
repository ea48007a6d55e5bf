package gpu

import (
	"context"
	"time"
)

// Kernel takes the writes and module changes of a passthrough: the real
// one writes sysfs and calls the kernel; a simulator stands in for tests.
type Kernel interface {
	// Write writes value to a sysfs attribute, path relative to the root.
	Write(path, value string) error
	// Unload removes a module; it fails while the module is in use.
	Unload(module string) error
	// Load loads a module and what it needs; loading a driver binds it
	// to the devices it matches.
	Load(module string) error
}

// Units are systemd's services, driven over its D-Bus API.
type Units interface {
	// Active says whether the unit is active; a unit that is not
	// installed is not.
	Active(ctx context.Context, unit string) (bool, error)
	Stop(ctx context.Context, unit string) error
	Start(ctx context.Context, unit string) error
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
}
