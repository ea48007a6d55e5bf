package target

import (
	"errors"
	"fmt"
	"slices"
)

// Host is the name of the host's own target, as in "@spirit": the word
// of the host's kind (kinds.Host). Code that meets an @word asks the
// registry whether it is the host (Registry.IsLocal) rather than
// comparing it with this.
const Host = "spirit"

// reserved are the names that kinds of target with a fixed word claim;
// no configured target (a VM, an agent) may take one.
var reserved = [...]string{Host, "docker"}

// ErrBadName is what CheckName's errors are (errors.Is).
var ErrBadName = errors.New("bad target name")

// NameError is a name that CheckName refuses; Msg says why, for a user.
type NameError struct{ Msg string }

func (e *NameError) Error() string        { return e.Msg }
func (e *NameError) Is(target error) bool { return target == ErrBadName }

// CheckName says whether name can be given to a target that a user
// configures: an @word carries it, and the planner reads it as one word.
// what names the kind of thing in the message ("VM", "target").
func CheckName(what, name string) error {
	if !validName(name) {
		return &NameError{fmt.Sprintf("a %s name is lower-case letters, digits, _ and -, starting with a letter", what)}
	}
	if slices.Contains(reserved[:], name) {
		return &NameError{"@" + name + " is spirit's own target"}
	}
	return nil
}

// validName is ^[a-z][a-z0-9_-]*$, without a regexp at start-up.
func validName(name string) bool {
	for i, r := range name {
		switch {
		case 'a' <= r && r <= 'z':
		case i > 0 && ('0' <= r && r <= '9' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return name != ""
}
