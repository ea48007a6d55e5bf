package gpu_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"spirit/internal/rootfile"
)

// TestRuntimeDirChecked: the GPU's runtime directory, its lock and its
// journal pass the checks the VMs' directories pass (rootfile), so that
// another user cannot steer root's passthrough through them.
func TestRuntimeDirChecked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (chown): run it with sudo")
	}
	elsewhere := func(t *testing.T, h host) string {
		p := filepath.Join(filepath.Dir(h.dir), "elsewhere")
		must(t, os.WriteFile(p, []byte("root's\n"), 0o600))
		return p
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, h host)
		refused bool // else it works, and leaves the directory 0700
	}{
		{"a directory others can enter", func(t *testing.T, h host) {
			must(t, os.Mkdir(h.dir, 0o700))
			must(t, os.Chmod(h.dir, 0o777))
		}, false},
		{"a directory of another user's", func(t *testing.T, h host) {
			must(t, os.Mkdir(h.dir, 0o700))
			must(t, os.Chown(h.dir, 1000, 1000))
		}, true},
		{"a directory under one others can write", func(t *testing.T, h host) {
			must(t, os.Chmod(filepath.Dir(h.dir), 0o777))
		}, true},
		{"a link in the directory's place", func(t *testing.T, h host) {
			other := filepath.Join(filepath.Dir(h.dir), "other")
			must(t, os.Mkdir(other, 0o700))
			must(t, os.Symlink(other, h.dir))
		}, true},
		{"a link in the lock's place", func(t *testing.T, h host) {
			must(t, os.Mkdir(h.dir, 0o700))
			must(t, os.Symlink(elsewhere(t, h), filepath.Join(h.dir, "lock")))
		}, true},
		{"a link in the journal's place", func(t *testing.T, h host) {
			must(t, os.Mkdir(h.dir, 0o700))
			must(t, os.Symlink(elsewhere(t, h), filepath.Join(h.dir, "journal")))
		}, true},
		{"a journal of another user's", func(t *testing.T, h host) {
			must(t, os.Mkdir(h.dir, 0o700))
			j := filepath.Join(h.dir, "journal")
			must(t, os.WriteFile(j, []byte(`{"begin":{"gpu":"0000:01:00.0","drivers":{}}}`+"\n"), 0o600))
			must(t, os.Chown(j, 1000, 1000))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, "nvidia")
			tc.prepare(t, h)
			before := h.sim.State()
			err := h.h.Passthrough(t.Context(), "win", "")
			var re *rootfile.RefusedError
			if !tc.refused {
				fi, serr := os.Lstat(h.dir)
				if err != nil || serr != nil || fi.Mode().Perm() != 0o700 {
					t.Fatalf("passthrough: %v; the directory: %v %v", err, fi.Mode(), serr)
				}
				return
			}
			if !errors.As(err, &re) {
				t.Fatalf("passthrough: %v, want a *rootfile.RefusedError", err)
			}
			if h.sim.Ops() != 0 || h.sim.State() != before {
				t.Errorf("%d changes made", h.sim.Ops())
			}
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(h.dir), "elsewhere")); err == nil && string(b) != "root's\n" {
				t.Errorf("the file a link led to was written: %q", b)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
