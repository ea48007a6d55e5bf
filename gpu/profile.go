package gpu

import (
	"errors"
	"fmt"
	"slices"
)

// Profile is what a passthrough on this host may act on besides the
// GPU's own functions: the systemd units it may stop and the kernel
// modules it may unload. A journal is read back as root and replayed
// (units started, modules loaded), so a line that names anything else is
// refused rather than acted on.
type Profile struct {
	Units   []string
	Modules []string // module names, with '_' (nvidia_drm)
}

// DefaultProfile is the units that hold a GPU on desktop hosts (the
// display manager, NVIDIA's persistence daemon) and the modules of the
// GPU drivers of the PCI display controllers passed through in practice,
// with the modules that hold them.
func DefaultProfile() Profile {
	return Profile{
		Units: []string{displayManager, persistenced},
		Modules: []string{
			"nvidia", "nvidia_modeset", "nvidia_drm", "nvidia_uvm", "nvidia_peermem",
			"nouveau", "amdgpu", "radeon", "i915", "xe",
		},
	}
}

// ErrNotInProfile is wrapped by the refusal of a unit or a module that
// the GPU profile does not name, in a journal or in a plan.
var ErrNotInProfile = errors.New("is not in the GPU profile")

// allows refuses a step that names a unit or a module outside p.
func (p Profile) allows(s Step) error {
	switch {
	case s.Kind == stepStopUnit && !slices.Contains(p.Units, s.Name):
		return fmt.Errorf("unit %s %w (units: %v)", s.Name, ErrNotInProfile, p.Units)
	case s.Kind == stepUnloadModule && !slices.Contains(p.Modules, moduleName(s.Name)):
		return fmt.Errorf("module %s %w (modules: %v)", s.Name, ErrNotInProfile, p.Modules)
	}
	return nil
}
