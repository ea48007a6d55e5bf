package gpusim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"spirit/gpu"
)

// UnitActive says whether a unit is active.
func (s *Sim) UnitActive(name string) bool {
	b, _ := os.ReadFile(s.p(".sim/units", name))
	return strings.TrimSpace(string(b)) == "active"
}

// Active is Units.Active.
func (s *Sim) Active(_ context.Context, unit string) (bool, error) { return s.UnitActive(unit), nil }

// Loaded is Units.Loaded: the unit is installed.
func (s *Sim) Loaded(_ context.Context, unit string) (bool, error) {
	return s.exists(".sim/units", unit), nil
}

// Stop stops a unit; what ran in it ends with it.
func (s *Sim) Stop(_ context.Context, unit string) error {
	if err := s.op("stop " + unit); err != nil {
		return err
	}
	if !s.exists(".sim/units", unit) {
		return fmt.Errorf("stop %s: unit not loaded", unit)
	}
	if err := s.setUnit(unit, false); err != nil {
		return err
	}
	return s.settle()
}

// Start starts a unit.
func (s *Sim) Start(_ context.Context, unit string) error {
	if err := s.op("start " + unit); err != nil {
		return err
	}
	if !s.exists(".sim/units", unit) {
		return fmt.Errorf("start %s: unit not loaded", unit)
	}
	if err := s.setUnit(unit, true); err != nil {
		return err
	}
	return s.settle()
}

// SessionInfo is a logind session as the simulator reports it.
type SessionInfo struct {
	ID, Seat, Type, User string
}

// GraphicalSessions are the live sessions of seat whose type is x11,
// wayland or mir.
func (s *Sim) GraphicalSessions(_ context.Context, seat string) ([]SessionInfo, error) {
	var out []SessionInfo
	for _, se := range s.fx.Sessions {
		if se.Seat == seat && s.sessionAlive(se.ID) && slices.Contains([]string{"x11", "wayland", "mir"}, se.Type) {
			out = append(out, SessionInfo{ID: se.ID, Seat: se.Seat, Type: se.Type, User: se.User})
		}
	}
	return out, nil
}

// TerminateSession ends a session and its processes, as logind's
// TerminateSession does; one already gone is no error.
func (s *Sim) TerminateSession(_ context.Context, id string) error {
	if err := s.op("terminate session " + id); err != nil {
		return err
	}
	if err := os.Remove(s.p(".sim/sessions", id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return s.settle()
}

func (s *Sim) sessionAlive(id string) bool { return s.exists(".sim/sessions", id) }

// VMs is the simulated VM starter: a VM starts only when each of its
// functions is on vfio-pci, as QEMU's vfio-pci device needs.
type VMs struct{ *Sim }

// Start starts vm.
func (v VMs) Start(_ context.Context, vm string, functions []string) error {
	if err := v.op("start vm " + vm); err != nil {
		return err
	}
	for _, f := range functions {
		if drv := v.Driver(f); drv != "vfio-pci" {
			return fmt.Errorf("start vm %s: qemu: -device vfio-pci,host=%s: device is on %q, not vfio-pci", vm, f, drv)
		}
	}
	return os.WriteFile(v.p(".sim/vms", vm), []byte(strings.Join(functions, " ")+"\n"), 0o644)
}

// Stop stops vm.
func (v VMs) Stop(_ context.Context, vm string, _ time.Duration) error {
	if err := v.op("stop vm " + vm); err != nil {
		return err
	}
	err := os.Remove(v.p(".sim/vms", vm))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Check is gpu.VMs.Check: it gives the Sim's VMCheck.
func (v VMs) Check(context.Context, string) error { return v.VMCheck }

// Running says whether vm runs.
func (v VMs) Running(_ context.Context, vm string) (bool, error) {
	return v.exists(".sim/vms", vm), nil
}

// State is what a test compares before and after: every function's
// driver and override, units, modules loaded and their parameters, and
// whether the host has a display (a DRM device on the boot GPU, or a
// framebuffer) with fbcon on it. The firmware framebuffer and fbcon's
// vtconsole are not in it: the kernel removes them for good (see
// evictFirmwareFB), and their absence is no fault of the hand-over;
// before Linux 6.0 the firmware framebuffer is in it.
func (s *Sim) State() string {
	var lines []string
	for _, d := range s.fx.Devices {
		lines = append(lines, fmt.Sprintf("%s driver=%s override=%s", d.Address, s.Driver(d.Address), s.override(d.Address)))
		if d.BootVGA {
			lines = append(lines, fmt.Sprintf("display %s drm=%v", d.Address, s.hasDRM(d.Address)))
		}
	}
	for _, u := range s.fx.Units {
		lines = append(lines, fmt.Sprintf("unit %s active=%v", u.Name, s.UnitActive(u.Name)))
	}
	lines = append(lines, fmt.Sprintf("fbcon on every framebuffer=%v", s.fbconUp()))
	if !s.evicts() {
		// Before 6.0 nothing removes the firmware framebuffer: the
		// hand-over unbinds it, and must bind it again.
		for _, fb := range s.fx.Framebuffers {
			lines = append(lines, fmt.Sprintf("framebuffer %s driver=%s", fb.Name, s.link(filepath.Join("devices/platform", fb.Name, "driver"))))
		}
	}
	for _, m := range s.fx.Modules {
		if m.Name == "vfio_pci" { // loaded for the VM, it stays
			continue
		}
		line := fmt.Sprintf("module %s loaded=%v", m.Name, s.exists("module", m.Name))
		for _, k := range sortedKeys(m.Params) {
			line += fmt.Sprintf(" %s=%s", k, s.Param(m.Name, k))
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fbconUp says whether fbcon is where the kernel puts it: with no
// framebuffer, no vtconsole of fbcon's; with one, each bound.
func (s *Sim) fbconUp() bool {
	fbs := len(s.Framebuffers()) > 0
	for _, c := range s.fbcon() {
		if s.exists("class/vtconsole", c.Name) != fbs || fbs && !s.consoleBound(c.Name) {
			return false
		}
	}
	return true
}

// Framebuffers are the names of the framebuffers registered now
// (/sys/class/graphics/fbN/name).
func (s *Sim) Framebuffers() []string {
	entries, _ := os.ReadDir(s.p("class/graphics"))
	var out []string
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(s.p("class/graphics"), e.Name(), "name"))
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

// Sessions is the simulator as gpu.Sessions sees logind.
type Sessions struct{ *Sim }

// Graphical is gpu.Sessions.Graphical.
func (x Sessions) Graphical(ctx context.Context, seat string) ([]gpu.Session, error) {
	infos, err := x.GraphicalSessions(ctx, seat)
	out := make([]gpu.Session, len(infos))
	for i, in := range infos {
		out[i] = gpu.Session{ID: in.ID, Seat: in.Seat, Type: in.Type, User: in.User}
	}
	return out, err
}

// Terminate is gpu.Sessions.Terminate.
func (x Sessions) Terminate(ctx context.Context, id string) error { return x.TerminateSession(ctx, id) }

// IOMMUGroups counts the tree's IOMMU groups.
func (s *Sim) IOMMUGroups() int {
	entries, _ := os.ReadDir(s.p("kernel/iommu_groups"))
	return len(entries)
}
