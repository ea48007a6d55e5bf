// Package errcode is the one set of codes that classify an error sent
// across one of spirit's sockets (the agent protocol, a VM supervisor's
// control socket) and the one type, Error, that carries it. A client
// tells kinds of failure apart with errors.Is on the sentinel of each
// code, never by the text, which is for the user. It is a leaf that the
// agent links: it imports nothing of spirit's and nothing heavy. It is
// not a protocol: each protocol frames an Error its own way.
package errcode

import (
	"errors"
	"fmt"
	"io/fs"
)

// Code classifies an Error. Codes are sent as they are: keep their text.
type Code string

// The codes. An unknown code (from a newer peer) is kept and matches no
// sentinel.
const (
	NotFound Code = "notfound" // no such file, directory or program
	Denied   Code = "denied"   // permission denied
	Busy     Code = "busy"     // too many sessions or streams at once
	NotYet   Code = "notyet"   // not supported on this guest (yet)
	Paused   Code = "paused"   // the VM is paused: resume it
	State    Code = "state"    // not possible in the VM's state
	Refused  Code = "refused"  // not possible for this VM (a GPU, no balloon...)
	Failed   Code = "failed"   // anything else
)

// Sentinels for errors.Is, one a code. NotFound and Denied match the
// standard library's, so that a missing file is fs.ErrNotExist wherever
// it comes from; NotYet matches errors.ErrUnsupported.
var (
	ErrBusy    = errors.New("busy")
	ErrPaused  = errors.New("paused")
	ErrState   = errors.New("not possible in this state")
	ErrRefused = errors.New("refused")
)

// sentinel is the error that errors.Is matches for code c, or nil.
func sentinel(c Code) error {
	switch c {
	case NotFound:
		return fs.ErrNotExist
	case Denied:
		return fs.ErrPermission
	case Busy:
		return ErrBusy
	case NotYet:
		return errors.ErrUnsupported
	case Paused:
		return ErrPaused
	case State:
		return ErrState
	case Refused:
		return ErrRefused
	}
	return nil
}

// Error is a failure with its code: made by the side that fails, sent,
// and rebuilt by the side that reads it. Its text is Msg alone.
type Error struct {
	Code Code
	Msg  string
}

// New is an Error of code c whose message is formatted.
func New(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrPaused) true for an Error of code Paused,
// and so on for each code (see the sentinels).
func (e *Error) Is(target error) bool {
	s := sentinel(e.Code)
	return s != nil && s == target
}

// Of is the code of the Error in err's chain, or "" when it has none.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
