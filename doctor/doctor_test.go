package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"spirit/gpu"
	"spirit/vmctl"
)

// tree writes files under a new directory and returns it. A value that
// starts with "->" makes a symlink to the rest; a name that ends with /
// makes a directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		dir := path
		if !strings.HasSuffix(name, "/") {
			dir = filepath.Dir(path)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), path)
		default:
			err = os.WriteFile(path, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// merge lays maps over each other.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func cpuinfo(vendor, flags string) map[string]string {
	return map[string]string{"proc/cpuinfo": "processor\t: 0\nvendor_id\t: " + vendor + "\nflags\t\t: fpu " + flags + " sse2\n\nprocessor\t: 1\nvendor_id\t: " + vendor + "\nflags\t\t: fpu sse2\n"}
}

// options points every input at root's sys/, proc/, dev/kvm, lib/modules
// and base/.
func options(root string) Options {
	return Options{
		SysRoot:    filepath.Join(root, "sys"),
		ProcRoot:   filepath.Join(root, "proc"),
		KVM:        filepath.Join(root, "dev", "kvm"),
		QEMU:       filepath.Join(root, "bin", "qemu-system-x86_64"),
		DockerHost: "unix://" + filepath.Join(root, "docker.sock"),
		Base:       filepath.Join(root, "base"),
		Modules:    gpu.Modules{Dir: filepath.Join(root, "lib", "modules", "6.1.0-test")},
		PCIIDs:     []string{},
		VMs:        map[string]vmctl.Definition{},
		UID:        1000,
		Timeout:    30 * time.Second,
	}
}

// runCheck runs one check on a fixture, defaults applied as Run does.
func runCheck(t *testing.T, f func(context.Context, Options) Result, o Options) Result {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return f(ctx, o)
}

// want checks a result's status and that found and fix hold the texts
// given (and fix is empty when nothing is given for an ok result).
func want(t *testing.T, r Result, status Status, found, fix []string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %s, want %s (found %q, fix %q)", r.Status, status, r.Found, r.Fix)
	}
	all := r.Found + "\n" + strings.Join(r.Details, "\n")
	for _, s := range found {
		if !strings.Contains(all, s) {
			t.Errorf("found %q (details %q) lacks %q", r.Found, r.Details, s)
		}
	}
	for _, s := range fix {
		if !strings.Contains(r.Fix, s) {
			t.Errorf("fix %q lacks %q", r.Fix, s)
		}
	}
	if r.Status != OK && r.Status != Skip && r.Fix == "" {
		t.Errorf("status %s without a fix (found %q)", r.Status, r.Found)
	}
}

func TestCPU(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		status     Status
		found, fix []string
	}{
		{"intel", cpuinfo("GenuineIntel", "vmx"), OK, []string{"Intel VT-x"}, nil},
		{"amd", cpuinfo("AuthenticAMD", "svm"), OK, []string{"AMD-V"}, nil},
		{"none", cpuinfo("GenuineIntel", "lm"), Warn, []string{"no vmx or svm flag", "TCG"}, []string{"turn on Intel VT-x"}},
		{"vm", cpuinfo("AuthenticAMD", "hypervisor"), Warn, []string{"this is a virtual machine"}, []string{"nested virtualisation"}},
		{"no cpuinfo", map[string]string{"proc/": ""}, Warn, []string{"cannot tell"}, []string{"cpuinfo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, checkCPU, options(tree(t, tt.files)))
			want(t, r, tt.status, tt.found, tt.fix)
		})
	}
}

// TestKVM covers what a fixture can: no device, and a device that is
// there but is no KVM (the probe's KVM_GET_API_VERSION fails on it). A
// real /dev/kvm is the business of the test of spirit doctor itself.
func TestKVM(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		status     Status
		found, fix []string
	}{
		{"no device", cpuinfo("GenuineIntel", "vmx"), Fail, []string{"no ", "dev/kvm", "TCG"}, []string{"modprobe kvm_intel"}},
		{"not kvm", merge(cpuinfo("GenuineIntel", "vmx"), map[string]string{"dev/kvm": ""}), Fail,
			[]string{"is there, but it cannot run a guest", "KVM_GET_API_VERSION"}, []string{"turn on Intel VT-x or AMD-V"}},
		{"not kvm in a vm", merge(cpuinfo("GenuineIntel", "hypervisor"), map[string]string{"dev/kvm": ""}), Fail,
			[]string{"cannot run a guest"}, []string{"nested virtualisation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, checkKVM, options(tree(t, tt.files)))
			want(t, r, tt.status, tt.found, tt.fix)
		})
	}
}

func TestIOMMU(t *testing.T) {
	groups := map[string]string{"sys/kernel/iommu_groups/0/devices/": "", "sys/kernel/iommu_groups/1/devices/": ""}
	dmar := map[string]string{"sys/firmware/acpi/tables/DMAR": ""}
	tests := []struct {
		name       string
		files      map[string]string
		status     Status
		found, fix []string
		notFix     string
	}{
		{"on", merge(cpuinfo("GenuineIntel", "vmx"), groups), OK, []string{"on: 2 IOMMU groups"}, nil, ""},
		{"off, intel", merge(cpuinfo("GenuineIntel", "vmx"), dmar, map[string]string{"proc/cmdline": "quiet\n", "sys/kernel/": ""}), Warn,
			[]string{"off: no IOMMU groups", "only GPU passthrough"},
			[]string{"add intel_iommu=on iommu=pt to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)"},
			"firmware setup"},
		{"off in the firmware", merge(cpuinfo("GenuineIntel", "vmx"), map[string]string{"proc/cmdline": "intel_iommu=on iommu=pt\n"}), Warn,
			[]string{"no DMAR table"}, []string{"turn on VT-d in the firmware setup"}, "add "},
		{"off, amd vm", merge(cpuinfo("AuthenticAMD", "svm hypervisor"), map[string]string{"proc/cmdline": "iommu=pt"}), Warn,
			[]string{"no IVRS table"}, []string{"-device amd-iommu"}, "add "},
		{"unknown cpu", map[string]string{"proc/": ""}, Warn, []string{"off"}, []string{"intel_iommu=on"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, checkIOMMU, options(tree(t, tt.files)))
			want(t, r, tt.status, tt.found, tt.fix)
			if tt.notFix != "" && strings.Contains(r.Fix, tt.notFix) {
				t.Errorf("fix %q has %q", r.Fix, tt.notFix)
			}
		})
	}
}

func TestVFIO(t *testing.T) {
	mod := "lib/modules/6.1.0-test/"
	tests := []struct {
		name       string
		files      map[string]string
		status     Status
		found, fix []string
	}{
		{"loaded", map[string]string{"sys/bus/pci/drivers/vfio-pci/": ""}, OK, []string{"vfio-pci is loaded"}, nil},
		{"module", map[string]string{mod + "modules.dep": "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\n"}, OK,
			[]string{"module of the running kernel", "spirit gpu passthrough loads it"}, nil},
		{"not there", map[string]string{mod + "modules.dep": "kernel/fs/ext4/ext4.ko.xz:\n"}, Warn,
			[]string{"has no such module", "only GPU passthrough"}, []string{"linux-image-6.1.0-test", "CONFIG_VFIO_PCI"}},
		{"no modules", map[string]string{"sys/": ""}, Warn, []string{"modules are not installed"}, []string{"linux-image-6.1.0-test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCheck(t, checkVFIO, options(tree(t, tt.files)))
			want(t, r, tt.status, tt.found, tt.fix)
		})
	}
}

// pciDevice is a PCI function in a sysfs fixture, in IOMMU group group
// (none when negative).
func pciDevice(addr, class string, group string) map[string]string {
	dev := "sys/bus/pci/devices/" + addr + "/"
	m := map[string]string{dev + "class": class + "\n", dev + "vendor": "0x10de\n", dev + "device": "0x2206\n"}
	if strings.HasPrefix(class, "0x03") {
		m[dev+"reset_method"] = "bus\n"
		m[dev+"boot_vga"] = "1\n"
	}
	if group != "" {
		m[dev+"iommu_group"] = "->../../../../kernel/iommu_groups/" + group
		m["sys/kernel/iommu_groups/"+group+"/devices/"+addr] = "->../../../../bus/pci/devices/" + addr
	}
	return m
}

func TestGPU(t *testing.T) {
	vfio := map[string]string{"sys/bus/pci/drivers/vfio-pci/": ""}
	tests := []struct {
		name       string
		files      map[string]string
		status     Status
		found, fix []string
	}{
		{"no gpu", merge(pciDevice("0000:00:03.0", "0x020000", ""), vfio), Skip, []string{"no GPU (no PCI display controller)"}, nil},
		{"passable", merge(pciDevice("0000:01:00.0", "0x030000", "1"), pciDevice("0000:01:00.1", "0x040300", "1"), vfio), OK,
			[]string{"1 GPU, 1 of which can be passed through", "spirit gpu passthrough needs root", "0000:01:00.0 [10de:2206] (no driver, IOMMU group 1): can be passed through"}, nil},
		{"iommu off", merge(pciDevice("0000:01:00.0", "0x030000", ""), vfio), Warn,
			[]string{"1 GPU, 0 of which", "cannot be passed through"}, []string{"0000:01:00.0: the IOMMU is off"}},
		{"shared group", merge(pciDevice("0000:01:00.0", "0x030000", "1"), pciDevice("0000:02:00.0", "0x020000", "1"), vfio), Warn,
			[]string{"cannot be passed through"}, []string{"also holds 0000:02:00.0"}},
		{"what a passthrough meets", merge(pciDevice("0000:01:00.0", "0x030000", "1"), vfio,
			map[string]string{"sys/class/graphics/fb0/name": "EFI VGA\n", "proc/4242/cmdline": "/usr/bin/nvtop\x00-d\x00",
				"proc/4242/fd/7": "->/dev/dri/card0", "sys/bus/pci/devices/0000:01:00.0/drm/card0/": ""}), OK,
			[]string{"reset method: bus", "framebuffers: EFI VGA", "vfio-pci evicts the firmware framebuffer", "pid 4242 (/usr/bin/nvtop -d) holds /dev/dri/card0",
				`vm win will see the boot GPU's shadowed ROM`}, nil},
		{"no reset", merge(pciDevice("0000:01:00.0", "0x030000", "1"), vfio, map[string]string{"sys/bus/pci/devices/0000:01:00.0/reset_method": ""}), Warn,
			[]string{"cannot be passed through"}, []string{"has no working reset", "vendor-reset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(tree(t, tt.files))
			o.VMs = map[string]vmctl.Definition{"win": {GPU: []string{"0000:01:00.0"}}, "rom": {GPU: []string{"0000:01:00.0"}, ROM: map[string]string{"0000:01:00.0": "/x.rom"}}}
			r := runCheck(t, checkGPU, o)
			want(t, r, tt.status, tt.found, tt.fix)
		})
	}
}

func hugepages(total, free string) map[string]string {
	dir := "sys/kernel/mm/hugepages/hugepages-2048kB/"
	return map[string]string{dir + "nr_hugepages": total + "\n", dir + "free_hugepages": free + "\n"}
}

func TestHugePages(t *testing.T) {
	mounted := map[string]string{"proc/mounts": "sysfs /sys sysfs rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"}
	unmounted := map[string]string{"proc/mounts": "sysfs /sys sysfs rw 0 0\n"}
	big := map[string]vmctl.Definition{"big": {OS: "linux", Memory: "1G", HugePages: true}, "small": {OS: "linux", Memory: "256M"}}
	tests := []struct {
		name       string
		files      map[string]string
		vms        map[string]vmctl.Definition
		status     Status
		found, fix []string
	}{
		{"none reserved", merge(hugepages("0", "0"), mounted), nil, Warn, []string{"none reserved"}, []string{"as root", "/proc/sys/vm/nr_hugepages", "/etc/sysctl.d/spirit.conf"}},
		{"reserved", merge(hugepages("1024", "1000"), mounted), nil, OK, []string{"1024 pages of 2 MiB reserved, 1000 free (2000 MiB)"}, nil},
		// QEMU takes them from a memfd.
		{"not mounted", merge(hugepages("1024", "1000"), unmounted), nil, OK, []string{"1024 pages of 2 MiB reserved"}, nil},
		{"enough for the vm", merge(hugepages("1024", "600"), mounted), big, OK, []string{"vm big (1G): enough"}, nil},
		{"not enough for the vm", merge(hugepages("1024", "100"), mounted), big, Fail,
			[]string{"not enough for the VMs", "vm big (1G): not enough"}, []string{"vm big: huge pages: 1024 MiB of guest memory needs 512 free 2 MiB pages, 100 are free", "echo 1436 > /proc/sys/vm/nr_hugepages"}},
		{"no hugetlb in the kernel", map[string]string{"sys/kernel/mm/": ""}, nil, Warn, []string{"cannot tell"}, []string{"CONFIG_HUGETLBFS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(tree(t, tt.files))
			if tt.vms != nil {
				o.VMs = tt.vms
			}
			want(t, runCheck(t, checkHugePages, o), tt.status, tt.found, tt.fix)
		})
	}
}

func TestOVMF(t *testing.T) {
	root := tree(t, map[string]string{"ovmf/CODE.fd": "code", "ovmf/VARS.fd": "vars"})
	uefi := func(code, vars string) map[string]vmctl.Definition {
		return map[string]vmctl.Definition{
			"windows": {OS: "windows", Memory: "8G", OVMFCode: filepath.Join(root, code), OVMFVars: filepath.Join(root, vars)},
			"linux":   {OS: "linux", Memory: "256M"},
		}
	}
	tests := []struct {
		name       string
		vms        map[string]vmctl.Definition
		status     Status
		found, fix []string
	}{
		{"found", uefi("ovmf/CODE.fd", "ovmf/VARS.fd"), OK, []string{filepath.Join(root, "ovmf/CODE.fd") + ", " + filepath.Join(root, "ovmf/VARS.fd")}, nil},
		{"missing", uefi("ovmf/CODE.fd", "gone/VARS.fd"), Fail, []string{"missing: " + filepath.Join(root, "gone/VARS.fd") + " (vm windows): no such file"}, []string{"apt-get install ovmf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(root)
			o.VMs = tt.vms
			want(t, runCheck(t, checkOVMF, o), tt.status, tt.found, tt.fix)
		})
	}
	// With no UEFI VM, the default files are looked for, and only
	// warned about: whether they are here depends on the machine.
	o := options(root)
	o.VMs = map[string]vmctl.Definition{"linux": {OS: "linux", Memory: "256M"}}
	r := runCheck(t, checkOVMF, o)
	if r.Status == Fail || !strings.Contains(r.Found, vmctl.DefaultOVMFCode) {
		t.Errorf("no UEFI VM: %s %q, want ok or warn about %s", r.Status, r.Found, vmctl.DefaultOVMFCode)
	}
}

func TestGuest(t *testing.T) {
	built := map[string]string{
		"base/build/guest/vmlinuz": "k", "base/build/guest/initramfs.cpio.gz": "i", "base/build/guest/linux.qcow2": "d",
	}
	want(t, runCheck(t, checkGuest, options(tree(t, built))), OK, []string{"vm linux's files are built", "build/guest/vmlinuz"}, nil)
	delete(built, "base/build/guest/linux.qcow2")
	want(t, runCheck(t, checkGuest, options(tree(t, built))), Warn,
		[]string{"vm linux is not built", "build/guest/linux.qcow2 (no such file)"}, []string{"make guest"})
}

// fakeQEMU writes a program that prints out as QEMU's version.
func fakeQEMU(t *testing.T, root, out string) {
	t.Helper()
	path := filepath.Join(root, "bin", "qemu-system-x86_64")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nprintf '%s\\n' '"+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestQEMU(t *testing.T) {
	tests := []struct {
		name, version string
		status        Status
		found, fix    []string
	}{
		{"debian 12", "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", OK, []string{"QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3) at /"}, nil},
		{"old", "QEMU emulator version 5.2.0", Warn, []string{"QEMU 5.2.0", "snapshots need QEMU 6.0 or newer"}, []string{"upgrade QEMU"}},
		{"garbage", "hello", Warn, []string{`says "hello"`}, []string{"apt-get install qemu-system-x86"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			fakeQEMU(t, root, tt.version)
			want(t, runCheck(t, checkQEMU, options(root)), tt.status, tt.found, tt.fix)
		})
	}
	t.Run("missing", func(t *testing.T) {
		want(t, runCheck(t, checkQEMU, options(t.TempDir())), Fail, []string{"no "}, []string{"apt-get install qemu-system-x86"})
	})
}

// engine serves the two calls the docker check makes, as dockerd does,
// on a unix socket under dir.
func engine(t *testing.T, dir string) string {
	t.Helper()
	sock := filepath.Join(dir, "e.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.43")
		w.Header().Set("Ostype", "linux")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/version") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"Version":"20.10.24","ApiVersion":"1.43"}`))
	})
	srv := &http.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("engine: %v", err)
		}
	})
	return "unix://" + sock
}

func TestDocker(t *testing.T) {
	o := options(t.TempDir())
	want(t, runCheck(t, checkDocker, o), Warn, []string{"cannot reach dockerd at " + o.DockerHost, "only @docker targets"}, []string{"systemctl start docker"})
	dir, err := os.MkdirTemp("", "dr") // short: a unix socket's path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	o.DockerHost = engine(t, dir)
	want(t, runCheck(t, checkDocker, o), OK, []string{"dockerd at " + o.DockerHost + " answers (Engine API 1.43, Docker 20.10.24)"}, nil)
}

func TestConfigAndPlaces(t *testing.T) {
	o := options(t.TempDir())
	o.VMs = map[string]vmctl.Definition{"a": {}, "b": {}}
	want(t, runCheck(t, checkConfig, o), OK, []string{"2 VMs defined: a, b"}, nil)
	o.VMsErr = errors.New(`spirit.toml:3: vm.box.memory: "lots" is not a size`)
	want(t, runCheck(t, checkConfig, o), Fail, []string{"spirit.toml:3"}, []string{"fix the file"})
	o.Places = vmctl.Places{Run: "/run/user/1000/spirit", State: "/home/u/.local/state/spirit"}
	want(t, runCheck(t, checkPlaces, o), OK, []string{"/run/user/1000/spirit/NAME (mode 0700)"}, nil)
	o.PlacesErr = errors.New("XDG_RUNTIME_DIR is not set")
	want(t, runCheck(t, checkPlaces, o), Fail, []string{"no VM can be used"}, []string{"XDG_RUNTIME_DIR"})
}

// TestRun runs every check on two whole fixtures, a host set up for
// everything and a bare one, and checks the order, the verdict and both
// outputs.
func TestRun(t *testing.T) {
	good := merge(cpuinfo("GenuineIntel", "vmx"), hugepages("1024", "1024"),
		pciDevice("0000:01:00.0", "0x030000", "1"),
		map[string]string{
			"proc/mounts":                   "hugetlbfs /dev/hugepages hugetlbfs rw 0 0\n",
			"sys/bus/pci/drivers/vfio-pci/": "",
			"base/build/guest/vmlinuz":      "k", "base/build/guest/initramfs.cpio.gz": "i", "base/build/guest/linux.qcow2": "d",
			"ovmf/CODE.fd": "c", "ovmf/VARS.fd": "v",
		})
	bare := merge(cpuinfo("GenuineIntel", "lm"), hugepages("0", "0"), map[string]string{"proc/cmdline": "quiet\n"})
	ids := func(rep Report) []string {
		var out []string
		for _, r := range rep.Checks {
			out = append(out, r.ID)
		}
		return out
	}
	var order []string
	for _, c := range checks() {
		order = append(order, c.id)
	}
	for _, tt := range []struct {
		name   string
		files  map[string]string
		failed []string
	}{
		// No /dev/kvm in either: KVM fails.
		{"good", good, []string{"kvm"}},
		{"bare", bare, []string{"kvm", "qemu"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := tree(t, tt.files)
			o := options(root)
			if tt.name == "good" {
				fakeQEMU(t, root, "QEMU emulator version 8.2.2")
				o.VMs = map[string]vmctl.Definition{"windows": {OS: "windows", Memory: "8G", OVMFCode: filepath.Join(root, "ovmf/CODE.fd"), OVMFVars: filepath.Join(root, "ovmf/VARS.fd")}}
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			rep := Run(ctx, o)
			if got := ids(rep); !slices.Equal(got, order) {
				t.Fatalf("checks %v, want %v", got, order)
			}
			var failed []string
			for _, r := range rep.Checks {
				if r.Status == Fail {
					failed = append(failed, r.ID)
				}
				if r.Name == "" || r.Found == "" {
					t.Errorf("%s: name %q found %q", r.ID, r.Name, r.Found)
				}
			}
			if !slices.Equal(failed, tt.failed) || !rep.Failed {
				t.Errorf("failed %v (Failed %v), want %v", failed, rep.Failed, tt.failed)
			}
			if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "not root") {
				t.Errorf("notes %q, want one that says what needs root", rep.Notes)
			}
			var text bytes.Buffer
			if err := Write(&text, rep, 120); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"CHECK", "KVM", "fix: ", "note: running as uid 1000", fmt.Sprintf(" %d fail, ", len(tt.failed))} {
				if !strings.Contains(text.String(), s) {
					t.Errorf("text output lacks %q:\n%s", s, text.String())
				}
			}
			data, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(data, &back); err != nil || !slices.Equal(ids(back), order) || !back.Failed {
				t.Errorf("JSON %s does not read back: %v", data, err)
			}
		})
	}
}

// TestRunOK is a report with nothing failing: no Failed, and root needs
// no note.
func TestRunOK(t *testing.T) {
	rep := Report{Checks: []Result{{ID: "a", Name: "A", Status: OK, Found: "fine"}, {ID: "b", Name: "B", Status: Warn, Found: "meh", Fix: "do it"}}}
	var text bytes.Buffer
	if err := Write(&text, rep, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "nothing fails: 1 ok, 1 warn, 0 fail, 0 skip") || !strings.Contains(text.String(), "fix: do it") {
		t.Errorf("text output:\n%s", text.String())
	}
	if n := notes(Options{UID: 0}); n != nil {
		t.Errorf("root gets notes %q", n)
	}
}

func TestSandbox(t *testing.T) {
	tests := []struct {
		name, user string
		uid        int
		status     Status
		found, fix []string
	}{
		{"a user of its own", "nobody", 0, OK, []string{"QEMU runs in its seccomp sandbox (-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny), as nobody (uid 65534), not root"}, nil},
		{"not root", "nobody", 1000, OK, []string{"as you (uid 1000); as root, as nobody"}, nil},
		{"no such user", "spirit-test-nosuch", 0, Fail, []string{"root's VMs cannot start"},
			[]string{"useradd --system --no-create-home --shell /usr/sbin/nologin spirit-test-nosuch", "[qemu] user"}},
		{"no such user, not root", "spirit-test-nosuch", 1000, Warn, []string{"as you (uid 1000)", "does not exist"}, []string{"useradd"}},
		{"root by choice", "root", 0, Warn, []string{`as root, as spirit.toml says ([qemu] user = "root")`}, []string{"useradd", "drop [qemu] user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			fakeQEMU(t, root, "QEMU emulator version 7.2.22")
			o := options(root)
			o.QEMUUser, o.UID = tt.user, tt.uid
			want(t, runCheck(t, checkSandbox, o), tt.status, tt.found, tt.fix)
		})
	}
	t.Run("no seccomp", func(t *testing.T) {
		root := t.TempDir()
		path := filepath.Join(root, "bin", "qemu-system-x86_64")
		os.MkdirAll(filepath.Dir(path), 0o755)
		script := "#!/bin/sh\n[ \"$1\" = -sandbox ] && { echo 'qemu-system-x86_64: -sandbox support is not enabled in this QEMU binary' >&2; exit 1; }\necho 'QEMU emulator version 7.2.22'\n"
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		want(t, runCheck(t, checkSandbox, options(root)), Fail, []string{"refuses -sandbox", "not enabled in this QEMU binary"}, []string{"built with seccomp"})
	})
	t.Run("no qemu", func(t *testing.T) {
		want(t, runCheck(t, checkSandbox, options(t.TempDir())), Skip, []string{"see the QEMU check"}, nil)
	})
	t.Run("the real qemu", func(t *testing.T) {
		qemu, err := exec.LookPath("qemu-system-x86_64")
		if err != nil {
			t.Fatal("qemu-system-x86_64 is not installed: run scripts/deps.sh (apt-get install qemu-system-x86)")
		}
		o := options(t.TempDir())
		o.QEMU, o.QEMUUser = qemu, "nobody"
		want(t, runCheck(t, checkSandbox, o), OK, []string{"seccomp sandbox"}, nil)
	})
}
