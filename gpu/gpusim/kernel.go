package gpusim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel's rules for what appears and disappears by itself after a
// change, as Linux 6.x has them (the sources named are the kernel's).

// release is the kernel release of the host.
func (s *Sim) release() string {
	if s.fx.Kernel == "" {
		return "6.8.0"
	}
	return s.fx.Kernel
}

// evicts says whether vfio-pci evicts firmware framebuffers when it
// takes a VGA device (vfio_pci_is_vga): since 6.0,
// vfio_pci_core_register_device calls vfio_pci_vga_init, which calls
// aperture_remove_conflicting_pci_devices, which ends in sysfb_disable.
func (s *Sim) evicts() bool {
	major, _, _ := strings.Cut(s.release(), ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 6
}

// evictFirmwareFB is sysfb_disable: sysfb_unregister calls
// platform_device_unregister on the firmware framebuffer's one platform
// device (efi-framebuffer, simple-framebuffer, vesa-framebuffer) and
// sets "disabled", so nothing registers it again until a reboot.
func (s *Sim) evictFirmwareFB() {
	for _, fb := range s.fx.Framebuffers {
		os.RemoveAll(s.p("devices/platform", fb.Name))
		os.Remove(s.p("bus/platform/devices", fb.Name))
		os.Remove(s.p("bus/platform/drivers", fb.Driver, fb.Name))
	}
}

// settle applies what follows a change by itself: processes end with
// their unit or session, DRM and sound devices follow their drivers, a
// GPU driver's fbdev evicts the firmware framebuffer, fbcon follows the
// framebuffers, and module refcounts follow their users.
func (s *Sim) settle() error {
	var errs []error
	for _, p := range s.fx.Processes {
		errs = append(errs, s.renderProcess(p))
	}
	var fbs []string
	for _, d := range s.fx.Devices {
		errs = append(errs, s.renderDRM(d), s.renderSound(d))
		if m, ok := s.drmModule(d.Address); ok && d.BootVGA && s.fbdev(m) {
			// drm_aperture_remove_conflicting_pci_framebuffers at the
			// driver's probe, before its fbdev registers.
			s.evictFirmwareFB()
			fbs = append(fbs, m.Name+"drmfb")
		}
	}
	for _, fb := range s.fx.Framebuffers {
		if s.exists("devices/platform", fb.Name, "driver") {
			fbs = append([]string{fb.Desc}, fbs...)
		}
	}
	errs = append(errs, s.renderFramebuffers(fbs), s.renderFbcon(len(fbs) > 0), s.renderRefcounts())
	return errors.Join(errs...)
}

// alive says whether a process still runs.
func (s *Sim) alive(p Process) bool {
	kind, name, _ := strings.Cut(p.Until, ":")
	switch kind {
	case "unit":
		return s.UnitActive(name)
	case "session":
		return s.sessionAlive(name)
	}
	return true
}

// renderProcess makes /proc/PID with its cmdline and fd links while it
// runs (under .sim/proc, which gpu.ProcFS reads).
func (s *Sim) renderProcess(p Process) error {
	dir := filepath.Join(".sim/proc", strconv.Itoa(p.PID))
	if !s.alive(p) || p.Hidden {
		return os.RemoveAll(s.p(dir))
	}
	if s.exists(dir) {
		return nil
	}
	if err := s.file(strings.Join(p.Cmdline, "\x00"), dir, "cmdline"); err != nil {
		return err
	}
	if err := s.mkdir(dir, "fd"); err != nil {
		return err
	}
	for i, f := range p.Files {
		if err := os.Symlink(f, s.p(dir, "fd", strconv.Itoa(3+i))); err != nil {
			return err
		}
	}
	return nil
}

// holder names a live process holding the device file f, "" for none.
func (s *Sim) holder(f string) string {
	for _, p := range s.fx.Processes {
		if s.alive(p) && contains(p.Files, f) {
			return fmt.Sprintf("pid %d (%s)", p.PID, strings.Join(p.Cmdline, " "))
		}
	}
	return ""
}

// drmModule is the loaded module that gives addr a DRM device now.
func (s *Sim) drmModule(addr string) (Module, bool) {
	drv := s.Driver(addr)
	for _, m := range s.fx.Modules {
		if drv != "" && m.DRM == drv && s.exists("module", m.Name) && (m.DRMParam == "" || s.Param(m.Name, m.DRMParam) == "Y") {
			return m, true
		}
	}
	return Module{}, false
}

func (s *Sim) hasDRM(addr string) bool { return s.exists(devDir(addr), "drm") }

// fbdev says whether m's DRM device is an fbdev too.
func (s *Sim) fbdev(m Module) bool {
	return m.FBDev == "always" || m.FBDev != "" && s.Param(m.Name, m.FBDev) == "Y"
}

func (s *Sim) renderDRM(d Device) error {
	if _, ok := s.drmModule(d.Address); !ok {
		return os.RemoveAll(s.p(devDir(d.Address), "drm"))
	}
	n := 0
	for _, o := range s.fx.Devices {
		if o.Address < d.Address && strings.HasPrefix(o.Class, "0x03") {
			n++
		}
	}
	if err := s.mkdir(devDir(d.Address), "drm", "card"+strconv.Itoa(n)); err != nil {
		return err
	}
	return s.mkdir(devDir(d.Address), "drm", "renderD"+strconv.Itoa(128+n))
}

// soundFiles are the /dev/snd files of an audio function's card.
func (s *Sim) soundFiles(d Device) []string {
	n, ok := strings.CutPrefix(d.Sound, "card")
	if !ok || s.Driver(d.Address) != "snd_hda_intel" {
		return nil
	}
	return []string{"/dev/snd/controlC" + n, "/dev/snd/pcmC" + n + "D3p"}
}

func (s *Sim) renderSound(d Device) error {
	files := s.soundFiles(d)
	if len(files) == 0 {
		return os.RemoveAll(s.p(devDir(d.Address), "sound"))
	}
	for _, f := range files {
		if err := s.mkdir(devDir(d.Address), "sound", d.Sound, filepath.Base(f)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sim) renderFramebuffers(names []string) error {
	if err := os.RemoveAll(s.p("class/graphics")); err != nil {
		return err
	}
	for i, n := range names {
		if err := s.file(n, "class/graphics", "fb"+strconv.Itoa(i), "name"); err != nil {
			return err
		}
	}
	return nil
}

// fbcon are the fixture's consoles that are fbcon's.
func (s *Sim) fbcon() []Console {
	var out []Console
	for _, c := range s.fx.Consoles {
		if strings.Contains(c.Desc, "frame buffer") {
			out = append(out, c)
		}
	}
	return out
}

// renderFbcon: when the last framebuffer goes, fbcon_fb_unregistered
// has no fb left and unregisters its console driver
// (do_unregister_con_driver: the vtconN directory goes); when one
// registers, fbcon_fb_registered takes the consoles over again
// (do_fbcon_takeover), bound.
func (s *Sim) renderFbcon(any bool) error {
	for _, c := range s.fbcon() {
		dir := filepath.Join("class/vtconsole", c.Name)
		switch {
		case !any:
			if err := os.RemoveAll(s.p(dir)); err != nil {
				return err
			}
		case !s.exists(dir):
			if err := s.file(c.Desc, dir, "name"); err != nil {
				return err
			}
			if err := s.file("1", dir, "bind"); err != nil {
				return err
			}
		}
	}
	return nil
}

// renderRefcounts writes each loaded module's refcnt: its direct users.
func (s *Sim) renderRefcounts() error {
	for _, m := range s.fx.Modules {
		if !s.exists("module", m.Name) {
			continue
		}
		direct := m
		direct.Holders = nil
		n := len(s.users(direct, map[string]bool{}))
		if err := s.file(strconv.Itoa(n), "module", m.Name, "refcnt"); err != nil {
			return err
		}
	}
	return nil
}

// ConsoleBound says whether a vtconsole exists and is bound.
func (s *Sim) ConsoleBound(name string) bool { return s.consoleBound(name) }
