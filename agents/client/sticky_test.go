package client_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"spirit/agents/client"
	"spirit/internal/agenttest"
	"spirit/internal/sticky/stickytest"
)

// stickyTree is a guest's file tree with another user's links and files
// in a sticky directory that everyone can write, as in /tmp.
type stickyTree struct {
	root, victim string
}

// newStickyTree builds tmp (01777, root's) with bob's (uid 1000) links
// to root's file safe/victim and to safe, root's link to it, and bob's
// file; bobs (01777, bob's) and plain (0777) with bob's links to it.
func newStickyTree(t *testing.T) stickyTree {
	t.Helper()
	root := t.TempDir()
	tr := stickyTree{root: root, victim: filepath.Join(root, "safe", "victim")}
	for _, d := range []struct {
		name string
		mode fs.FileMode
		uid  int
	}{{"tmp", 0o777 | fs.ModeSticky, 0}, {"safe", 0o755, 0}, {"bobs", 0o777 | fs.ModeSticky, 1000}, {"plain", 0o777, 0}} {
		p := filepath.Join(root, d.name)
		must(t, os.Mkdir(p, 0o700))
		must(t, os.Chmod(p, d.mode))
		must(t, os.Chown(p, d.uid, d.uid))
	}
	must(t, os.WriteFile(tr.victim, []byte("root's\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "tmp", "bobs-file"), []byte("bob's\n"), 0o644))
	must(t, os.Chown(filepath.Join(root, "tmp", "bobs-file"), 1000, 1000))
	for _, l := range []struct {
		at, to string
		uid    int
	}{
		{"tmp/bob-link", tr.victim, 1000},
		{"tmp/bob-dir-link", filepath.Join(root, "safe"), 1000},
		{"tmp/root-link", tr.victim, 0},
		{"bobs/link", tr.victim, 1000},
		{"plain/link", tr.victim, 1000},
	} {
		p := filepath.Join(root, l.at)
		must(t, os.Symlink(l.to, p))
		must(t, os.Lchown(p, l.uid, l.uid))
	}
	return tr
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestStickyLinks: the agent, as root, follows a link and writes a file
// in a sticky directory that others can write only as the kernel's
// protected_symlinks and protected_regular rules let root's bash do, so
// that a guest user's link in /tmp cannot redirect `> @vm /tmp/x` (the
// agent resolves links itself and replaces files by renaming).
func TestStickyLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (chown): run it with sudo")
	}
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	for _, tc := range stickytest.Cases {
		t.Run(tc.Path+" "+tc.Mode.String(), func(t *testing.T) {
			tr := newStickyTree(t)
			err := stickytest.UseFile(t.Context(), c, filepath.Join(tr.root, tc.Path), tc.Mode)
			if !tc.Refused {
				if err != nil {
					t.Fatalf("%v", err)
				}
				return
			}
			if !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("%v, want a refusal (fs.ErrPermission)", err)
			}
			for p, want := range map[string]string{tr.victim: "root's\n", filepath.Join(tr.root, "tmp", "bobs-file"): "bob's\n"} {
				if b, err := os.ReadFile(p); err != nil || string(b) != want {
					t.Errorf("%s: %q %v, want it untouched", p, b, err)
				}
			}
		})
	}
}
