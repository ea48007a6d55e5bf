// Package config reads spirit.toml: every section of it ([docker],
// [agents.NAME], [vm.NAME], [qemu], [gpu]) and the built-in VM definitions, with one
// strict decoder, so that a mistake gets one message, in TOML's words,
// with its file, line and key, whichever command reads it. It also makes
// the VMs' manager from what it read.
//
// It decodes and places; it does not say what a value means beyond its
// type: vmctl owns what a VM definition means (Definition.Validate), the
// docker and agent backends what their tables configure. Nothing that
// runs a VM's supervisor imports it: a running VM must not depend on
// the file as it is now.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"spirit/internal/envlist"
	"spirit/internal/rootfile"
	"spirit/vmctl"
)

// Config is what spirit.toml says.
type Config struct {
	Docker Docker `toml:"docker"`
	// Agents are targets reached through a spirit-agent at a fixed
	// address, one table per target: [agents.NAME].
	Agents map[string]Agent `toml:"agents"`
	// VM are the user's virtual machines, [vm.NAME], as written (their
	// Source and Lines set): vmctl.Merge lays them over the built-in
	// ones.
	VM map[string]vmctl.Definition `toml:"vm"`
	// QEMU is how the VMs' QEMU runs.
	QEMU QEMU `toml:"qemu"`
	// GPU is how spirit gpu hands the GPU over.
	GPU GPU `toml:"gpu"`
}

// GPU is the [gpu] table.
type GPU struct {
	// DisplayUnits are the systemd units that show the host's display
	// on the boot GPU: a passthrough stops them, a reclaim starts them.
	// Empty means display-manager.service. gpu checks them when it
	// plans (a service's name, installed).
	DisplayUnits []string `toml:"display_units"`
}

// QEMU is the [qemu] table.
type QEMU struct {
	// User is who a root spirit runs QEMU as; empty means
	// vmctl.DefaultQEMUUser. "root" runs it as root, with a note at
	// each start.
	User string `toml:"user"`
}

// Agent is an [agents.NAME] table.
type Agent struct {
	// Address is where the agent listens: "unix:PATH".
	Address string `toml:"address"`
}

// Docker is the [docker] table.
type Docker struct {
	// Default is the container that a bare "@docker" means. Empty means
	// the only running container.
	Default string `toml:"default"`
	// Agent lists the containers whose commands go through a spirit
	// agent started once inside them rather than an Engine exec each;
	// "*" means every container.
	Agent []string `toml:"agent"`
}

// Paths lists the configuration files in the order they are tried: the
// user's ($XDG_CONFIG_HOME/spirit/spirit.toml, by default
// ~/.config/spirit/spirit.toml), then the system's.
func Paths(env []string) []string {
	var paths []string
	if dir := envlist.UserDir(env, "XDG_CONFIG_HOME", ".config"); dir != "" {
		paths = append(paths, filepath.Join(dir, "spirit", "spirit.toml"))
	}
	return append(paths, "/etc/spirit/spirit.toml")
}

// Load reads the first of paths that exists and returns its
// configuration and its path. As root it takes only a file that root owns
// under directories that only root can change, and refuses any other (a
// *rootfile.RefusedError that names it and says why). The first file found is the whole
// configuration: a user's file replaces the system's rather than merging
// with it, so what a user reads in their file is what applies. No file at
// all is the empty configuration; so is a file with errors, beside the
// error (a *Error, or several joined).
func Load(paths []string) (*Config, string, error) {
	for _, p := range paths {
		// As root, only a file that only root can change: under sudo -E
		// the user's file would reach a root QEMU.
		data, err := rootfile.ReadFile(p, os.Geteuid() == 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &Config{}, p, fmt.Errorf("config: %w", err)
		}
		cfg, err := Parse(p, data)
		return cfg, p, err
	}
	return &Config{}, "", nil
}

// Parse decodes data, the file path, strictly (an unknown table or field
// is an error, so that a misspelt "defualt" is not silently ignored) and
// checks it. On an error it returns the empty configuration.
func Parse(path string, data []byte) (*Config, error) {
	var cfg Config
	if err := decode(path, data, &cfg); err != nil {
		return &Config{}, err
	}
	cfg.place(path, data)
	if err := cfg.check(path, data); err != nil {
		return &Config{}, err
	}
	return &cfg, nil
}
