package gpu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Sysfs paths, relative to the root. Writes go through a Kernel; reads
// are plain file reads under Root.
const (
	pciDevices   = "bus/pci/devices"
	pciDrivers   = "bus/pci/drivers"
	pciProbe     = "bus/pci/drivers_probe"
	iommuGroups  = "kernel/iommu_groups"
	modules      = "module"
	vtconsoles   = "class/vtconsole"
	platformDevs = "bus/platform/devices"
	platformDrvs = "bus/platform/drivers"
	vfioDriver   = "vfio-pci"
	graphics     = "class/graphics"
)

var fbRE = regexp.MustCompile(`^fb[0-9]+$`)

// Sys reads the kernel's view of the PCI devices from a sysfs tree.
type Sys struct {
	// Root is /sys, or a simulator's tree.
	Root string
}

func (s Sys) path(parts ...string) string {
	return filepath.Join(append([]string{s.Root}, parts...)...)
}

// read is a sysfs attribute without its newline; "" when absent.
func (s Sys) read(parts ...string) string {
	b, err := os.ReadFile(s.path(parts...))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// link is the base name of a symlink's target; "" when absent.
func (s Sys) link(parts ...string) string {
	t, err := os.Readlink(s.path(parts...))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

func (s Sys) exists(parts ...string) bool {
	_, err := os.Lstat(s.path(parts...))
	return err == nil
}

// names lists a directory; an absent one is empty.
func (s Sys) names(parts ...string) ([]string, error) {
	entries, err := os.ReadDir(s.path(parts...))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name()
	}
	return out, nil
}

// Device is one PCI function.
type Device struct {
	Addr   string `json:"address"`
	Class  uint32 `json:"class"`
	Vendor uint16 `json:"vendor_id"`
	ID     uint16 `json:"device_id"`
	// VendorName and Name come from pci.ids when it is installed.
	VendorName string `json:"vendor,omitempty"`
	Name       string `json:"name,omitempty"`
	// Driver is the bound driver, "" for none; Module is the kernel
	// module that provides it, "" when it is built in.
	Driver   string `json:"driver"`
	Module   string `json:"module,omitempty"`
	Override string `json:"driver_override,omitempty"`
	// Group is the IOMMU group, -1 without an IOMMU.
	Group   int  `json:"iommu_group"`
	BootVGA bool `json:"boot_vga,omitempty"`
}

// Display says whether the function is a display controller (class 03).
func (d Device) Display() bool { return d.Class>>16 == 0x03 }

// Bridge says whether the function is a PCI bridge, which VFIO lets a
// group keep on its host driver.
func (d Device) Bridge() bool { return d.Class>>8 == 0x0604 }

// ClassName is a short name for the device's class.
func (d Device) ClassName() string {
	switch {
	case d.Display():
		return "display"
	case d.Class>>8 == 0x0403:
		return "audio"
	case d.Class>>8 == 0x0c03:
		return "usb"
	case d.Class>>8 == 0x0c80, d.Class>>8 == 0x0c05:
		return "serial bus"
	case d.Bridge():
		return "bridge"
	}
	return fmt.Sprintf("class %06x", d.Class)
}

// Device reads one PCI function. The address is checked first: it
// becomes a path.
func (s Sys) Device(addr string) (Device, error) {
	if err := CheckAddr(addr); err != nil {
		return Device{}, err
	}
	if !s.exists(pciDevices, addr) {
		return Device{}, fmt.Errorf("no PCI device %s", addr)
	}
	d := Device{Addr: addr, Group: -1}
	d.Class = uint32(hex(s.read(pciDevices, addr, "class")))
	d.Vendor = uint16(hex(s.read(pciDevices, addr, "vendor")))
	d.ID = uint16(hex(s.read(pciDevices, addr, "device")))
	d.Driver = s.link(pciDevices, addr, "driver")
	if d.Driver != "" {
		d.Module = s.link(pciDrivers, d.Driver, "module")
	}
	if o := s.read(pciDevices, addr, "driver_override"); o != "(null)" {
		d.Override = o
	}
	if g := s.link(pciDevices, addr, "iommu_group"); g != "" {
		n, err := strconv.Atoi(g)
		if err != nil {
			return Device{}, fmt.Errorf("%s: iommu_group %q", addr, g)
		}
		d.Group = n
	}
	d.BootVGA = s.read(pciDevices, addr, "boot_vga") == "1"
	return d, nil
}

func hex(s string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	return n
}

// Devices reads every PCI function, in address order. Names that are
// not addresses are skipped, never followed.
func (s Sys) Devices() ([]Device, error) {
	names, err := s.names(pciDevices)
	if err != nil {
		return nil, fmt.Errorf("list PCI devices: %w", err)
	}
	var out []Device
	for _, n := range names {
		if CheckAddr(n) != nil {
			continue
		}
		d, err := s.Device(n)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.Addr, b.Addr) })
	return out, nil
}

// Group lists the addresses in an IOMMU group.
func (s Sys) Group(n int) ([]string, error) {
	names, err := s.names(iommuGroups, strconv.Itoa(n), "devices")
	if err != nil {
		return nil, fmt.Errorf("read IOMMU group %d: %w", n, err)
	}
	return slices.DeleteFunc(names, func(a string) bool { return CheckAddr(a) != nil }), nil
}

// IOMMUGroups counts the IOMMU groups: none means the IOMMU is off.
func (s Sys) IOMMUGroups() int {
	names, _ := s.names(iommuGroups)
	return len(names)
}

// DriverLoaded says whether a PCI driver is registered.
func (s Sys) DriverLoaded(driver string) bool { return s.exists(pciDrivers, driver) }

// ModuleLoaded says whether a module is loaded (or built in).
func (s Sys) ModuleLoaded(name string) bool { return s.exists(modules, moduleName(name)) }

// moduleName is the name the kernel files a module under: dashes become
// underscores.
func moduleName(name string) string { return strings.ReplaceAll(name, "-", "_") }

// Framebuffers are the names of the framebuffers registered now, from
// /sys/class/graphics/fbN/name ("EFI VGA", "simpledrmdrmfb",
// "nvidia-drmdrmfb", "amdgpudrmfb").
func (s Sys) Framebuffers() []string {
	names, _ := s.names(graphics)
	var out []string
	for _, n := range names {
		if fbRE.MatchString(n) {
			out = append(out, s.read(graphics, n, "name"))
		}
	}
	return out
}

// hasDRM says whether the function has a DRM device (its driver's
// modesetting is up).
func (s Sys) hasDRM(addr string) bool {
	names, _ := s.names(pciDevices, addr, "drm")
	return slices.ContainsFunc(names, drmRE.MatchString)
}

// Params are a loaded module's parameters as it runs with them
// (/sys/module/NAME/parameters), "key=value", for loading it again the
// same way (nvidia_drm's modeset=Y and fbdev=Y decide whether the host
// gets an fbdev and GDM offers Wayland). Values that would not pass
// back on a module's command line (empty, "(null)", spaces) are left
// out.
func (s Sys) Params(module string) []string {
	names, _ := s.names(modules, moduleName(module), "parameters")
	var out []string
	for _, n := range names {
		p := n + "=" + s.read(modules, moduleName(module), "parameters", n)
		if !strings.HasSuffix(p, "=") && !strings.HasSuffix(p, "=(null)") && paramRE.MatchString(p) {
			out = append(out, p)
		}
	}
	return out
}
