// Package vmctl defines spirit's virtual machines, turns a definition
// into the QEMU command line that runs it, and manages them from a shell:
// its Manager checks and starts a VM under a supervisor of its own and is
// the client of each supervisor's control protocol (spirit/vmctl/control),
// and Ops is the one table of the operations on a VM, which both
// `spirit vm VERB` and `@vm --VERB` are made from. It does not run or
// watch QEMU and does not speak QMP: the supervisor (spirit/vmctl/supervisor)
// owns the running VM.
package vmctl

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"spirit/gpu"
	"spirit/target"
)

// Definition is one virtual machine: a [vm.NAME] table of spirit.toml.
// Fields left empty take the defaults that WithDefaults fills in.
type Definition struct {
	// Name is the table's NAME, which is also the target @NAME.
	Name string `toml:"-"`
	// Source is the file that defines the VM, for messages that point
	// at a line of it.
	Source string `toml:"-" json:"source,omitempty"`
	// Lines are where Source sets each field (see LinesKey), as the
	// configuration found them when it read the file: a problem found
	// later, by a start or by the VM's supervisor, points at the same
	// line as the configuration's own errors without reading the file
	// again (it may have changed since).
	Lines map[string]int `toml:"-" json:"lines,omitempty"`
	// OS is "linux" or "windows": it picks defaults (UEFI and Hyper-V
	// enlightenments for Windows) and how the agent is reached.
	OS string `toml:"os"`
	// Memory is the guest's RAM: "512M", "8G".
	Memory  string `toml:"memory"`
	Cores   int    `toml:"cores"`
	Threads int    `toml:"threads"`
	// Machine is QEMU's machine type, "q35" by default.
	Machine string `toml:"machine"`
	// Firmware is "bios" (SeaBIOS) or "uefi" (OVMF).
	Firmware string `toml:"firmware"`
	// OVMFCode is the UEFI firmware, mapped read-only; OVMFVars is the
	// template of its variable store, of which each VM gets its own copy.
	OVMFCode string  `toml:"ovmf_code"`
	OVMFVars string  `toml:"ovmf_vars"`
	Disks    []Disk  `toml:"disks"`
	Network  Network `toml:"network"`
	// AgentPort is the name of the virtio-serial port the guest agent
	// listens on.
	AgentPort string `toml:"agent_port"`
	// HugePages backs guest memory with 2 MiB huge pages from hugetlbfs.
	HugePages bool `toml:"hugepages"`
	// CPUPinning lists a host core per vCPU, in vCPU order. The
	// supervisor applies it to the vCPU threads once QEMU runs.
	CPUPinning []int `toml:"cpu_pinning"`
	Balloon    bool  `toml:"balloon"`
	// HyperV turns on the Hyper-V enlightenments; unset means on for
	// Windows and off otherwise.
	HyperV *bool `toml:"hyperv"`
	// GPU lists the PCI functions (DDDD:BB:DD.F) passed through with
	// vfio-pci.
	GPU []string `toml:"gpu"`
	// ROM gives a GPU function its VBIOS from a file (QEMU's romfile=)
	// instead of the ROM the host's sysfs shows, which for the boot GPU
	// is the copy the firmware shadowed and ran: rom = {
	// "0000:01:00.0" = "/var/lib/spirit/vbios/ga104.rom" }.
	ROM map[string]string `toml:"rom"`
	// ExtraArgs are appended to QEMU's command line as they are.
	ExtraArgs []string `toml:"extra_args"`
	Autostart bool     `toml:"autostart"`
	// Kernel, Initrd and Append boot a Linux kernel directly, without a
	// boot loader on a disk.
	Kernel string `toml:"kernel"`
	Initrd string `toml:"initrd"`
	Append string `toml:"append"`
	// Windows holds what only a Windows guest has ([vm.NAME.windows]).
	Windows Windows `toml:"windows"`
}

// Windows is the settings of a Windows guest's own.
type Windows struct {
	// Desktop runs every command as the user logged on to the guest's
	// desktop, in their session (where windows show), as `@NAME --desktop
	// CMD` does for one command; otherwise commands run as the agent's
	// service, LocalSystem, in session 0.
	Desktop bool `toml:"desktop"`
}

// Disk is one entry of a VM's disks.
type Disk struct {
	Path string `toml:"path"`
	// Format is "qcow2" (the default) or "raw". It is always given to
	// QEMU: guessing it lets a guest turn a raw image into a qcow2 one
	// that points at host files.
	Format string `toml:"format"`
	// Interface is "virtio" (the default), "scsi" (virtio-scsi) or
	// "sata" (q35's AHCI: for a guest that has no virtio driver yet).
	Interface string `toml:"interface"`
	// Cache is QEMU's cache mode, "writeback" by default.
	Cache string `toml:"cache"`
}

// Network is a VM's one network card.
type Network struct {
	// Model is "virtio-net" (the default), "e1000e" or "e1000".
	Model string `toml:"model"`
	// Mode is "user" (QEMU's own NAT, the default), "bridge" (a host
	// bridge, through qemu-bridge-helper) or "none".
	Mode   string `toml:"mode"`
	Bridge string `toml:"bridge"`
}

// The defaults for fields left empty.
const (
	DefaultMachine   = "q35"
	DefaultAgentPort = "spirit.0"
	// Debian's ovmf package: the 4 MiB build, without Secure Boot.
	DefaultOVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	DefaultOVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// WithDefaults returns d with every empty field that has a default set.
func (d Definition) WithDefaults() Definition {
	d.Cores = cmp.Or(d.Cores, 1)
	d.Threads = cmp.Or(d.Threads, 1)
	d.Machine = cmp.Or(d.Machine, DefaultMachine)
	if d.Firmware == "" {
		d.Firmware = "bios"
		if d.OS == "windows" {
			d.Firmware = "uefi" // Windows 11 will not install without it
		}
	}
	if d.Firmware == "uefi" {
		d.OVMFCode = cmp.Or(d.OVMFCode, DefaultOVMFCode)
		d.OVMFVars = cmp.Or(d.OVMFVars, DefaultOVMFVars)
	}
	d.Disks = slices.Clone(d.Disks)
	for i := range d.Disks {
		d.Disks[i].Format = cmp.Or(d.Disks[i].Format, "qcow2")
		d.Disks[i].Interface = cmp.Or(d.Disks[i].Interface, "virtio")
		d.Disks[i].Cache = cmp.Or(d.Disks[i].Cache, "writeback")
	}
	d.Network.Model = cmp.Or(d.Network.Model, "virtio-net")
	d.Network.Mode = cmp.Or(d.Network.Mode, "user")
	d.AgentPort = cmp.Or(d.AgentPort, DefaultAgentPort)
	if d.HyperV == nil {
		on := d.OS == "windows"
		d.HyperV = &on
	}
	return d
}

// hyperV says whether the enlightenments are on, defaults applied.
func (d Definition) hyperV() bool {
	if d.HyperV == nil {
		return d.OS == "windows"
	}
	return *d.HyperV
}

// FieldError is a value of a definition that cannot work. Key is the
// field's path inside [vm.VM], with array indexes as decimal numbers, so
// that Definition.Line can point at its line.
type FieldError struct {
	VM  string
	Key []string
	Msg string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("vm." + e.VM)
	for _, k := range e.Key {
		if _, err := strconv.Atoi(k); err == nil {
			b.WriteString("[" + k + "]")
		} else {
			b.WriteString("." + k)
		}
	}
	return b.String() + ": " + e.Msg
}

var (
	// validSize is a memory size: a whole number of MiB, GiB or TiB.
	validSize = regexp.MustCompile(`^([1-9][0-9]{0,5})([MGT])$`)
	// validWord is a value that goes into a QEMU option list as it is.
	validWord = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// validBridge is a Linux interface name.
	validBridge = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

// ownedArgs are QEMU options that spirit sets and a supervisor relies on.
var ownedArgs = []string{"-daemonize", "-qmp", "-pidfile", "-name", "-runas"}

// ParseSize reads a size such as "512M" or "8G" into bytes.
func ParseSize(s string) (int64, error) {
	m := validSize.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 4G, 512M)", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]int{"M": 20, "G": 30, "T": 40}[m[2]]
	return n << shift, nil
}

// Validate checks d, the table [vm.name], with defaults applied. The
// first problem found is returned as a *FieldError.
func (d Definition) Validate(name string) error {
	d = d.WithDefaults()
	if err := target.CheckName("VM", name); err != nil {
		return &FieldError{name, nil, err.Error()}
	}
	for _, check := range []func(Definition) (key []string, msg string){
		checkOS, checkMemory, checkCPU, checkPinning, checkMachine, checkFirmware,
		checkBoot, checkDisks, checkNetwork, checkAgent, checkGPU, checkExtraArgs, checkWindows,
	} {
		if key, msg := check(d); msg != "" {
			return &FieldError{name, key, msg}
		}
	}
	return nil
}

func checkOS(d Definition) ([]string, string) {
	switch d.OS {
	case "linux", "windows":
		return nil, ""
	case "":
		return []string{"os"}, `missing: "linux" or "windows"`
	}
	return []string{"os"}, fmt.Sprintf(`%q: want "linux" or "windows"`, d.OS)
}

// checkWindows refuses Windows settings on another guest, which would
// be silently ignored.
func checkWindows(d Definition) ([]string, string) {
	if d.OS != "windows" && d.Windows != (Windows{}) {
		return []string{"windows"}, fmt.Sprintf(`for a Windows guest (os = "windows"), not os = %q`, d.OS)
	}
	return nil, ""
}

func checkMemory(d Definition) ([]string, string) {
	key := []string{"memory"}
	if d.Memory == "" {
		return key, "missing (e.g. 4G, 512M)"
	}
	n, err := ParseSize(d.Memory)
	if err != nil {
		return key, err.Error()
	}
	if d.HugePages && n%hugePageSize != 0 {
		return key, fmt.Sprintf("%s is not a whole number of 2 MiB huge pages (hugepages = true)", d.Memory)
	}
	return nil, ""
}

func checkCPU(d Definition) ([]string, string) {
	// WithDefaults made 0 into 1: only negative values are left.
	if d.Cores < 1 {
		return []string{"cores"}, fmt.Sprintf("%d: want at least 1", d.Cores)
	}
	if d.Threads < 1 {
		return []string{"threads"}, fmt.Sprintf("%d: want at least 1", d.Threads)
	}
	return nil, ""
}

func checkPinning(d Definition) ([]string, string) {
	key := []string{"cpu_pinning"}
	if len(d.CPUPinning) == 0 {
		return nil, ""
	}
	if n := d.Cores * d.Threads; len(d.CPUPinning) != n {
		return key, fmt.Sprintf("%d host cores for %d vCPUs (cores × threads): give one per vCPU", len(d.CPUPinning), n)
	}
	for i, c := range d.CPUPinning {
		if c < 0 {
			return key, fmt.Sprintf("%d is not a host core number", c)
		}
		if slices.Index(d.CPUPinning, c) != i {
			return key, fmt.Sprintf("host core %d is given twice: two vCPUs would share it", c)
		}
	}
	return nil, ""
}

func checkMachine(d Definition) ([]string, string) {
	if !validWord.MatchString(d.Machine) {
		return []string{"machine"}, fmt.Sprintf("%q is not a QEMU machine type (e.g. q35, pc)", d.Machine)
	}
	return nil, ""
}

func checkFirmware(d Definition) ([]string, string) {
	switch d.Firmware {
	case "uefi":
		return nil, ""
	case "bios":
		if d.OVMFCode != "" {
			return []string{"ovmf_code"}, `only used with firmware = "uefi"`
		}
		if d.OVMFVars != "" {
			return []string{"ovmf_vars"}, `only used with firmware = "uefi"`
		}
		return nil, ""
	}
	return []string{"firmware"}, fmt.Sprintf(`%q: want "bios" or "uefi"`, d.Firmware)
}

func checkBoot(d Definition) ([]string, string) {
	if d.Kernel != "" {
		return nil, ""
	}
	if d.Initrd != "" {
		return []string{"initrd"}, "needs kernel: an initrd is only loaded with a kernel"
	}
	if d.Append != "" {
		return []string{"append"}, "needs kernel: a command line is only given to a kernel"
	}
	return nil, ""
}

func checkDisks(d Definition) ([]string, string) {
	for i, disk := range d.Disks {
		at := func(k string) []string { return []string{"disks", strconv.Itoa(i), k} }
		switch {
		case disk.Path == "":
			return at("path"), "missing: the image file"
		case !slices.Contains([]string{"qcow2", "raw"}, disk.Format):
			return at("format"), fmt.Sprintf(`%q: want "qcow2" or "raw"`, disk.Format)
		case !slices.Contains([]string{"virtio", "scsi", "sata"}, disk.Interface):
			return at("interface"), fmt.Sprintf(`%q: want "virtio", "scsi" or "sata"`, disk.Interface)
		case disk.Interface == "sata" && !strings.Contains(d.Machine, "q35"):
			return at("interface"), fmt.Sprintf(`"sata" needs a q35 machine (machine is %q)`, d.Machine)
		case !slices.Contains([]string{"none", "writeback", "writethrough", "directsync", "unsafe"}, disk.Cache):
			return at("cache"), fmt.Sprintf(`%q: want "none", "writeback", "writethrough", "directsync" or "unsafe"`, disk.Cache)
		}
	}
	if n := countInterface(d.Disks, "sata"); n > maxSATA {
		return []string{"disks"}, fmt.Sprintf("%d sata disks: q35 has %d ports", n, maxSATA)
	}
	return nil, ""
}

func countInterface(disks []Disk, iface string) int {
	n := 0
	for _, d := range disks {
		if d.Interface == iface {
			n++
		}
	}
	return n
}

func checkNetwork(d Definition) ([]string, string) {
	n := d.Network
	if !slices.Contains([]string{"virtio-net", "e1000e", "e1000"}, n.Model) {
		return []string{"network", "model"}, fmt.Sprintf(`%q: want "virtio-net", "e1000e" or "e1000"`, n.Model)
	}
	switch n.Mode {
	case "user", "none":
		if n.Bridge != "" {
			return []string{"network", "bridge"}, `only used with mode = "bridge"`
		}
	case "bridge":
		if !validBridge.MatchString(n.Bridge) {
			return []string{"network", "bridge"}, fmt.Sprintf("%q is not an interface name (mode = \"bridge\" needs one, e.g. br0)", n.Bridge)
		}
	default:
		return []string{"network", "mode"}, fmt.Sprintf(`%q: want "user", "bridge" or "none"`, n.Mode)
	}
	return nil, ""
}

func checkAgent(d Definition) ([]string, string) {
	if !validWord.MatchString(d.AgentPort) {
		return []string{"agent_port"}, fmt.Sprintf("%q: a port name is letters, digits, . _ and -", d.AgentPort)
	}
	return nil, ""
}

func checkGPU(d Definition) ([]string, string) {
	for i, addr := range d.GPU {
		key := []string{"gpu", strconv.Itoa(i)}
		if err := gpu.CheckAddr(addr); err != nil {
			return key, err.Error()
		}
		if slices.Index(d.GPU, addr) != i {
			return key, fmt.Sprintf("%s is given twice", addr)
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(d.ROM)) {
		key := []string{"rom", addr}
		if !slices.Contains(d.GPU, addr) {
			return key, fmt.Sprintf("%s is not one of the VM's gpu functions (%s)", addr, strings.Join(d.GPU, ", "))
		}
		if !filepath.IsAbs(d.ROM[addr]) {
			return key, fmt.Sprintf("%q: a ROM file is an absolute path", d.ROM[addr])
		}
	}
	return nil, ""
}

func checkExtraArgs(d Definition) ([]string, string) {
	for i, arg := range d.ExtraArgs {
		key := []string{"extra_args", strconv.Itoa(i)}
		if arg == "" {
			return key, "an empty argument"
		}
		if slices.Contains(ownedArgs, "-"+strings.TrimLeft(arg, "-")) {
			return key, fmt.Sprintf("%s is spirit's to set: its supervisor relies on it", arg)
		}
	}
	return nil, ""
}
