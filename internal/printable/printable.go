// Package printable shows text that a guest or a container supplies (an
// agent's hello and error texts, a helper's output in a container) with
// its control characters escaped, so that none of the escape sequences
// it may hold (a window title, a cleared screen, a fake prompt) reaches
// the user's terminal. It is a leaf that the agent links too.
//
// It is not for a command's own output, which reaches the terminal as
// it is, as over ssh: only for what spirit itself prints.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with each control character (C0, DEL, C1), each
// bidirectional-text control and each byte that is not UTF-8 written as
// an escape: \x1b, \u009b, \u202e, \xff. The rest, backslashes included,
// stays as it is, so that String(String(s)) == String(s) and a text
// escaped on the way (an agent's error relayed by a VM's supervisor) is
// shown once escaped.
func String(s string) string {
	if !strings.ContainsFunc(s, escaped) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case escaped(r) && r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case escaped(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// escaped says whether String escapes r. RuneError stands for a byte
// that is not UTF-8 (a real U+FFFD is escaped too, harmlessly).
func escaped(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError
}

// Error is err with its text shown by String, for an error whose text
// holds what a guest or a container wrote; errors.Is and errors.As see
// err through it. Error(nil) is nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return &escapedError{err}
}

type escapedError struct{ err error }

func (e *escapedError) Error() string { return String(e.err.Error()) }
func (e *escapedError) Unwrap() error { return e.err }
