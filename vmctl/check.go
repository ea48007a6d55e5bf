package vmctl

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Problem is a file that a definition needs and the host lacks, with what
// to do about it.
type Problem struct {
	// VM and Key name the field that points at the file, as in a
	// FieldError.
	VM  string
	Key []string
	// Path is the file, resolved against the base directory.
	Path string
	Err  error
	// Fix says how to get the file.
	Fix string
}

func (p Problem) Error() string {
	f := FieldError{VM: p.VM, Key: p.Key, Msg: fmt.Sprintf("%s: %v", p.Path, p.Err)}
	return f.Error() + "; " + p.Fix
}

// WindowsDiskSize is the size suggested for a new Windows disk: Windows 11
// asks for 64 GB.
const WindowsDiskSize = "64G"

// Check reports the files of d (defaults applied) that are missing or
// cannot be read, relative paths resolved against base. It looks only at
// files: Validate has checked the values already.
func (d Definition) Check(base string) []Problem {
	d = d.WithDefaults()
	var out []Problem
	problem := func(path, fix string, key ...string) {
		resolved := resolve(base, path)
		if _, err := os.Stat(resolved); err != nil {
			out = append(out, Problem{VM: d.Name, Key: key, Path: resolved, Err: statError(err), Fix: fix})
		}
	}
	if d.Firmware == "uefi" {
		fix := "install Debian's UEFI firmware: apt-get install ovmf"
		problem(d.OVMFCode, fix, "ovmf_code")
		problem(d.OVMFVars, fix, "ovmf_vars")
	}
	for _, f := range []struct{ key, path string }{{"kernel", d.Kernel}, {"initrd", d.Initrd}} {
		if f.path != "" {
			problem(f.path, cmp.Or(demoFix(f.path), "fix the path, or build the kernel and initramfs it names"), f.key)
		}
	}
	for i, disk := range d.Disks {
		problem(disk.Path, d.diskFix(base, disk), "disks", strconv.Itoa(i), "path")
	}
	return out
}

// demoFix says how to make a file of the demo guest, "" for other files.
func demoFix(path string) string {
	if strings.HasPrefix(filepath.ToSlash(path), "build/guest/") {
		return "build the demo guest with: make guest (in the repository)"
	}
	return ""
}

// diskFix says how to make a missing disk image.
func (d Definition) diskFix(base string, disk Disk) string {
	path := resolve(base, disk.Path)
	if fix := demoFix(disk.Path); fix != "" {
		return fix
	}
	if d.OS == "windows" {
		return fmt.Sprintf("create it with: qemu-img create -f %s %s %s, then install Windows on it (README, \"Installing Windows\")",
			disk.Format, path, WindowsDiskSize)
	}
	return fmt.Sprintf("create it with: qemu-img create -f %s %s SIZE (e.g. 16G), or fix the path", disk.Format, path)
}

// statError keeps the cause of a stat failure without repeating the path,
// which the Problem already carries.
func statError(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("no such file")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// resolve makes a relative path of a definition relative to base (the
// repository, or an install prefix); an absolute one stays as it is.
func resolve(base, path string) string {
	if filepath.IsAbs(path) || base == "" {
		return path
	}
	return filepath.Join(base, path)
}
