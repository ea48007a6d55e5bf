package shell

import (
	"context"
	"errors"
	"os"
	"time"

	"spirit/vmctl"
	"spirit/vmctl/control"
)

// VMs makes the manager of the virtual machines: the built-in definitions
// with those of cfg laid over them, kept where this user keeps VMs.
// cfgErr is why the configuration could not be read: then no VM is
// usable, rather than the built-in one standing in for the user's.
func VMs(o Options, cfg *Config, cfgErr error) *vmctl.Manager {
	defaults, err := vmctl.Defaults()
	if err != nil {
		// The embedded file is tested; this is a broken build.
		panic(err)
	}
	exe, _ := os.Executable()
	places, perr := vmctl.PlacesFor(o.Env, os.Getuid(), exe)
	if cfgErr != nil {
		perr = errors.New("the configuration file has errors (reported when the shell started): fix it to use VMs")
	}
	return vmctl.NewManager(vmctl.ManagerOptions{
		Defs:      vmctl.Merge(defaults, cfg.VM),
		Places:    places,
		Unusable:  perr,
		Supervise: o.Supervise,
		Version:   o.Version,
		Progress:  errOut(o),
		Log:       o.Log,
	})
}

// LoadVMs reads the configuration and makes the VMs' manager, for the
// vm commands: a configuration that cannot be read is an error here,
// since the command may be about the very VM it defines.
func LoadVMs(o Options) (*vmctl.Manager, error) {
	cfg, _, err := LoadConfig(ConfigPaths(o.Env))
	if err != nil {
		return nil, err
	}
	return VMs(o, cfg, nil), nil
}

// vmStates are the VMs that are not stopped, for the prompt. A VM whose
// supervisor does not answer at once is left out: the prompt must not
// wait.
func (s *shell) vmStates(ctx context.Context) []vmState {
	vms := s.targets.VMs()
	if vms == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var out []vmState
	for _, name := range vms.Names() {
		st, err := vms.Status(ctx, name)
		if err != nil || st.State == control.StateStopped {
			continue
		}
		out = append(out, vmState{name, st.State})
	}
	return out
}
