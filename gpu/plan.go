package gpu

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// plan lists the steps that hand g to vm, from what the host runs now.
// The order is the one that works on real hosts: nothing may still use
// the GPU when its driver lets go of it, and vfio-pci cannot take the
// boot GPU while a framebuffer holds its memory.
func (h *Handover) plan(ctx context.Context, g GPU, vm string) ([]Step, error) {
	var steps []Step
	if g.BootVGA {
		display, err := h.displaySteps(ctx)
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
		steps = append(steps, Step{Kind: stepUnloadModule, Name: m})
	}
	for _, s := range steps {
		// A journal naming it would be refused when read back.
		if err := h.o.Profile.allows(s); err != nil {
			return nil, err
		}
	}
	if !h.o.Host.Sys.DriverLoaded(vfioDriver) {
		steps = append(steps, Step{Kind: stepLoadVFIO})
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
// the display manager, the framebuffer consoles and the firmware's
// framebuffer (efifb, or simpledrm on newer kernels, which holds the
// GPU's memory range even after the GPU's own driver has gone).
func (h *Handover) displaySteps(ctx context.Context) ([]Step, error) {
	var steps []Step
	on, err := h.o.Units.Active(ctx, displayManager)
	if err != nil {
		return nil, fmt.Errorf("ask systemd about %s: %w", displayManager, err)
	}
	if on {
		steps = append(steps, Step{Kind: stepStopUnit, Name: displayManager})
	}
	sys := h.o.Host.Sys
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
