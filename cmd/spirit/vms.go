package main

import (
	"spirit/config"
	"spirit/shell"
	"spirit/vmctl"
)

// vmOptions are what the VMs' manager needs of the command's options.
func vmOptions(o *shell.Options) config.VMOptions {
	vo := config.VMOptions{Env: o.Env, Supervise: o.Supervise, Version: o.Version, Log: o.Log}
	if o.Stderr != nil {
		vo.Progress = o.Stderr
	}
	return vo
}

// loadVMs reads the configuration and makes the VMs' manager, for the
// vm, gpu and doctor commands: a configuration with errors fails them.
func loadVMs(o *shell.Options) (*vmctl.Manager, error) {
	return config.LoadVMs(vmOptions(o))
}
