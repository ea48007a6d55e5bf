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
// snd_card_free) waits, uninterruptibly (wait_for_completion on the
// card's release_completion, which snd_card_free_when_closed completes
// when the last file is closed), until every file of the card is
// closed. So the write blocks while a user remains, and the caller's
// deadline ends the wait, not the write.
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

func (s *Sim) consoleBound(name string) bool {
	b, _ := os.ReadFile(s.p("class/vtconsole", name, "bind"))
	return strings.TrimSpace(string(b)) == "1"
}
