package shell

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// modeRun is a shell run in this process with files for its stdio.
type modeRun struct {
	home           string
	stdin          *os.File
	stdout, stderr *os.File
}

func newModeRun(t *testing.T, stdin *os.File) *modeRun {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close(); errf.Close() })
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return &modeRun{home: home, stdin: stdin, stdout: out, stderr: errf}
}

func (m *modeRun) opts(login bool) Options {
	return Options{
		Stdin: m.stdin, Stdout: m.stdout, Stderr: m.stderr,
		Env:   append(testEnv(m.home), "DOCKER_HOST=unix:///nonexistent.sock"),
		Login: login,
	}
}

func (m *modeRun) output(t *testing.T) (string, string) {
	t.Helper()
	o, err := os.ReadFile(m.stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	e, err := os.ReadFile(m.stderr.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(o), string(e)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stdinFile is text as a regular file (seekable) or a pipe.
func stdinFile(t *testing.T, text string, pipe bool) *os.File {
	t.Helper()
	if !pipe {
		p := filepath.Join(t.TempDir(), "stdin")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if len(text) > 60000 {
		t.Fatal("text does not fit in a pipe buffer")
	}
	if _, err := w.WriteString(text); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return r
}

func TestCommandsFromStdin(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		pipe   bool
		out    string
		status int
	}{
		{"lines", "echo a\necho b\n", true, "a\nb\n", 0},
		{"no final newline", "echo a", true, "a\n", 0},
		{"continued lines", "echo \"x\ny\"\necho b \\\n c\nif true; then\n echo in\nfi\n", true, "x\ny\nb c\nin\n", 0},
		{"read takes the next line", "read x\nhello there\necho got $x\n", true, "got hello there\n", 0},
		// A command that reads stdin itself sees the lines after its own,
		// as in bash, from a regular file: head reads a block and puts
		// the offset back after its line.
		{"head on a file", "head -n1\nline for head\necho after\n", false, "line for head\nafter\n", 0},
		{"last status", "true\nfalse\n", true, "", 1},
		{"exit", "echo a\nexit 3\necho no\n", true, "a\n", 3},
		{"syntax error stops", "echo a\n)\necho b\n", true, "a\n", 2},
		{"unfinished at the end", "echo \"open\n", true, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModeRun(t, stdinFile(t, tt.in, tt.pipe))
			st := RunInteractive(testContext(t), m.opts(false))
			out, errs := m.output(t)
			if out != tt.out || st != tt.status {
				t.Errorf("status %d stdout %q stderr %q; want status %d stdout %q", st, out, errs, tt.status, tt.out)
			}
		})
	}
}

func TestRunCommand(t *testing.T) {
	m := newModeRun(t, nil)
	st := RunCommand(testContext(t), m.opts(false), `echo "$0|$1|$2|$#"; exit 4`, []string{"name", "a", "b c"})
	out, errs := m.output(t)
	if out != "name|a|b c|2\n" || st != 4 {
		t.Errorf("status %d stdout %q stderr %q", st, out, errs)
	}
}

func TestRunScript(t *testing.T) {
	m := newModeRun(t, nil)
	script := filepath.Join(m.home, "hello.spirit")
	if err := os.WriteFile(script, []byte("#!/usr/bin/env spirit\necho hello $1 $#\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if st := RunScript(testContext(t), m.opts(false), script, []string{"one", "two"}); st != 0 {
		t.Errorf("status %d", st)
	}
	if out, errs := m.output(t); out != "hello one 2\n" {
		t.Errorf("stdout %q stderr %q", out, errs)
	}

	m = newModeRun(t, nil)
	missing := filepath.Join(m.home, "missing.spirit")
	if st := RunScript(testContext(t), m.opts(false), missing, nil); st != 127 {
		t.Errorf("missing script: status %d, want 127", st)
	}
	if _, errs := m.output(t); !strings.Contains(errs, "spirit: ") || !strings.Contains(errs, missing) {
		t.Errorf("missing script: stderr %q", errs)
	}
}

func TestLoginReadsRC(t *testing.T) {
	for _, login := range []bool{false, true} {
		m := newModeRun(t, nil)
		if err := os.WriteFile(filepath.Join(m.home, ".spiritrc"), []byte("greeting=from-rc\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		RunCommand(testContext(t), m.opts(login), `echo "[$greeting]"`, nil)
		want := "[]\n"
		if login {
			want = "[from-rc]\n"
		}
		if out, errs := m.output(t); out != want {
			t.Errorf("login %v: stdout %q stderr %q, want %q", login, out, errs, want)
		}
	}
}

func TestBadConfigIsReported(t *testing.T) {
	m := newModeRun(t, nil)
	cfg := filepath.Join(m.home, ".config", "spirit", "spirit.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[docker]\ndefualt = \"web\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := RunCommand(testContext(t), m.opts(false), "echo still-runs", nil)
	out, errs := m.output(t)
	if st != 0 || out != "still-runs\n" || !strings.Contains(errs, cfg+":2:1: unknown field \"docker.defualt\"") {
		t.Errorf("status %d stdout %q stderr %q", st, out, errs)
	}
}
