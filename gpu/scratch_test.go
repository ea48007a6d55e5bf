package gpu_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKernelRemovesFramebuffer is the case of a 6.x desktop whose
// firmware framebuffer (efifb or simpledrm) carries fbcon: binding
// vfio-pci to the boot GPU makes the kernel unregister the framebuffer's
// platform device for good (sysfb_disable), and fbcon unregisters its
// vtconsole with the last framebuffer (fbcon_fb_unregistered). Reclaim
// must still bring the host's display back, leave no journal, and let a
// second passthrough work.
func TestKernelRemovesFramebuffer(t *testing.T) {
	h := newHost(t, "nvidia")
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatalf("%v\n%s", err, h.log)
	}
	// What Linux 6.x has done by now, whatever the simulator did.
	for _, p := range []string{"devices/platform/efi-framebuffer.0", "bus/platform/devices/efi-framebuffer.0",
		"bus/platform/drivers/efi-framebuffer/efi-framebuffer.0", "class/vtconsole/vtcon1"} {
		if err := os.RemoveAll(filepath.Join(h.sim.Root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if did, err := h.h.Reclaim(t.Context()); err != nil || !did {
		t.Fatalf("reclaim: %v %v\n%s", did, err, h.log)
	}
	if h.journal() {
		t.Error("the journal is left")
	}
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatalf("a second passthrough: %v\n%s", err, h.log)
	}
}
