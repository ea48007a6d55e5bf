package gpu

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// The kinds of step of a passthrough. Each is data, so that the journal
// alone says how to undo it after a crash.
const (
	stepStopUnit       = "stop-unit"       // Name: unit
	stepEndSession     = "end-session"     // Name: logind session id
	stepSettleDRM      = "settle-drm"      // Name: PCI address whose DRM device the undo waits for
	stepUnbindConsole  = "unbind-console"  // Name: vtconN
	stepUnbindPlatform = "unbind-platform" // Name: platform device, Driver
	stepUnloadModule   = "unload-module"   // Name: module, Params: its parameters found
	stepLoadVFIO       = "load-vfio"       // Params
	stepBindVFIO       = "bind-vfio"       // Name: PCI address, Driver: the one found
	stepStartVM        = "start-vm"        // Name: VM, Functions
)

// Step is one change to the host. Undo brings back what Do changed, and
// may run after a Do that was cut short or never ran: it is written
// towards the state found, not as the inverse of a completed Do, and
// what the kernel removed by itself meanwhile counts as restored.
type Step struct {
	Kind      string   `json:"kind"`
	Name      string   `json:"name,omitempty"`
	Driver    string   `json:"driver,omitempty"`
	Functions []string `json:"functions,omitempty"`
	Params    []string `json:"params,omitempty"`
}

func (s Step) String() string {
	switch s.Kind {
	case stepStopUnit:
		return "stop " + s.Name
	case stepEndSession:
		return "end graphical session " + s.Name
	case stepSettleDRM:
		return "note the DRM device of " + s.Name
	case stepUnbindConsole:
		return "unbind virtual console " + s.Name
	case stepUnbindPlatform:
		return "unbind framebuffer " + s.Name + " from " + s.Driver
	case stepUnloadModule:
		return "unload module " + s.Name + paramsText(s.Params)
	case stepLoadVFIO:
		return "load vfio-pci" + paramsText(s.Params)
	case stepBindVFIO:
		return "bind " + s.Name + " to vfio-pci (from " + driverText(s.Driver) + ")"
	case stepStartVM:
		return "start vm " + s.Name
	}
	return s.Kind + " " + s.Name
}

func paramsText(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return " (" + strings.Join(p, " ") + ")"
}

var (
	unitRE     = regexp.MustCompile(`^[A-Za-z0-9:_.@-]+\.service$`)
	consoleRE  = regexp.MustCompile(`^vtcon[0-9]+$`)
	platformRE = regexp.MustCompile(`^[a-z-]+framebuffer(\.[0-9]+)?$`)
	wordRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// paramRE is a module parameter as spirit records and passes it:
	// one word, no quotes or spaces that finit_module would split.
	paramRE = regexp.MustCompile(`^[A-Za-z0-9_]+=[A-Za-z0-9_.,:+-]*$`)
)

// check refuses a step whose names would not be safe in a path or on a
// module's command line: steps are read back from the journal.
func (s Step) check() error {
	ok := !slices.ContainsFunc(s.Params, func(p string) bool { return !paramRE.MatchString(p) })
	switch s.Kind {
	case stepStopUnit:
		ok = ok && unitRE.MatchString(s.Name)
	case stepEndSession:
		ok = ok && wordRE.MatchString(s.Name)
	case stepSettleDRM:
		ok = ok && CheckAddr(s.Name) == nil
	case stepUnbindConsole:
		ok = ok && consoleRE.MatchString(s.Name)
	case stepUnbindPlatform:
		ok = ok && platformRE.MatchString(s.Name) && wordRE.MatchString(s.Driver)
	case stepUnloadModule:
		ok = ok && wordRE.MatchString(s.Name)
	case stepLoadVFIO:
	case stepBindVFIO:
		ok = ok && CheckAddr(s.Name) == nil && (s.Driver == "" || wordRE.MatchString(s.Driver))
	case stepStartVM:
		ok = ok && wordRE.MatchString(s.Name)
		for _, f := range s.Functions {
			ok = ok && CheckAddr(f) == nil
		}
	default:
		ok = false
	}
	if !ok {
		return fmt.Errorf("a bad step in the journal: %+v", s)
	}
	return nil
}

func (s Step) do(ctx context.Context, e env) error {
	switch s.Kind {
	case stepStopUnit:
		return e.units.Stop(ctx, s.Name)
	case stepEndSession:
		if e.sessions == nil {
			return nil
		}
		return e.sessions.Terminate(ctx, s.Name)
	case stepSettleDRM:
		return nil // a mark in the journal: its undo is the wait
	case stepUnbindConsole:
		return e.write(ctx, path.Join(vtconsoles, s.Name, "bind"), "0")
	case stepUnbindPlatform:
		return e.write(ctx, path.Join(platformDrvs, s.Driver, "unbind"), s.Name)
	case stepUnloadModule:
		return e.unload(ctx, s.Name)
	case stepLoadVFIO:
		return e.kernel.Load(ctx, vfioDriver, append(e.modules.Options(vfioDriver), s.Params...))
	case stepBindVFIO:
		return e.bindVFIO(ctx, s.Name)
	case stepStartVM:
		return e.vms.Start(ctx, s.Name, s.Functions)
	}
	return fmt.Errorf("unknown step %q", s.Kind)
}

func (s Step) undo(ctx context.Context, e env) error {
	switch s.Kind {
	case stepStopUnit:
		return e.units.Start(ctx, s.Name)
	case stepEndSession, stepLoadVFIO:
		// A session ended stays ended: the display units' start gives
		// a login screen. vfio-pci, loaded, holds nothing: it stays, as
		// modprobe would leave it.
		return nil
	case stepSettleDRM:
		return e.settleDRM(ctx, s.Name)
	case stepUnbindConsole:
		return e.rebindConsole(ctx, s.Name)
	case stepUnbindPlatform:
		// sysfb_disable may have unregistered the device for good (a
		// GPU driver's fbdev, or vfio-pci on 6.x, evicted it): then
		// there is nothing to rebind, and the GPU's driver shows the
		// display.
		if !e.sys.exists(platformDevs, s.Name) || e.sys.link(platformDevs, s.Name, "driver") == s.Driver {
			return nil
		}
		return e.write(ctx, path.Join(platformDrvs, s.Driver, "bind"), s.Name)
	case stepUnloadModule:
		if e.sys.ModuleLoaded(s.Name) {
			return nil
		}
		return e.kernel.Load(ctx, s.Name, append(e.modules.Options(s.Name), s.Params...))
	case stepBindVFIO:
		return e.release(ctx, s.Name, s.Driver)
	case stepStartVM:
		return e.stopVM(ctx, s.Name)
	}
	return fmt.Errorf("unknown step %q", s.Kind)
}

// rebindConsole binds fbcon's console again, if it still exists: when
// its last framebuffer went, fbcon unregistered it
// (fbcon_fb_unregistered), and the next framebuffer to register takes
// the console back by itself (fbcon_fb_registered).
func (e env) rebindConsole(ctx context.Context, name string) error {
	if !e.sys.exists(vtconsoles, name) || e.sys.read(vtconsoles, name, "bind") == "1" {
		return nil
	}
	return e.write(ctx, path.Join(vtconsoles, name, "bind"), "1")
}

// bindVFIO moves a function from its driver to vfio-pci: driver_override
// makes vfio-pci the only driver that may take it, whoever probes.
func (e env) bindVFIO(ctx context.Context, addr string) error {
	dev := path.Join(pciDevices, addr)
	if e.sys.link(dev, "driver") == vfioDriver {
		return nil
	}
	if e.sys.exists(dev, "driver") {
		if err := e.waitFree(ctx, addr); err != nil {
			return err
		}
		if err := e.write(ctx, path.Join(dev, "driver", "unbind"), addr); err != nil {
			return err
		}
	}
	if err := e.write(ctx, path.Join(dev, "driver_override"), vfioDriver); err != nil {
		return err
	}
	return e.write(ctx, path.Join(pciDrivers, vfioDriver, "bind"), addr)
}

// release takes a function from vfio-pci back to the host: clear the
// override and let the kernel probe, so that it picks the driver (when
// its module is loaded: else the module's load binds it).
func (e env) release(ctx context.Context, addr, was string) error {
	dev := path.Join(pciDevices, addr)
	drv := e.sys.link(dev, "driver")
	if drv == was && e.sys.read(dev, "driver_override") == "(null)" {
		return nil
	}
	if drv != "" && drv != was {
		if err := e.write(ctx, path.Join(dev, "driver", "unbind"), addr); err != nil {
			return err
		}
	}
	// An empty write clears driver_override (the kernel wants "\n").
	if err := e.write(ctx, path.Join(dev, "driver_override"), "\n"); err != nil {
		return err
	}
	if was == "" || e.sys.exists(dev, "driver") {
		return nil
	}
	return e.write(ctx, pciProbe, addr)
}

func (e env) stopVM(ctx context.Context, vm string) error {
	if e.vmEnded {
		return nil
	}
	running, err := e.vms.Running(ctx, vm)
	if err != nil || !running {
		return err
	}
	if err := e.vms.Stop(ctx, vm, e.stopTimeout); err != nil {
		return fmt.Errorf("stop vm %s: %w", vm, err)
	}
	return nil
}
