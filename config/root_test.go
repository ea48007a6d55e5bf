package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spirit/internal/rootfile"
)

// nobody is a user other than root who owns files in these tests.
const nobody = 65534

// TestLoadAsRootRefusesOthersFiles: as root, spirit.toml is taken only
// from a file that only root can change. Under `sudo -E` $XDG_CONFIG_HOME
// names the user's directory, and its extra_args would reach a root QEMU.
func TestLoadAsRootRefusesOthersFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root, to give files to another user: run it as make test does, as root")
	}
	const text = "[vm.x]\nos = \"linux\"\nmemory = \"1G\"\nextra_args = [\"-monitor\", \"stdio\"]\n"
	tests := []struct {
		name string
		set  func(t *testing.T, xdg, file string) // after the file is written 0644 by root
		why  string                               // in the refusal; "" means accepted
	}{
		{"root's", func(*testing.T, string, string) {}, ""},
		{"directory of another user", func(t *testing.T, xdg, _ string) { chown(t, xdg, nobody) }, "belongs to user 65534"},
		{"file of another user", func(t *testing.T, _, file string) { chown(t, file, nobody) }, "belongs to user 65534"},
		{"file others can write", func(t *testing.T, _, file string) { chmod(t, file, 0o666) }, "others can write"},
		{"directory others can write", func(t *testing.T, xdg, _ string) { chmod(t, xdg, 0o777) }, "others can write"},
		{"link to a file of another user", func(t *testing.T, _, file string) {
			other := filepath.Join(t.TempDir(), "user", "spirit.toml")
			if err := os.Mkdir(filepath.Dir(other), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(file, other); err != nil {
				t.Fatal(err)
			}
			chown(t, filepath.Dir(other), nobody)
			if err := os.Symlink(other, file); err != nil {
				t.Fatal(err)
			}
		}, "belongs to user 65534"},
		{"link to root's file", func(t *testing.T, xdg, file string) {
			other := filepath.Join(xdg, "other.toml")
			if err := os.Rename(file, other); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, file); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xdg := filepath.Join(t.TempDir(), "config")
			file := filepath.Join(xdg, "spirit", "spirit.toml")
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			tc.set(t, xdg, file)
			cfg, path, err := Load(Paths([]string{"XDG_CONFIG_HOME=" + xdg}))
			if tc.why == "" {
				if err != nil || len(cfg.VM) != 1 {
					t.Fatalf("root's own file: %v, %d VMs", err, len(cfg.VM))
				}
				return
			}
			var re *rootfile.RefusedError
			if !errors.As(err, &re) || re.Path != file || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), file) {
				t.Fatalf("Load = %v (path %s); want a refusal of %s that says %q", err, path, file, tc.why)
			}
			if len(cfg.VM) != 0 {
				t.Errorf("the refused file's VMs were taken: %v", cfg.VM)
			}
		})
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
