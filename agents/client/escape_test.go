package client_test

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/target"
)

// The escape sequences of a hostile guest: a window title, and a clear
// of the screen.
const (
	titleSeq = "\x1b]0;pwned\x07"
	clearSeq = "\x1b[2J"
)

// TestHostileTextEscaped: what an agent says of itself and its error
// texts reach the user with their control characters escaped, so that
// no escape sequence of the guest's reaches the terminal.
func TestHostileTextEscaped(t *testing.T) {
	c := hostile{
		hello: wire.Hello{Proto: wire.Proto, Version: "1.0" + titleSeq, OS: "linux" + clearSeq,
			Arch: "amd64\r", Hostname: "guest" + clearSeq + titleSeq, Caps: []string{"exec" + clearSeq}},
		fileErr: wire.ErrorMsg{Message: "no such file" + clearSeq + titleSeq + "\u009b2J", Code: errcode.NotFound},
	}.start(t)
	var out bytes.Buffer
	if err := c.Control(t.Context(), "--status", nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`1.0\x1b]0;pwned\x07`, `guest\x1b[2J\x1b]0;pwned\x07`, `linux\x1b[2J`, `amd64\x0d`, `exec\x1b[2J`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status %q does not show %q", out.String(), want)
		}
	}
	checkClean(t, "status", out.String())
	_, err := c.Open(t.Context(), "/x", target.Read)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read: %v, want fs.ErrNotExist (the agent's code)", err)
	}
	if want := `no such file\x1b[2J\x1b]0;pwned\x07\u009b2J`; !strings.Contains(err.Error(), want) {
		t.Errorf("read: %q, want it to show %q", err, want)
	}
	checkClean(t, "the error", err.Error())
}

// checkClean fails unless s holds no control character.
func checkClean(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if r != '\n' && (r < 0x20 || r >= 0x7f && r < 0xa0) {
			t.Errorf("%s holds the control character %U: %q", what, r, s)
			return
		}
	}
}
