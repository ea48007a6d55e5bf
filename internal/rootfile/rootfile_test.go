package rootfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenFile covers what the callers' tests do not: a FIFO in the
// file's place, a dangling link that O_CREAT would follow, and a sticky
// directory that others can write, which the rule allows.
func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "made-through-the-link"), dangling); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "sticky")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sticky, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	asRoot := os.Geteuid() == 0
	tests := []struct {
		path string
		flag int
		why  string // "" means opened
	}{
		{fifo, os.O_RDONLY, "not a regular file"},
		{dangling, os.O_WRONLY | os.O_CREATE | os.O_APPEND, "symbolic link"},
		{filepath.Join(sticky, "f"), os.O_RDONLY, ""},
	}
	for _, tc := range tests {
		f, err := OpenFile(tc.path, tc.flag, 0o600, asRoot)
		if tc.why == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			} else {
				f.Close()
			}
			continue
		}
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v, want a refusal: %s", tc.path, err, tc.why)
		}
		if err == nil {
			f.Close()
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "made-through-the-link")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was made through the link: %v", err)
	}
}
