package gpusim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Sim is the simulated kernel, systemd and VM starter of one tree.
type Sim struct {
	Root string
	fx   Fixture

	// FailAt makes the FailAt'th change (a write, module load or unload,
	// unit start or stop, VM start), counted from one, fail. Zero fails
	// none.
	FailAt int
	// Before is called before each change with its number and what it
	// is: a test ends the process there to simulate a crash.
	Before func(n int, what string)
	ops    int
}

// ErrInjected is the failure FailAt injects.
var ErrInjected = errors.New("injected failure")

// Ops is how many changes have been asked of the simulator.
func (s *Sim) Ops() int { return s.ops }

func (s *Sim) op(what string) error {
	s.ops++
	if s.Before != nil {
		s.Before(s.ops, what)
	}
	if s.ops == s.FailAt {
		return fmt.Errorf("%s: %w (change %d)", what, ErrInjected, s.ops)
	}
	return nil
}

func errno(what string, e syscall.Errno) error { return fmt.Errorf("%s: %w", what, e) }

// Write is a write to a sysfs attribute, with the kernel's effects.
func (s *Sim) Write(path, value string) error {
	what := fmt.Sprintf("write %q to %s", value, path)
	if err := s.op(what); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(s.p(path))
	if err != nil {
		return errno(what, syscall.ENOENT)
	}
	rel, err := filepath.Rel(s.Root, real)
	if err != nil || strings.HasPrefix(rel, "..") {
		return errno(what, syscall.EACCES)
	}
	v := strings.TrimSuffix(value, "\n")
	parts := strings.Split(rel, string(filepath.Separator))
	switch {
	case len(parts) == 5 && parts[0] == "bus" && parts[1] == "pci" && parts[2] == "drivers" && parts[4] == "unbind":
		return s.unbind(what, parts[3], v)
	case len(parts) == 5 && parts[0] == "bus" && parts[1] == "pci" && parts[2] == "drivers" && parts[4] == "bind":
		return s.bind(what, parts[3], v)
	case rel == "bus/pci/drivers_probe":
		return s.probe(what, v)
	case len(parts) == 4 && parts[0] == "devices" && parts[3] == "driver_override":
		if v == "" {
			v = "(null)"
		}
		return os.WriteFile(real, []byte(v+"\n"), 0o644)
	case len(parts) == 4 && parts[0] == "class" && parts[1] == "vtconsole" && parts[3] == "bind":
		if v != "0" && v != "1" {
			return errno(what, syscall.EINVAL)
		}
		return os.WriteFile(real, []byte(v+"\n"), 0o644)
	case len(parts) == 5 && parts[0] == "bus" && parts[1] == "platform" && parts[4] == "unbind":
		if s.link(filepath.Join("devices/platform", v, "driver")) != parts[3] {
			return errno(what, syscall.ENODEV)
		}
		os.Remove(s.p("devices/platform", v, "driver"))
		return os.Remove(s.p("bus/platform/drivers", parts[3], v))
	case len(parts) == 5 && parts[0] == "bus" && parts[1] == "platform" && parts[4] == "bind":
		if !s.exists("devices/platform", v) || s.exists("devices/platform", v, "driver") {
			return errno(what, syscall.ENODEV)
		}
		return s.platformLinks(v, parts[3])
	}
	return errno(what, syscall.EACCES)
}

func (s *Sim) link(rel string) string {
	t, err := os.Readlink(s.p(rel))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// Driver is the driver a PCI function is bound to, "" for none.
func (s *Sim) Driver(addr string) string { return s.link(filepath.Join(devDir(addr), "driver")) }

func (s *Sim) override(addr string) string {
	b, _ := os.ReadFile(s.p(devDir(addr), "driver_override"))
	if o := strings.TrimSpace(string(b)); o != "(null)" {
		return o
	}
	return ""
}

func (s *Sim) unbind(what, driver, addr string) error {
	if s.Driver(addr) != driver {
		return errno(what, syscall.ENODEV)
	}
	d, _ := s.fx.device(addr)
	// A display driver whose device is still in use (the display
	// manager, a console on it) does not let go: on real hosts the
	// write hangs, or the screen stays black and the module held.
	if strings.HasPrefix(d.Class, "0x03") {
		if m, ok := s.fx.driverModule(driver); ok {
			if user := s.inUse(m, map[string]bool{}); user != "" {
				return fmt.Errorf("%s: %w (the device is in use by %s)", what, syscall.EBUSY, user)
			}
		}
	}
	return s.unbindLinks(addr, driver)
}

// matches says whether driver may take addr: its override names it, or
// there is none and the driver's id table has the device.
func (s *Sim) matches(driver, addr string) bool {
	if o := s.override(addr); o != "" {
		return o == driver
	}
	d, _ := s.fx.device(addr)
	return d.Driver == driver && driver != "vfio-pci"
}

func (s *Sim) bind(what, driver, addr string) error {
	d, ok := s.fx.device(addr)
	if !ok {
		return errno(what, syscall.ENODEV)
	}
	if s.Driver(addr) != "" {
		return errno(what, syscall.EBUSY)
	}
	if !s.matches(driver, addr) {
		return errno(what, syscall.ENODEV)
	}
	if driver == "vfio-pci" {
		if s.fx.NoIOMMU {
			return errno(what, syscall.EINVAL)
		}
		if fb := s.boundFramebuffer(); d.BootVGA && fb != "" {
			return fmt.Errorf("%s: %w (%s holds the GPU's memory)", what, syscall.EBUSY, fb)
		}
	}
	return s.bindLinks(addr, driver)
}

func (s *Sim) boundFramebuffer() string {
	for _, fb := range s.fx.Framebuffers {
		if s.exists("devices/platform", fb.Name, "driver") {
			return fb.Name
		}
	}
	return ""
}

// probe binds addr to the first loaded driver that matches it.
func (s *Sim) probe(what, addr string) error {
	if _, ok := s.fx.device(addr); !ok {
		return errno(what, syscall.ENODEV)
	}
	if s.Driver(addr) != "" {
		return nil
	}
	drivers, _ := os.ReadDir(s.p("bus/pci/drivers"))
	for _, drv := range drivers {
		if s.matches(drv.Name(), addr) {
			return s.bind(what, drv.Name(), addr)
		}
	}
	return nil
}

// inUse names what holds module m: an active user, or a loaded holder.
func (s *Sim) inUse(m Module, seen map[string]bool) string {
	if seen[m.Name] {
		return ""
	}
	seen[m.Name] = true
	for _, u := range m.UsedBy {
		kind, name, _ := strings.Cut(u, ":")
		switch {
		case kind == "unit" && s.UnitActive(name):
			return name
		case kind == "console" && s.consoleBound(name):
			return "virtual console " + name
		}
	}
	for _, h := range m.Holders {
		if hm, ok := s.fx.module(h); ok && s.exists("module", h) {
			if u := s.inUse(hm, seen); u != "" {
				return u
			}
		}
	}
	return ""
}

func (s *Sim) consoleBound(name string) bool {
	b, _ := os.ReadFile(s.p("class/vtconsole", name, "bind"))
	return strings.TrimSpace(string(b)) == "1"
}

// Unload unloads a module, as delete_module does.
func (s *Sim) Unload(name string) error {
	what := "unload module " + name
	if err := s.op(what); err != nil {
		return err
	}
	m, ok := s.fx.module(name)
	if !ok || !s.exists("module", name) {
		return errno(what, syscall.ENOENT)
	}
	if m.BuiltIn {
		return errno(what, syscall.EPERM)
	}
	for _, h := range m.Holders {
		if s.exists("module", h) {
			return fmt.Errorf("%s: %w (used by module %s)", what, syscall.EBUSY, h)
		}
	}
	if user := s.inUse(m, map[string]bool{}); user != "" {
		return fmt.Errorf("%s: %w (in use by %s)", what, syscall.EBUSY, user)
	}
	for _, drv := range m.Drivers {
		entries, _ := os.ReadDir(s.p("bus/pci/drivers", drv))
		for _, e := range entries {
			if strings.Count(e.Name(), ":") == 2 {
				if err := s.unbindLinks(e.Name(), drv); err != nil {
					return err
				}
			}
		}
		if err := os.RemoveAll(s.p("bus/pci/drivers", drv)); err != nil {
			return err
		}
	}
	for _, o := range s.fx.Modules {
		os.Remove(s.p("module", o.Name, "holders", name))
	}
	return os.RemoveAll(s.p("module", name))
}

// Load loads a module after the modules it uses, as modprobe does, and
// its drivers take the devices they match.
func (s *Sim) Load(name string) error {
	what := "load module " + name
	if err := s.op(what); err != nil {
		return err
	}
	return s.load(strings.ReplaceAll(name, "-", "_"), 0)
}

func (s *Sim) load(name string, depth int) error {
	if s.exists("module", name) {
		return nil
	}
	m, ok := s.fx.module(name)
	if !ok || depth > 8 {
		return errno("load module "+name, syscall.ENOENT)
	}
	for _, o := range s.fx.Modules {
		if contains(o.Holders, name) {
			if err := s.load(o.Name, depth+1); err != nil {
				return err
			}
		}
	}
	if err := s.loadOne(m); err != nil {
		return err
	}
	for _, drv := range m.Drivers {
		for _, d := range s.fx.Devices {
			if s.Driver(d.Address) == "" && s.matches(drv, d.Address) {
				if err := s.bindLinks(d.Address, drv); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// UnitActive says whether a unit is active.
func (s *Sim) UnitActive(name string) bool {
	b, _ := os.ReadFile(s.p(".sim/units", name))
	return strings.TrimSpace(string(b)) == "active"
}

// Active is Units.Active.
func (s *Sim) Active(_ context.Context, unit string) (bool, error) { return s.UnitActive(unit), nil }

// Stop stops a unit.
func (s *Sim) Stop(_ context.Context, unit string) error {
	if err := s.op("stop " + unit); err != nil {
		return err
	}
	if !s.exists(".sim/units", unit) {
		return fmt.Errorf("stop %s: unit not loaded", unit)
	}
	return s.setUnit(unit, false)
}

// Start starts a unit.
func (s *Sim) Start(_ context.Context, unit string) error {
	if err := s.op("start " + unit); err != nil {
		return err
	}
	if !s.exists(".sim/units", unit) {
		return fmt.Errorf("start %s: unit not loaded", unit)
	}
	return s.setUnit(unit, true)
}

// VMs is the simulated VM starter: a VM starts only when each of its
// functions is on vfio-pci, as QEMU's vfio-pci device needs.
type VMs struct{ *Sim }

// Start starts vm.
func (v VMs) Start(_ context.Context, vm string, functions []string) error {
	if err := v.op("start vm " + vm); err != nil {
		return err
	}
	for _, f := range functions {
		if drv := v.Driver(f); drv != "vfio-pci" {
			return fmt.Errorf("start vm %s: qemu: -device vfio-pci,host=%s: device is on %q, not vfio-pci", vm, f, drv)
		}
	}
	return os.WriteFile(v.p(".sim/vms", vm), []byte(strings.Join(functions, " ")+"\n"), 0o644)
}

// Stop stops vm.
func (v VMs) Stop(_ context.Context, vm string, _ time.Duration) error {
	if err := v.op("stop vm " + vm); err != nil {
		return err
	}
	err := os.Remove(v.p(".sim/vms", vm))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Running says whether vm runs.
func (v VMs) Running(_ context.Context, vm string) (bool, error) {
	return v.exists(".sim/vms", vm), nil
}

// State is what a test compares before and after: every function's
// driver and override, units, consoles, framebuffers, modules loaded.
func (s *Sim) State() string {
	var lines []string
	for _, d := range s.fx.Devices {
		lines = append(lines, fmt.Sprintf("%s driver=%s override=%s", d.Address, s.Driver(d.Address), s.override(d.Address)))
	}
	for _, u := range s.fx.Units {
		lines = append(lines, fmt.Sprintf("unit %s active=%v", u.Name, s.UnitActive(u.Name)))
	}
	for _, c := range s.fx.Consoles {
		lines = append(lines, fmt.Sprintf("console %s bound=%v", c.Name, s.consoleBound(c.Name)))
	}
	for _, fb := range s.fx.Framebuffers {
		lines = append(lines, fmt.Sprintf("framebuffer %s driver=%s", fb.Name, s.link(filepath.Join("devices/platform", fb.Name, "driver"))))
	}
	for _, m := range s.fx.Modules {
		if m.Name != "vfio_pci" { // loaded for the VM, it stays
			lines = append(lines, fmt.Sprintf("module %s loaded=%v", m.Name, s.exists("module", m.Name)))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
