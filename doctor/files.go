package doctor

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"spirit/config"
	"spirit/vmctl"
)

// checkHugePages reads how many 2 MiB huge pages are reserved and free,
// and whether each VM defined with hugepages = true would find enough to
// start. QEMU takes them from a memfd: no hugetlbfs mount is needed.
func checkHugePages(_ context.Context, o Options) Result {
	total, free, err := vmctl.HugePages(o.SysRoot)
	if err != nil {
		return Result{Status: Warn, Found: fmt.Sprintf("cannot tell: %v", err),
			Fix: "use a kernel built with CONFIG_HUGETLBFS (Debian's are) and sysfs mounted at /sys"}
	}
	found := fmt.Sprintf("%s of 2 MiB reserved, %d free (%d MiB)", plural(int(total), "page", "pages"), free, free*2)
	var details, fails []string
	for _, name := range o.vmNames() {
		d := o.VMs[name]
		if !d.HugePages {
			continue
		}
		size, err := vmctl.ParseSize(d.Memory)
		if err != nil {
			continue // the definitions check reports it
		}
		if err := vmctl.CheckHugePages(o.SysRoot, size); err != nil {
			details = append(details, fmt.Sprintf("vm %s (%s): not enough", name, d.Memory))
			fails = append(fails, fmt.Sprintf("vm %s: %v", name, err))
			continue
		}
		details = append(details, fmt.Sprintf("vm %s (%s): enough", name, d.Memory))
	}
	if len(fails) > 0 {
		return Result{Status: Fail, Found: found + "; not enough for the VMs defined with hugepages = true", Details: details,
			Fix: strings.Join(fails, "; ")}
	}
	if total == 0 {
		return Result{Status: Warn, Found: "none reserved (only VMs with hugepages = true use them)", Details: details,
			Fix: "reserve them as root, 512 per GiB of guest memory: echo 4096 > /proc/sys/vm/nr_hugepages for 8 GiB " +
				"(and vm.nr_hugepages = 4096 in /etc/sysctl.d/spirit.conf to keep them), then set hugepages = true in the VM's definition"}
	}
	return Result{Status: OK, Found: found, Details: details}
}

// checkOVMF checks the UEFI firmware of every VM that boots with it (the
// built-in windows profile does). They are files of Debian's ovmf
// package, which spirit depends on: a VM defined with them missing
// cannot start. With no UEFI VM defined, the default files are looked
// for, and missing ones only warned about.
func checkOVMF(_ context.Context, o Options) Result {
	defs := map[string]vmctl.Definition{}
	for name, d := range o.VMs {
		if d.WithDefaults().Firmware == "uefi" {
			defs[name] = d
		}
	}
	status := Fail
	if len(defs) == 0 {
		status = Warn
		defs[""] = vmctl.Definition{Firmware: "uefi"}
	}
	var files, missing []string
	fix := ""
	for _, name := range slices.Sorted(maps.Keys(defs)) {
		d := defs[name].WithDefaults()
		who := "vm " + name
		if name == "" {
			who = "the default; no VM uses UEFI"
		}
		for _, p := range d.Check(o.Base) {
			if len(p.Key) == 1 && (p.Key[0] == "ovmf_code" || p.Key[0] == "ovmf_vars") {
				missing = append(missing, fmt.Sprintf("%s (%s): %v", p.Path, who, p.Err))
				fix = cmp.Or(fix, p.Fix)
			}
		}
		for _, f := range []string{d.OVMFCode, d.OVMFVars} {
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	if len(missing) > 0 {
		return Result{Status: status, Found: "missing: " + strings.Join(missing, "; "), Fix: fix}
	}
	return Result{Status: OK, Found: strings.Join(files, ", ")}
}

// checkGuest checks that the files of the built-in demo guest are built.
// Only the demo needs them: a warning.
func checkGuest(_ context.Context, o Options) Result {
	defs, err := config.Defaults()
	if err != nil {
		return Result{Status: Fail, Found: err.Error(), Fix: "rebuild spirit: its built-in definitions do not parse"}
	}
	d, ok := vmctl.Merge(defs)[DemoGuest]
	if !ok {
		return Result{Status: Skip, Found: "this build of spirit has no demo guest"}
	}
	problems := d.Check(o.Base)
	if len(problems) == 0 {
		files := []string{d.Kernel, d.Initrd}
		for _, disk := range d.Disks {
			files = append(files, disk.Path)
		}
		return Result{Status: OK, Found: fmt.Sprintf("vm %s's files are built in %s: %s", DemoGuest, o.Base, strings.Join(files, ", "))}
	}
	missing := make([]string, len(problems))
	for i, p := range problems {
		missing[i] = p.Path
		if rel, err := filepath.Rel(o.Base, p.Path); err == nil && o.Base != "" {
			missing[i] = rel
		}
		missing[i] += fmt.Sprintf(" (%v)", p.Err)
	}
	return Result{Status: Warn,
		Found: fmt.Sprintf("vm %s is not built: %s has no %s", DemoGuest, cmp.Or(o.Base, "."), strings.Join(missing, ", ")),
		Fix:   problems[0].Fix + "; spirit looks for it in the directory above its own bin/ (or $SPIRIT_BASE)"}
}

// checkConfig reports the user's VM definitions: a file with errors
// leaves every VM unusable.
func checkConfig(_ context.Context, o Options) Result {
	if o.VMsErr != nil {
		return Result{Status: Fail, Found: o.VMsErr.Error(),
			Fix: "fix the file and line named (spirit uses no VM while its configuration has errors)"}
	}
	return Result{Status: OK, Found: fmt.Sprintf("%s: %s", plural(len(o.VMs), "VM defined", "VMs defined"), strings.Join(o.vmNames(), ", "))}
}

// checkPlaces reports where VMs keep their files: without a private
// runtime directory no VM can be used.
func checkPlaces(_ context.Context, o Options) Result {
	if o.PlacesErr != nil {
		return Result{Status: Fail, Found: "no private directory for the VMs' sockets and state: no VM can be used",
			Fix: o.PlacesErr.Error()}
	}
	return Result{Status: OK, Found: fmt.Sprintf("each VM's sockets in %s/NAME (mode 0700), its state in %s/NAME", o.Places.Run, o.Places.State)}
}
