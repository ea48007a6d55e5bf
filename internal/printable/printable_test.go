package printable

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcode, 日本", "plain text, ünïcode, 日本"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"\x1b[2J", `\x1b[2J`},
		{"a\nb\tc\r\x7f", `a\x0ab\x09c\x0d\x7f`},
		{"\u009b2J", `\u009b2J`},
		{"abc\u202edef", `abc\u202edef`},
		{"bad \xff\xfe byte", `bad \xff\xfe byte`},
		{`already \x1b escaped`, `already \x1b escaped`},
	} {
		got := String(tc.in)
		if got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := String(got); again != got {
			t.Errorf("String(String(%q)) = %q, want %q", tc.in, again, got)
		}
	}
}

func TestError(t *testing.T) {
	err := Error(fmt.Errorf("read \x1b[2J: %w", fs.ErrNotExist))
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != `read \x1b[2J: file does not exist` {
		t.Errorf("%q: want it escaped and still fs.ErrNotExist", err)
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
