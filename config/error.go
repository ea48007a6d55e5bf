package config

import "fmt"

// Error is a mistake in a configuration file, at its place.
type Error struct {
	Path string
	// Line and Column count from 1; 0 when not known (a value that
	// decodes but cannot work is placed by line only).
	Line, Column int
	// Key is the TOML key the mistake is about, dotted
	// ("vm.box.disks"), "" for a mistake of syntax.
	Key string
	// Msg says what is wrong, in TOML's words, naming the key.
	Msg string
	// Err is what found the mistake, when it is not the decoder: a
	// *vmctl.FieldError, or a target name's error.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }
