package shell

import (
	"fmt"
	"io"
	"log/slog"

	"spirit/config"
	"spirit/kinds"
	"spirit/target"
)

// NewTargets reads the configuration and registers every kind of target,
// as each spirit process that plans lines or stands in for a segment
// needs them. progress gets a line when a VM starts on first use. A bad
// configuration is reported to messages and left out: a login shell that
// refused to start over a typo would lock its user out.
func NewTargets(o Options, progress, messages io.Writer) *target.Registry {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, path, err := config.Load(config.Paths(o.Env))
	if err != nil {
		fmt.Fprintf(messages, "spirit: %v\nspirit: going on without this configuration file\n", err)
	} else if path != "" {
		log.Debug("configuration", "path", path)
	}
	vms := config.VMs(config.VMOptions{
		Env:       o.Env,
		Supervise: o.Supervise,
		Version:   o.Version,
		Progress:  progress,
		Log:       log,
	}, cfg, err)
	return kinds.New(kinds.Deps{
		Config:      cfg,
		AgentBinary: agentBinary(),
		VMs:         vms,
		Version:     o.Version,
		Log:         log,
	})
}
