package vmctl_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"spirit/config"
	"spirit/vmctl"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/qemu")

// fakeEnv is a VM's place on no machine in particular, so that goldens
// are the same everywhere.
func fakeEnv(name string, kvm bool) vmctl.Env {
	e := vmctl.Env{
		Dir:      "/run/spirit/" + name,
		StateDir: "/var/lib/spirit/" + name,
		Base:     "/opt/spirit",
		KVM:      kvm,
	}
	if !kvm {
		e.NoKVM = "/dev/kvm: missing"
	}
	return e
}

func defaultVM(t *testing.T, name string) vmctl.Definition {
	t.Helper()
	defs, err := config.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	d, ok := vmctl.Merge(defs)[name]
	if !ok {
		t.Fatalf("no built-in VM %q", name)
	}
	return d
}

func TestArgsGolden(t *testing.T) {
	windows := defaultVM(t, "windows")
	linux := defaultVM(t, "linux")
	tests := []struct {
		golden string
		def    vmctl.Definition
		kvm    bool
		has    []string // lines the golden must hold whatever it says
		hasNot []string // substrings the argv may not hold
	}{
		{golden: "windows-kvm", def: windows, kvm: true, has: []string{
			"-cpu host,hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time",
			"-machine q35,accel=kvm",
			"-smp 8,sockets=1,cores=4,threads=2",
			"-m 8G",
			"-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
			"-add-fd fd=3,set=3,opaque=/usr/share/OVMF/OVMF_CODE_4M.fd",
			"-drive if=pflash,unit=0,format=raw,readonly=on,file=/dev/fdset/3",
			"-add-fd fd=4,set=4,opaque=/var/lib/spirit/windows/OVMF_VARS.qcow2",
			"-add-fd fd=5,set=4,opaque=/var/lib/spirit/windows/OVMF_VARS.qcow2",
			"-drive if=pflash,unit=1,format=qcow2,file=/dev/fdset/4",
			"-add-fd fd=6,set=6,opaque=/var/lib/spirit/windows.qcow2",
			"-add-fd fd=7,set=6,opaque=/var/lib/spirit/windows.qcow2",
			"-drive file=/dev/fdset/6,if=none,id=disk0,format=qcow2,cache=none",
			"-device virtio-blk-pci,drive=disk0",
			"-device virtio-net-pci,netdev=net0",
			"-device virtio-serial-pci",
			"-chardev socket,id=agent,fd=8,server=on,wait=off",
			"-device virtserialport,chardev=agent,name=spirit.0",
			"-chardev socket,id=qmp,fd=11,server=on,wait=off",
			"-mon chardev=qmp,mode=control",
			"-device virtio-balloon-pci",
			"-nodefaults",
			"-display none",
			"# fd 3: /usr/share/OVMF/OVMF_CODE_4M.fd (read)",
			"# fd 4: /var/lib/spirit/windows/OVMF_VARS.qcow2 (readwrite)",
			"# fd 5: /var/lib/spirit/windows/OVMF_VARS.qcow2 (read)",
			"# fd 8: /run/spirit/windows/agent.sock (listen)",
			"# fd 9: /run/spirit/windows/console.log (log)",
			"# fd 10: /run/spirit/windows/console.sock (listen)",
			"# fd 11: /run/spirit/windows/qmp.sock (listen)",
		}, hasNot: []string{"-daemonize", "-pidfile", "path=", "-qmp"}},
		{golden: "windows-tcg", def: windows, kvm: false, has: []string{
			"-machine q35,accel=tcg",
			"-cpu max",
			"# note: KVM cannot run a guest here (/dev/kvm: missing): using TCG; dropped -cpu host,hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time (KVM only), using -cpu max",
		}, hasNot: []string{"-cpu host", ",hv_"}},
		{golden: "linux", def: linux, kvm: true, has: []string{
			"-kernel /proc/self/fd/3",
			"-initrd /proc/self/fd/4",
			`-append "console=ttyS0 quiet panic=-1"`,
			"-drive file=/dev/fdset/5,if=none,id=disk0,format=qcow2,cache=writeback",
			"# fd 3: /opt/spirit/build/guest/vmlinuz (load)",
			"# fd 4: /opt/spirit/build/guest/initramfs.cpio.gz (load)",
			"# fd 5: /opt/spirit/build/guest/linux.qcow2 (readwrite)",
			"# fd 6: /opt/spirit/build/guest/linux.qcow2 (read)",
			"-cpu host",
			"-m 256M",
			"-smp 1,sockets=1,cores=1,threads=1",
		}, hasNot: []string{"-netdev", "pflash", "hv_", "-rtc"}},
		{golden: "hugepages", def: with(linux, func(d *vmctl.Definition) { d.HugePages = true; d.Memory = "1G" }), kvm: true, has: []string{
			"-machine q35,accel=kvm,memory-backend=mem",
			"-object memory-backend-memfd,id=mem,size=1G,hugetlb=on,hugetlbsize=2M,share=on,prealloc=on",
			"-m 1G",
		}},
		{golden: "balloon", def: with(linux, func(d *vmctl.Definition) { d.Balloon = true; d.Kernel, d.Initrd, d.Append = "", "", "" }), kvm: true, has: []string{
			"-device virtio-balloon-pci",
		}, hasNot: []string{"-kernel"}},
		{golden: "gpu", def: with(windows, func(d *vmctl.Definition) {
			d.GPU = []string{"0000:01:00.1", "0000:01:00.0"}
			d.ROM = map[string]string{"0000:01:00.0": "/var/lib/spirit/vbios/ga104,patched.rom"}
			d.Balloon = false
		}), kvm: true, has: []string{
			"-device pcie-root-port,id=gpuport0,chassis=1,slot=1",
			"-device vfio-pci,host=0000:01:00.0,bus=gpuport0,addr=00.0,multifunction=on,romfile=/var/lib/spirit/vbios/ga104,,patched.rom",
			"-device vfio-pci,host=0000:01:00.1,bus=gpuport0,addr=00.1",
		}, hasNot: []string{"x-vga"}},
		{golden: "extra-args", def: with(linux, func(d *vmctl.Definition) {
			d.ExtraArgs = []string{"-device", "usb-ehci", "-S"}
		}), kvm: true},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			l, err := vmctl.Build(tt.def, fakeEnv(tt.def.Name, tt.kvm))
			if err != nil {
				t.Fatal(err)
			}
			args := l.Args
			got := render(args, l.Notes) + renderFiles(l.Files)
			lines := strings.Split(got, "\n")
			for _, want := range tt.has {
				if !slices.Contains(lines, want) {
					t.Errorf("no line %q in\n%s", want, got)
				}
			}
			argv := render(args, nil)
			for _, bad := range tt.hasNot {
				if strings.Contains(argv, bad) {
					t.Errorf("%q in\n%s", bad, argv)
				}
			}
			golden(t, filepath.Join("testdata", "qemu", tt.golden+".golden"), got)
		})
	}
}

// renderFiles says which file QEMU gets at each descriptor, and how.
func renderFiles(files []vmctl.PassedFile) string {
	var b strings.Builder
	for i, f := range files {
		fmt.Fprintf(&b, "# fd %d: %s (%s)\n", vmctl.PassedFD(i), f.Path, f.How)
	}
	return b.String()
}

func with(d vmctl.Definition, change func(*vmctl.Definition)) vmctl.Definition {
	d.Disks = slices.Clone(d.Disks)
	change(&d)
	return d
}

// render puts one flag and its value a line, then the notes.
func render(args []string, notes []vmctl.Note) string {
	var b strings.Builder
	for i := 0; i < len(args); i++ {
		b.WriteString(quote(args[i]))
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			b.WriteString(" " + quote(args[i]))
		}
		b.WriteString("\n")
	}
	for _, n := range notes {
		b.WriteString("# note: " + string(n) + "\n")
	}
	return b.String()
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"'\\") {
		return strconv.Quote(s)
	}
	return s
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./vmctl -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./vmctl -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestArgsExtraArgsLast(t *testing.T) {
	d := with(defaultVM(t, "linux"), func(d *vmctl.Definition) { d.ExtraArgs = []string{"-device", "usb-ehci"} })
	args, _, err := vmctl.Args(d, fakeEnv("linux", true))
	if err != nil {
		t.Fatal(err)
	}
	if tail := args[len(args)-2:]; !slices.Equal(tail, d.ExtraArgs) {
		t.Errorf("argv ends with %q, want the extra args %q", tail, d.ExtraArgs)
	}
}

func TestArgsDevices(t *testing.T) {
	base := vmctl.Definition{Name: "t", OS: "linux", Memory: "1G"}
	tests := []struct {
		name   string
		change func(*vmctl.Definition)
		env    func(*vmctl.Env)
		has    []string
		notes  []string
	}{
		{name: "scsi and sata disks", change: func(d *vmctl.Definition) {
			d.Disks = []vmctl.Disk{{Path: "a.img", Format: "raw", Interface: "scsi"}, {Path: "/b.qcow2", Interface: "sata"}, {Path: "c", Interface: "sata", Cache: "none"}}
		}, has: []string{
			"-device virtio-scsi-pci,id=scsi0",
			"-add-fd fd=3,set=3,opaque=/opt/spirit/a.img",
			"-add-fd fd=4,set=3,opaque=/opt/spirit/a.img",
			"-drive file=/dev/fdset/3,if=none,id=disk0,format=raw,cache=writeback",
			"-device scsi-hd,drive=disk0,bus=scsi0.0",
			"-device ide-hd,drive=disk1,bus=ide.0",
			"-device ide-hd,drive=disk2,bus=ide.1",
		}},
		{name: "commas in paths are doubled", change: func(d *vmctl.Definition) {
			d.Disks = []vmctl.Disk{{Path: "/x,y.qcow2"}}
		}, env: func(e *vmctl.Env) { e.Dir = "/run/a,b" }, has: []string{
			"-add-fd fd=3,set=3,opaque=/x,,y.qcow2",
			"-add-fd fd=6,set=6,opaque=/run/a,,b/console.log",
		}},
		{name: "bridge", change: func(d *vmctl.Definition) { d.Network = vmctl.Network{Mode: "bridge", Bridge: "br0", Model: "e1000e"} },
			has: []string{"-netdev tap,id=net0,fd=3", "-device e1000e,netdev=net0"}},
		{name: "huge pages from a memfd", change: func(d *vmctl.Definition) { d.HugePages = true },
			has: []string{"-object memory-backend-memfd,id=mem,size=1G,hugetlb=on,hugetlbsize=2M,share=on,prealloc=on"}},
		{name: "gpu under bios gets x-vga", change: func(d *vmctl.Definition) { d.GPU = []string{"0000:0a:00.0"} },
			has: []string{"-device vfio-pci,host=0000:0a:00.0,bus=gpuport0,addr=00.0,x-vga=on"}},
		{name: "two gpus, two ports", change: func(d *vmctl.Definition) {
			d.Firmware = "uefi"
			d.GPU = []string{"0000:0a:00.0", "0000:0b:00.0", "0000:0a:00.1"}
		}, has: []string{
			"-device pcie-root-port,id=gpuport0,chassis=1,slot=1",
			"-device vfio-pci,host=0000:0a:00.0,bus=gpuport0,addr=00.0,multifunction=on",
			"-device vfio-pci,host=0000:0a:00.1,bus=gpuport0,addr=00.1",
			"-device pcie-root-port,id=gpuport1,chassis=1,slot=2",
			"-device vfio-pci,host=0000:0b:00.0,bus=gpuport1,addr=00.0",
		}},
		{name: "a lone function becomes function 0", change: func(d *vmctl.Definition) { d.GPU = []string{"0000:0a:00.1"} },
			has: []string{"-device vfio-pci,host=0000:0a:00.1,bus=gpuport0,addr=00.0"}},
		{name: "balloon with a gpu", change: func(d *vmctl.Definition) { d.GPU = []string{"0000:0a:00.0"}; d.Balloon = true },
			notes: []string{"balloon = true with a GPU passed through: the balloon cannot give memory back (VFIO pins all guest memory)"}},
		{name: "linux with hyperv under tcg", change: func(d *vmctl.Definition) { on := true; d.HyperV = &on },
			env:   func(e *vmctl.Env) { e.KVM, e.NoKVM = false, "" },
			notes: []string{"KVM cannot run a guest here: using TCG; dropped -cpu host,hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time (KVM only), using -cpu max"}},
		{name: "agent port", change: func(d *vmctl.Definition) { d.AgentPort = "org.example.0" },
			has: []string{"-device virtserialport,chardev=agent,name=org.example.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			tt.change(&d)
			env := fakeEnv("t", true)
			if tt.env != nil {
				tt.env(&env)
			}
			args, notes, err := vmctl.Args(d, env)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(render(args, nil), "\n")
			for _, want := range tt.has {
				if !slices.Contains(lines, want) {
					t.Errorf("no line %q in\n%s", want, strings.Join(lines, "\n"))
				}
			}
			var gotNotes []string
			for _, n := range notes {
				gotNotes = append(gotNotes, string(n))
			}
			if !slices.Equal(gotNotes, tt.notes) {
				t.Errorf("notes %q, want %q", gotNotes, tt.notes)
			}
		})
	}
}

func TestArgsErrors(t *testing.T) {
	good := vmctl.Definition{Name: "t", OS: "linux", Memory: "1G"}
	tests := []struct {
		name   string
		def    vmctl.Definition
		env    func(*vmctl.Env)
		errHas string
	}{
		{name: "invalid definition", def: with(good, func(d *vmctl.Definition) { d.Memory = "1X" }), errHas: `vm.t.memory: "1X" is not a size`},
		{name: "no name", def: with(good, func(d *vmctl.Definition) { d.Name = "" }), errHas: "a VM name is"},
		{name: "relative runtime dir", def: good, env: func(e *vmctl.Env) { e.Dir = "run/t" }, errHas: `runtime directory "run/t": want an absolute path`},
		{name: "socket path too long", def: good, env: func(e *vmctl.Env) { e.Dir = "/" + strings.Repeat("d", 100) }, errHas: "longer than the 107 bytes"},
		{name: "uefi without a state dir", def: with(good, func(d *vmctl.Definition) { d.Firmware = "uefi" }), env: func(e *vmctl.Env) { e.StateDir = "" },
			errHas: "needs a state directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := fakeEnv("t", true)
			if tt.env != nil {
				tt.env(&env)
			}
			_, _, err := vmctl.Args(tt.def, env)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %v, want one with %q", err, tt.errHas)
			}
		})
	}
}

func TestVarsCopyArgs(t *testing.T) {
	got := vmctl.VarsCopyArgs(defaultVM(t, "windows"), fakeEnv("windows", true))
	want := []string{"qemu-img", "convert", "-f", "raw", "-O", "qcow2", "/usr/share/OVMF/OVMF_VARS_4M.fd", "/var/lib/spirit/windows/OVMF_VARS.qcow2"}
	if !slices.Equal(got, want) {
		t.Errorf("vmctl.VarsCopyArgs = %q, want %q", got, want)
	}
}

func TestCheckHugePages(t *testing.T) {
	tests := []struct {
		name        string
		free, total string // file contents; "" means no file
		size        int64
		errHas      string
	}{
		{name: "enough", free: "512\n", total: "512\n", size: 1 << 30},
		{name: "exactly", free: "3\n", total: "3\n", size: 5 << 20},
		{name: "too few", free: "100\n", total: "612\n", size: 1 << 30,
			errHas: "1024 MiB of guest memory needs 512 free 2 MiB pages, 100 are free; reserve them as root with: echo 1024 > /proc/sys/vm/nr_hugepages"},
		{name: "none reserved", free: "0\n", total: "0\n", size: 8 << 30, errHas: "echo 4096 > /proc/sys/vm/nr_hugepages"},
		{name: "no hugepages in the kernel", size: 1 << 30, errHas: "free_hugepages: no such file"},
		{name: "garbage", free: "lots\n", total: "1\n", size: 1 << 30, errHas: "invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "kernel", "mm", "hugepages", "hugepages-2048kB")
			for name, text := range map[string]string{"free_hugepages": tt.free, "nr_hugepages": tt.total} {
				if text == "" {
					continue
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := vmctl.CheckHugePages(root, tt.size)
			switch {
			case tt.errHas == "" && err != nil:
				t.Errorf("error: %v", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
				t.Errorf("error %v, want one with %q", err, tt.errHas)
			}
		})
	}
}
