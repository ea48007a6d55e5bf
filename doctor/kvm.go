package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"spirit/vmctl"
)

// cpuInfo is what /proc/cpuinfo says of the first CPU.
type cpuInfo struct {
	vendor string   // vendor_id: GenuineIntel, AuthenticAMD
	flags  []string // flags
}

func readCPUInfo(procRoot string) (cpuInfo, error) {
	path := filepath.Join(procRoot, "cpuinfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return cpuInfo{}, err
	}
	var c cpuInfo
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "vendor_id":
			if c.vendor == "" {
				c.vendor = strings.TrimSpace(v)
			}
		case "flags":
			if c.flags == nil {
				c.flags = strings.Fields(v)
			}
		}
	}
	if c.flags == nil {
		return c, fmt.Errorf("%s has no flags line", path)
	}
	return c, nil
}

func (c cpuInfo) has(flag string) bool { return slices.Contains(c.flags, flag) }
func (c cpuInfo) intel() bool          { return c.vendor == "GenuineIntel" }
func (c cpuInfo) amd() bool            { return c.vendor == "AuthenticAMD" || c.vendor == "HygonGenuine" }

// checkCPU looks for Intel VT-x (vmx) or AMD-V (svm). Their absence is
// a warning, as virt-host-validate has it: VMs still run, under TCG, and
// some hosts (a paravirtualised KVM) offer KVM without them; the KVM
// check says whether KVM works.
func checkCPU(_ context.Context, o Options) Result {
	c, err := readCPUInfo(o.ProcRoot)
	if err != nil {
		return Result{Status: Warn, Found: fmt.Sprintf("cannot tell: %v", err),
			Fix: "spirit needs an x86-64 Linux with " + filepath.Join(o.ProcRoot, "cpuinfo") + " (procfs mounted)"}
	}
	switch {
	case c.has("vmx"):
		return Result{Status: OK, Found: "Intel VT-x (the vmx flag)"}
	case c.has("svm"):
		return Result{Status: OK, Found: "AMD-V (the svm flag)"}
	}
	found := "no vmx or svm flag in " + filepath.Join(o.ProcRoot, "cpuinfo")
	fix := "turn on Intel VT-x (Virtualization Technology) or AMD-V (SVM Mode) in the firmware setup"
	if c.has("hypervisor") {
		found += ": this is a virtual machine whose host does not pass hardware virtualisation on"
		fix = "turn on nested virtualisation on this VM's host (kvm_intel nested=1 or kvm_amd nested=1, and a CPU model that passes vmx or svm, e.g. -cpu host)"
	}
	return Result{Status: Warn, Found: found + "; without KVM, VMs run under TCG (emulation, many times slower)", Fix: fix}
}

// checkKVM checks that the KVM device is there, that this user may open
// it, and then that it really runs a guest (vmctl.KVMUsableAt), since a
// device that is there may still fail to run one, or run it slower than
// QEMU's own emulation.
func checkKVM(ctx context.Context, o Options) Result {
	fi, err := os.Stat(o.KVM)
	if errors.Is(err, fs.ErrNotExist) {
		return Result{Status: Fail,
			Found: "no " + o.KVM + ": VMs run under TCG (emulation, many times slower)",
			Fix: "turn on Intel VT-x or AMD-V in the firmware setup (in a VM: nested virtualisation on its host), " +
				"then load KVM as root: modprobe kvm_intel (or kvm_amd), and see dmesg if " + o.KVM + " does not appear"}
	}
	if err != nil {
		return Result{Status: Fail, Found: err.Error(), Fix: "check " + o.KVM + " as root"}
	}
	f, err := os.OpenFile(o.KVM, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrPermission) {
		return Result{Status: Fail,
			Found: fmt.Sprintf("%s is there, but you (uid %d) may not open it (%s)", o.KVM, o.UID, owners(fi)),
			Fix:   groupFix(o.KVM, fi)}
	}
	if err != nil {
		return Result{Status: Fail, Found: err.Error(), Fix: "check " + o.KVM + " as root"}
	}
	f.Close()
	ok, why := vmctl.KVMUsableAt(ctx, o.KVM)
	if ok {
		return Result{Status: OK, Found: why + ": VMs run with KVM"}
	}
	fix := "turn on Intel VT-x or AMD-V in the firmware setup; dmesg shows the kernel's KVM errors"
	if c, _ := readCPUInfo(o.ProcRoot); c.has("hypervisor") {
		fix = "this is a virtual machine: run spirit on one whose host offers nested virtualisation " +
			"(kvm_intel nested=1 or kvm_amd nested=1 there, and -cpu host), or on hardware"
	}
	return Result{Status: Fail,
		Found: fmt.Sprintf("%s is there, but it cannot run a guest: %s; VMs run under TCG (emulation) instead",
			o.KVM, strings.TrimPrefix(why, o.KVM+": ")),
		Fix: fix}
}

// owners describes a file's mode, owner and group: "crw-rw---- root:kvm".
func owners(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return lsMode(fi.Mode())
	}
	return fmt.Sprintf("%s %s:%s", lsMode(fi.Mode()), userName(st.Uid), groupName(st.Gid))
}

// lsMode is a file's mode as ls -l shows it: crw-rw----.
func lsMode(m fs.FileMode) string {
	kind := "-"
	switch {
	case m&fs.ModeCharDevice != 0:
		kind = "c"
	case m&fs.ModeDevice != 0:
		kind = "b"
	case m&fs.ModeSocket != 0:
		kind = "s"
	case m.IsDir():
		kind = "d"
	}
	return kind + m.Perm().String()[1:]
}

// groupFix says how to be let at a device or socket that this user may
// not open.
func groupFix(path string, fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Gid == 0 || fi.Mode().Perm()&0o060 != 0o060 {
		return fmt.Sprintf("run spirit as root, or let a group of yours read and write %s (a udev rule for a device: GROUP=\"kvm\", MODE=\"0660\", as Debian's own rules do)", path)
	}
	me := "$USER"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	return fmt.Sprintf("as root: usermod -aG %s %s, then log in again", groupName(st.Gid), me)
}

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
