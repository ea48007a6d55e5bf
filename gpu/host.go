package gpu

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Host is the machine whose GPU is handed over: its sysfs, its modules
// and the pci.ids names.
type Host struct {
	Sys Sys
	// Modules is /lib/modules/RELEASE, where vfio-pci is looked for.
	Modules Modules
	// PCIIDs are the pci.ids files tried for names.
	PCIIDs []string
	// Proc is /proc, where the GPU's holders are found.
	Proc ProcFS
}

// GPU is one display controller and what goes with it to a VM: the
// functions of its card and the rest of its IOMMU group.
type GPU struct {
	Device
	// Functions are the card's functions (its slot), the display one
	// included: all of them go to the VM.
	Functions []Device `json:"functions"`
	// Others are the rest of the IOMMU group: bridges stay with the
	// host; anything else keeps the group from being passed through.
	Others []Device `json:"group_others,omitempty"`
	// Problems say why the GPU cannot be passed through; none means it
	// can.
	Problems []string `json:"problems,omitempty"`
	// HeldBy is the VM it is passed through to, "" when the host has it.
	HeldBy string `json:"held_by,omitempty"`
	// ResetMethod is the display function's reset_method ("" for none).
	ResetMethod string `json:"reset_method"`
	// NoReset says the card cannot be reset (a Problem says why).
	NoReset bool `json:"no_reset,omitempty"`
	// Framebuffers are the framebuffers registered on the host now
	// (/sys/class/graphics/fbN/name): efifb, simpledrm, a driver's.
	Framebuffers []string `json:"framebuffers,omitempty"`
	// Holders are the processes holding its device files now.
	Holders []Holder `json:"holders,omitempty"`
	// EvictsFirmwareFB says this kernel's vfio-pci evicts the firmware
	// framebuffer itself (Host.EvictsFirmwareFB).
	EvictsFirmwareFB bool `json:"evicts_firmware_fb"`
}

// Details are a line each on what a passthrough of g meets: its reset,
// the framebuffers, what the kernel does with the firmware's, who holds
// the GPU now.
func (g GPU) Details() []string {
	reset := g.ResetMethod
	if reset == "" {
		reset = "none"
	}
	fbs := "none"
	if len(g.Framebuffers) > 0 {
		fbs = strings.Join(g.Framebuffers, ", ")
	}
	evict := "vfio-pci does not evict the firmware framebuffer (Linux before 6.0): a passthrough unbinds it, a reclaim binds it again"
	if g.EvictsFirmwareFB {
		evict = "vfio-pci evicts the firmware framebuffer (efifb, simpledrm) itself, for good: after a reclaim the display is the GPU driver's (its fbdev, or the display units on its DRM device)"
	}
	return []string{"reset method: " + reset, "framebuffers: " + fbs, "the kernel: " + evict, holdersText(g.Holders)}
}

// Passable says whether the GPU can be passed through.
func (g GPU) Passable() bool { return len(g.Problems) == 0 }

// Addrs are the addresses of the functions that go to the VM.
func (g GPU) Addrs() []string {
	out := make([]string, len(g.Functions))
	for i, f := range g.Functions {
		out[i] = f.Addr
	}
	return out
}

// GPUs finds the display controllers and what keeps each from being
// passed through.
func (h Host) GPUs() ([]GPU, error) {
	devs, err := h.Sys.Devices()
	if err != nil {
		return nil, err
	}
	nameDevices(devs, h.PCIIDs)
	byAddr := map[string]Device{}
	for _, d := range devs {
		byAddr[d.Addr] = d
	}
	vfio := h.VFIOAvailable()
	var out []GPU
	for _, d := range devs {
		if !d.Display() || secondDisplay(d, byAddr) {
			continue
		}
		g, err := h.gpu(d, devs, byAddr)
		if err != nil {
			return nil, err
		}
		if vfio != nil {
			g.Problems = append(g.Problems, vfio.Error())
		}
		out = append(out, g)
	}
	return out, nil
}

// secondDisplay says whether d is a card's display function other than
// the first: the card is one GPU.
func secondDisplay(d Device, byAddr map[string]Device) bool {
	for f := 0; f < int(d.Addr[len(d.Addr)-1]-'0'); f++ {
		if byAddr[slot(d.Addr)+"."+strconv.Itoa(f)].Display() {
			return true
		}
	}
	return false
}

func (h Host) gpu(d Device, devs []Device, byAddr map[string]Device) (GPU, error) {
	g := GPU{Device: d}
	for _, f := range devs {
		if slot(f.Addr) == slot(d.Addr) {
			g.Functions = append(g.Functions, f)
		}
	}
	g.ResetMethod = h.Sys.read(pciDevices, d.Addr, "reset_method")
	g.Framebuffers = h.Sys.Framebuffers()
	g.Holders = h.Proc.Holding(h.Sys.DeviceFiles(g))
	g.EvictsFirmwareFB = h.EvictsFirmwareFB()
	if d.Group < 0 {
		g.Problems = append(g.Problems, ErrIOMMUOff.Error())
		return g, nil
	}
	if p := resetProblem(d, g.ResetMethod); p != "" {
		g.Problems = append(g.Problems, p)
		g.NoReset = true
	}
	members, err := h.Sys.Group(d.Group)
	if err != nil {
		return GPU{}, err
	}
	for _, a := range members {
		if slot(a) == slot(d.Addr) {
			continue
		}
		o := byAddr[a]
		g.Others = append(g.Others, o)
		if !o.Bridge() {
			g.Problems = append(g.Problems, fmt.Sprintf(
				"its IOMMU group %d also holds %s (%s, on %s), which would go with it: put the card in another slot, or enable ACS",
				d.Group, a, o.ClassName(), driverText(o.Driver)))
		}
	}
	for _, f := range g.Functions {
		if f.Group != d.Group {
			g.Problems = append(g.Problems, fmt.Sprintf("%s is in IOMMU group %d, not %d with the display function", f.Addr, f.Group, d.Group))
		}
	}
	return g, nil
}

func driverText(driver string) string {
	if driver == "" {
		return "no driver"
	}
	return driver
}

// ErrIOMMUOff is the refusal, and a problem of every GPU, on a host whose
// IOMMU is off: without IOMMU groups no device can be given to a VM.
var ErrIOMMUOff = errors.New("the IOMMU is off (no IOMMU groups): turn on VT-d or AMD-Vi in the firmware setup, and add intel_iommu=on (Intel; AMD-Vi is on once the firmware enables it) and iommu=pt to the kernel command line")

// VFIOAvailable says why vfio-pci cannot be used, or nil: it is loaded,
// built in, or a module on disk.
func (h Host) VFIOAvailable() error {
	if h.Sys.DriverLoaded(vfioDriver) || h.Sys.ModuleLoaded(vfioDriver) {
		return nil
	}
	if h.Modules.Has(vfioDriver) {
		return nil
	}
	return fmt.Errorf("vfio-pci is not loaded and %s has no such module: install the kernel's modules (linux-image-%s) or build the kernel with CONFIG_VFIO_PCI", h.Modules.Dir, h.Modules.release())
}

// EvictsFirmwareFB says whether this kernel's vfio-pci evicts the
// firmware framebuffer itself when it takes a VGA device: from Linux
// 6.0, vfio_pci_core_register_device calls vfio_pci_vga_init, which calls
// aperture_remove_conflicting_pci_devices, whose sysfb_disable
// unregisters the efi-framebuffer or simple-framebuffer platform device
// for good. Before, the framebuffer had to be unbound first.
func (h Host) EvictsFirmwareFB() bool {
	major, _, _ := strings.Cut(h.Modules.release(), ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 6
}

// ErrNotGPU is wrapped by Find when the address given is no function of a
// GPU's card.
var ErrNotGPU = errors.New("not a GPU's function")

// Find picks the GPU at addr, or the one GPU when addr is empty (a host
// with several must say which).
func (h Host) Find(addr string) (GPU, error) {
	if addr != "" {
		if err := CheckAddr(addr); err != nil {
			return GPU{}, err
		}
	}
	gpus, err := h.GPUs()
	if err != nil {
		return GPU{}, err
	}
	if addr != "" {
		i := slices.IndexFunc(gpus, func(g GPU) bool { return slices.Contains(g.Addrs(), addr) })
		if i < 0 {
			return GPU{}, fmt.Errorf("%s is %w (spirit gpu status lists them)", addr, ErrNotGPU)
		}
		return gpus[i], nil
	}
	switch len(gpus) {
	case 0:
		return GPU{}, fmt.Errorf("this host has no GPU (no PCI display controller)")
	case 1:
		return gpus[0], nil
	}
	// The boot GPU is the one whose handing over needs the display.
	addrs := make([]string, len(gpus))
	for i, g := range gpus {
		addrs[i] = g.Addr
	}
	return GPU{}, fmt.Errorf("this host has %d GPUs (%s): say which with --gpu", len(gpus), strings.Join(addrs, ", "))
}
