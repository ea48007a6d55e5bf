package sticky

import (
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
)

// Step is what a Walk's look found at one component.
type Step struct {
	// Missing: nothing is there (or it cannot be looked at); the walk
	// ends, with the rest of the path kept as it is for the open to
	// report.
	Missing bool
	// Link: a symbolic link that the rules let the walker follow, to
	// Target.
	Link   bool
	Target string
}

// Walk resolves the absolute path p one component at a time, as the
// kernel's lookup does, following at most maxLinks links. look is asked
// about next, one component added to dir, a directory whose path holds
// no link; it checks a link against the rules (Follow) before saying it
// may be followed. Walk returns the path with no link in it, and whether
// its end exists.
func Walk(p string, maxLinks int, look func(dir, next string) (Step, error)) (dest string, exists bool, err error) {
	done, rest, links := "/", strings.Split(p, "/"), 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			done = path.Dir(done) // done holds no link: its real parent
			continue
		}
		next := path.Join(done, c)
		st, err := look(done, next)
		switch {
		case err != nil:
			return "", false, err
		case st.Missing && slices.Contains(rest, ".."):
			// The kernel's lookup fails at the missing component; a
			// cleaned path would reach what follows the ".." without
			// its links having been looked at.
			return "", false, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ENOENT}
		case st.Missing:
			return path.Join(append([]string{next}, rest...)...), false, nil
		case !st.Link:
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", false, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		if path.IsAbs(st.Target) {
			done = "/"
		}
		rest = append(strings.Split(st.Target, "/"), rest...)
	}
	return done, true, nil
}
