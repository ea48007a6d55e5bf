package shell

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spirit/internal/rootfile"
)

// TestHistoryRefusesALink: a symbolic link in the history file's place
// would make spirit append typed lines to, and chmod, the file it names
// (as root, any file): it is refused, and nothing goes through it.
func TestHistoryRefusesALink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spirit")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("untouched\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "history")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	h := &history{path: path, root: os.Geteuid() == 0}
	_, lerr := h.load()
	aerr := h.add("echo secret")
	for _, err := range []error{lerr, aerr} {
		var re *rootfile.RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), path) {
			t.Errorf("got %v; want a refusal that names %s", err, path)
		}
	}
	data, _ := os.ReadFile(victim)
	st, _ := os.Stat(victim)
	if string(data) != "untouched\n" || st.Mode().Perm() != 0o644 {
		t.Errorf("the link's target became %q, mode %v", data, st.Mode().Perm())
	}
}

// TestHistoryAsRoot: as root, the history is kept only under directories
// that only root can change; a directory of the user's is refused, and
// the link's directory is not chmodded.
func TestHistoryAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root, to give files to another user: run it as make test does, as root")
	}
	t.Run("a user's state directory", func(t *testing.T) {
		state := t.TempDir()
		if err := os.Chown(state, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		h := &history{path: historyPath([]string{"XDG_STATE_HOME=" + state}), root: true}
		var re *rootfile.RefusedError
		if err := h.add("echo secret"); !errors.As(err, &re) || !strings.Contains(err.Error(), "belongs to user 65534") {
			t.Errorf("add = %v; want a refusal: the directory belongs to user 65534", err)
		}
		if _, err := os.Lstat(filepath.Join(state, "spirit")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("root made a directory in the user's: %v", err)
		}
	})
	t.Run("a link in the directory's place", func(t *testing.T) {
		state, victim := t.TempDir(), t.TempDir()
		if err := os.Chmod(victim, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(state, "spirit")); err != nil {
			t.Fatal(err)
		}
		h := &history{path: historyPath([]string{"XDG_STATE_HOME=" + state}), root: true}
		var re *rootfile.RefusedError
		if err := h.add("echo secret"); !errors.As(err, &re) {
			t.Errorf("add = %v; want a refusal", err)
		}
		if st, _ := os.Stat(victim); st.Mode().Perm() != 0o755 {
			t.Errorf("the link's target was chmodded to %v", st.Mode().Perm())
		}
	})
}

// TestRootRefusesAUsersFiles: as root, a login shell whose $HOME is a
// user's (sudo -E) neither runs the user's ~/.spiritrc nor takes their
// spirit.toml, and says which file it refused and why.
func TestRootRefusesAUsersFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root, to give files to another user: run it as make test does, as root")
	}
	m := newModeRun(t, nil)
	rc := filepath.Join(m.home, ".spiritrc")
	cfg := filepath.Join(m.home, ".config", "spirit", "spirit.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, text := range map[string]string{rc: "greeting=from-rc\n", cfg: "[docker]\ndefault = \"web\"\n"} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(m.home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	RunCommand(testContext(t), m.opts(true), `echo "[$greeting]"`, nil)
	out, errs := m.output(t)
	if out != "[]\n" {
		t.Errorf("stdout %q: the user's .spiritrc ran as root", out)
	}
	for _, f := range []string{rc, cfg} {
		if !strings.Contains(errs, f+": refused: "+m.home+" belongs to user 65534") {
			t.Errorf("stderr %q does not say that %s was refused and why", errs, f)
		}
	}
}
