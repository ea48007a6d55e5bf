package vmctl

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Env is what Args needs to know about the host and the VM's place on it,
// besides the definition.
type Env struct {
	// Dir is the VM's private runtime directory (mode 0700): its
	// sockets, console log and pid file.
	Dir string
	// StateDir keeps what must outlive a reboot of the host: the VM's
	// copy of the UEFI variable store. Needed with firmware = "uefi".
	StateDir string
	// Base is the directory that relative paths of the definition are
	// taken from: the repository, or an install prefix.
	Base string
	// KVM says whether KVM can run a guest here (see KVMUsable), and
	// NoKVM why not, for the note that TCG is used instead.
	KVM   bool
	NoKVM string
	// BridgeHelper makes the tap of a VM on a bridge; empty means
	// DefaultBridgeHelper.
	BridgeHelper string `json:",omitempty"`
}

// VarsCopyArgs is the command that makes the VM's variable store from the
// raw template, once, before its first start.
func VarsCopyArgs(d Definition, env Env) []string {
	d = d.WithDefaults()
	return []string{"qemu-img", "convert", "-f", "raw", "-O", "qcow2", resolve(env.Base, d.OVMFVars), env.Path(VarsFile)}
}

// Note is something Args changed or could not honour, for the user.
type Note string

// Hyper-V enlightenments of the reference Windows profile: relaxed
// timing checks, a spinlock retry count before yielding, the virtual
// APIC and the reference time page. They need KVM.
const hypervFlags = "hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time"

const (
	hugePageSize = 2 << 20
	maxSATA      = 6 // the ports of q35's AHCI controller
	// maxSocketPath is the room in sockaddr_un's sun_path, less its NUL.
	maxSocketPath = 107
)

// Launch is how QEMU is started for a VM: its argv (without the
// program), notes about what Build had to change, and the files that
// QEMU gets open (see PassedFile), which the argv names by descriptor.
type Launch struct {
	Args  []string
	Notes []Note
	Files []PassedFile
}

// Build makes QEMU's command line for d in env. The command runs in the
// foreground: the supervisor that starts it owns the process, so there
// is no -daemonize. CPU pinning is not in it either: the supervisor pins
// the vCPU threads once QEMU tells it their ids. QEMU opens no path of
// the VM's itself: each is passed open (see passfd.go), so that QEMU can
// run as a user of its own.
func Build(d Definition, env Env) (Launch, error) {
	d = d.WithDefaults()
	if err := d.Validate(d.Name); err != nil {
		return Launch{}, err // it names the VM already
	}
	if err := env.check(d); err != nil {
		return Launch{}, fmt.Errorf("vm %s: %w", d.Name, err)
	}
	b := &builder{d: d, env: env}
	for _, part := range []func(){
		b.head, b.machine, b.cpu, b.memory, b.firmware, b.boot,
		b.disks, b.network, b.agent, b.balloon, b.gpus, b.control,
	} {
		part()
	}
	b.args = append(b.args, d.ExtraArgs...)
	return Launch{Args: b.args, Notes: b.notes, Files: b.pass.files}, nil
}

// Args is Build's argv and notes.
func Args(d Definition, env Env) ([]string, []Note, error) {
	l, err := Build(d, env)
	return l.Args, l.Notes, err
}

// check makes sure that env can hold d's files.
func (e Env) check(d Definition) error {
	if !filepath.IsAbs(e.Dir) {
		return fmt.Errorf("runtime directory %q: want an absolute path", e.Dir)
	}
	for _, s := range []string{e.Path(QMPSocket), e.Path(AgentSocket), e.Path(ConsoleSocket)} {
		if len(s) > maxSocketPath {
			return fmt.Errorf("socket %s: longer than the %d bytes a unix socket path may have", s, maxSocketPath)
		}
	}
	if d.Firmware == "uefi" && !filepath.IsAbs(e.StateDir) {
		return errors.New(`firmware = "uefi" needs a state directory (an absolute path) for the VM's UEFI variables`)
	}
	return nil
}

// builder accumulates one argv.
type builder struct {
	d     Definition
	env   Env
	args  []string
	notes []Note
	pass  passer
}

// opt adds flag with its comma-separated parts; none for a bare flag.
func (b *builder) opt(flag string, parts ...string) {
	b.args = append(b.args, flag)
	if len(parts) > 0 {
		b.args = append(b.args, strings.Join(parts, ","))
	}
}

// esc makes s safe as a value inside a QEMU option list, where a comma
// ends the value and a doubled comma stands for one. Every path goes
// through it.
func esc(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// image passes the image at p (relative to Base) as an fdset, and
// returns the name QEMU opens it by. A writable image is passed
// PassReadWrite, PassRead (see passer.fdset).
func (b *builder) image(p string, hows ...Pass) string {
	opts, name := b.pass.fdset(resolve(b.env.Base, p), hows...)
	for _, o := range opts {
		b.opt("-add-fd", o...)
	}
	return name
}

// SandboxOptions are QEMU's seccomp filter: besides what -sandbox on
// denies, no obsolete system calls, no set*uid/set*gid (QEMU is started
// as its user already), no fork or exec, and no changes to its
// scheduling or limits (the supervisor pins its threads from outside).
const SandboxOptions = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

func (b *builder) head() {
	// debug-threads names each vCPU thread ("CPU 0/KVM"), which makes
	// pinning visible in top and ps.
	b.opt("-name", esc(b.d.Name), "debug-threads=on")
	// Only what this argv says: no /etc/qemu configuration, no default
	// devices (NIC, VGA, serial, monitor, CD-ROM).
	b.opt("-no-user-config")
	b.opt("-nodefaults")
	b.opt("-display", "none")
	b.opt("-sandbox", SandboxOptions)
}

func (b *builder) machine() {
	accel := "accel=tcg"
	if b.env.KVM {
		accel = "accel=kvm"
	}
	parts := []string{b.d.Machine, accel}
	if b.d.HugePages {
		parts = append(parts, "memory-backend=mem")
	}
	b.opt("-machine", parts...)
}

func (b *builder) cpu() {
	cpu := "host"
	if b.d.hyperV() {
		cpu += "," + hypervFlags
	}
	if b.env.KVM {
		b.opt("-cpu", cpu)
	} else {
		// max is every feature TCG can emulate: the closest to host.
		b.opt("-cpu", "max")
		b.note(fmt.Sprintf("using TCG; dropped -cpu %s (KVM only), using -cpu max", cpu))
	}
	b.opt("-smp", strconv.Itoa(b.d.Cores*b.d.Threads), "sockets=1",
		"cores="+strconv.Itoa(b.d.Cores), "threads="+strconv.Itoa(b.d.Threads))
}

// note records a change made because KVM is missing, with the reason.
func (b *builder) note(what string) {
	why := "KVM cannot run a guest here"
	if b.env.NoKVM != "" {
		why += " (" + b.env.NoKVM + ")"
	}
	b.notes = append(b.notes, Note(why+": "+what))
}

func (b *builder) memory() {
	b.opt("-m", b.d.Memory)
	if !b.d.HugePages {
		return
	}
	// A memfd of huge pages needs no hugetlbfs that QEMU's user could
	// write to. share=on lets other processes (vhost-user) map guest
	// memory; prealloc=on takes every page at start, so that a shortage
	// fails the start instead of killing a running guest.
	b.opt("-object", "memory-backend-memfd", "id=mem", "size="+b.d.Memory,
		"hugetlb=on", "hugetlbsize=2M", "share=on", "prealloc=on")
}

func (b *builder) firmware() {
	if b.d.Firmware == "uefi" {
		code := b.image(b.d.OVMFCode, PassRead)
		b.opt("-drive", "if=pflash", "unit=0", "format=raw", "readonly=on", "file="+code)
		vars := b.image(b.env.Path(VarsFile), PassReadWrite, PassRead)
		b.opt("-drive", "if=pflash", "unit=1", "format=qcow2", "file="+vars)
	}
	if b.d.OS == "windows" {
		// Windows keeps the hardware clock in local time.
		b.opt("-rtc", "base=localtime")
	}
}

func (b *builder) boot() {
	if b.d.Kernel == "" {
		return
	}
	// QEMU loads them by path only: its own descriptor's.
	load := func(p string) string {
		return "/proc/self/fd/" + strconv.Itoa(b.pass.add(resolve(b.env.Base, p), PassLoad))
	}
	b.args = append(b.args, "-kernel", load(b.d.Kernel))
	if b.d.Initrd != "" {
		b.args = append(b.args, "-initrd", load(b.d.Initrd))
	}
	if b.d.Append != "" {
		b.args = append(b.args, "-append", b.d.Append)
	}
}

func (b *builder) disks() {
	if countInterface(b.d.Disks, "scsi") > 0 {
		b.opt("-device", "virtio-scsi-pci", "id=scsi0")
	}
	sata := 0
	for i, disk := range b.d.Disks {
		id := "disk" + strconv.Itoa(i)
		b.opt("-drive", "file="+b.image(disk.Path, PassReadWrite, PassRead), "if=none", "id="+id, "format="+disk.Format, "cache="+disk.Cache)
		switch disk.Interface {
		case "virtio":
			b.opt("-device", "virtio-blk-pci", "drive="+id)
		case "scsi":
			b.opt("-device", "scsi-hd", "drive="+id, "bus=scsi0.0")
		case "sata":
			b.opt("-device", "ide-hd", "drive="+id, "bus=ide."+strconv.Itoa(sata))
			sata++
		}
	}
}

func (b *builder) network() {
	n := b.d.Network
	switch n.Mode {
	case "none":
		return
	case "user":
		b.opt("-netdev", "user", "id=net0")
	case "bridge":
		// The supervisor runs the bridge helper: QEMU may not.
		tap := b.pass.addFile(PassedFile{Path: cmp.Or(b.env.BridgeHelper, DefaultBridgeHelper), How: PassTap, Bridge: n.Bridge})
		b.opt("-netdev", "tap", "id=net0", "fd="+strconv.Itoa(tap))
	}
	device := map[string]string{"virtio-net": "virtio-net-pci", "e1000e": "e1000e", "e1000": "e1000"}[n.Model]
	b.opt("-device", device, "netdev=net0")
}

func (b *builder) agent() {
	b.opt("-device", "virtio-serial-pci")
	// server=on,wait=off: QEMU listens and does not wait for a client,
	// so the guest boots whether or not anyone talks to its agent.
	b.opt("-chardev", "socket", "id=agent", b.listen(AgentSocket), "server=on", "wait=off")
	b.opt("-device", "virtserialport", "chardev=agent", "name="+b.d.AgentPort)
}

func (b *builder) balloon() {
	if !b.d.Balloon {
		return
	}
	b.opt("-device", "virtio-balloon-pci")
	if len(b.d.GPU) > 0 {
		b.notes = append(b.notes, "balloon = true with a GPU passed through: the balloon cannot give memory back (VFIO pins all guest memory)")
	}
}

// gpus passes the GPU's functions through. Each host slot (DDDD:BB:DD)
// goes behind a PCIe root port of its own, as on real hardware, with its
// functions on one guest slot in the order of their host function
// numbers: drivers expect a GPU's audio function beside its display
// function. The first function of a slot becomes function 0 (a guest
// scans a slot only if it has one) and carries multifunction=on when
// there are more. x-vga=on (the legacy VGA ranges) is only for SeaBIOS,
// which needs a VGA card; OVMF uses the card's UEFI ROM instead. The
// display function is taken to be the host's function 0, as on GPUs.
func (b *builder) gpus() {
	for port, fns := range gpuSlots(b.d.GPU) {
		bus := "gpuport" + strconv.Itoa(port)
		b.opt("-device", "pcie-root-port", "id="+bus, "chassis=1", "slot="+strconv.Itoa(port+1))
		for i, fn := range fns {
			parts := []string{"vfio-pci", "host=" + fn, "bus=" + bus, "addr=00." + strconv.Itoa(i)}
			if i == 0 && len(fns) > 1 {
				parts = append(parts, "multifunction=on")
			}
			if i == 0 && b.d.Firmware == "bios" && strings.HasSuffix(fn, ".0") {
				parts = append(parts, "x-vga=on")
			}
			if rom := b.d.ROM[fn]; rom != "" {
				parts = append(parts, "romfile="+esc(rom))
			}
			b.opt("-device", parts...)
		}
	}
}

// gpuSlots groups PCI functions by slot, slots in the order first given,
// functions in order within each.
func gpuSlots(addrs []string) [][]string {
	var slots [][]string
	index := map[string]int{}
	for _, a := range addrs {
		slot, _, _ := strings.Cut(a, ".")
		i, ok := index[slot]
		if !ok {
			i = len(slots)
			index[slot] = i
			slots = append(slots, nil)
		}
		slots[i] = append(slots[i], a)
	}
	for _, s := range slots {
		slices.Sort(s)
	}
	return slots
}

// listen passes a socket of the runtime directory that QEMU listens on,
// and returns the chardev option that names it.
func (b *builder) listen(f File) string {
	return "fd=" + strconv.Itoa(b.pass.add(b.env.Path(f), PassListen))
}

// control adds the console and QMP. QEMU writes no pid file: it could
// not, in a directory that is not its user's; the supervisor does.
func (b *builder) control() {
	// The serial console: a socket for `spirit vm console`, and a log of
	// everything the guest printed, read or not.
	logOpts, log := b.pass.fdset(b.env.Path(ConsoleLog), PassLog)
	b.opt("-add-fd", logOpts[0]...)
	b.opt("-chardev", "socket", "id=console", b.listen(ConsoleSocket), "server=on", "wait=off", "logfile="+log)
	b.opt("-serial", "chardev:console")
	b.opt("-chardev", "socket", "id=qmp", b.listen(QMPSocket), "server=on", "wait=off")
	b.opt("-mon", "chardev=qmp", "mode=control")
}

// CheckHugePages says whether enough free 2 MiB huge pages are reserved
// for size bytes of guest memory, and if not how to reserve them.
// sysfsRoot is /sys but for tests.
func CheckHugePages(sysfsRoot string, size int64) error {
	total, free, err := HugePages(sysfsRoot)
	if err != nil {
		return err
	}
	need := (size + hugePageSize - 1) / hugePageSize
	if free >= need {
		return nil
	}
	want := total + need - free
	return fmt.Errorf("huge pages: %d MiB of guest memory needs %d free 2 MiB pages, %d are free; "+
		"reserve them as root with: echo %d > /proc/sys/vm/nr_hugepages (and vm.nr_hugepages = %d in /etc/sysctl.d/spirit.conf to keep them)",
		size>>20, need, free, want, want)
}

// HugePages reads how many 2 MiB huge pages are reserved (total) and how
// many of them are free. sysfsRoot is /sys but for tests.
func HugePages(sysfsRoot string) (total, free int64, err error) {
	dir := filepath.Join(sysfsRoot, "kernel", "mm", "hugepages", "hugepages-2048kB")
	if free, err = readCount(filepath.Join(dir, "free_hugepages")); err != nil {
		return 0, 0, fmt.Errorf("huge pages: %w", err)
	}
	if total, err = readCount(filepath.Join(dir, "nr_hugepages")); err != nil {
		return 0, 0, fmt.Errorf("huge pages: %w", err)
	}
	return total, free, nil
}

func readCount(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}
