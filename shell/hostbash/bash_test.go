package hostbash

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startBash starts a bash that is not interactive, with stdout in a file
// that out reads back.
func startBash(t *testing.T) (*Bash, func() string) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	b, err := Start(ctx, Options{Stdout: out, Stderr: out, Env: []string{"PATH=/usr/bin:/bin", "HOME=" + dir}, Arg0: "spirit"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, func() string {
		data, err := os.ReadFile(out.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
}

func TestRunReports(t *testing.T) {
	tests := []struct {
		name, line string
		status     int
		dir        string
	}{
		{"status", "false", 1, ""},
		{"pipeline", "true | (exit 3)", 3, ""},
		{"cd", "cd /tmp", 0, "/tmp"},
		{"no final newline", "echo -n; (exit 4)", 4, ""},
		{"here-document", "cat <<EOF >/dev/null\nx\nEOF", 0, ""},
		{"comment at the end", "(exit 5) # not a brace }", 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := startBash(t)
			r, err := b.Run(t.Context(), tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || (tt.dir != "" && r.Dir != tt.dir) {
				t.Errorf("%q: report %+v, want status %d dir %q", tt.line, r, tt.status, tt.dir)
			}
		})
	}
}

// TestStateLasts: what a line sets is there for the next, and $? and $_
// are the line's.
func TestStateLasts(t *testing.T) {
	b, out := startBash(t)
	for _, line := range []string{
		"x=kept; f() { echo \"f:$1\"; }",
		"echo one two",
		`echo "last=$_ x=$x $0"; f arg`,
		"(exit 7)",
		`echo "st=$?"`,
	} {
		if _, err := b.Run(t.Context(), line); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	want := "one two\nlast=two x=kept spirit\nf:arg\nst=7\n"
	if got := out(); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestExit(t *testing.T) {
	b, _ := startBash(t)
	_, err := b.Run(t.Context(), "exit 9")
	if !errors.Is(err, ErrExited) || b.ExitStatus() != 9 {
		t.Errorf("exit 9: %v, status %d", err, b.ExitStatus())
	}
}

func TestSetup(t *testing.T) {
	for _, interactive := range []bool{false, true} {
		s := setup(Options{Interactive: interactive, Arg0: "it's"})
		if got := strings.Contains(s, "PROMPT_COMMAND[99]"); got != interactive {
			t.Errorf("interactive %v: PROMPT_COMMAND hook %v", interactive, got)
		}
		if !strings.Contains(s, `BASH_ARGV0='it'\''s'`) {
			t.Errorf("$0 not quoted: %s", s)
		}
	}
}
