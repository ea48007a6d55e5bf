package gpu_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"spirit/gpu"
)

// TestJournalOutsideProfile: a journal that names a unit or a module the
// GPU profile does not name is refused, and nothing it says is done,
// whichever operation reads it.
func TestJournalOutsideProfile(t *testing.T) {
	const begin = `{"begin":{"vm":"win","gpu":"0000:01:00.0","drivers":{"0000:01:00.0":"nvidia"}}}` + "\n"
	for _, step := range []string{
		`{"step":{"kind":"stop-unit","name":"sshd.service"}}`,
		`{"step":{"kind":"stop-unit","name":"display-manager.service"}}` + "\n" + `{"step":{"kind":"unload-module","name":"ext4"}}`,
		`{"step":{"kind":"unload-module","name":"nvidia"}}` + "\n" + `{"step":{"kind":"unload-module","name":"bluetooth"}}`,
	} {
		for _, op := range []struct {
			name string
			run  func(h host) error
		}{
			{"reclaim", func(h host) error { _, err := h.h.Reclaim(t.Context()); return err }},
			{"vm exit", func(h host) error { return h.h.VMExited(t.Context(), "win") }},
			{"status", func(h host) error { _, err := h.h.Status(); return err }},
			{"passthrough", func(h host) error { return h.h.Passthrough(t.Context(), "win", "") }},
		} {
			t.Run(op.name, func(t *testing.T) {
				h := newHost(t, "nvidia")
				must(t, os.MkdirAll(h.dir, 0o700))
				journal := begin + step + "\n" + `{"step":{"kind":"start-vm","name":"win","functions":["0000:01:00.0"]}}` + "\n"
				must(t, os.WriteFile(filepath.Join(h.dir, "journal"), []byte(journal), 0o600))
				if err := op.run(h); !errors.Is(err, gpu.ErrNotInProfile) {
					t.Fatalf("%s of a journal with %s: %v, want gpu.ErrNotInProfile", op.name, step, err)
				}
				if h.sim.Ops() != 0 {
					t.Errorf("%d changes made", h.sim.Ops())
				}
			})
		}
	}
}

// TestPlanOutsideProfile: a passthrough that would unload a module the
// profile does not name is refused before it changes anything (its
// journal could not be read back).
func TestPlanOutsideProfile(t *testing.T) {
	h := newHost(t, "nvidia")
	p := gpu.DefaultProfile()
	p.Modules = []string{"nvidia"} // not its holders
	o := simOptions(h.sim, h.dir, nil, nil)
	o.Profile = p
	h.h = gpu.New(o)
	if err := h.h.Passthrough(t.Context(), "win", ""); !errors.Is(err, gpu.ErrNotInProfile) || h.sim.Ops() != 0 {
		t.Errorf("passthrough: %v, %d changes; want gpu.ErrNotInProfile and none", err, h.sim.Ops())
	}
}
