package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"spirit/gpu"
	"spirit/vmctl"
)

// grubFix is how a kernel parameter is added on Debian.
const grubFix = "(GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)"

// checkIOMMU looks for IOMMU groups, which GPU passthrough needs: none
// means the IOMMU is off in the firmware or on the kernel command line.
func checkIOMMU(_ context.Context, o Options) Result {
	groups := gpu.Sys{Root: o.SysRoot}.IOMMUGroups()
	if groups > 0 {
		return Result{Status: OK, Found: "on: " + plural(groups, "IOMMU group", "IOMMU groups")}
	}
	cpu, _ := readCPUInfo(o.ProcRoot)
	cmdline := strings.Fields(readFile(filepath.Join(o.ProcRoot, "cmdline")))
	found := "off: no IOMMU groups in " + filepath.Join(o.SysRoot, "kernel", "iommu_groups") + " (only GPU passthrough needs it)"
	var params []string
	var table, firmware, device string
	switch {
	case cpu.intel():
		params, table, firmware, device = []string{"intel_iommu=on", "iommu=pt"}, "DMAR", "VT-d", "intel-iommu"
	case cpu.amd():
		// The kernel turns AMD-Vi on by itself when the firmware has.
		params, table, firmware, device = []string{"iommu=pt"}, "IVRS", "the IOMMU (AMD-Vi)", "amd-iommu"
	default:
		return Result{Status: Warn, Found: found,
			Fix: "turn on VT-d (Intel) or the IOMMU (AMD-Vi) in the firmware setup, and add intel_iommu=on (Intel) and iommu=pt to the kernel command line " + grubFix}
	}
	var fixes []string
	if _, err := os.Stat(filepath.Join(o.SysRoot, "firmware", "acpi", "tables", table)); errors.Is(err, fs.ErrNotExist) {
		found += fmt.Sprintf("; the firmware offers no %s table", table)
		if cpu.has("hypervisor") {
			fixes = append(fixes, fmt.Sprintf("this is a virtual machine: give it a virtual IOMMU on its host (QEMU: -device %s), or run spirit on hardware", device))
		} else {
			fixes = append(fixes, "turn on "+firmware+" in the firmware setup")
		}
	}
	if missing := slices.DeleteFunc(params, func(p string) bool { return slices.Contains(cmdline, p) }); len(missing) > 0 {
		fixes = append(fixes, "add "+strings.Join(missing, " ")+" to the kernel command line "+grubFix)
	}
	return Result{Status: Warn, Found: found, Fix: strings.Join(fixes, "; ")}
}

// checkVFIO checks that vfio-pci, the driver a passed-through GPU is
// bound to, is loaded or can be.
func checkVFIO(_ context.Context, o Options) Result {
	h := o.host()
	if err := h.VFIOAvailable(); err != nil {
		release := filepath.Base(o.Modules.Dir)
		found := "vfio-pci is not loaded, and " + o.Modules.Dir + " has no such module"
		if _, err := os.Stat(o.Modules.Dir); err != nil {
			found = "vfio-pci is not loaded, and the running kernel's modules are not installed (no " + o.Modules.Dir + ")"
		}
		return Result{Status: Warn, Found: found + "; only GPU passthrough needs it",
			Fix: fmt.Sprintf("install the running kernel's modules as root (apt-get install linux-image-%s), or use a kernel built with CONFIG_VFIO_PCI", release)}
	}
	if h.Sys.DriverLoaded("vfio-pci") || h.Sys.ModuleLoaded("vfio-pci") {
		return Result{Status: OK, Found: "vfio-pci is loaded"}
	}
	return Result{Status: OK, Found: "vfio-pci is a module of the running kernel (" + o.Modules.Dir + "): spirit gpu passthrough loads it"}
}

// checkGPU finds the GPUs and whether each can be passed through. No GPU
// is no failure: there is just nothing to pass through.
func checkGPU(_ context.Context, o Options) Result {
	gpus, err := o.host().GPUs()
	if err != nil {
		return Result{Status: Warn, Found: fmt.Sprintf("cannot read the PCI devices: %v", err),
			Fix: "spirit reads " + filepath.Join(o.SysRoot, "bus", "pci") + ": mount sysfs there"}
	}
	if len(gpus) == 0 {
		return Result{Status: Skip, Found: "no GPU (no PCI display controller)"}
	}
	var details, fixes []string
	passable := 0
	for _, g := range gpus {
		line := fmt.Sprintf("%s %s (%s, %s)", g.Addr, gpuName(g), driverText(g.Driver), groupText(g.Group))
		if g.Passable() {
			passable++
			details = append(details, line+": can be passed through")
		} else {
			details = append(details, line+": cannot be passed through")
			for _, p := range g.Problems {
				details = append(details, "  "+p)
				fixes = append(fixes, g.Addr+": "+p)
			}
		}
		for _, d := range append(g.Details(), romNotes(g, o.VMs)...) {
			details = append(details, "  "+d)
		}
	}
	found := fmt.Sprintf("%s, %d of which can be passed through", plural(len(gpus), "GPU", "GPUs"), passable)
	if passable > 0 && o.UID != 0 {
		found += " (spirit gpu passthrough needs root)"
	}
	if passable == len(gpus) {
		return Result{Status: OK, Found: found, Details: details}
	}
	return Result{Status: Warn, Found: found, Details: details, Fix: strings.Join(slices.Compact(fixes), "; ")}
}

// romNotes say, for the boot GPU, which VMs will see the ROM that the
// firmware shadowed: without rom = {...} in its definition, QEMU reads
// the card's ROM through sysfs, which for the boot GPU is the copy the
// firmware ran at boot (pci_map_rom takes the shadow at 0xC0000), not
// the card's pristine image: some cards' guests then fail to start the
// GPU.
func romNotes(g gpu.GPU, vms map[string]vmctl.Definition) []string {
	if !g.BootVGA {
		return nil
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(vms)) {
		d := vms[name]
		if slices.Contains(d.GPU, g.Addr) && d.ROM[g.Addr] == "" {
			out = append(out, fmt.Sprintf("vm %s will see the boot GPU's shadowed ROM (the copy the firmware ran): if its guest cannot start the GPU, dump the card's ROM and set rom = { %q = \"/path/vbios.rom\" } in its definition", name, g.Addr))
		}
	}
	return out
}

func gpuName(g gpu.GPU) string {
	if g.VendorName != "" || g.Name != "" {
		return strings.TrimSpace(g.VendorName + " " + g.Name)
	}
	return fmt.Sprintf("[%04x:%04x]", g.Vendor, g.ID)
}

func driverText(driver string) string {
	if driver == "" {
		return "no driver"
	}
	return "driver " + driver
}

func groupText(group int) string {
	if group < 0 {
		return "no IOMMU group"
	}
	return fmt.Sprintf("IOMMU group %d", group)
}
