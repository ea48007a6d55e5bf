package vmctl_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"spirit/vmctl"
)

// TestCheckDef checks the built-in definitions as users get them:
// decoded by package config.
func TestCheckDef(t *testing.T) {
	base := t.TempDir()
	for _, f := range []string{"build/guest/vmlinuz", "build/guest/linux.qcow2"} {
		p := filepath.Join(base, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := problems(defaultVM(t, "linux").Check(base))
	want := []string{"vm.linux.initrd: " + filepath.Join(base, "build/guest/initramfs.cpio.gz") +
		": no such file; build the demo guest with: make guest (in the repository)"}
	if !slices.Equal(got, want) {
		t.Errorf("linux:\n%q\nwant:\n%q", got, want)
	}

	w := defaultVM(t, "windows")
	w.OVMFCode = filepath.Join(base, "build/guest/vmlinuz") // any file that is there
	w.OVMFVars = filepath.Join(base, "OVMF_VARS_4M.fd")
	w.Disks[0].Path = "win.qcow2"
	got = problems(w.Check(base))
	disk := filepath.Join(base, "win.qcow2")
	want = []string{
		"vm.windows.ovmf_vars: " + w.OVMFVars + ": no such file; install Debian's UEFI firmware: apt-get install ovmf",
		"vm.windows.disks[0].path: " + disk + ": no such file; create it with: qemu-img create -f qcow2 " + disk +
			` 64G, then install Windows on it (README, "Installing Windows")`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("windows:\n%q\nwant:\n%q", got, want)
	}
}

func problems(ps []vmctl.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}
