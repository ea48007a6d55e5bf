package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestHistoryFile(t *testing.T) {
	state := t.TempDir()
	path := historyPath([]string{"HOME=/nowhere", "XDG_STATE_HOME=" + state})
	if want := filepath.Join(state, "spirit", "history"); path != want {
		t.Fatalf("historyPath = %q, want %q", path, want)
	}
	h := &history{path: path}
	if lines, err := h.load(); err != nil || lines != nil {
		t.Fatalf("load with no file = %q, %v", lines, err)
	}
	for _, l := range []string{"echo one", "   ", "", "@docker:web ls"} {
		if err := h.add(l); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, st.Mode().Perm(), err, want)
		}
	}
	lines, err := h.load()
	if want := []string{"echo one", "@docker:web ls"}; err != nil || !reflect.DeepEqual(lines, want) {
		t.Errorf("load = %q, %v; want %q", lines, err, want)
	}

	// A file left readable by others is tightened when read.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.load(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after load %v, want 0600", st.Mode().Perm())
	}
}

func TestHistoryKeepsTheLast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range historyKeep + 10 {
		fmt.Fprintf(f, "echo %d\n", i)
	}
	f.Close()
	lines, err := (&history{path: path}).load()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != historyKeep || lines[0] != "echo 10" || lines[len(lines)-1] != fmt.Sprintf("echo %d", historyKeep+9) {
		t.Errorf("loaded %d lines from %q to %q", len(lines), lines[0], lines[len(lines)-1])
	}
}
