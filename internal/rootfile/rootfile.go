// Package rootfile opens the files that spirit reads or writes for its own
// use (configuration, history, a VM's state) so that, when spirit runs as
// root, no other user can steer them: under `sudo -E`, $HOME and $XDG_*
// still name the user's directories, and a user's spirit.toml or
// symbolic link must not become root's.
//
// The rule, as root: the file and every directory above it belong to root
// and nobody else can write them; a directory that others can write is
// allowed only with the sticky bit (/tmp), where they cannot rename or
// remove what root owns. Symbolic links are resolved first, and the place
// they lead to is checked and used. A file opened to write (OpenFile) may
// not be a link itself, whoever runs spirit, since writing through one
// changes a file the writer did not name; beyond that, other users' files
// are theirs, and nothing more is checked for them.
//
// It is not a sandbox: a path that passes is one that only root could
// have prepared.
package rootfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// RefusedError is a file that spirit, as root, will not use, and why.
type RefusedError struct {
	Path string // the file as it was named
	Why  string // e.g. "/home/bob belongs to user 1000, not to root"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: refused: %s", e.Path, e.Why)
}

// ReadFile reads the file at path, following symbolic links as
// os.ReadFile does; as root (asRoot) only after checking the file they
// lead to as the package comment says, so that a link can only point at
// what root itself prepared.
func ReadFile(path string, asRoot bool) ([]byte, error) {
	if !asRoot {
		return os.ReadFile(path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	f, err := OpenFile(real, os.O_RDONLY, 0, true)
	var re *RefusedError
	if errors.As(err, &re) && real != path {
		return nil, &RefusedError{Path: path, Why: re.Why + " (it leads to " + real + ")"}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// OpenFile opens path as os.OpenFile does, but never through a symbolic
// link at path (*RefusedError), and as root only a regular file under
// directories that pass the rule, itself owned by root and writable by
// nobody else. A missing file is fs.ErrNotExist, as from os.OpenFile.
func OpenFile(path string, flag int, perm fs.FileMode, asRoot bool) (*os.File, error) {
	open := path
	if asRoot {
		dir, err := Dir(filepath.Dir(path))
		if err != nil {
			if _, serr := os.Lstat(path); flag&os.O_CREATE == 0 && errors.Is(serr, fs.ErrNotExist) {
				return nil, serr // nothing there to refuse
			}
			return nil, refusedAt(path, err)
		}
		open = filepath.Join(dir, filepath.Base(path))
	}
	// O_NONBLOCK: a FIFO put in the file's place must not hang the shell.
	f, err := os.OpenFile(open, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &RefusedError{Path: path, Why: "it is a symbolic link"}
	}
	if err != nil {
		return nil, err
	}
	if err := checkFile(path, f, asRoot); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkFile checks the opened file: a regular file, and as root one that
// root owns and nobody else can write.
func checkFile(path string, f *os.File, asRoot bool) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return &RefusedError{Path: path, Why: "it is not a regular file"}
	}
	if !asRoot {
		return nil
	}
	if uid := owner(fi); uid != 0 {
		return &RefusedError{Path: path, Why: fmt.Sprintf("it belongs to user %d, not to root", uid)}
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &RefusedError{Path: path, Why: fmt.Sprintf("group or others can write it (mode %v): chmod go-w it", fi.Mode().Perm())}
	}
	return nil
}

// Dir resolves the symbolic links in dir and checks the directory it
// leads to, and every one above it, against the rule. It returns the
// resolved directory, which is the one to use: the links on the way may be
// changed later by whoever owns their directories, the result may not.
func Dir(dir string) (string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return "", err
	}
	for d := real; ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil {
			return "", err
		}
		if why := dirWhy(d, fi); why != "" {
			return "", &RefusedError{Path: dir, Why: why}
		}
		if d == filepath.Dir(d) {
			return real, nil
		}
	}
}

// dirWhy says why root may not trust the directory d, or "".
func dirWhy(d string, fi fs.FileInfo) string {
	switch {
	case !fi.IsDir():
		return d + " is not a directory"
	case owner(fi) != 0:
		return fmt.Sprintf("%s belongs to user %d, not to root", d, owner(fi))
	case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
		return fmt.Sprintf("group or others can write %s (mode %v)", d, fi.Mode().Perm())
	}
	return ""
}

// MkdirAll makes dir and its missing parents with mode perm, as
// os.MkdirAll does, and makes sure that dir is a directory (not a link to
// one) that belongs to this user, with no more than perm (what others
// were allowed is taken away). As root it first checks, by the rule, the
// directories above dir that exist, so that nothing is made or used in
// one that another user controls.
func MkdirAll(dir string, perm fs.FileMode, asRoot bool) error {
	if asRoot {
		if err := parents(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	if asRoot {
		// Again, now that all exist: a link above may have led elsewhere.
		if err := parents(dir); err != nil {
			return err
		}
	}
	return tighten(dir, perm)
}

// parents checks by the rule the nearest directory above dir that exists.
func parents(dir string) error {
	have := filepath.Dir(dir)
	for have != filepath.Dir(have) {
		if _, err := os.Lstat(have); err == nil {
			break
		}
		have = filepath.Dir(have)
	}
	if _, err := Dir(have); err != nil {
		return refusedAt(dir, err)
	}
	return nil
}

// tighten checks that dir is a directory of this user's and takes from
// its mode what perm does not allow, through a descriptor opened without
// following a link, so that a link put in its place changes nothing.
func tighten(dir string, perm fs.FileMode) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
		return &RefusedError{Path: dir, Why: "it is not a directory (a symbolic link?)"}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return &RefusedError{Path: dir, Why: fmt.Sprintf("it belongs to user %d, not to you (user %d): remove it", st.Uid, uid)}
	}
	mode := fs.FileMode(st.Mode) & fs.ModePerm
	if mode&^perm == 0 {
		return nil
	}
	if err := syscall.Fchmod(fd, uint32(mode&perm)); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// refusedAt names path in a refusal found on its way.
func refusedAt(path string, err error) error {
	var re *RefusedError
	if errors.As(err, &re) {
		return &RefusedError{Path: path, Why: re.Why}
	}
	return err
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
