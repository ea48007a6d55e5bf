package shell

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"spirit/internal/envlist"
	"spirit/internal/tomlpos"
	"spirit/target"
	"spirit/vmctl"
)

// Config is what the shell reads from spirit.toml.
type Config struct {
	Docker DockerConfig `toml:"docker"`
	// Agents are targets reached through a spirit-agent at a fixed
	// address, one table per target: [agents.NAME].
	Agents map[string]AgentConfig `toml:"agents"`
	// VM are the user's virtual machines, [vm.NAME], as written: vmctl
	// owns their meaning, and lays them over its built-in ones. They are
	// decoded here because strict decoding rejects tables that nothing
	// claims.
	VM map[string]vmctl.Definition `toml:"vm"`
}

// AgentAddresses maps each [agents.NAME] to its address.
func (c *Config) AgentAddresses() map[string]string {
	out := make(map[string]string, len(c.Agents))
	for name, a := range c.Agents {
		out[name] = a.Address
	}
	return out
}

// AgentConfig is an [agents.NAME] table.
type AgentConfig struct {
	// Address is where the agent listens: "unix:PATH".
	Address string `toml:"address"`
}

// DockerConfig is the [docker] table.
type DockerConfig struct {
	// Default is the container that a bare "@docker" means. Empty means
	// the only running container.
	Default string `toml:"default"`
	// Agent lists the containers whose commands go through a spirit
	// agent started once inside them rather than an Engine exec each;
	// "*" means every container.
	Agent []string `toml:"agent"`
}

// goField is the Go side of go-toml's type errors.
var goField = regexp.MustCompile(`into struct field \S+ of type (\S+)`)

// validContainer is Docker's own rule for container names.
var validContainer = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// check reports values that decode but cannot work, with their place in
// data.
func (c *Config) check(path string, data []byte) error {
	if n := c.Docker.Default; n != "" && !validContainer.MatchString(n) {
		return fmt.Errorf("%s:%d: docker.default: %q is not a container name (letters, digits, then also _ . -)",
			path, tomlpos.Line(data, "docker", "default"), n)
	}
	for _, n := range c.Docker.Agent {
		if n != "*" && !validContainer.MatchString(n) {
			return fmt.Errorf("%s:%d: docker.agent: %q is not a container name (letters, digits, then also _ . -) nor \"*\"",
				path, tomlpos.Line(data, "docker", "agent"), n)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Agents)) {
		line := tomlpos.Line(data, "agents", name, "address")
		if err := target.CheckName("target", name); err != nil {
			return fmt.Errorf("%s:%d: agents.%s: %w", path, line, name, err)
		}
		if addr := c.Agents[name].Address; !strings.HasPrefix(addr, "unix:/") {
			return fmt.Errorf("%s:%d: agents.%s.address: %q: want unix:/ABSOLUTE/PATH", path, line, name, addr)
		}
	}
	return c.checkVMs(path, data)
}

// checkVMs runs vmctl's validation of each [vm.NAME]. vmctl finds the
// line, as it knows where an array of tables puts an indexed field.
func (c *Config) checkVMs(path string, data []byte) error {
	for _, name := range slices.Sorted(maps.Keys(c.VM)) {
		if err := c.VM[name].Validate(name); err != nil {
			line := 0
			var fe *vmctl.FieldError
			if errors.As(err, &fe) {
				line = vmctl.Line(data, name, fe.Key)
			}
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if _, ok := c.Agents[name]; ok {
			return fmt.Errorf("%s:%d: vm.%s: @%s is already an agent target ([agents.%s])", path, vmctl.Line(data, name, nil), name, name, name)
		}
	}
	return nil
}

// ConfigPaths lists the configuration files in the order they are tried:
// the user's ($XDG_CONFIG_HOME/spirit/spirit.toml, by default
// ~/.config/spirit/spirit.toml), then the system's.
func ConfigPaths(env []string) []string {
	var paths []string
	if dir := userDir(env, "XDG_CONFIG_HOME", ".config"); dir != "" {
		paths = append(paths, filepath.Join(dir, "spirit", "spirit.toml"))
	}
	return append(paths, "/etc/spirit/spirit.toml")
}

// LoadConfig reads the first of paths that exists and returns its
// configuration and its path. The first file found is the whole
// configuration: a user's file replaces the system's rather than merging
// with it, so what a user reads in their file is what applies. No file at
// all is the empty configuration.
func LoadConfig(paths []string) (*Config, string, error) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &Config{}, p, fmt.Errorf("config: %w", err)
		}
		cfg, err := parseConfig(p, data)
		return cfg, p, err
	}
	return &Config{}, "", nil
}

// parseConfig decodes data strictly: an unknown table or field is an error,
// so that a misspelt "defualt" is not silently ignored.
func parseConfig(path string, data []byte) (*Config, error) {
	var cfg Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&cfg)
	if err == nil {
		if err := cfg.check(path, data); err != nil {
			return &Config{}, err
		}
		for name, d := range cfg.VM {
			d.Source = path
			cfg.VM[name] = d
		}
		return &cfg, nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		msgs := make([]string, len(strict.Errors))
		for i, e := range strict.Errors {
			line, col := e.Position()
			msgs[i] = fmt.Sprintf("%s:%d:%d: unknown field %q (known: docker.default, docker.agent, agents.NAME.address, vm.NAME.%s)",
				path, line, col, strings.Join(e.Key(), "."), vmctl.Fields())
		}
		return &Config{}, errors.New(strings.Join(msgs, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		// Name the TOML type wanted, not the Go field.
		msg = goField.ReplaceAllString(msg, "into a $1")
		if k := de.Key(); len(k) > 0 && !strings.Contains(msg, strings.Join(k, ".")) {
			msg = strings.Join(k, ".") + ": " + msg
		}
		return &Config{}, fmt.Errorf("%s:%d:%d: %s", path, line, col, msg)
	}
	return &Config{}, fmt.Errorf("%s: %w", path, err)
}

// userDir is $name, or $HOME/fallback when it is unset or not absolute (as
// the XDG base directory specification says).
func userDir(env []string, name, fallback string) string {
	if dir := getenv(env, name); filepath.IsAbs(dir) {
		return dir
	}
	if home := getenv(env, "HOME"); home != "" {
		return filepath.Join(home, fallback)
	}
	return ""
}

// getenv looks a variable up in a NAME=value list.
func getenv(env []string, name string) string { return envlist.Get(env, name) }

// agentBinary is the spirit-agent that containers named in docker.agent
// get: the one installed beside this spirit (bin/spirit-agent beside
// bin/spirit). It is not checked here: a missing one only means the
// Engine's exec is used.
func agentBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(exe), "spirit-agent")
}
