package gpu

import (
	"context"
	"errors"
	"fmt"
)

// undo undoes the journal's steps in reverse, every one even when some
// fail, checks that each function is on the driver it was found on and
// that the host has a display (check), and drops the journal when all is
// back.
func (h *Handover) undo(ctx context.Context, j journal, vmEnded bool) error {
	var errs []error
	e := h.env(vmEnded, h.journalGPU(j))
	for i := len(j.Steps) - 1; i >= 0; i-- {
		s := j.Steps[i]
		h.say("undo %s", s)
		if err := s.undo(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", s, err))
		}
	}
	errs = append(errs, h.check(j)...)
	if len(errs) > 0 {
		return fmt.Errorf("%w (the journal in %s is kept: spirit gpu reclaim tries again)", errors.Join(errs...), h.o.Dir)
	}
	return removeJournal(h.o.Dir)
}

// Reclaim gives the GPU back to the host: it stops the VM that holds it
// (power-off, then quit after the timeout), then undoes what the
// journal says was done, whether the passthrough finished or crashed.
// It says whether there was anything to give back.
func (h *Handover) Reclaim(ctx context.Context) (bool, error) {
	j, ok, err := readJournal(h.o.Dir, h.o.Profile)
	if err != nil || !ok {
		return false, err
	}
	// The VM is stopped without the lock: its exit hook takes it, and
	// may do the rest first.
	if vm := j.vm(); vm != "" {
		if err := h.env(false, GPU{}).stopVM(ctx, vm); err != nil {
			return true, fmt.Errorf("gpu reclaim: %w", err)
		}
	}
	l, err := h.lock(ctx)
	if err != nil {
		return true, fmt.Errorf("gpu reclaim: %w", err)
	}
	defer l.Close()
	j, ok, err = readJournal(h.o.Dir, h.o.Profile)
	if err != nil || !ok {
		return true, err // the VM's exit gave it back
	}
	if err := h.undo(context.WithoutCancel(ctx), j, false); err != nil {
		return true, fmt.Errorf("gpu reclaim: %w", err)
	}
	return true, nil
}

// check is the final check of an undo: every function on the driver it
// was found on, and the host with a display (its GPU's DRM device, or a
// framebuffer) where it had one. What the kernel removed for good (the
// firmware framebuffer, fbcon's console with it) is not looked for.
func (h *Handover) check(j journal) []error {
	var errs []error
	sys := h.o.Host.Sys
	for addr, was := range j.Drivers {
		if now := sys.link(pciDevices, addr, "driver"); now != was {
			errs = append(errs, fmt.Errorf("%s is on %s, not on %s as before", addr, driverText(now), driverText(was)))
		}
	}
	if j.Display != "" && !sys.hasDRM(j.Display) && len(sys.Framebuffers()) == 0 {
		errs = append(errs, fmt.Errorf("the host has no display: %s has no DRM device and no framebuffer is registered (dmesg says why its driver did not set one up)", j.Display))
	}
	return errs
}

// vm is the VM the journal started, "" when it got no further.
func (j journal) vm() string {
	for _, s := range j.Steps {
		if s.Kind == stepStartVM {
			return s.Name
		}
	}
	return ""
}

// VMExited is the VM's exit hook: once vm's QEMU has ended, however it
// ended, the GPU it held goes back to the host. A passthrough still
// running holds the lock; it is waited for, and then has either
// finished (and this undoes it) or rolled back (and there is nothing).
func (h *Handover) VMExited(ctx context.Context, vm string) error {
	l, err := h.lock(ctx)
	if err != nil {
		return fmt.Errorf("give the GPU back after vm %s: %w", vm, err)
	}
	defer l.Close()
	j, ok, err := readJournal(h.o.Dir, h.o.Profile)
	if err != nil || !ok || j.vm() != vm {
		return err
	}
	if err := h.undo(ctx, j, true); err != nil {
		return fmt.Errorf("give the GPU back after vm %s: %w", vm, err)
	}
	return nil
}
