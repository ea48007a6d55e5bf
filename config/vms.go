package config

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"spirit/vmctl"
)

// Defaults returns the built-in VM definitions (vmctl's default.toml),
// decoded and checked as a spirit.toml is, as written: see vmctl.Merge.
func Defaults() (map[string]vmctl.Definition, error) {
	cfg, err := Parse(vmctl.DefaultsFile, vmctl.DefaultsTOML())
	if err != nil {
		return nil, err
	}
	return cfg.VM, nil
}

// ErrBadConfig is why no VM is usable in a shell that went on without
// its configuration file.
var ErrBadConfig = errors.New("the configuration file has errors (reported when the shell started): fix it to use VMs")

// VMOptions are what the VMs' manager needs besides the configuration.
type VMOptions struct {
	Env []string // NAME=value: where this user keeps VMs
	// Supervise is the command that starts a VM's supervisor (see
	// vmctl.ManagerOptions).
	Supervise []string
	// Version is spirit's, told to the guests' agents.
	Version string
	// Progress gets a line when a VM starts on first use (the shell's
	// stderr); nil says nothing.
	Progress io.Writer
	Log      *slog.Logger
}

// VMs makes the manager of the virtual machines: the built-in definitions
// with those of cfg laid over them, kept where this user keeps VMs.
// cfgErr is why the configuration could not be read: then no VM is
// usable, rather than the built-in one standing in for the user's.
func VMs(o VMOptions, cfg *Config, cfgErr error) *vmctl.Manager {
	defaults, err := Defaults()
	if err != nil {
		// The embedded file is tested; this is a broken build.
		panic(err)
	}
	exe, _ := os.Executable()
	places, perr := vmctl.PlacesFor(o.Env, os.Getuid(), exe)
	if cfgErr != nil {
		perr = ErrBadConfig
	}
	return vmctl.NewManager(vmctl.ManagerOptions{
		Defs:      vmctl.Merge(defaults, cfg.VM),
		Places:    places,
		Unusable:  perr,
		Supervise: o.Supervise,
		UID:       os.Geteuid(),
		QEMUUser:  cfg.QEMU.User,
		Version:   o.Version,
		Progress:  o.Progress,
		Log:       o.Log,
	})
}

// LoadVMs reads the configuration and makes the VMs' manager, for the
// vm, gpu and doctor commands: a configuration that cannot be read is an
// error here, since the command may be about the very VM it defines.
func LoadVMs(o VMOptions) (*vmctl.Manager, error) {
	cfg, _, err := Load(Paths(o.Env))
	if err != nil {
		return nil, err
	}
	return VMs(o, cfg, nil), nil
}
