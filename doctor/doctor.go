// Package doctor checks that a host can run what spirit runs, as
// virt-host-validate does and more: KVM that really runs a guest, the
// CPU's virtualisation flags, the IOMMU, vfio-pci, the GPUs, huge pages,
// the UEFI firmware, QEMU, its sandbox and user, dockerd and the demo
// guest. Each check that is not ok says how to fix it.
//
// It only looks: it writes nothing, loads no module and starts nothing
// but KVM's test guest (vmctl.KVMUsableAt) and `qemu-system-x86_64
// --version` (once more with -sandbox). Fixing is left to the user, most
// of it as root.
package doctor

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"spirit/config"
	"spirit/gpu"
	"spirit/vmctl"
)

// Status is the verdict of a check.
type Status string

const (
	// OK: what spirit needs is there.
	OK Status = "ok"
	// Warn: something optional is missing (GPU passthrough, huge
	// pages, containers, the demo guest), or works less well than it
	// could. A warning does not fail the doctor.
	Warn Status = "warn"
	// Fail: something spirit depends on is missing or broken.
	Fail Status = "fail"
	// Skip: nothing to check here (no GPU).
	Skip Status = "skip"
)

// Result is what one check found.
type Result struct {
	// ID is a short stable name, for scripts: "kvm", "iommu", ...
	ID string `json:"id"`
	// Name is the check's name for people.
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Found is what the check found, in a sentence.
	Found string `json:"found"`
	// Details are one line each of what Found sums up: a GPU, a VM.
	Details []string `json:"details,omitempty"`
	// Fix says what to do when the status is not ok.
	Fix string `json:"fix,omitempty"`
}

// Report is the results of every check, in a fixed order.
type Report struct {
	Checks []Result `json:"checks"`
	// Notes are said once after the checks: what needs root.
	Notes []string `json:"notes,omitempty"`
	// Failed says whether a check failed: spirit doctor then exits 1.
	Failed bool `json:"failed"`
}

// Options are the host's files and programs that the checks look at.
// Tests point them at trees of their own; empty fields take the real
// ones where there is an obvious one.
type Options struct {
	// SysRoot is /sys and ProcRoot is /proc.
	SysRoot  string
	ProcRoot string
	// KVM is the KVM device, /dev/kvm.
	KVM string
	// QEMU is the emulator: a path, or a name looked up in PATH
	// (qemu-system-x86_64).
	QEMU string
	// DockerHost is the Docker Engine's address, as DOCKER_HOST; empty
	// is the client's default (DOCKER_HOST, else the local socket).
	DockerHost string
	// Base is the directory that relative paths of definitions are
	// taken from (vmctl.Places.Base): the demo guest's files are under
	// Base/build/guest.
	Base string
	// Places are where VMs keep their files, and PlacesErr why they
	// cannot (vmctl.PlacesFor); Places.Base is unused: see Base.
	Places    vmctl.Places
	PlacesErr error
	// VMs are the VMs defined, defaults applied: their UEFI firmware
	// and huge pages are checked. nil means the built-in ones.
	VMs map[string]vmctl.Definition
	// VMsErr is why the user's VM definitions could not be read.
	VMsErr error
	// Modules is the running kernel's module tree, where vfio-pci is
	// looked for; empty means gpu.KernelModules().
	Modules gpu.Modules
	// PCIIDs are the pci.ids files that name GPUs; nil means gpu.PCIIDs.
	PCIIDs []string
	// QEMUUser is who a root spirit runs QEMU as ([qemu] user);
	// empty means vmctl.DefaultQEMUUser.
	QEMUUser string
	// UID is the user's id: what needs root is said, never failed on.
	UID int
	// Timeout bounds each check; zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds each check: they read files, run QEMU for its
// version and ping dockerd, which all take well under a second.
const DefaultTimeout = 10 * time.Second

// DemoGuest is the built-in VM that `make guest` builds the files of.
const DemoGuest = "linux"

func (o Options) withDefaults() (Options, error) {
	o.SysRoot = cmp.Or(o.SysRoot, "/sys")
	o.ProcRoot = cmp.Or(o.ProcRoot, "/proc")
	o.KVM = cmp.Or(o.KVM, "/dev/kvm")
	o.QEMU = cmp.Or(o.QEMU, "qemu-system-x86_64")
	o.QEMUUser = cmp.Or(o.QEMUUser, vmctl.DefaultQEMUUser)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	if o.Modules.Dir == "" {
		o.Modules = gpu.KernelModules()
	}
	if o.PCIIDs == nil {
		o.PCIIDs = gpu.PCIIDs
	}
	if o.VMs == nil {
		defs, err := config.Defaults()
		if err != nil {
			return o, err
		}
		o.VMs = vmctl.Merge(defs)
	}
	return o, nil
}

// host is the gpu package's view of the same machine.
func (o Options) host() gpu.Host {
	return gpu.Host{Sys: gpu.Sys{Root: o.SysRoot}, Modules: o.Modules, PCIIDs: o.PCIIDs, Proc: gpu.ProcFS{Root: o.ProcRoot}}
}

// vmNames are the VMs defined, sorted.
func (o Options) vmNames() []string { return slices.Sorted(maps.Keys(o.VMs)) }

// check is one thing the doctor looks at.
type check struct {
	id, name string
	// alone makes the check run by itself, before the others: the KVM
	// probe times its guest, and other work on the host's few cores
	// must not make a working KVM look slow.
	alone bool
	run   func(ctx context.Context, o Options) Result
}

// checks are every check, in the order of the report.
func checks() []check {
	return []check{
		{id: "cpu", name: "CPU virtualisation", run: checkCPU},
		{id: "kvm", name: "KVM", alone: true, run: checkKVM},
		{id: "qemu", name: "QEMU", run: checkQEMU},
		{id: "sandbox", name: "QEMU sandbox and user", run: checkSandbox},
		{id: "ovmf", name: "UEFI firmware (OVMF)", run: checkOVMF},
		{id: "hugepages", name: "Huge pages", run: checkHugePages},
		{id: "iommu", name: "IOMMU", run: checkIOMMU},
		{id: "vfio", name: "vfio-pci", run: checkVFIO},
		{id: "gpu", name: "GPU passthrough", run: checkGPU},
		{id: "docker", name: "dockerd", run: checkDocker},
		{id: "guest", name: "Demo guest", run: checkGuest},
		{id: "config", name: "VM definitions", run: checkConfig},
		{id: "places", name: "VM directories", run: checkPlaces},
	}
}

// Run runs every check, each with its own timeout, and returns their
// results in a fixed order. The KVM probe runs first and alone; the
// other checks only read, and run at the same time.
func Run(ctx context.Context, o Options) Report {
	o, err := o.withDefaults()
	if err != nil {
		// The built-in definitions are tested: this is a broken build.
		panic(err)
	}
	cs := checks()
	out := make([]Result, len(cs))
	one := func(i int) {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		r := cs[i].run(ctx, o)
		r.ID, r.Name = cs[i].id, cs[i].name
		if r.Status != OK && r.Status != Skip && ctx.Err() != nil {
			r.Found += fmt.Sprintf(" (the check was stopped after %v)", o.Timeout)
		}
		out[i] = r
	}
	for i, c := range cs {
		if c.alone {
			one(i)
		}
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		if !c.alone {
			wg.Go(func() { one(i) })
		}
	}
	wg.Wait()
	rep := Report{Checks: out, Notes: notes(o)}
	rep.Failed = slices.ContainsFunc(out, func(r Result) bool { return r.Status == Fail })
	return rep
}

// notes say what needs root, for a user who is not.
func notes(o Options) []string {
	if o.UID == 0 {
		return nil
	}
	return []string{fmt.Sprintf("running as uid %d, not root: every check above reads only what any user may read; "+
		"spirit gpu passthrough and the fixes that say \"as root\" need root", o.UID)}
}

// readFile is a file's text; "" when it cannot be read.
func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
