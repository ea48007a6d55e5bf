package gpu

import (
	"context"
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

// ErrBlocked is wrapped by the error of a sysfs write that had not
// returned by its deadline: the kernel is still waiting (an unbind
// waits for the device's users to let go).
var ErrBlocked = errors.New("blocked in the kernel")

// Write writes value to the sysfs attribute at path (relative to the
// root), waiting until ctx ends. sysfs attributes exist already:
// nothing is created. An unbind never fails with EBUSY: the driver's
// remove waits for its users (nvidia's until its usage count drops,
// snd_hda_intel's until every /dev/snd file of the card is closed), so
// the write may block for as long as a user keeps the device open. The
// write then stays blocked in its thread, and its goroutine with it,
// until the kernel lets go (a user closing the device, or this process
// exiting); only the wait for it is given up.
func (k SysKernel) Write(ctx context.Context, path, value string) error {
	full := k.Sys.path(path)
	done := make(chan error, 1) // the writer never blocks on it
	go func() { done <- writeAttr(full, value) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("write %q to %s: %w", value, full, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("write %q to %s: %w (%w)", value, full, ErrBlocked, context.Cause(ctx))
	}
}

func writeAttr(full, value string) error {
	f, err := os.OpenFile(full, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Unload removes a module, without waiting for its users to go:
// delete_module with O_NONBLOCK refuses a module with holders or a
// non-zero refcount (EWOULDBLOCK), never hangs.
func (k SysKernel) Unload(_ context.Context, module string) error {
	err := unix.DeleteModule(moduleName(module), unix.O_NONBLOCK)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EWOULDBLOCK):
		return fmt.Errorf("unload module %s: it %w (refcount %s)", module, ErrModuleInUse, k.Sys.read(modules, moduleName(module), "refcnt"))
	}
	return fmt.Errorf("unload module %s: %w", module, err)
}

// ErrModuleInUse is wrapped by the refusal to unload a module that is
// still used.
var ErrModuleInUse = errors.New("is in use")

// Load loads a module and the modules it needs, as modprobe would, from
// the kernel's module tree, each with its modprobe.d options; params
// are the module's own, after those. Its drivers then take the devices
// they match: the kernel probes on registration.
func (k SysKernel) Load(ctx context.Context, module string, params []string) error {
	if k.Sys.ModuleLoaded(module) {
		return nil
	}
	files, err := k.Modules.Deps(module)
	if err != nil {
		return fmt.Errorf("load module %s: %w", module, err)
	}
	for i, file := range files {
		name := modName(file)
		if k.Sys.ModuleLoaded(name) {
			continue
		}
		args := k.Modules.Options(name)
		if i == len(files)-1 {
			args = append(args, params...)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("load module %s: %w", module, err)
		}
		if err := loadFile(file, strings.Join(args, " ")); err != nil {
			return fmt.Errorf("load module %s: %w", module, err)
		}
	}
	return nil
}

// compressedFile is finit_module's MODULE_INIT_COMPRESSED_FILE (Linux
// 6.4 and later decompress in the kernel).
const compressedFile = 4

func loadFile(file, args string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if ext := filepath.Ext(file); ext == ".xz" || ext == ".zst" || ext == ".gz" {
		flags = compressedFile
	}
	err = unix.FinitModule(int(f.Fd()), args, flags)
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case flags != 0 && errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%s: this kernel cannot load compressed modules itself (before Linux 6.4): modprobe %s", file,
			strings.TrimSuffix(filepath.Base(file), ".ko"+filepath.Ext(file)))
	}
	return fmt.Errorf("%s: %w", file, err)
}
