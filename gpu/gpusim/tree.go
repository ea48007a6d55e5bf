package gpusim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Build renders the fixture at path as a sysfs tree under root (an empty
// directory) and returns its simulator.
func Build(root, path string) (*Sim, error) {
	f, err := ReadFixture(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &Sim{Root: root, fx: f}
	if err := s.render(); err != nil {
		return nil, fmt.Errorf("build %s: %w", path, err)
	}
	if err := os.WriteFile(fixtureFile(root), b, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Open takes over the tree a Build left under root.
func Open(root string) (*Sim, error) {
	f, err := ReadFixture(fixtureFile(root))
	if err != nil {
		return nil, err
	}
	return &Sim{Root: root, fx: f}, nil
}

func (s *Sim) p(parts ...string) string {
	return filepath.Join(append([]string{s.Root}, parts...)...)
}

func (s *Sim) mkdir(parts ...string) error { return os.MkdirAll(s.p(parts...), 0o755) }

func (s *Sim) file(value string, parts ...string) error {
	if err := os.MkdirAll(filepath.Dir(s.p(parts...)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(s.p(parts...), []byte(value+"\n"), 0o644)
}

// symlink makes link (a path under the root) point at target (another).
func (s *Sim) symlink(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(s.p(link)), 0o755); err != nil {
		return err
	}
	return os.Symlink(s.p(target), s.p(link))
}

func devDir(addr string) string { return filepath.Join("devices/pci0000:00", addr) }

func (s *Sim) render() error {
	var errs []error
	try := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range []string{".sim/units", ".sim/vms", ".sim/sessions", ".sim/proc", "bus/pci/devices", "bus/pci/drivers", "module",
		"class/vtconsole", "bus/platform/devices", "bus/platform/drivers", "kernel"} {
		try(s.mkdir(dir))
	}
	try(s.file("", "bus/pci/drivers_probe"))
	if !s.fx.NoIOMMU {
		try(s.mkdir("kernel/iommu_groups"))
	}
	for _, d := range s.fx.Devices {
		try(s.renderDevice(d))
	}
	for _, m := range s.fx.Modules {
		if !m.Unloaded {
			try(s.loadOne(m, m.Params))
		}
	}
	for _, d := range s.fx.Devices {
		if d.Driver != "" && s.exists("bus/pci/drivers", d.Driver) {
			try(s.bindLinks(d.Address, d.Driver))
		}
	}
	for _, u := range s.fx.Units {
		try(s.setUnit(u.Name, u.Active))
	}
	for _, c := range s.fx.Consoles {
		try(s.file(c.Desc, "class/vtconsole", c.Name, "name"))
		try(s.file(boolText(c.Bound), "class/vtconsole", c.Name, "bind"))
	}
	for _, se := range s.fx.Sessions {
		try(s.file(se.Seat+" "+se.Type+" "+se.User, ".sim/sessions", se.ID))
	}
	for _, fb := range s.fx.Framebuffers {
		try(s.mkdir("devices/platform", fb.Name))
		try(s.symlink(filepath.Join("devices/platform", fb.Name), filepath.Join("bus/platform/devices", fb.Name)))
		try(s.file("", "bus/platform/drivers", fb.Driver, "bind"))
		try(s.file("", "bus/platform/drivers", fb.Driver, "unbind"))
		try(s.platformLinks(fb.Name, fb.Driver))
	}
	try(s.renderModules())
	try(s.settle())
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (s *Sim) renderDevice(d Device) error {
	dir := devDir(d.Address)
	for name, v := range map[string]string{"class": d.Class, "vendor": d.Vendor, "device": d.Device, "driver_override": "(null)"} {
		if err := s.file(v, dir, name); err != nil {
			return err
		}
	}
	if strings.HasPrefix(d.Class, "0x03") {
		if err := s.file(boolText(d.BootVGA), dir, "boot_vga"); err != nil {
			return err
		}
	}
	if d.ResetMethod != "" {
		if err := s.file(d.ResetMethod, dir, "reset_method"); err != nil {
			return err
		}
	}
	if err := s.symlink(dir, filepath.Join("bus/pci/devices", d.Address)); err != nil {
		return err
	}
	if s.fx.NoIOMMU {
		return nil
	}
	g := filepath.Join("kernel/iommu_groups", strconv.Itoa(d.Group))
	if err := s.symlink(g, filepath.Join(dir, "iommu_group")); err != nil {
		return err
	}
	return s.symlink(dir, filepath.Join(g, "devices", d.Address))
}

func (s *Sim) exists(parts ...string) bool {
	_, err := os.Lstat(s.p(parts...))
	return err == nil
}

// bindLinks records addr as bound to driver, as the kernel's links do.
func (s *Sim) bindLinks(addr, driver string) error {
	drv := filepath.Join("bus/pci/drivers", driver)
	if err := s.symlink(drv, filepath.Join(devDir(addr), "driver")); err != nil {
		return err
	}
	return s.symlink(devDir(addr), filepath.Join(drv, addr))
}

func (s *Sim) unbindLinks(addr, driver string) error {
	if err := os.Remove(s.p(devDir(addr), "driver")); err != nil {
		return err
	}
	return os.Remove(s.p("bus/pci/drivers", driver, addr))
}

func (s *Sim) platformLinks(name, driver string) error {
	drv := filepath.Join("bus/platform/drivers", driver)
	if err := s.symlink(drv, filepath.Join("devices/platform", name, "driver")); err != nil {
		return err
	}
	return s.symlink(filepath.Join("devices/platform", name), filepath.Join(drv, name))
}

func (s *Sim) setUnit(name string, active bool) error {
	state := "inactive"
	if active {
		state = "active"
	}
	return s.file(state, ".sim/units", name)
}

// loadOne registers a module with its parameters' values and its
// drivers; it does not probe.
func (s *Sim) loadOne(m Module, params map[string]string) error {
	if err := s.file("0", "module", m.Name, "refcnt"); err != nil {
		return err
	}
	for k, v := range params {
		if err := s.file(v, "module", m.Name, "parameters", k); err != nil {
			return err
		}
	}
	if err := s.mkdir("module", m.Name, "holders"); err != nil {
		return err
	}
	for _, h := range m.Holders {
		if s.exists("module", h) {
			if err := s.symlink(filepath.Join("module", h), filepath.Join("module", m.Name, "holders", h)); err != nil {
				return err
			}
		}
	}
	// A module that holds others appears in their holders.
	for _, o := range s.fx.Modules {
		if contains(o.Holders, m.Name) && s.exists("module", o.Name) {
			if err := s.symlink(filepath.Join("module", m.Name), filepath.Join("module", o.Name, "holders", m.Name)); err != nil {
				return err
			}
		}
	}
	for _, d := range m.Drivers {
		for _, f := range []string{"bind", "unbind", "new_id"} {
			if err := s.file("", "bus/pci/drivers", d, f); err != nil {
				return err
			}
		}
		if !m.BuiltIn {
			if err := s.symlink(filepath.Join("module", m.Name), filepath.Join("bus/pci/drivers", d, "module")); err != nil {
				return err
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ModulesDir is the tree's /lib/modules/RELEASE: modules.dep lists the
// fixture's modules, modules.builtin the built-in ones.
func (s *Sim) ModulesDir() string { return s.p(".sim/lib/modules", s.release()) }

// ProcDir is the tree's /proc: a directory per process that holds a
// device file, with its cmdline and fd links.
func (s *Sim) ProcDir() string { return s.p(".sim/proc") }

func (s *Sim) renderModules() error {
	var dep, builtin strings.Builder
	for _, m := range s.fx.Modules {
		file := "kernel/drivers/sim/" + strings.ReplaceAll(m.Name, "_", "-") + ".ko"
		if m.BuiltIn {
			fmt.Fprintln(&builtin, file)
			continue
		}
		fmt.Fprintf(&dep, "%s:", file)
		for _, o := range s.fx.Modules {
			if contains(o.Holders, m.Name) {
				fmt.Fprintf(&dep, " kernel/drivers/sim/%s.ko", o.Name)
			}
		}
		fmt.Fprintln(&dep)
	}
	if err := s.file(dep.String(), ".sim/lib/modules", s.release(), "modules.dep"); err != nil {
		return err
	}
	return s.file(builtin.String(), ".sim/lib/modules", s.release(), "modules.builtin")
}
