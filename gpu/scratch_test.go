package gpu_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKernelRemovesFramebuffer is the case of a 6.x desktop: binding
// vfio-pci to the boot GPU makes the kernel unregister the firmware
// framebuffer's platform device for good (sysfb_disable), and fbcon
// unregisters its vtconsole with the last framebuffer
// (fbcon_fb_unregistered). Reclaim must still bring the host's display
// back (the reloaded driver's fbdev with fbcon on it, or its DRM device
// when it gives no fbdev), leave no journal, and let a second
// passthrough work. On the code before this test, reclaim failed with
// "efi-framebuffer/bind: no such device" and kept the journal.
func TestKernelRemovesFramebuffer(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		fbAfter []string // the framebuffers after reclaim
	}{
		{"nvidia", []string{"nvidia_drmdrmfb"}},
		{"nvidia-efifb", nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			h := newHost(t, tc.fixture)
			if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
				t.Fatalf("%v\n%s", err, h.log)
			}
			for _, p := range []string{"devices/platform/efi-framebuffer.0", "class/vtconsole/vtcon1"} {
				if _, err := os.Lstat(filepath.Join(h.sim.Root, p)); err == nil {
					t.Errorf("%s is left after vfio-pci took the boot GPU", p)
				}
			}
			if did, err := h.h.Reclaim(t.Context()); err != nil || !did {
				t.Fatalf("reclaim: %v %v\n%s", did, err, h.log)
			}
			if h.journal() {
				t.Error("the journal is left")
			}
			if fbs := h.sim.Framebuffers(); !slices.Equal(fbs, tc.fbAfter) {
				t.Errorf("framebuffers after reclaim %q, want %q", fbs, tc.fbAfter)
			}
			_, err := os.Lstat(filepath.Join(h.sim.Root, "bus/pci/devices/0000:01:00.0/drm/card0"))
			if err != nil || !h.sim.UnitActive("display-manager.service") {
				t.Errorf("no display after reclaim: card0 %v, display manager active %v", err, h.sim.UnitActive("display-manager.service"))
			}
			if len(tc.fbAfter) > 0 && !h.sim.ConsoleBound("vtcon1") {
				t.Error("fbcon is not back on the driver's framebuffer")
			}
			if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
				t.Fatalf("a second passthrough: %v\n%s", err, h.log)
			}
			if did, err := h.h.Reclaim(t.Context()); err != nil || !did {
				t.Fatalf("a second reclaim: %v %v\n%s", did, err, h.log)
			}
		})
	}
}
