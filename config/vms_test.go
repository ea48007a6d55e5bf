package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"spirit/vmctl"
)

// TestVMsBadConfig checks that a shell that went on without its
// configuration can use no VM, not even a built-in one: the user's file
// may have meant it to be another.
func TestVMsBadConfig(t *testing.T) {
	o := VMOptions{Env: []string{"SPIRIT_RUNTIME_DIR=" + t.TempDir(), "SPIRIT_STATE_DIR=" + t.TempDir(), "SPIRIT_BASE=/nonexistent"}}
	m := VMs(o, &Config{}, errors.New("spirit.toml:1: broken"))
	if _, err := m.Plan(t.Context(), "linux", vmctl.StartOptions{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("Plan with a bad configuration: %v, want ErrBadConfig", err)
	}
	if _, err := m.Definition("linux"); err != nil {
		t.Errorf("the built-in VMs are still listed: %v", err)
	}
}

// TestLoadVMs checks the manager the vm commands get: the user's VMs
// over the built-in ones, and an error for a file with errors.
func TestLoadVMs(t *testing.T) {
	home := t.TempDir()
	env := []string{"XDG_CONFIG_HOME=" + home, "SPIRIT_RUNTIME_DIR=" + t.TempDir(), "SPIRIT_STATE_DIR=" + t.TempDir()}
	writeConfig := func(text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(home, "spirit"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "spirit", "spirit.toml"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("[vm.box]\nos = \"linux\"\nmemory = \"1G\"\n")
	m, err := LoadVMs(VMOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Names(); !slices.Equal(got, []string{"box", "linux", "windows"}) {
		t.Errorf("VMs %q, want box and the built-in ones", got)
	}
	writeConfig("[vm.box]\nos = \"linux\"\nmemory = \"lots\"\n")
	var ce *Error
	if _, err := LoadVMs(VMOptions{Env: env}); !errors.As(err, &ce) || ce.Line != 3 || ce.Key != "vm.box.memory" {
		t.Errorf("LoadVMs of a file with errors: %v, want a *Error at line 3, vm.box.memory", err)
	}
}
