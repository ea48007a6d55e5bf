package standin

import (
	"errors"
	"testing"
)

func TestCmdQuoteWords(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"dir", `C:\Users`}, `dir C:\Users`},
		{[]string{`C:\Program Files\x.exe`, "a b"}, `"C:\Program Files\x.exe" "a b"`},
		{[]string{"echo", ""}, `echo ""`},
		{[]string{"echo", "a&b", "a|b", "(x)", "<in>", "^"}, `echo a^&b a^|b ^(x^) ^<in^> ^^`},
		{[]string{"echo", "%PATH%"}, `echo ^%^PATH^%`},
		{[]string{"echo", "%PATH:a=b%"}, `echo ^%^PATH:a=b^%`},
		{[]string{"echo", "100%", "%%"}, `echo 100^% ^%^%`},
		{[]string{"echo", "hi!"}, `echo hi^!`},
		// The program gets a quote as \", cmd.exe never a quote of its own.
		{[]string{"find", `"a b"`}, `find ^"\^"a b\^"^"`},
		{[]string{"x", `a\"b`}, `x ^"a\\\^"b^"`},
		// Backslashes before the closing quote are doubled; others stay.
		{[]string{"x", `C:\a b\`}, `x "C:\a b\\"`},
		{[]string{"x", "a b&c"}, `x ^"a b^&c^"`},
		{[]string{"echo", "café Привет"}, `echo "café Привет"`},
	}
	for _, tc := range tests {
		got, err := cmdQuoteWords(tc.words)
		if err != nil || got != tc.want {
			t.Errorf("cmdQuoteWords(%q) = %q, %v; want %q", tc.words, got, err, tc.want)
		}
	}
	for _, w := range []string{"a\nb", "a\rb", "a\x00b"} {
		if _, err := cmdQuoteWords([]string{"echo", w}); !errors.Is(err, errCmdLine) {
			t.Errorf("cmdQuoteWords(echo %q): error %v, want errCmdLine", w, err)
		}
	}
}

func TestWindowsPath(t *testing.T) {
	tests := []struct{ typed, want string }{
		{`C:\Users\me\x.txt`, `C:\Users\me\x.txt`},
		{`"C:\Program Files\x.txt"`, `C:\Program Files\x.txt`},
		{`C:\"a b"\c`, `C:\a b\c`},
		{`\\server\share\$x`, `\\server\share\$x`},
		{`'C:\it''s'`, `'C:\it''s'`},
	}
	for _, tc := range tests {
		if got := windowsPath(tc.typed); got != tc.want {
			t.Errorf("windowsPath(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
}
