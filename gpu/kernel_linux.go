package gpu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SysKernel is the real Kernel: sysfs writes and the module syscalls.
type SysKernel struct {
	Sys     Sys
	Modules Modules
}

// Write writes value to the sysfs attribute at path (relative to the
// root). sysfs attributes exist already: nothing is created.
func (k SysKernel) Write(path, value string) error {
	full := k.Sys.path(path)
	f, err := os.OpenFile(full, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, full, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, full, err)
	}
	return nil
}

// Unload removes a module, without waiting for its users to go: one in
// use is an error (EBUSY or EWOULDBLOCK), never a hang.
func (k SysKernel) Unload(module string) error {
	err := unix.DeleteModule(moduleName(module), unix.O_NONBLOCK)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EWOULDBLOCK):
		return fmt.Errorf("unload module %s: it is in use (refcount %s; lsmod and fuser -v /dev/nvidia* /dev/dri/* show by what)",
			module, k.Sys.read(modules, moduleName(module), "refcnt"))
	}
	return fmt.Errorf("unload module %s: %w", module, err)
}

// Load loads a module and the modules it needs, as modprobe would, from
// the kernel's module tree. Its drivers then take the devices they
// match: the kernel probes on registration.
func (k SysKernel) Load(module string) error {
	if k.Sys.ModuleLoaded(module) {
		return nil
	}
	files, err := k.Modules.Deps(module)
	if err != nil {
		return fmt.Errorf("load module %s: %w", module, err)
	}
	for _, file := range files {
		if k.Sys.ModuleLoaded(modName(file)) {
			continue
		}
		if err := loadFile(file); err != nil {
			return fmt.Errorf("load module %s: %w", module, err)
		}
	}
	return nil
}

// compressedFile is finit_module's MODULE_INIT_COMPRESSED_FILE (Linux
// 6.4 and later decompress in the kernel).
const compressedFile = 4

func loadFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if ext := filepath.Ext(file); ext == ".xz" || ext == ".zst" || ext == ".gz" {
		flags = compressedFile
	}
	err = unix.FinitModule(int(f.Fd()), "", flags)
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case flags != 0 && errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%s: this kernel cannot load compressed modules itself (before Linux 6.4): modprobe %s", file,
			strings.TrimSuffix(filepath.Base(file), ".ko"+filepath.Ext(file)))
	}
	return fmt.Errorf("%s: %w", file, err)
}
