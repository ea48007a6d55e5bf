// Package sticky holds the kernel's rules for sticky directories that
// everyone can write (/tmp), which a program that resolves symbolic links
// itself, or replaces a file instead of opening it, would otherwise skip:
// fs/namei.c's may_follow_link (the protected_symlinks sysctl) and
// may_create_in_sticky (protected_regular and protected_fifos, level 1).
// With them, a user's link or file in /tmp cannot turn root's
// `> /tmp/x` into a write of a file that bash, as root, would refuse.
//
// It only decides: callers find the owners and modes (lstat in the guest
// agent, the Engine's archive headers in a container). The rules apply
// whatever the sysctls say, as on a host where they are on (systemd turns
// them on).
package sticky

import (
	"fmt"
	"io/fs"
)

// Error is a refusal by one of the rules. It is a permission error
// (errors.Is(err, fs.ErrPermission)), as the kernel's EACCES is.
type Error struct {
	Path string // the link or the file refused
	Why  string
}

func (e *Error) Error() string { return e.Path + ": permission denied: " + e.Why }

// Unwrap makes the refusal a permission error.
func (e *Error) Unwrap() error { return fs.ErrPermission }

// Dir is a directory's mode and owner.
type Dir struct {
	Mode fs.FileMode
	UID  int
}

// Shared says whether everyone may create and remove in a directory of
// mode dir, with the sticky bit keeping each to their own: the
// directories the rules are for. Outside them, the rules allow all, and
// the directory's owner need not be looked up.
func Shared(dir fs.FileMode) bool {
	return dir&fs.ModeSticky != 0 && dir.Perm()&0o002 != 0
}

// Follow says whether a process of user follower may follow the symbolic
// link link, of user linkUID, in dir (may_follow_link): always outside a
// sticky directory others can write; inside one, only a link of the
// follower's or of the directory's owner.
func Follow(follower int, link string, linkUID int, dir Dir) error {
	if !Shared(dir.Mode) || linkUID == follower || linkUID == dir.UID {
		return nil
	}
	return &Error{Path: link, Why: fmt.Sprintf(
		"a symbolic link of user %d in a sticky directory that others can write, which user %d does not follow (the kernel's protected_symlinks rule)",
		linkUID, follower)}
}

// Create says whether a process of user creator may open, as an O_CREAT
// open does, the existing file path of user fileUID and type mode in dir
// (may_create_in_sticky): inside a sticky directory others can write, a
// regular file or a FIFO only when it is the creator's or the directory
// owner's. Writing such a file by replacing it would bypass the check.
func Create(creator int, path string, fileUID int, mode fs.FileMode, dir Dir) error {
	if !Shared(dir.Mode) || fileUID == creator || fileUID == dir.UID {
		return nil
	}
	if !mode.IsRegular() && mode.Type() != fs.ModeNamedPipe {
		return nil
	}
	return &Error{Path: path, Why: fmt.Sprintf(
		"a file of user %d in a sticky directory that others can write, which user %d does not write (the kernel's protected_regular rule)",
		fileUID, creator)}
}
