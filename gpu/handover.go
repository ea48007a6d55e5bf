package gpu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// The units a passthrough stops: the display manager (systemd's alias
// for gdm, sddm, lightdm...), which holds the GPU's device files, unless
// the display units are set, and NVIDIA's persistence daemon, which
// holds its module.
const (
	displayManager = "display-manager.service"
	persistenced   = "nvidia-persistenced.service"
)

// seat is the seat whose graphical sessions use the boot GPU.
const seat = "seat0"

// Options configure a Handover.
type Options struct {
	Host   Host
	Kernel Kernel
	Units  Units
	// Sessions ends the seat's graphical sessions; nil ends none.
	Sessions Sessions
	VMs      VMs
	// DisplayUnits are the units that show the host's display on the
	// boot GPU, stopped and started again ([gpu] display_units);
	// nil means display-manager.service.
	DisplayUnits []string
	// Timeouts bound the waits; zero fields take their defaults.
	Timeouts Timeouts
	// Dir is the GPU's runtime directory: the journal and the lock.
	Dir string
	// Progress gets a line per step; nil discards them.
	Progress io.Writer
	// StopTimeout bounds the VM's power-off before it is quit.
	StopTimeout time.Duration
	// Root says whether this process may change drivers.
	Root bool
	// Profile is what a passthrough may stop and unload; the zero
	// Profile is DefaultProfile.
	Profile Profile
}

// Handover gives the host's GPU to a VM and takes it back.
type Handover struct {
	o Options
}

// New returns a Handover.
func New(o Options) *Handover {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = time.Minute
	}
	if o.Profile.Units == nil && o.Profile.Modules == nil {
		o.Profile = DefaultProfile()
	}
	// The display units set are the profile's too: a journal naming
	// them is read back by the same configuration.
	for _, u := range o.DisplayUnits {
		if !slices.Contains(o.Profile.Units, u) {
			o.Profile.Units = append(slices.Clone(o.Profile.Units), u)
		}
	}
	if o.DisplayUnits == nil {
		o.DisplayUnits = []string{displayManager}
	}
	o.Timeouts = o.Timeouts.orDefaults()
	return &Handover{o: o}
}

func (h *Handover) env(vmEnded bool, g GPU) env {
	return env{sys: h.o.Host.Sys, modules: h.o.Host.Modules, kernel: h.o.Kernel, units: h.o.Units,
		sessions: h.o.Sessions, vms: h.o.VMs, vmEnded: vmEnded, stopTimeout: h.o.StopTimeout, t: h.o.Timeouts,
		holders: func() []Holder { return h.o.Host.Proc.Holding(h.o.Host.Sys.DeviceFiles(g)) }, proc: h.o.Host.Proc}
}

// journalGPU is the GPU a journal names, as the host shows it now.
func (h *Handover) journalGPU(j journal) GPU {
	g, err := h.o.Host.Find(j.GPU)
	if err != nil {
		return GPU{Device: Device{Addr: j.GPU}}
	}
	return g
}

func (h *Handover) say(format string, args ...any) {
	fmt.Fprintf(h.o.Progress, "spirit: "+format+"\n", args...)
}

func (h *Handover) lock(ctx context.Context) (*os.File, error) {
	return lock(ctx, h.o.Dir, func() { h.say("waiting for another GPU operation to end...") })
}

// Status is the host's GPUs, with the VM that holds each.
func (h *Handover) Status() ([]GPU, error) {
	gpus, err := h.o.Host.GPUs()
	if err != nil {
		return nil, err
	}
	j, ok, err := readJournal(h.o.Dir, h.o.Profile)
	if err != nil || !ok {
		return gpus, err
	}
	for i := range gpus {
		if gpus[i].Addr != j.GPU {
			continue
		}
		if j.Attached {
			gpus[i].HeldBy = j.VM
		} else {
			gpus[i].Problems = append(gpus[i].Problems, "a passthrough did not finish: spirit gpu reclaim gives it back to the host")
		}
	}
	return gpus, nil
}

// Passthrough hands the GPU at addr ("" for the host's only one) to vm,
// starting it. Any failure gives everything back before it returns.
func (h *Handover) Passthrough(ctx context.Context, vm, addr string) error {
	if err := h.precheck(addr); err != nil {
		return fmt.Errorf("gpu passthrough: %w", err)
	}
	l, err := h.lock(ctx)
	if err != nil {
		return fmt.Errorf("gpu passthrough: %w", err)
	}
	defer l.Close()
	if j, ok, err := readJournal(h.o.Dir, h.o.Profile); err != nil || ok {
		return fmt.Errorf("gpu passthrough: %w", cmp.Or(err, busy(j)))
	}
	g, err := h.o.Host.Find(addr)
	if err != nil {
		return fmt.Errorf("gpu passthrough: %w", err)
	}
	if !g.Passable() {
		r := refusal{msg: fmt.Sprintf("gpu passthrough: %s %v:\n  %s", g.Addr, ErrNotPassable, strings.Join(g.Problems, "\n  ")),
			errs: []error{ErrNotPassable}}
		if g.NoReset {
			// A card that cannot be reset would not come back from the
			// VM: it is refused before anything changes.
			r.errs = append(r.errs, ErrNoReset)
		}
		return r
	}
	if vm != "" {
		if err := h.o.VMs.Check(ctx, vm); err != nil {
			return fmt.Errorf("gpu passthrough: %w", err)
		}
	}
	steps, err := h.plan(ctx, g, vm)
	if err != nil {
		return fmt.Errorf("gpu passthrough: %w", err)
	}
	return h.run(ctx, g, vm, steps)
}

// The errors of a passthrough refused before it changes anything, for
// callers to tell apart with errors.Is (the messages around them say
// what to do).
var (
	// ErrNeedsRoot is the refusal to a user who is not root: only root
	// may rebind drivers and stop units.
	ErrNeedsRoot = errors.New("needs root")
	// ErrUnfinished is the refusal while the journal of a passthrough
	// that neither finished nor rolled back (spirit crashed) is in the
	// way: a reclaim clears it.
	ErrUnfinished = errors.New("did not finish")
	// ErrNotPassable is the refusal of a GPU whose Problems keep it
	// from being passed through.
	ErrNotPassable = errors.New("cannot be passed through")
)

// refusal is an error that says msg and wraps errs, whose texts are in
// msg already.
type refusal struct {
	msg  string
	errs []error
}

func (r refusal) Error() string   { return r.msg }
func (r refusal) Unwrap() []error { return r.errs }

// HeldError is the refusal of a passthrough while the GPU is passed
// through to a VM already: it names the VM, which the caller may stop.
type HeldError struct {
	GPU string // the GPU's address
	VM  string // the VM that holds it
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("the GPU %s is passed through to vm %s already: spirit gpu reclaim gives it back", e.GPU, e.VM)
}

// busy says why a journal left by another operation keeps a passthrough
// from starting.
func busy(j journal) error {
	if j.Attached {
		return &HeldError{GPU: j.GPU, VM: j.VM}
	}
	return fmt.Errorf("a passthrough of %s %w (spirit crashed?): spirit gpu reclaim gives it back first", j.GPU, ErrUnfinished)
}

// precheck is what is checked before anything else is read: the
// address, root, the IOMMU, vfio-pci.
func (h *Handover) precheck(addr string) error {
	if addr != "" {
		if err := CheckAddr(addr); err != nil {
			return err
		}
	}
	if !h.o.Root {
		return fmt.Errorf("it %w: it rebinds drivers and stops the display manager (run it with sudo)", ErrNeedsRoot)
	}
	if h.o.Host.Sys.IOMMUGroups() == 0 {
		return ErrIOMMUOff
	}
	return h.o.Host.VFIOAvailable()
}

// run takes the steps, each journalled first; on a failure it undoes
// them all, the failed one too (it may have half happened).
func (h *Handover) run(ctx context.Context, g GPU, vm string, steps []Step) error {
	hd := header{VM: vm, GPU: g.Addr, Drivers: map[string]string{}, At: time.Now().UTC()}
	for _, f := range g.Functions {
		hd.Drivers[f.Addr] = f.Driver
	}
	if g.BootVGA && (h.o.Host.Sys.hasDRM(g.Addr) || len(g.Framebuffers) > 0) {
		hd.Display = g.Addr
	}
	w, err := createJournal(h.o.Dir, hd)
	if err != nil {
		return fmt.Errorf("gpu passthrough: %w", err)
	}
	defer w.Close()
	for i, s := range steps {
		if err := w.add(journalLine{Step: &s}); err != nil {
			return h.rollback(ctx, hd, steps[:i], fmt.Errorf("before step %d of %d (%s): %w", i+1, len(steps), s, err))
		}
		h.say("%d/%d %s", i+1, len(steps), s)
		if err := s.do(ctx, h.env(false, g)); err != nil {
			return h.rollback(ctx, hd, steps[:i+1], fmt.Errorf("step %d of %d (%s): %w", i+1, len(steps), s, err))
		}
	}
	if err := w.add(journalLine{Attached: true}); err != nil {
		return h.rollback(ctx, hd, steps, err)
	}
	return nil
}

// rollback undoes steps after cause, and says how the host was left.
func (h *Handover) rollback(ctx context.Context, hd header, steps []Step, cause error) error {
	h.say("passthrough failed at %v; giving the GPU back", cause)
	// The caller's context may be what was cancelled: the host's display
	// is brought back regardless.
	ctx = context.WithoutCancel(ctx)
	if err := h.undo(ctx, journal{header: hd, Steps: steps}, false); err != nil {
		return fmt.Errorf("gpu passthrough failed at %w; giving the GPU back failed too: %w", cause, err)
	}
	return fmt.Errorf("gpu passthrough failed at %w; the host has its GPU and display back", cause)
}
