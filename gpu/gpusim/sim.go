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
)

// Sim is the simulated kernel, systemd, logind and VM starter of one
// tree.
type Sim struct {
	Root string
	fx   Fixture

	// FailAt makes the FailAt'th change (a write, module load or unload,
	// unit start or stop, session end, VM start), counted from one,
	// fail. Zero fails none.
	FailAt int
	// Before is called before each change with its number and what it
	// is: a test ends the process there to simulate a crash.
	Before func(n int, what string)
	// VMCheck is what the VMs' Check says (a ROM file missing...).
	VMCheck error
	ops     int
	// log is every change asked, in order.
	log []string
}

// ErrInjected is the failure FailAt injects.
var ErrInjected = errors.New("injected failure")

// Ops is how many changes have been asked of the simulator.
func (s *Sim) Ops() int { return s.ops }

// Log is what each change asked was, in order.
func (s *Sim) Log() []string { return slices.Clone(s.log) }

func (s *Sim) op(what string) error {
	s.ops++
	s.log = append(s.log, what)
	if s.Before != nil {
		s.Before(s.ops, what)
	}
	if s.ops == s.FailAt {
		return fmt.Errorf("%s: %w (change %d)", what, ErrInjected, s.ops)
	}
	return nil
}

func errno(what string, e syscall.Errno) error { return fmt.Errorf("%s: %w", what, e) }

// Write is a write to a sysfs attribute, with the kernel's effects. A
// write the kernel would block (an unbind waiting for users) blocks
// until ctx ends: nothing else changes the tree meanwhile.
func (s *Sim) Write(ctx context.Context, path, value string) error {
	what := fmt.Sprintf("write %q to %s", value, path)
	if err := s.op(what); err != nil {
		return err
	}
	err := s.write(ctx, what, path, value)
	if serr := s.settle(); err == nil {
		err = serr
	}
	return err
}

func (s *Sim) write(ctx context.Context, what, path, value string) error {
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
	pciDriver := len(parts) == 5 && parts[0] == "bus" && parts[1] == "pci" && parts[2] == "drivers"
	platform := len(parts) == 5 && parts[0] == "bus" && parts[1] == "platform"
	switch {
	case pciDriver && parts[4] == "unbind":
		return s.unbind(ctx, what, parts[3], v)
	case pciDriver && parts[4] == "bind":
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
	case platform && parts[4] == "unbind":
		if s.link(filepath.Join("devices/platform", v, "driver")) != parts[3] {
			return errno(what, syscall.ENODEV)
		}
		os.Remove(s.p("devices/platform", v, "driver"))
		return os.Remove(s.p("bus/platform/drivers", parts[3], v))
	case platform && parts[4] == "bind":
		// A platform device that sysfb_disable unregistered is gone
		// for good: the bind finds no device (bind_store's ENODEV).
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

// unbind is a write to a PCI driver's unbind. It never fails with
// EBUSY: a driver's remove waits for its users. nvidia's remove loops
// until its usage count drops; snd_hda_intel's (azx_remove →
// snd_card_free) waits until every file of the card is closed. So the
// write blocks while a user remains, and the caller's deadline ends it.
func (s *Sim) unbind(ctx context.Context, what, driver, addr string) error {
	if s.Driver(addr) != driver {
		return errno(what, syscall.ENODEV)
	}
	if user := s.unbindWaitsFor(addr, driver); user != "" {
		<-ctx.Done()
		return fmt.Errorf("%s: still blocked, waiting for %s: %w", what, user, context.Cause(ctx))
	}
	return s.unbindLinks(addr, driver)
}

// unbindWaitsFor names what an unbind of addr from driver waits for.
func (s *Sim) unbindWaitsFor(addr, driver string) string {
	d, _ := s.fx.device(addr)
	if strings.HasPrefix(d.Class, "0x03") {
		if m, ok := s.fx.driverModule(driver); ok {
			if users := s.users(m, map[string]bool{}); len(users) > 0 {
				return users[0]
			}
		}
	}
	for _, f := range s.soundFiles(d) {
		if p := s.holder(f); p != "" {
			return p
		}
	}
	return ""
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
		if strings.HasPrefix(d.Class, "0x0300") {
			if s.evicts() {
				s.evictFirmwareFB()
			} else if fb := s.boundFramebuffer(); d.BootVGA && fb != "" {
				// Before 6.0 nothing evicted it: the framebuffer
				// kept the BARs, which vfio-pci then could not
				// reserve.
				return fmt.Errorf("%s: %w (%s holds the GPU's memory)", what, syscall.EBUSY, fb)
			}
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

// users names what holds a reference on module m: an active unit, a
// bound console, a process with its device files open, or the users of
// a loaded holder.
func (s *Sim) users(m Module, seen map[string]bool) []string {
	if seen[m.Name] || !s.exists("module", m.Name) {
		return nil
	}
	seen[m.Name] = true
	var out []string
	for _, u := range m.UsedBy {
		kind, name, _ := strings.Cut(u, ":")
		switch {
		case kind == "unit" && s.UnitActive(name):
			out = append(out, name)
		case kind == "console" && s.consoleBound(name):
			out = append(out, "virtual console "+name)
		}
	}
	for _, p := range s.fx.Processes {
		if s.alive(p) && slices.ContainsFunc(p.Files, func(f string) bool { return matchAny(m.Dev, f) }) {
			out = append(out, fmt.Sprintf("pid %d (%s)", p.PID, strings.Join(p.Cmdline, " ")))
		}
	}
	for _, h := range m.Holders {
		if hm, ok := s.fx.module(h); ok {
			out = append(out, s.users(hm, seen)...)
		}
	}
	return out
}

func matchAny(globs []string, name string) bool {
	return slices.ContainsFunc(globs, func(g string) bool { ok, _ := filepath.Match(g, name); return ok })
}

func (s *Sim) consoleBound(name string) bool {
	b, _ := os.ReadFile(s.p("class/vtconsole", name, "bind"))
	return strings.TrimSpace(string(b)) == "1"
}

// Unload unloads a module, as delete_module(name, O_NONBLOCK) does: a
// module with holders or users is refused with EWOULDBLOCK
// (try_stop_module fails while the refcount is not zero, and
// delete_module refuses first while another module uses it).
func (s *Sim) Unload(_ context.Context, name string) error {
	what := "unload module " + name
	if err := s.op(what); err != nil {
		return err
	}
	err := s.unload(what, name)
	if serr := s.settle(); err == nil {
		err = serr
	}
	return err
}

func (s *Sim) unload(what, name string) error {
	m, ok := s.fx.module(name)
	if !ok || !s.exists("module", name) {
		return errno(what, syscall.ENOENT)
	}
	if m.BuiltIn {
		return errno(what, syscall.EPERM)
	}
	for _, h := range m.Holders {
		if s.exists("module", h) {
			return fmt.Errorf("%s: %w (used by module %s)", what, syscall.EWOULDBLOCK, h)
		}
	}
	if users := s.users(m, map[string]bool{}); len(users) > 0 {
		return fmt.Errorf("%s: %w (in use by %s)", what, syscall.EWOULDBLOCK, strings.Join(users, ", "))
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

// Load loads a module after the modules it uses, as modprobe does, with
// params ("key=value") for the module itself; its drivers take the
// devices they match.
func (s *Sim) Load(_ context.Context, name string, params []string) error {
	what := "load module " + name
	if len(params) > 0 {
		what += " " + strings.Join(params, " ")
	}
	if err := s.op(what); err != nil {
		return err
	}
	err := s.load(strings.ReplaceAll(name, "-", "_"), params, 0)
	if serr := s.settle(); err == nil {
		err = serr
	}
	return err
}

func (s *Sim) load(name string, params []string, depth int) error {
	if s.exists("module", name) {
		return nil
	}
	m, ok := s.fx.module(name)
	if !ok || depth > 8 {
		return errno("load module "+name, syscall.ENOENT)
	}
	for _, o := range s.fx.Modules {
		if contains(o.Holders, name) {
			if err := s.load(o.Name, nil, depth+1); err != nil {
				return err
			}
		}
	}
	if err := s.loadOne(m, loadParams(m, params)); err != nil {
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

// loadParams are the values of m's parameters after a load with args:
// those given (booleans shown as Y or N, as param_get_bool does), the
// others "N" (the fixtures' parameters default to off); unknown ones are ignored, as the kernel ignores them
// (with "unknown parameter ignored" in its log).
func loadParams(m Module, args []string) map[string]string {
	out := map[string]string{}
	for k := range m.Params {
		out[k] = "N"
	}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		if _, ok := out[k]; !ok {
			continue
		}
		if boot := m.Params[k]; boot == "Y" || boot == "N" {
			switch strings.ToLower(v) {
			case "1", "y", "yes", "true", "on":
				v = "Y"
			case "0", "n", "no", "false", "off":
				v = "N"
			}
		}
		out[k] = v
	}
	return out
}

// ModuleLoaded says whether a module is loaded.
func (s *Sim) ModuleLoaded(name string) bool { return s.exists("module", name) }

// Param is a loaded module's parameter, "" when absent.
func (s *Sim) Param(module, name string) string {
	b, _ := os.ReadFile(s.p("module", module, "parameters", name))
	return strings.TrimSpace(string(b))
}
