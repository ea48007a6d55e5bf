package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/config"
	"spirit/internal/envlist"
	"spirit/internal/tomlpos"
	"spirit/vmctl"
)

// TestOneMessage checks that a mistake in spirit.toml gets one message,
// the configuration's, whichever command reads it: the shell (which
// says it and goes on), `spirit vm start`, and a VM's supervisor given
// the same definition in its bootstrap file.
func TestOneMessage(t *testing.T) {
	tests := []struct {
		name, toml string
		bootstrap  *vmctl.Definition // the mistake as a bootstrap holds it; nil when it cannot hold it
	}{
		{name: "not a size", toml: "[vm.box]\nos = \"linux\"\n\nmemory = \"lots\"\n",
			bootstrap: &vmctl.Definition{Name: "box", OS: "linux", Memory: "lots"}},
		{name: "second disk", toml: "[vm.box]\nos = \"linux\"\nmemory = \"1G\"\n[[vm.box.disks]]\npath = \"/a\"\n[[vm.box.disks]]\npath = \"/b\"\nformat = \"vmdk\"\n",
			bootstrap: &vmctl.Definition{Name: "box", OS: "linux", Memory: "1G", Disks: []vmctl.Disk{{Path: "/a"}, {Path: "/b", Format: "vmdk"}}}},
		{name: "not an array of tables", toml: "[vm.box]\nos = \"linux\"\nmemory = \"1G\"\ndisks = \"x\"\n"},
		{name: "unknown field", toml: "[vm.box]\nos = \"linux\"\nmemory = \"1G\"\ncolour = \"blue\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv(t)
			path := filepath.Join(envlist.Get(env, "XDG_CONFIG_HOME"), "spirit", "spirit.toml")
			writeConfig(t, path, tt.toml)
			_, _, err := config.Load([]string{path})
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("config.Load: %v, want a *config.Error", err)
			}
			msg := err.Error()

			r := runIn(t, t.TempDir(), env, "", spiritBin, "-c", "true")
			if r.status != 0 || !strings.HasPrefix(r.stderr, "spirit: "+msg+"\n") {
				t.Errorf("spirit -c: status %d, stderr:\n%s\nwant it to start with:\nspirit: %s", r.status, r.stderr, msg)
			}
			r = runIn(t, t.TempDir(), env, "", spiritBin, "vm", "start", "box")
			if r.status != 1 || r.stderr != "spirit: "+msg+"\n" {
				t.Errorf("spirit vm start: status %d, stderr:\n%s\nwant:\nspirit: %s", r.status, r.stderr, msg)
			}
			if tt.bootstrap == nil {
				return
			}
			d := *tt.bootstrap
			// Placed as the configuration places it when it reads the file.
			d.Source, d.Lines = path, tomlpos.Lines([]byte(tt.toml), "vm", "box")
			// What is in spirit.toml now is not the supervisor's concern.
			writeConfig(t, path, "[docker\n")
			if word := superviseBootstrap(t, env, vmctl.Bootstrap{Def: d}); !strings.HasSuffix(word, ": "+msg) {
				t.Errorf("the supervisor said:\n%s\nwant it to end with:\n%s", word, msg)
			}
		})
	}
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// superviseBootstrap runs `spirit vm supervise DIR` on b as the VM
// manager would (the readiness pipe and the lock inherited) and returns
// the word it sends on the readiness pipe.
func superviseBootstrap(t *testing.T, env []string, b vmctl.Bootstrap) string {
	t.Helper()
	dir := shortDir(t)
	if err := os.WriteFile(vmctl.Env{Dir: dir}.Path(vmctl.BootstrapFile), mustJSON(t, b), 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := os.Create(filepath.Join(dir, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, spiritBin, "vm", "supervise", dir)
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{w, lock}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	word, rerr := io.ReadAll(r)
	if err := cmd.Wait(); err == nil || rerr != nil {
		t.Errorf("the supervisor of a bad bootstrap: %v (read: %v), stderr:\n%s", err, rerr, stderr.String())
	}
	return strings.TrimSpace(string(word))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
