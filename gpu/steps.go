package gpu

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"time"
)

// The kinds of step of a passthrough. Each is data, so that the journal
// alone says how to undo it after a crash.
const (
	stepStopUnit       = "stop-unit"       // Unit
	stepUnbindConsole  = "unbind-console"  // Name: vtconN
	stepUnbindPlatform = "unbind-platform" // Name: platform device, Driver
	stepUnloadModule   = "unload-module"   // Name: module
	stepLoadVFIO       = "load-vfio"
	stepBindVFIO       = "bind-vfio" // Name: PCI address, Driver: the one found
	stepStartVM        = "start-vm"  // Name: VM, Functions
)

// Step is one change to the host. Undo brings back what Do changed, and
// may run after a Do that was cut short or never ran: it is written
// towards the state found, not as the inverse of a completed Do.
type Step struct {
	Kind      string   `json:"kind"`
	Name      string   `json:"name,omitempty"`
	Driver    string   `json:"driver,omitempty"`
	Functions []string `json:"functions,omitempty"`
}

func (s Step) String() string {
	switch s.Kind {
	case stepStopUnit:
		return "stop " + s.Name
	case stepUnbindConsole:
		return "unbind virtual console " + s.Name
	case stepUnbindPlatform:
		return "unbind framebuffer " + s.Name + " from " + s.Driver
	case stepUnloadModule:
		return "unload module " + s.Name
	case stepLoadVFIO:
		return "load vfio-pci"
	case stepBindVFIO:
		return "bind " + s.Name + " to vfio-pci (from " + driverText(s.Driver) + ")"
	case stepStartVM:
		return "start vm " + s.Name
	}
	return s.Kind + " " + s.Name
}

var (
	unitRE     = regexp.MustCompile(`^[A-Za-z0-9:_.@-]+\.service$`)
	consoleRE  = regexp.MustCompile(`^vtcon[0-9]+$`)
	platformRE = regexp.MustCompile(`^[a-z-]+framebuffer(\.[0-9]+)?$`)
	wordRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// check refuses a step whose names would not be safe in a path: steps
// are read back from the journal.
func (s Step) check() error {
	ok := false
	switch s.Kind {
	case stepStopUnit:
		ok = unitRE.MatchString(s.Name)
	case stepUnbindConsole:
		ok = consoleRE.MatchString(s.Name)
	case stepUnbindPlatform:
		ok = platformRE.MatchString(s.Name) && wordRE.MatchString(s.Driver)
	case stepUnloadModule:
		ok = wordRE.MatchString(s.Name)
	case stepLoadVFIO:
		ok = true
	case stepBindVFIO:
		ok = CheckAddr(s.Name) == nil && (s.Driver == "" || wordRE.MatchString(s.Driver))
	case stepStartVM:
		ok = wordRE.MatchString(s.Name)
		for _, f := range s.Functions {
			ok = ok && CheckAddr(f) == nil
		}
	}
	if !ok {
		return fmt.Errorf("a bad step in the journal: %+v", s)
	}
	return nil
}

// env is what steps act on.
type env struct {
	sys    Sys
	kernel Kernel
	units  Units
	vms    VMs
	// vmEnded says the VM is known to have ended (the exit hook): its
	// undo has nothing to stop.
	vmEnded     bool
	stopTimeout time.Duration
}

func (s Step) do(ctx context.Context, e env) error {
	switch s.Kind {
	case stepStopUnit:
		return e.units.Stop(ctx, s.Name)
	case stepUnbindConsole:
		return e.kernel.Write(path.Join(vtconsoles, s.Name, "bind"), "0")
	case stepUnbindPlatform:
		return e.kernel.Write(path.Join(platformDrvs, s.Driver, "unbind"), s.Name)
	case stepUnloadModule:
		return e.kernel.Unload(s.Name)
	case stepLoadVFIO:
		return e.kernel.Load(vfioDriver)
	case stepBindVFIO:
		return e.bindVFIO(s.Name)
	case stepStartVM:
		return e.vms.Start(ctx, s.Name, s.Functions)
	}
	return fmt.Errorf("unknown step %q", s.Kind)
}

func (s Step) undo(ctx context.Context, e env) error {
	switch s.Kind {
	case stepStopUnit:
		return e.units.Start(ctx, s.Name)
	case stepUnbindConsole:
		return e.kernel.Write(path.Join(vtconsoles, s.Name, "bind"), "1")
	case stepUnbindPlatform:
		if e.sys.link(platformDevs, s.Name, "driver") == s.Driver {
			return nil
		}
		return e.kernel.Write(path.Join(platformDrvs, s.Driver, "bind"), s.Name)
	case stepUnloadModule:
		if e.sys.ModuleLoaded(s.Name) {
			return nil
		}
		return e.kernel.Load(s.Name)
	case stepLoadVFIO:
		return nil // loaded, it holds nothing: it stays, as modprobe would leave it
	case stepBindVFIO:
		return e.release(s.Name, s.Driver)
	case stepStartVM:
		return e.stopVM(ctx, s.Name)
	}
	return fmt.Errorf("unknown step %q", s.Kind)
}

// bindVFIO moves a function from its driver to vfio-pci: driver_override
// makes vfio-pci the only driver that may take it, whoever probes.
func (e env) bindVFIO(addr string) error {
	dev := path.Join(pciDevices, addr)
	if e.sys.link(dev, "driver") == vfioDriver {
		return nil
	}
	if e.sys.exists(dev, "driver") {
		if err := e.kernel.Write(path.Join(dev, "driver", "unbind"), addr); err != nil {
			return err
		}
	}
	if err := e.kernel.Write(path.Join(dev, "driver_override"), vfioDriver); err != nil {
		return err
	}
	return e.kernel.Write(path.Join(pciDrivers, vfioDriver, "bind"), addr)
}

// release takes a function from vfio-pci back to the host: clear the
// override and let the kernel probe, so that it picks the driver (when
// its module is loaded: else the module's load binds it).
func (e env) release(addr, was string) error {
	dev := path.Join(pciDevices, addr)
	drv := e.sys.link(dev, "driver")
	if drv == was && e.sys.read(dev, "driver_override") == "(null)" {
		return nil
	}
	if drv != "" && drv != was {
		if err := e.kernel.Write(path.Join(dev, "driver", "unbind"), addr); err != nil {
			return err
		}
	}
	// An empty write clears driver_override (the kernel wants "\n").
	if err := e.kernel.Write(path.Join(dev, "driver_override"), "\n"); err != nil {
		return err
	}
	if was == "" || e.sys.exists(dev, "driver") {
		return nil
	}
	return e.kernel.Write(pciProbe, addr)
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
