//go:build unix

package guest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"spirit/internal/sticky"
)

// noFollow opens the final component without following a link: resolve
// has followed them all, and one put there since is not followed.
const noFollow = syscall.O_NOFOLLOW

// maxLinks is the kernel's bound on the links followed in a lookup.
const maxLinks = 40

// resolve follows the symbolic links of p, as the kernel would for this
// process with protected_symlinks on: a link in a sticky directory that
// others can write is followed only when it is this process's or the
// directory owner's (a *sticky.Error otherwise). The agent resolves
// links itself (a write replaces the file a link leads to), so it must
// apply the rule itself, whatever the guest's sysctl says. Components
// that do not exist are kept as they are, for the open to report.
func resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		p = filepath.Join(wd, p)
	}
	dest, _, err := sticky.Walk(p, maxLinks, func(dir, next string) (sticky.Step, error) {
		fi, err := os.Lstat(next)
		if err != nil {
			return sticky.Step{Missing: true}, nil // the open's to report
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return sticky.Step{}, nil
		}
		to, err := followable(dir, next, fi)
		return sticky.Step{Link: true, Target: to}, err
	})
	return dest, err
}

// followable checks the link at link, in the directory dir, against the
// rule, and reads where it leads.
func followable(dir, link string, fi fs.FileInfo) (string, error) {
	d, err := dirOf(dir)
	if err != nil {
		return "", err
	}
	if err := sticky.Follow(os.Geteuid(), link, uidOf(fi), d); err != nil {
		return "", err
	}
	return os.Readlink(link)
}

// mayCreate refuses what an O_CREAT open of the existing file p (fi, not
// a link) would be refused by protected_regular and protected_fifos:
// the agent replaces a file by renaming over it, which the kernel does
// not check.
func mayCreate(p string, fi fs.FileInfo) error {
	d, err := dirOf(filepath.Dir(p))
	if err != nil {
		return err
	}
	return sticky.Create(os.Geteuid(), p, uidOf(fi), fi.Mode(), d)
}

func dirOf(dir string) (sticky.Dir, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return sticky.Dir{}, fmt.Errorf("resolve: %w", err)
	}
	return sticky.Dir{Mode: fi.Mode(), UID: uidOf(fi)}, nil
}

func uidOf(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
