package gpu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrOwnSession is the refusal of a passthrough run from inside the
// graphical session it must end.
var ErrOwnSession = errors.New("runs inside the graphical session that the passthrough ends")

// plan lists the steps that hand g to vm, from what the host runs now.
// The order is the one that works on real hosts: vfio-pci first, so that
// a failure to load it changes nothing; then the display's users go,
// and are waited for, before their driver is unloaded.
func (h *Handover) plan(ctx context.Context, g GPU, vm string) ([]Step, error) {
	var steps []Step
	if !h.o.Host.Sys.DriverLoaded(vfioDriver) {
		// disable_idle_d3: a GPU left in D3 while no VM holds it may
		// not come back from it on some cards.
		steps = append(steps, Step{Kind: stepLoadVFIO, Params: []string{"disable_idle_d3=1"}})
	}
	if g.BootVGA {
		display, err := h.displaySteps(ctx, g)
		if err != nil {
			return nil, err
		}
		steps = append(steps, display...)
	}
	if g.Driver == "nvidia" {
		on, err := h.o.Units.Active(ctx, persistenced)
		if err != nil {
			return nil, fmt.Errorf("ask systemd about %s: %w", persistenced, err)
		}
		if on {
			steps = append(steps, Step{Kind: stepStopUnit, Name: persistenced})
		}
	}
	mods, err := h.modulesToUnload(g)
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		steps = append(steps, Step{Kind: stepUnloadModule, Name: m, Params: h.o.Host.Sys.Params(m)})
	}
	for _, s := range steps {
		// A journal naming it would be refused when read back.
		if err := h.o.Profile.allows(s); err != nil {
			return nil, err
		}
	}
	for _, f := range g.Functions {
		steps = append(steps, Step{Kind: stepBindVFIO, Name: f.Addr, Driver: f.Driver})
	}
	if vm != "" {
		steps = append(steps, Step{Kind: stepStartVM, Name: vm, Functions: g.Addrs()})
	}
	return steps, nil
}

// displaySteps release what shows the host's display on its boot GPU:
// the display units, the seat's graphical sessions, the framebuffer
// consoles, and before Linux 6.0 the firmware's framebuffer (since 6.0
// vfio-pci evicts it itself, and it never comes back: see
// Host.EvictsFirmwareFB).
func (h *Handover) displaySteps(ctx context.Context, g GPU) ([]Step, error) {
	steps, err := h.unitSteps(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := h.sessionSteps(ctx)
	if err != nil {
		return nil, err
	}
	steps = append(steps, sessions...)
	sys := h.o.Host.Sys
	if sys.hasDRM(g.Addr) {
		// Undone just before the display units start again: they need
		// the card's DRM device.
		steps = append(steps, Step{Kind: stepSettleDRM, Name: g.Addr})
	}
	cons, err := sys.names(vtconsoles)
	if err != nil {
		return nil, fmt.Errorf("list virtual consoles: %w", err)
	}
	for _, c := range cons {
		if consoleRE.MatchString(c) && sys.read(vtconsoles, c, "bind") == "1" &&
			strings.Contains(sys.read(vtconsoles, c, "name"), "frame buffer") {
			steps = append(steps, Step{Kind: stepUnbindConsole, Name: c})
		}
	}
	if h.o.Host.EvictsFirmwareFB() {
		return steps, nil
	}
	devs, err := sys.names(platformDevs)
	if err != nil {
		return nil, fmt.Errorf("list platform devices: %w", err)
	}
	for _, d := range devs {
		drv := sys.link(platformDevs, d, "driver")
		if platformRE.MatchString(d) && drv != "" && wordRE.MatchString(drv) {
			steps = append(steps, Step{Kind: stepUnbindPlatform, Name: d, Driver: drv})
		}
	}
	return steps, nil
}

// unitSteps stop the display units that run. Each must be a unit that
// systemd knows, unless it is the default (a host may have no display
// manager).
func (h *Handover) unitSteps(ctx context.Context) ([]Step, error) {
	var steps []Step
	for _, u := range h.o.DisplayUnits {
		if !unitRE.MatchString(u) {
			return nil, fmt.Errorf("display unit %q ([gpu] display_units) is not a service's name", u)
		}
		known, err := h.o.Units.Loaded(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("ask systemd about %s: %w", u, err)
		}
		if !known && u != displayManager {
			return nil, fmt.Errorf("display unit %s ([gpu] display_units) is not installed: systemctl status %s, or set the unit that shows the host's display", u, u)
		}
		on, err := h.o.Units.Active(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("ask systemd about %s: %w", u, err)
		}
		if on {
			steps = append(steps, Step{Kind: stepStopUnit, Name: u})
		}
	}
	return steps, nil
}

// sessionSteps end the seat's graphical sessions, whose compositors
// hold the GPU's device files; the user's services (PipeWire, which
// holds the card's audio) end with the user's manager once the last
// session has, which the unloads wait for.
func (h *Handover) sessionSteps(ctx context.Context) ([]Step, error) {
	if h.o.Sessions == nil {
		return nil, nil
	}
	ss, err := h.o.Sessions.Graphical(ctx, seat)
	if err != nil {
		return nil, fmt.Errorf("ask logind about %s's sessions: %w", seat, err)
	}
	if i := slices.IndexFunc(ss, func(s Session) bool { return s.Self }); i >= 0 {
		return nil, fmt.Errorf("spirit %w (session %s of %s): run it from a text console (Ctrl+Alt+F3) or over SSH", ErrOwnSession, ss[i].ID, ss[i].User)
	}
	var steps []Step
	for _, s := range ss {
		steps = append(steps, Step{Kind: stepEndSession, Name: s.ID})
	}
	return steps, nil
}

// modulesToUnload are the GPU driver's module and those that hold it,
// holders first, when nothing but this GPU uses the driver: NVIDIA's
// driver hangs or refuses an unbind while its modules are in use. The
// other functions' drivers (audio, USB) serve other devices too: those
// are only unbound.
func (h *Handover) modulesToUnload(g GPU) ([]string, error) {
	if g.Module == "" {
		return nil, nil // built in, or no driver
	}
	sys := h.o.Host.Sys
	bound, err := sys.names(pciDrivers, g.Driver)
	if err != nil {
		return nil, fmt.Errorf("read driver %s: %w", g.Driver, err)
	}
	for _, b := range bound {
		if CheckAddr(b) == nil && !slices.Contains(g.Addrs(), b) {
			return nil, nil // it drives another device of the host too
		}
	}
	var out []string
	var visit func(m string, depth int) error
	visit = func(m string, depth int) error {
		if depth > 8 || !wordRE.MatchString(m) {
			return fmt.Errorf("module %s: holders too deep", m)
		}
		holders, err := sys.names(modules, m, "holders")
		if err != nil {
			return fmt.Errorf("read module %s: %w", m, err)
		}
		for _, hm := range holders {
			if err := visit(hm, depth+1); err != nil {
				return err
			}
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
		return nil
	}
	return out, visit(g.Module, 0)
}
