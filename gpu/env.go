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
	return fmt.Sprintf("%s: the kernel had not done it after %s: it waits for the device's users to let go; %s; end them (log out, stop them) and try again",
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
