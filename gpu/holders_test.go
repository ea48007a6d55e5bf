package gpu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"spirit/gpu"
	"spirit/gpu/gpusim"
)

// withExtra is fixture name with extra TOML appended, as a new file.
func withExtra(t *testing.T, name, extra string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/hosts", name+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name+".toml")
	if err := os.WriteFile(p, append(b, "\n"+extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHolderThatNeverLetsGo: a process outside the session keeps the
// GPU's files open. The passthrough ends at its deadline, names it with
// its command line, and gives everything back. A holder of the audio
// function's /dev/snd files is waited for before the unbind is written,
// so that no unbind is left pending in the kernel (it would complete
// once the holder lets go, after the rollback); one that /proc does not
// show (another PID namespace) lets the write block, to its own
// deadline.
func TestHolderThatNeverLetsGo(t *testing.T) {
	const unbindAudio = `write "0000:01:00.1" to bus/pci/devices/0000:01:00.1/driver/unbind`
	for _, tc := range []struct {
		name, process string
		err           any // what the error wraps: errors.As target or errors.Is sentinel
		says          []string
		unbindWritten bool
	}{
		{"snd held", `[[process]]
pid = 4242
cmdline = ["/usr/bin/audacity", "--record"]
files = ["/dev/snd/pcmC1D3p"]
`, gpu.ErrDeviceHeld, []string{"0000:01:00.1 is still held after 300ms", "pid 4242 (/usr/bin/audacity --record) holds /dev/snd/pcmC1D3p"}, false},
		{"snd unbind blocks", `[[process]]
pid = 4242
cmdline = ["/usr/bin/audacity", "--record"]
files = ["/dev/snd/pcmC1D3p"]
hidden = true
`, new(*gpu.BlockedError), []string{unbindAudio + ": the kernel had not done it after 300ms", "the write stays pending"}, true},
		{"nvidia held", `[[process]]
pid = 4343
cmdline = ["/usr/bin/nvtop"]
files = ["/dev/nvidia0"]
`, gpu.ErrModuleInUse, []string{"module nvidia is in use (refcount 1 after 300ms)", "pid 4343 (/usr/bin/nvtop) holds /dev/nvidia0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := buildHost(t, withExtra(t, "nvidia", tc.process), nil)
			before := h.sim.State()
			err := h.h.Passthrough(t.Context(), "win", "")
			if !matches(err, tc.err) || !strings.Contains(err.Error(), "the host has its GPU and display back") {
				t.Fatalf("passthrough: %v, want %T, rolled back\n%s", err, tc.err, h.log)
			}
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q: %v", want, err)
				}
			}
			if written := slices.ContainsFunc(h.sim.Log(), func(l string) bool { return l == unbindAudio }); written != tc.unbindWritten {
				t.Errorf("the audio function's unbind written: %v, want %v", written, tc.unbindWritten)
			}
			if after := h.sim.State(); after != before || h.journal() {
				t.Errorf("journal %v; state:\n%s\nwant:\n%s", h.journal(), after, before)
			}
			t.Logf("%v", err)
		})
	}
}

// TestModuleParameters: the parameters nvidia_drm ran with are back
// after reclaim (with fbdev=N, a reload would give the host no fbdev,
// and GDM no Wayland); vfio-pci gets disable_idle_d3=1 and modprobe.d's
// options.
func TestModuleParameters(t *testing.T) {
	h := newHost(t, "nvidia")
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "vfio.conf"), []byte("# the user's\noptions vfio-pci disable_vga=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := simOptions(h.sim, h.dir, nil, h.log)
	o.Host.Modules.Conf = []string{conf}
	h.h = gpu.New(o)
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatalf("%v\n%s", err, h.log)
	}
	for _, p := range [][3]string{{"vfio_pci", "disable_idle_d3", "Y"}, {"vfio_pci", "disable_vga", "Y"}} {
		if got := h.sim.Param(p[0], p[1]); got != p[2] {
			t.Errorf("%s %s=%q, want %q", p[0], p[1], got, p[2])
		}
	}
	if _, err := h.h.Reclaim(t.Context()); err != nil {
		t.Fatalf("%v\n%s", err, h.log)
	}
	for _, p := range [][3]string{{"nvidia_drm", "modeset", "Y"}, {"nvidia_drm", "fbdev", "Y"}, {"nvidia", "NVreg_PreserveVideoMemoryAllocations", "1"}} {
		if got := h.sim.Param(p[0], p[1]); got != p[2] {
			t.Errorf("after reclaim %s %s=%q, want %q", p[0], p[1], got, p[2])
		}
	}
	if !strings.Contains(h.log.String(), "unload module nvidia_drm (fbdev=Y modeset=Y)") {
		t.Errorf("the progress does not show the parameters recorded:\n%s", h.log)
	}
}

// TestDisplayUnits: [gpu] display_units = ["nexus-hud.service"] stops
// exactly that unit and starts it again; left at its default, the HUD
// keeps the GPU and the passthrough rolls back; a unit not installed is
// refused before any change.
func TestDisplayUnits(t *testing.T) {
	h := newHost(t, "nexus-hud")
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatalf("%v\n%s", err, h.log)
	}
	units := func(verb string) []string {
		var out []string
		for _, l := range h.sim.Log() {
			if u, ok := strings.CutPrefix(l, verb+" "); ok && strings.HasSuffix(u, ".service") {
				out = append(out, u)
			}
		}
		return out
	}
	if got := units("stop"); !slices.Equal(got, []string{"nexus-hud.service", "nvidia-persistenced.service"}) {
		t.Errorf("passthrough stopped %q", got)
	}
	if _, err := h.h.Reclaim(t.Context()); err != nil || !h.sim.UnitActive("nexus-hud.service") {
		t.Fatalf("reclaim: %v, nexus-hud active %v\n%s", err, h.sim.UnitActive("nexus-hud.service"), h.log)
	}
	if got := units("start"); !slices.Equal(got, []string{"nvidia-persistenced.service", "nexus-hud.service"}) {
		t.Errorf("reclaim started %q", got)
	}

	d := buildHost(t, "testdata/hosts/nexus-hud.toml", nil)
	before := d.sim.State()
	err := d.h.Passthrough(t.Context(), "win", "")
	if !errors.Is(err, gpu.ErrModuleInUse) || !strings.Contains(err.Error(), "the host has its GPU and display back") || d.sim.State() != before {
		t.Errorf("passthrough with the default display units on the HUD's host: %v", err)
	}

	n := buildHost(t, "testdata/hosts/nexus-hud.toml", []string{"nexus-hub.service"})
	err = n.h.Passthrough(t.Context(), "win", "")
	if err == nil || !strings.Contains(err.Error(), "display unit nexus-hub.service ([gpu] display_units) is not installed") || n.sim.Ops() != 0 {
		t.Errorf("passthrough with a display unit not installed: %v, %d changes", err, n.sim.Ops())
	}
}

// TestOwnSession: a passthrough typed in the graphical session it must
// end is refused before it changes anything.
func TestOwnSession(t *testing.T) {
	h := newHost(t, "nvidia")
	o := simOptions(h.sim, h.dir, nil, h.log)
	o.Sessions = selfSession{gpusim.Sessions{Sim: h.sim}}
	err := gpu.New(o).Passthrough(t.Context(), "win", "")
	if !errors.Is(err, gpu.ErrOwnSession) || !strings.Contains(err.Error(), "Ctrl+Alt+F3") || h.sim.Ops() != 0 {
		t.Errorf("passthrough from the session: %v, %d changes", err, h.sim.Ops())
	}
}

// selfSession says that the process runs in each session.
type selfSession struct{ gpusim.Sessions }

func (s selfSession) Graphical(ctx context.Context, seat string) ([]gpu.Session, error) {
	ss, err := s.Sessions.Graphical(ctx, seat)
	for i := range ss {
		ss[i].Self = true
	}
	return ss, err
}

// TestNoDisplayAfterReclaim: a driver that comes back without its DRM
// device (here nvidia_drm loaded with modeset=N) is waited for, bounded,
// and the reclaim says the host has no display and keeps the journal,
// rather than starting the display units on nothing and calling it done.
func TestNoDisplayAfterReclaim(t *testing.T) {
	h := newHost(t, "nvidia")
	if err := h.h.Passthrough(t.Context(), "win", ""); err != nil {
		t.Fatalf("%v\n%s", err, h.log)
	}
	p := filepath.Join(h.dir, "journal")
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), `"modeset=Y"`) {
		t.Fatalf("the journal does not record modeset=Y: %v\n%s", err, b)
	}
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), `"modeset=Y"`, `"modeset=N"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = h.h.Reclaim(t.Context())
	for _, want := range []string{"0000:01:00.0 has no DRM device after 300ms", "the host has no display", "the journal in"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("reclaim: %v, want it to say %q", err, want)
		}
	}
	if !h.journal() {
		t.Error("the journal is gone")
	}
}
