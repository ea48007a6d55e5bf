package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"spirit/internal/tomlpos"
	"spirit/target"
	"spirit/vmctl"
)

// validContainer is Docker's own rule for container names.
var validContainer = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// check reports values that decode but cannot work, with their place in
// data, the file path.
func (c *Config) check(path string, data []byte) error {
	at := func(key ...string) *Error {
		return &Error{Path: path, Line: tomlpos.Line(data, key...), Key: strings.Join(key, ".")}
	}
	if n := c.Docker.Default; n != "" && !validContainer.MatchString(n) {
		e := at("docker", "default")
		e.Msg = fmt.Sprintf("docker.default: %q is not a container name (letters, digits, then also _ . -)", n)
		return e
	}
	for _, n := range c.Docker.Agent {
		if n != "*" && !validContainer.MatchString(n) {
			e := at("docker", "agent")
			e.Msg = fmt.Sprintf("docker.agent: %q is not a container name (letters, digits, then also _ . -) nor \"*\"", n)
			return e
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Agents)) {
		e := at("agents", name, "address")
		if err := target.CheckName("target", name); err != nil {
			e.Key, e.Msg, e.Err = "agents."+name, fmt.Sprintf("agents.%s: %v", name, err), err
			return e
		}
		if addr := c.Agents[name].Address; !strings.HasPrefix(addr, "unix:/") {
			e.Msg = fmt.Sprintf("agents.%s.address: %q: want unix:/ABSOLUTE/PATH", name, addr)
			return e
		}
	}
	return c.checkVMs()
}

// checkVMs runs vmctl's validation of each [vm.NAME], and places what it
// finds with the lines the definition carries: the VM's supervisor
// places its own check of the same definition so.
func (c *Config) checkVMs() error {
	for _, name := range slices.Sorted(maps.Keys(c.VM)) {
		d := c.VM[name]
		if err := d.Validate(name); err != nil {
			e := &Error{Path: d.Source, Key: "vm." + name, Msg: err.Error(), Err: err}
			var fe *vmctl.FieldError
			if errors.As(err, &fe) {
				e.Line = d.Line(fe.Key)
				e.Key = strings.Join(append([]string{"vm", name}, fe.Key...), ".")
			}
			return e
		}
		if _, ok := c.Agents[name]; ok {
			return &Error{Path: d.Source, Line: d.Line(nil), Key: "vm." + name,
				Msg: fmt.Sprintf("vm.%s: @%s is already an agent target ([agents.%s])", name, name, name)}
		}
	}
	return nil
}

// place gives each definition its file and the lines of its fields in
// data.
func (c *Config) place(path string, data []byte) {
	for name, d := range c.VM {
		d.Source, d.Lines = path, tomlpos.Lines(data, "vm", name)
		c.VM[name] = d
	}
}
