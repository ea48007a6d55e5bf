package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"spirit/vmctl"
)

// builtIn is the built-in definitions as the manager has them.
func builtIn(t *testing.T) map[string]vmctl.Definition {
	t.Helper()
	defs, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return vmctl.Merge(defs)
}

// userVMs is what the manager defines with the file at path.
func userVMs(t *testing.T, path string) map[string]vmctl.Definition {
	t.Helper()
	cfg, _, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defs, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return vmctl.Merge(defs, cfg.VM)
}

func TestDefaults(t *testing.T) {
	defs := builtIn(t)
	if got := slices.Sorted(maps.Keys(defs)); !slices.Equal(got, []string{"linux", "windows"}) {
		t.Fatalf("built-in VMs %q, want linux and windows", got)
	}
	l := defs["linux"]
	if l.Name != "linux" || l.OS != "linux" || l.Memory != "256M" || l.Cores != 1 || !l.Autostart || !l.Balloon ||
		l.Kernel != "build/guest/vmlinuz" || l.Initrd != "build/guest/initramfs.cpio.gz" ||
		l.Network.Mode != "none" || len(l.Disks) != 1 || l.Disks[0].Path != "build/guest/linux.qcow2" {
		t.Errorf("linux: %+v", l)
	}
	w := defs["windows"]
	if w.Memory != "8G" || w.Cores != 4 || w.Threads != 2 || w.Machine != "q35" || w.Firmware != "uefi" ||
		w.OVMFCode != "/usr/share/OVMF/OVMF_CODE_4M.fd" || w.OVMFVars != "/usr/share/OVMF/OVMF_VARS_4M.fd" ||
		!*w.HyperV || !w.Balloon || w.Autostart || w.Network.Model != "virtio-net" || w.Network.Mode != "user" ||
		len(w.Disks) != 1 || w.Disks[0].Path != "/var/lib/spirit/windows.qcow2" || w.Disks[0].Format != "qcow2" {
		t.Errorf("windows: %+v", w)
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spirit.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVMsOverDefaults(t *testing.T) {
	user := writeFile(t, `
[docker]          # not ours: left alone
default = "web"

[vm.windows]
os = "windows"
memory = "16G"

[vm.router]
os = "linux"
memory = "512M"
hugepages = true
`)
	defs := userVMs(t, user)
	w := defs["windows"]
	// Replaced whole: nothing of the built-in windows is left.
	if w.Memory != "16G" || w.Cores != 1 || len(w.Disks) != 0 || w.Balloon || w.Firmware != "uefi" {
		t.Errorf("windows: %+v", w)
	}
	if r := defs["router"]; r.Name != "router" || !r.HugePages || r.Machine != "q35" {
		t.Errorf("router: %+v", r)
	}
	if l := defs["linux"]; l.Kernel == "" {
		t.Errorf("the built-in linux is gone: %+v", l)
	}
	if w.Windows.Desktop {
		t.Errorf("windows: desktop set without [vm.windows.windows]")
	}
	desk := userVMs(t, writeFile(t, "[vm.w]\nos = \"windows\"\nmemory = \"1G\"\n[vm.w.windows]\ndesktop = true\n"))
	if !desk["w"].Windows.Desktop {
		t.Errorf("[vm.w.windows] desktop = true: %+v", desk["w"])
	}
	// Layers laid later replace a VM whole too.
	second := writeFile(t, "[vm.router]\nos = \"linux\"\nmemory = \"1G\"\n")
	defs = vmctl.Merge(defs, userVMs(t, second))
	if r := defs["router"]; r.Memory != "1G" || r.HugePages {
		t.Errorf("a later file did not replace router: %+v", r)
	}
}

func TestVMErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the error after "PATH:"
	}{
		{name: "unknown field", text: "[vm.w]\nos = \"linux\"\nmemroy = \"1G\"\n",
			want: `3:1: unknown field "vm.w.memroy" (known: vm.NAME.{os, memory, cores, threads, machine, firmware, ovmf_code, ovmf_vars, disks[].{path, format, interface, cache}, network.{model, mode, bridge}, agent_port, hugepages, cpu_pinning, balloon, hyperv, gpu, rom, extra_args, autostart, kernel, initrd, append, windows.{desktop}})`},
		{name: "unknown disk field", text: "[vm.w]\nos = \"linux\"\nmemory = \"1G\"\n[[vm.w.disks]]\npath = \"a\"\nsize = \"1G\"\n",
			want: `6:1: unknown field "vm.w.disks.size"`},
		{name: "wrong type", text: "[vm.w]\nos = \"linux\"\nmemory = 4\n",
			want: "3:10: vm.w.memory: cannot decode TOML integer into a string"},
		{name: "wrong type of table", text: "[vm.w]\nos = \"linux\"\nmemory = \"1G\"\ndisks = \"x\"\n",
			want: "4:9: vm.w.disks: cannot decode TOML string into an array of tables ([[vm.w.disks]])"},
		{name: "bad size", text: "[vm.w]\nos = \"linux\"\n\nmemory = \"4X\"\n",
			want: `4: vm.w.memory: "4X" is not a size (e.g. 4G, 512M)`},
		{name: "missing field points at the table", text: "# x\n[vm.w]\nos = \"linux\"\n",
			want: "2: vm.w.memory: missing (e.g. 4G, 512M)"},
		{name: "second disk table", text: "[vm.w]\nos = \"linux\"\nmemory = \"1G\"\n[[vm.w.disks]]\npath = \"a\"\nformat = \"raw\"\n[[vm.w.disks]]\npath = \"b\"\nformat = \"vmdk\"\n",
			want: `9: vm.w.disks[1].format: "vmdk": want "qcow2" or "raw"`},
		{name: "inline disk", text: "[vm.w]\nos = \"linux\"\nmemory = \"1G\"\n\ndisks = [{ path = \"a\", format = \"vmdk\" }]\n",
			want: `5: vm.w.disks[0].format: "vmdk": want "qcow2" or "raw"`},
		{name: "windows settings on linux", text: "[vm.w]\nos = \"linux\"\nmemory = \"1G\"\n[vm.w.windows]\ndesktop = true\n",
			want: `4: vm.w.windows: for a Windows guest (os = "windows"), not os = "linux"`},
		{name: "unknown windows field", text: "[vm.w]\nos = \"windows\"\nmemory = \"1G\"\n[vm.w.windows]\ndesk = true\n",
			want: `5:1: unknown field "vm.w.windows.desk"`},
		{name: "dotted keys", text: "vm.w.os = \"linux\"\nvm.w.memory = \"1G\"\nvm.w.gpu = [\"1:0.0\"]\n",
			want: `3: vm.w.gpu[0]: "1:0.0" is not a PCI address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.text)
			_, _, err := Load([]string{path})
			var ce *Error
			if !errors.As(err, &ce) || ce.Path != path || !strings.HasPrefix(err.Error(), path+":"+tt.want) {
				t.Errorf("error:\n%v\nwant a *Error that starts with:\n%s:%s", err, path, tt.want)
			}
		})
	}
}

func TestVMLines(t *testing.T) {
	data := []byte(`[vm.a]
os = "linux"
[[vm.a.disks]]
path = "x"
[[vm.a.disks]]
path = "y"
[vm.b]
memory = "1G"
`)
	tests := []struct {
		name string
		key  []string
		want int
	}{
		{"a", []string{"os"}, 2},
		{"a", []string{"disks", "0", "path"}, 4},
		{"a", []string{"disks", "1", "path"}, 6},
		{"a", []string{"disks", "1", "cache"}, 5}, // not set: its table
		{"a", []string{"memory"}, 1},              // not set: the VM's table
		{"b", []string{"memory"}, 8},
		{"c", []string{"memory"}, 0},
	}
	cfg := &Config{VM: map[string]vmctl.Definition{"a": {}, "b": {}}}
	cfg.place("spirit.toml", data)
	for _, tt := range tests {
		if got := cfg.VM[tt.name].Line(tt.key); got != tt.want {
			t.Errorf("Line(%s, %q) = %d, want %d", tt.name, tt.key, got, tt.want)
		}
	}
}
