package target

import "context"

// Systemer is implemented by targets that can say which operating system
// their commands run on, as their agent reports it ("linux", "windows"):
// a word or a path meant for the target's shell is written by that
// system's rules (cmd.exe reads neither POSIX quotes nor backslashes as
// escapes). It may connect to the target.
type Systemer interface {
	System(ctx context.Context) (string, error)
}

// Windows is the system name of a Windows target.
const Windows = "windows"

// IsWindows reports whether t says it runs Windows. A target that cannot
// say (no Systemer, or not reachable now) is taken for a POSIX one: its
// command then fails on its own terms.
func IsWindows(ctx context.Context, t Target) bool {
	s, ok := t.(Systemer)
	if !ok {
		return false
	}
	sys, err := s.System(ctx)
	return err == nil && sys == Windows
}
