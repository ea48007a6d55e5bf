package router

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"spirit/target"
)

// winTarget stands in for a Windows guest: its agent says "windows", a
// command prints the text it got, and a file opened on it records the
// path it got (a read gives the path back as the file's content).
type winTarget struct{ root string }

var _ target.Systemer = winTarget{}

func (winTarget) System(context.Context) (string, error) { return target.Windows, nil }

func (winTarget) Exec(_ context.Context, c *target.Command) (int, error) {
	mark := ""
	if c.Desktop {
		mark = "desktop: "
	}
	_, err := io.WriteString(c.Stdout, "["+mark+c.Text+"]\n")
	return 0, err
}

func (t winTarget) Open(_ context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	if mode == target.Read {
		return nopRWC{bytes.NewReader([]byte(path + "\n"))}, nil
	}
	f, err := os.OpenFile(filepath.Join(t.root, "opened"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = io.WriteString(f, path+"\n")
	return f, err
}

type nopRWC struct{ io.Reader }

func (nopRWC) Write(p []byte) (int, error) { return len(p), nil }
func (nopRWC) Close() error                { return nil }

// TestWindowsRedirectPath checks that a redirection path to a Windows
// target reaches it as typed, as remote text does: bash would take its
// backslashes for escapes. Double quotes group it, as in cmd.exe.
func TestWindowsRedirectPath(t *testing.T) {
	e := newRunEnv(t)
	tests := []struct{ src, out string }{
		{`cat < @win C:\Users\me\x.txt`, `C:\Users\me\x.txt` + "\n"},
		{`cat < @win "C:\Program Files\a b.txt"`, `C:\Program Files\a b.txt` + "\n"},
		{`cat < @win \\server\share\$x`, `\\server\share\$x` + "\n"},
		{`@a cat < @win C:\Users\me\x.txt`, `C:\Users\me\x.txt` + "\n"},
		// A POSIX target's path is still a host shell word.
		{`echo data > @b 'a\b'; @b cat 'a\b'`, "data\n"},
	}
	for _, tc := range tests {
		status, out, er := e.run(t, tc.src)
		if status != 0 || out != tc.out || er != "" {
			t.Errorf("%s:\n got status %d, stdout %q, stderr %q\nwant status 0, stdout %q", tc.src, status, out, er, tc.out)
		}
	}
	for _, src := range []string{`echo x > @win C:\Temp\out.txt`, `echo y >> @win "C:\a b\c.txt"`} {
		if status, _, er := e.run(t, src); status != 0 || er != "" {
			t.Errorf("%s: status %d, stderr %q", src, status, er)
		}
	}
	got, err := os.ReadFile(filepath.Join(e.win, "opened"))
	if want := "C:\\Temp\\out.txt\nx\nC:\\a b\\c.txt\ny\n"; err != nil || string(got) != want {
		t.Errorf("paths opened on @win: %q, %v; want %q", got, err, want)
	}
}

// TestWindowsDynamicWords checks that the words of a dynamic target word
// ($t) reach a Windows target quoted for cmd.exe, not for a POSIX shell.
func TestWindowsDynamicWords(t *testing.T) {
	e := newRunEnv(t)
	tests := []struct{ src, out string }{
		{`t=@win; $t dir 'C:\x'`, "[dir C:\\x]\n"},
		{`t=@win; $t dir 'C:\a b'`, "[dir \"C:\\a b\"]\n"},
		{`t=@win; $t echo 'x&y' "it's"`, "[echo x^&y it's]\n"},
		{`t=@win; $t find '"a b"' '100%'`, `[find ^"\^"a b\^"^" 100^%]` + "\n"},
		// A POSIX target keeps POSIX quoting.
		{`t=@a; $t echo 'a b' "it's"`, "a b it's\n"},
	}
	for _, tc := range tests {
		status, out, er := e.run(t, tc.src)
		if status != 0 || out != tc.out || er != "" {
			t.Errorf("%s:\n got status %d, stdout %q, stderr %q\nwant status 0, stdout %q", tc.src, status, out, er, tc.out)
		}
	}
}

// TestDesktopOption checks that --desktop after a segment's @word reaches
// the target as the command's option, and the text after it as the
// command.
func TestDesktopOption(t *testing.T) {
	e := newRunEnv(t)
	tests := []struct{ src, out string }{
		{`@win --desktop start notepad.exe`, "[desktop: start notepad.exe]\n"},
		{`@win --desktop dir C:\Users | @spirit cat`, "[desktop: dir C:\\Users]\n"},
		{`F=x @win --desktop echo %F%`, "[desktop: echo %F%]\n"},
		{`t=@win; $t --desktop start 'a b'`, "[desktop: start \"a b\"]\n"},
		{`@win start notepad.exe`, "[start notepad.exe]\n"},
	}
	for _, tc := range tests {
		status, out, er := e.run(t, tc.src)
		if status != 0 || out != tc.out || er != "" {
			t.Errorf("%s:\n got status %d, stdout %q, stderr %q\nwant status 0, stdout %q", tc.src, status, out, er, tc.out)
		}
	}
}
