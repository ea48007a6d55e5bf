// Package gpusim simulates the parts of the kernel and systemd that a GPU
// passthrough touches, on a sysfs tree in a directory: writes to bind,
// unbind, driver_override and drivers_probe, module loads and unloads,
// and units, with the kernel's rules (an unbind removes the driver link,
// a held module refuses to unload, vfio-pci takes a device only through
// driver_override...). All its state is in the tree, so a second process
// can take over from a first that crashed.
package gpusim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pelletier/go-toml/v2"
)

// Fixture describes a host, as in gpu/testdata/hosts/*.toml.
type Fixture struct {
	// Kernel is the release the host runs, "6.8.0" when empty: from
	// 6.0, binding vfio-pci to a VGA device evicts the firmware
	// framebuffer itself (see evictFirmwareFB).
	Kernel string `toml:"kernel"`
	// NoIOMMU leaves out the IOMMU groups, as a host booted without
	// intel_iommu=on has none.
	NoIOMMU      bool          `toml:"no_iommu"`
	Devices      []Device      `toml:"device"`
	Modules      []Module      `toml:"module"`
	Units        []Unit        `toml:"unit"`
	Consoles     []Console     `toml:"console"`
	Framebuffers []Framebuffer `toml:"framebuffer"`
	Processes    []Process     `toml:"process"`
	Sessions     []Session     `toml:"session"`
}

// Process is a process of the host that holds device files open.
type Process struct {
	PID     int      `toml:"pid"`
	Cmdline []string `toml:"cmdline"`
	// Files are the device files it holds (/dev/snd/controlC1...).
	Files []string `toml:"files"`
	// Hidden keeps it out of the tree's /proc, as /proc mounted with
	// hidepid= hides a process, or as a holder inside the kernel is
	// in no process's fd table: its holds still count.
	Hidden bool `toml:"hidden"`
	// Until says what ends it: "unit:NAME" (it runs while the unit is
	// active), "session:ID" (while the logind session lives); empty, it
	// never ends.
	Until string `toml:"until"`
}

// Session is a logind session.
type Session struct {
	ID   string `toml:"id"`
	Seat string `toml:"seat"`
	// Type is x11, wayland, tty...
	Type string `toml:"type"`
	User string `toml:"user"`
	UID  int    `toml:"uid"`
}

// Device is a PCI function.
type Device struct {
	Address string `toml:"address"`
	Class   string `toml:"class"`
	Vendor  string `toml:"vendor"`
	Device  string `toml:"device"`
	// Driver is the driver bound at the start and the one that matches
	// the device's ids when it probes.
	Driver  string `toml:"driver"`
	Group   int    `toml:"group"`
	BootVGA bool   `toml:"boot_vga"`
	// ResetMethod is the reset_method attribute ("flr bus"); empty, the
	// device has no reset and the kernel hides the attribute
	// (pci_dev_reset_method_attr_is_visible).
	ResetMethod string `toml:"reset_method"`
	// Sound is the ALSA card of an audio function ("card1"): its
	// /dev/snd files exist while snd_hda_intel drives it.
	Sound string `toml:"sound"`
}

// Module is a kernel module.
type Module struct {
	Name string `toml:"name"`
	// Drivers are the PCI drivers it registers.
	Drivers []string `toml:"drivers"`
	// Holders are modules that use it (loaded after it).
	Holders []string `toml:"holders"`
	// UsedBy holds a reference while active: "unit:NAME" or
	// "console:vtconN".
	UsedBy []string `toml:"used_by"`
	// Unloaded starts it not loaded.
	Unloaded bool `toml:"unloaded"`
	// BuiltIn cannot be unloaded.
	BuiltIn bool `toml:"builtin"`
	// Params are its parameters at boot (/sys/module/NAME/parameters);
	// a load sets those it is given and leaves the others at "N".
	Params map[string]string `toml:"params"`
	// DRM is the PCI driver whose devices it gives a DRM device
	// (nvidia_drm: "nvidia"), when DRMParam ("modeset"), if set, is Y.
	DRM      string `toml:"drm"`
	DRMParam string `toml:"drm_param"`
	// FBDev is "always", or the parameter ("fbdev") that makes its DRM
	// device on the boot GPU an fbdev, which fbcon takes.
	FBDev string `toml:"fbdev"`
	// Dev are the device files (globs) whose holders count as its users.
	Dev []string `toml:"dev"`
}

// Unit is a systemd service.
type Unit struct {
	Name   string `toml:"name"`
	Active bool   `toml:"active"`
}

// Console is a virtual console driver (class/vtconsole).
type Console struct {
	Name  string `toml:"name"`
	Desc  string `toml:"desc"`
	Bound bool   `toml:"bound"`
}

// Framebuffer is a firmware framebuffer's platform device, which holds
// the boot GPU's memory while bound.
type Framebuffer struct {
	Name   string `toml:"name"`
	Driver string `toml:"driver"`
	// Desc is what /sys/class/graphics/fbN/name says while it is bound.
	Desc string `toml:"desc"`
}

// ReadFixture reads a fixture file.
func ReadFixture(path string) (Fixture, error) {
	var f Fixture
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	d := toml.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func (f Fixture) module(name string) (Module, bool) {
	for _, m := range f.Modules {
		if m.Name == name {
			return m, true
		}
	}
	return Module{}, false
}

// driverModule is the module that registers a PCI driver.
func (f Fixture) driverModule(driver string) (Module, bool) {
	for _, m := range f.Modules {
		for _, d := range m.Drivers {
			if d == driver {
				return m, true
			}
		}
	}
	return Module{}, false
}

func (f Fixture) device(addr string) (Device, bool) {
	for _, d := range f.Devices {
		if d.Address == addr {
			return d, true
		}
	}
	return Device{}, false
}

// fixtureFile is where the tree keeps its fixture.
func fixtureFile(root string) string { return filepath.Join(root, ".sim", "fixture.toml") }
