package gpu

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// env is what steps act on.
type env struct {
	sys      Sys
	modules  Modules
	kernel   Kernel
	units    Units
	sessions Sessions // nil: no session is ended
	vms      VMs
	// vmEnded says the VM is known to have ended (the exit hook): its
	// undo has nothing to stop.
	vmEnded     bool
	stopTimeout time.Duration
	t           Timeouts
	// holders names who holds the GPU's device files now.
	holders func() []Holder
	proc    ProcFS
}

// Timeouts bound what a hand-over waits for.
type Timeouts struct {
	// Write bounds each sysfs write: an unbind blocks while the
	// device's users hold it.
	Write time.Duration
	// Users bounds the wait for a module's refcount to drop to zero
	// once its users were asked to go (a session's services end some
	// seconds after it: logind's UserStopDelaySec is 10 s).
	Users time.Duration
	// Settle bounds the wait for the GPU's DRM device after its driver
	// is back, before the display units start.
	Settle time.Duration
	// Poll is how often a wait looks again.
	Poll time.Duration
}

func (t Timeouts) orDefaults() Timeouts {
	if t.Write == 0 {
		t.Write = 20 * time.Second
	}
	if t.Users == 0 {
		t.Users = 15 * time.Second
	}
	if t.Settle == 0 {
		t.Settle = 10 * time.Second
	}
	if t.Poll == 0 {
		t.Poll = 100 * time.Millisecond
	}
	return t
}

// BlockedError is a sysfs write that had not returned by its deadline:
// the kernel waits for the device's users to let go.
type BlockedError struct {
	Write   string
	After   time.Duration
	Holders []Holder
	Err     error
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s: the kernel had not done it after %s: it waits for the device's users to let go; %s; "+
		"the write stays pending in the kernel and completes once they do (spirit gpu status then shows whether a function was left without its driver: "+
		"echo ADDRESS > /sys/bus/pci/drivers_probe gives it back); end them (log out, stop them) and try again",
		e.Write, e.After, holdersText(e.Holders))
}

func (e *BlockedError) Unwrap() error { return e.Err }

// write is a sysfs write bounded by the write timeout.
func (e env) write(ctx context.Context, path, value string) error {
	wctx, cancel := context.WithTimeout(ctx, e.t.Write)
	defer cancel()
	err := e.kernel.Write(wctx, path, value)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return &BlockedError{Write: fmt.Sprintf("write %q to %s", value, path), After: e.t.Write, Holders: e.holders(), Err: err}
	}
	return err
}

// InUseError is a module whose users did not let go in time.
type InUseError struct {
	Module   string
	Refcount string
	Holders  []Holder
	After    time.Duration
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("module %s %v (refcount %s after %s); %s: end them and try again", e.Module, ErrModuleInUse, e.Refcount, e.After, holdersText(e.Holders))
}

func (e *InUseError) Unwrap() error { return ErrModuleInUse }

// unload waits, bounded, for the module's refcount to drop to zero (the
// users asked to go take a moment), then unloads it.
func (e env) unload(ctx context.Context, module string) error {
	refcnt := func() string { return e.sys.read(modules, moduleName(module), "refcnt") }
	if err := e.wait(ctx, e.t.Users, func() bool { r := refcnt(); return r == "0" || r == "" }); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &InUseError{Module: module, Refcount: refcnt(), Holders: e.holders(), After: e.t.Users}
	}
	return e.kernel.Unload(ctx, module)
}

// ErrDeviceHeld is wrapped by the refusal to unbind a function whose
// device files a process still holds.
var ErrDeviceHeld = errors.New("is still held")

// DeviceHeldError is a function whose device files processes kept open
// past the wait for them: its unbind would block in the kernel until
// they let go.
type DeviceHeldError struct {
	Addr    string
	Holders []Holder
	After   time.Duration
}

func (e *DeviceHeldError) Error() string {
	return fmt.Sprintf("%s %v after %s, and its driver's unbind would wait for it; %s: end them and try again", e.Addr, ErrDeviceHeld, e.After, holdersText(e.Holders))
}

func (e *DeviceHeldError) Unwrap() error { return ErrDeviceHeld }

// waitFree waits, bounded, until no process holds the function's device
// files: an unbind issued while one does would block in the kernel, and
// complete by itself once it lets go, after any rollback, leaving the
// function without a driver. Holders that /proc does not show (another
// PID namespace, a kernel user) are left to the write's deadline.
func (e env) waitFree(ctx context.Context, addr string) error {
	files := e.sys.functionFiles(addr)
	held := func() []Holder { return e.proc.Holding(files) }
	if err := e.wait(ctx, e.t.Users, func() bool { return len(held()) == 0 }); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &DeviceHeldError{Addr: addr, Holders: held(), After: e.t.Users}
	}
	return nil
}

// settleDRM waits for the function's DRM device to come back with its
// driver, so that the display units find the card when they start.
func (e env) settleDRM(ctx context.Context, addr string) error {
	if err := e.wait(ctx, e.t.Settle, func() bool { return e.sys.hasDRM(addr) }); err != nil {
		return fmt.Errorf("%s has no DRM device after %s: its driver did not set up modesetting (dmesg says why)", addr, e.t.Settle)
	}
	return nil
}

var errWaited = errors.New("waited long enough")

// wait polls done until it holds, or for d at most.
func (e env) wait(ctx context.Context, d time.Duration, done func() bool) error {
	ctx, cancel := context.WithTimeoutCause(ctx, d, errWaited)
	defer cancel()
	for !done() {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(e.t.Poll):
		}
	}
	return nil
}
