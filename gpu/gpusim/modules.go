package gpusim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// users names what holds a reference on module m: an active unit, a
// bound console, a process with its device files open, or the users of
// a loaded holder.
func (s *Sim) users(m Module, seen map[string]bool) []string {
	if seen[m.Name] || !s.exists("module", m.Name) {
		return nil
	}
	seen[m.Name] = true
	var out []string
	for _, u := range m.UsedBy {
		kind, name, _ := strings.Cut(u, ":")
		switch {
		case kind == "unit" && s.UnitActive(name):
			out = append(out, name)
		case kind == "console" && s.consoleBound(name):
			out = append(out, "virtual console "+name)
		}
	}
	for _, p := range s.fx.Processes {
		if s.alive(p) && slices.ContainsFunc(p.Files, func(f string) bool { return matchAny(m.Dev, f) }) {
			out = append(out, fmt.Sprintf("pid %d (%s)", p.PID, strings.Join(p.Cmdline, " ")))
		}
	}
	for _, h := range m.Holders {
		if hm, ok := s.fx.module(h); ok {
			out = append(out, s.users(hm, seen)...)
		}
	}
	return out
}

func matchAny(globs []string, name string) bool {
	return slices.ContainsFunc(globs, func(g string) bool { ok, _ := filepath.Match(g, name); return ok })
}

// Unload unloads a module, as delete_module(name, O_NONBLOCK) does
// (kernel/module/main.c): a module with holders is refused with
// EWOULDBLOCK (its source_list is not empty: "other modules depend on
// us"), and so is one whose refcount is not zero (try_stop_module:
// try_release_module_ref fails, and without O_TRUNC nothing forces it).
func (s *Sim) Unload(_ context.Context, name string) error {
	what := "unload module " + name
	if err := s.op(what); err != nil {
		return err
	}
	err := s.unload(what, name)
	if serr := s.settle(); err == nil {
		err = serr
	}
	return err
}

func (s *Sim) unload(what, name string) error {
	m, ok := s.fx.module(name)
	if !ok || !s.exists("module", name) {
		return errno(what, syscall.ENOENT)
	}
	if m.BuiltIn {
		return errno(what, syscall.EPERM)
	}
	for _, h := range m.Holders {
		if s.exists("module", h) {
			return fmt.Errorf("%s: %w (used by module %s)", what, syscall.EWOULDBLOCK, h)
		}
	}
	if users := s.users(m, map[string]bool{}); len(users) > 0 {
		return fmt.Errorf("%s: %w (in use by %s)", what, syscall.EWOULDBLOCK, strings.Join(users, ", "))
	}
	for _, drv := range m.Drivers {
		entries, _ := os.ReadDir(s.p("bus/pci/drivers", drv))
		for _, e := range entries {
			if strings.Count(e.Name(), ":") == 2 {
				if err := s.unbindLinks(e.Name(), drv); err != nil {
					return err
				}
			}
		}
		if err := os.RemoveAll(s.p("bus/pci/drivers", drv)); err != nil {
			return err
		}
	}
	for _, o := range s.fx.Modules {
		os.Remove(s.p("module", o.Name, "holders", name))
	}
	return os.RemoveAll(s.p("module", name))
}

// Load loads a module after the modules it uses, as modprobe does, with
// params ("key=value") for the module itself; its drivers take the
// devices they match.
func (s *Sim) Load(_ context.Context, name string, params []string) error {
	what := "load module " + name
	if len(params) > 0 {
		what += " " + strings.Join(params, " ")
	}
	if err := s.op(what); err != nil {
		return err
	}
	err := s.load(strings.ReplaceAll(name, "-", "_"), params, 0)
	if serr := s.settle(); err == nil {
		err = serr
	}
	return err
}

func (s *Sim) load(name string, params []string, depth int) error {
	if s.exists("module", name) {
		return nil
	}
	m, ok := s.fx.module(name)
	if !ok || depth > 8 {
		return errno("load module "+name, syscall.ENOENT)
	}
	for _, o := range s.fx.Modules {
		if contains(o.Holders, name) {
			if err := s.load(o.Name, nil, depth+1); err != nil {
				return err
			}
		}
	}
	if err := s.loadOne(m, loadParams(m, params)); err != nil {
		return err
	}
	for _, drv := range m.Drivers {
		for _, d := range s.fx.Devices {
			if s.Driver(d.Address) == "" && s.matches(drv, d.Address) {
				if err := s.bindLinks(d.Address, drv); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// loadParams are the values of m's parameters after a load with args:
// those given (booleans shown as Y or N, as param_get_bool does), the
// others "N" (the fixtures' parameters default to off); unknown ones are ignored, as the kernel ignores them
// (with "unknown parameter ignored" in its log).
func loadParams(m Module, args []string) map[string]string {
	out := map[string]string{}
	for k := range m.Params {
		out[k] = "N"
	}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		if _, ok := out[k]; !ok {
			continue
		}
		if boot := m.Params[k]; boot == "Y" || boot == "N" {
			switch strings.ToLower(v) {
			case "1", "y", "yes", "true", "on":
				v = "Y"
			case "0", "n", "no", "false", "off":
				v = "N"
			}
		}
		out[k] = v
	}
	return out
}

// ModuleLoaded says whether a module is loaded.
func (s *Sim) ModuleLoaded(name string) bool { return s.exists("module", name) }

// Param is a loaded module's parameter, "" when absent.
func (s *Sim) Param(module, name string) string {
	b, _ := os.ReadFile(s.p("module", module, "parameters", name))
	return strings.TrimSpace(string(b))
}
