package vmctl

import (
	"cmp"
	"errors"
	"slices"
	"testing"
)

func TestValidateDefinition(t *testing.T) {
	good := Definition{OS: "windows", Memory: "4G", Cores: 2, Threads: 2}
	tests := []struct {
		name   string
		vm     string // table name; "w" when empty
		change func(*Definition)
		want   string // the whole error; "" means valid
		key    []string
	}{
		{name: "good", change: func(*Definition) {}},
		{name: "bad size", change: func(d *Definition) { d.Memory = "4X" },
			want: `vm.w.memory: "4X" is not a size (e.g. 4G, 512M)`, key: []string{"memory"}},
		{name: "size with a unit spelt out", change: func(d *Definition) { d.Memory = "4GB" },
			want: `vm.w.memory: "4GB" is not a size (e.g. 4G, 512M)`, key: []string{"memory"}},
		{name: "no memory", change: func(d *Definition) { d.Memory = "" },
			want: "vm.w.memory: missing (e.g. 4G, 512M)", key: []string{"memory"}},
		{name: "no os", change: func(d *Definition) { d.OS = "" },
			want: `vm.w.os: missing: "linux" or "windows"`, key: []string{"os"}},
		{name: "bad os", change: func(d *Definition) { d.OS = "macos" },
			want: `vm.w.os: "macos": want "linux" or "windows"`, key: []string{"os"}},
		{name: "bad name", vm: "Win 10", change: func(*Definition) {},
			want: "vm.Win 10: a VM name is lower-case letters, digits, _ and -, starting with a letter"},
		{name: "reserved name", vm: "docker", change: func(*Definition) {},
			want: "vm.docker: @docker is spirit's own target"},
		{name: "negative cores", change: func(d *Definition) { d.Cores = -1 },
			want: "vm.w.cores: -1: want at least 1", key: []string{"cores"}},
		{name: "pinning of the wrong length", change: func(d *Definition) { d.CPUPinning = []int{0, 1} },
			want: "vm.w.cpu_pinning: 2 host cores for 4 vCPUs (cores × threads): give one per vCPU", key: []string{"cpu_pinning"}},
		{name: "pinning twice", change: func(d *Definition) { d.CPUPinning = []int{0, 1, 2, 1} },
			want: "vm.w.cpu_pinning: host core 1 is given twice: two vCPUs would share it", key: []string{"cpu_pinning"}},
		{name: "pinning", change: func(d *Definition) { d.CPUPinning = []int{4, 5, 6, 7} }},
		{name: "machine with a comma", change: func(d *Definition) { d.Machine = "q35,accel=tcg" },
			want: `vm.w.machine: "q35,accel=tcg" is not a QEMU machine type (e.g. q35, pc)`, key: []string{"machine"}},
		{name: "bad firmware", change: func(d *Definition) { d.Firmware = "efi" },
			want: `vm.w.firmware: "efi": want "bios" or "uefi"`, key: []string{"firmware"}},
		{name: "ovmf with bios", change: func(d *Definition) { d.Firmware = "bios"; d.OVMFCode = "/x.fd" },
			want: `vm.w.ovmf_code: only used with firmware = "uefi"`, key: []string{"ovmf_code"}},
		{name: "initrd without kernel", change: func(d *Definition) { d.Initrd = "i" },
			want: "vm.w.initrd: needs kernel: an initrd is only loaded with a kernel", key: []string{"initrd"}},
		{name: "disk without path", change: func(d *Definition) { d.Disks = []Disk{{Path: "a"}, {Format: "raw"}} },
			want: "vm.w.disks[1].path: missing: the image file", key: []string{"disks", "1", "path"}},
		{name: "bad disk format", change: func(d *Definition) { d.Disks = []Disk{{Path: "a", Format: "vmdk"}} },
			want: `vm.w.disks[0].format: "vmdk": want "qcow2" or "raw"`, key: []string{"disks", "0", "format"}},
		{name: "bad disk interface", change: func(d *Definition) { d.Disks = []Disk{{Path: "a", Interface: "ide"}} },
			want: `vm.w.disks[0].interface: "ide": want "virtio", "scsi" or "sata"`, key: []string{"disks", "0", "interface"}},
		{name: "sata on pc", change: func(d *Definition) { d.Machine = "pc"; d.Disks = []Disk{{Path: "a", Interface: "sata"}} },
			want: `vm.w.disks[0].interface: "sata" needs a q35 machine (machine is "pc")`, key: []string{"disks", "0", "interface"}},
		{name: "too many sata disks", change: func(d *Definition) {
			for range 7 {
				d.Disks = append(d.Disks, Disk{Path: "a", Interface: "sata"})
			}
		}, want: "vm.w.disks: 7 sata disks: q35 has 6 ports", key: []string{"disks"}},
		{name: "bad cache", change: func(d *Definition) { d.Disks = []Disk{{Path: "a", Cache: "fast"}} },
			want: `vm.w.disks[0].cache: "fast": want "none", "writeback", "writethrough", "directsync" or "unsafe"`, key: []string{"disks", "0", "cache"}},
		{name: "bad net model", change: func(d *Definition) { d.Network.Model = "rtl8139" },
			want: `vm.w.network.model: "rtl8139": want "virtio-net", "e1000e" or "e1000"`, key: []string{"network", "model"}},
		{name: "bad net mode", change: func(d *Definition) { d.Network.Mode = "tap" },
			want: `vm.w.network.mode: "tap": want "user", "bridge" or "none"`, key: []string{"network", "mode"}},
		{name: "bridge without a name", change: func(d *Definition) { d.Network.Mode = "bridge" },
			want: `vm.w.network.bridge: "" is not an interface name (mode = "bridge" needs one, e.g. br0)`, key: []string{"network", "bridge"}},
		{name: "bridge name in user mode", change: func(d *Definition) { d.Network.Bridge = "br0" },
			want: `vm.w.network.bridge: only used with mode = "bridge"`, key: []string{"network", "bridge"}},
		{name: "bad agent port", change: func(d *Definition) { d.AgentPort = "a,b" },
			want: `vm.w.agent_port: "a,b": a port name is letters, digits, . _ and -`, key: []string{"agent_port"}},
		{name: "gpu without domain", change: func(d *Definition) { d.GPU = []string{"0000:01:00.0", "01:00.1"} },
			want: `vm.w.gpu[1]: PCI address "01:00.1" has no domain: write 0000:01:00.1 (DDDD:BB:DD.F in lower case, as lspci -D prints it, e.g. 0000:01:00.0)`, key: []string{"gpu", "1"}},
		{name: "gpu upper case", change: func(d *Definition) { d.GPU = []string{"0000:0A:00.0"} },
			want: `vm.w.gpu[0]: PCI address "0000:0A:00.0": write it in lower case, 0000:0a:00.0`, key: []string{"gpu", "0"}},
		{name: "gpu device out of range", change: func(d *Definition) { d.GPU = []string{"0000:01:20.0"} },
			want: `vm.w.gpu[0]: "0000:01:20.0" is not a PCI address: give DDDD:BB:DD.F in lower case, as lspci -D prints it, e.g. 0000:01:00.0`, key: []string{"gpu", "0"}},
		{name: "gpu function out of range", change: func(d *Definition) { d.GPU = []string{"0000:01:00.8"} },
			want: `vm.w.gpu[0]: "0000:01:00.8" is not a PCI address: give DDDD:BB:DD.F in lower case, as lspci -D prints it, e.g. 0000:01:00.0`, key: []string{"gpu", "0"}},
		{name: "gpu with a path in it", change: func(d *Definition) { d.GPU = []string{"0000:01:00.0/../x"} },
			want: `vm.w.gpu[0]: "0000:01:00.0/../x" is not a PCI address: give DDDD:BB:DD.F in lower case, as lspci -D prints it, e.g. 0000:01:00.0`, key: []string{"gpu", "0"}},
		{name: "gpu twice", change: func(d *Definition) { d.GPU = []string{"0000:01:00.0", "0000:01:00.0"} },
			want: "vm.w.gpu[1]: 0000:01:00.0 is given twice", key: []string{"gpu", "1"}},
		{name: "gpu", change: func(d *Definition) { d.GPU = []string{"0000:01:00.0", "0000:01:00.1", "0000:ff:1f.7"} }},
		{name: "daemonize in extra args", change: func(d *Definition) { d.ExtraArgs = []string{"-S", "--daemonize"} },
			want: "vm.w.extra_args[1]: --daemonize is spirit's to set: its supervisor relies on it", key: []string{"extra_args", "1"}},
		{name: "empty extra arg", change: func(d *Definition) { d.ExtraArgs = []string{""} },
			want: "vm.w.extra_args[0]: an empty argument", key: []string{"extra_args", "0"}},
		{name: "hugepages and an odd size", change: func(d *Definition) { d.HugePages = true; d.Memory = "513M" },
			want: "vm.w.memory: 513M is not a whole number of 2 MiB huge pages (hugepages = true)", key: []string{"memory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.change(&d)
			err := d.Validate(cmp.Or(tt.vm, "w"))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !slices.Equal(fe.Key, tt.key) {
				t.Errorf("key %q, want %q", fe.Key, tt.key)
			}
		})
	}
}

func TestDefSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"512M", 512 << 20}, {"8G", 8 << 30}, {"1T", 1 << 40},
		{"0M", -1}, {"08G", -1}, {"8g", -1}, {"8", -1}, {"-8G", -1}, {"99999999G", -1}, {"", -1},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestDefWithDefaults(t *testing.T) {
	w := Definition{OS: "windows", Disks: []Disk{{Path: "x"}}}.WithDefaults()
	if w.Firmware != "uefi" || w.OVMFCode != DefaultOVMFCode || w.OVMFVars != DefaultOVMFVars || !*w.HyperV {
		t.Errorf("windows: firmware %q %q %q hyperv %v; want uefi, Debian's OVMF, hyperv on", w.Firmware, w.OVMFCode, w.OVMFVars, *w.HyperV)
	}
	l := Definition{OS: "linux"}.WithDefaults()
	if l.Firmware != "bios" || l.OVMFCode != "" || *l.HyperV || l.Machine != "q35" || l.AgentPort != "spirit.0" || l.Cores != 1 || l.Threads != 1 {
		t.Errorf("linux: %+v", l)
	}
	if d := w.Disks[0]; d.Format != "qcow2" || d.Interface != "virtio" || d.Cache != "writeback" {
		t.Errorf("disk: %+v", d)
	}
	if n := l.Network; n.Model != "virtio-net" || n.Mode != "user" {
		t.Errorf("network: %+v", n)
	}
	off := false
	if d := (Definition{OS: "windows", HyperV: &off}).WithDefaults(); *d.HyperV {
		t.Error("hyperv = false on windows was turned on")
	}
	orig := Definition{OS: "linux", Disks: []Disk{{Path: "x"}}}
	orig.WithDefaults()
	if orig.Disks[0].Format != "" {
		t.Error("WithDefaults changed its receiver's disks")
	}
}
