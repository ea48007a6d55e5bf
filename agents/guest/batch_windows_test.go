//go:build windows

package guest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/agents/wire"
	"spirit/errcode"
)

func TestShellCmdLine(t *testing.T) {
	got := shellCmdLine(`C:\Windows\system32\cmd.exe`, `echo "a b" & ver`)
	want := `C:\Windows\system32\cmd.exe /d /e:on /v:off /s /c "echo "a b" & ver"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestBatchArguments: a batch file's arguments reach it as text: `&` in
// one does not run a second command (BatBadBut), and what quoting cannot
// protect is refused before anything runs.
func TestBatchArguments(t *testing.T) {
	// Not t.TempDir: Wine may refuse to remove a batch file cmd.exe
	// has just run ("Invalid function"), which would fail the test.
	dir, err := os.MkdirTemp("", "bat")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bat := filepath.Join(dir, "args.bat")
	if err := os.WriteFile(bat, []byte("@echo [%1] [%2]\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		want string // stdout; empty for a refusal
	}{
		{"ampersand", []string{bat, "a&echo PWNED", "b"}, `["a&echo PWNED"] ["b"]` + "\r\n"},
		{"pipe and redirection", []string{bat, "x|more", "y>z"}, `["x|more"] ["y>z"]` + "\r\n"},
		{"spaces and commas stay one argument", []string{bat, "a b,c", ""}, `["a b,c"] [""]` + "\r\n"},
		{"found without its extension", []string{strings.TrimSuffix(bat, ".bat"), "a&b"}, `["a&b"] []` + "\r\n"},
		{"a quote is refused", []string{bat, `a"&echo PWNED&"`}, ""},
		{"a percent is refused", []string{bat, "%PATH%"}, ""},
		{"a line feed is refused", []string{bat, "a\necho PWNED"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := startProcess(&wire.Request{Argv: tt.argv})
			if tt.want == "" {
				var re *errcode.Error
				if !errors.As(err, &re) || re.Code != errcode.Refused {
					t.Fatalf("start %q: %v, want a refusal", tt.argv, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("start %q: %v", tt.argv, err)
			}
			defer p.Release()
			out, _ := io.ReadAll(p.Stdout())
			if m := waitFor(t, p, 10*time.Second); m.Status != 0 || string(out) != tt.want {
				t.Fatalf("%q: exit %+v stdout %q, want %q", tt.argv, m, out, tt.want)
			}
		})
	}
}
