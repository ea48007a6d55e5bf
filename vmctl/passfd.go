package vmctl

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// QEMU runs as a user who may reach none of the VM's paths (the runtime
// and state directories are root's, mode 0700, and disks may be anyone's),
// so every file it needs is opened by the supervisor and passed to it as
// an open descriptor: disks and firmware through -add-fd and
// /dev/fdset/N, sockets as listening descriptors (-chardev socket,fd=N),
// the console log as an fdset too, and the kernel and initrd, which QEMU
// only loads from a path, as /proc/self/fd/N. No file changes owner.

// Pass says how the supervisor opens a file that it passes to QEMU.
type Pass string

const (
	// PassRead opens the file read-only.
	PassRead Pass = "read"
	// PassReadWrite opens it read-write.
	PassReadWrite Pass = "readwrite"
	// PassLoad opens it read-only for QEMU to load through
	// /proc/self/fd/N. Reopening that path checks the file's own mode
	// (not the directories'), so a file that others may not read is
	// copied into a memfd first when QEMU runs as another user.
	PassLoad Pass = "load"
	// PassLog creates or truncates the file (0600) for writing.
	PassLog Pass = "log"
	// PassListen makes a unix socket (0600) listening at the path: QEMU
	// accepts on it, its users connect to the path.
	PassListen Pass = "listen"
	// PassTap runs the bridge helper at the path, which makes a tap
	// device on the bridge Bridge (see openTap).
	PassTap Pass = "tap"
)

// PassedFile is a file that QEMU gets open, at descriptor PassedFD(i)
// for the i-th of Bootstrap.Files.
type PassedFile struct {
	Path string `json:"path"`
	How  Pass   `json:"how"`
	// Bridge is the bridge of a PassTap.
	Bridge string `json:"bridge,omitempty"`
}

// firstPassedFD is the descriptor of the first passed file: the files
// follow stdin, stdout and stderr, as exec.Cmd.ExtraFiles puts them.
const firstPassedFD = 3

// PassedFD is the descriptor QEMU has the i-th passed file at.
func PassedFD(i int) int { return firstPassedFD + i }

// OpenPassed opens files as QEMU is to get them, in order, for
// exec.Cmd.ExtraFiles. otherUser says that QEMU runs as a user other
// than the files' owner (see PassLoad). On an error, what was opened is
// closed; the sockets made stay, for the caller to remove (they are
// among Env.Live).
func OpenPassed(files []PassedFile, otherUser bool) ([]*os.File, error) {
	out := make([]*os.File, 0, len(files))
	for _, pf := range files {
		f, err := pf.open(otherUser)
		if err != nil {
			ClosePassed(out)
			return nil, fmt.Errorf("open %s for qemu: %w", pf.Path, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// ClosePassed closes the supervisor's copies once QEMU has its own.
func ClosePassed(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func (pf PassedFile) open(otherUser bool) (*os.File, error) {
	switch pf.How {
	case PassRead:
		return os.Open(pf.Path)
	case PassReadWrite:
		return os.OpenFile(pf.Path, os.O_RDWR, 0)
	case PassLoad:
		return openLoad(pf.Path, otherUser)
	case PassLog:
		return os.OpenFile(pf.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	case PassListen:
		return listenFile(pf.Path)
	case PassTap:
		return openTap(pf.Path, pf.Bridge)
	}
	return nil, fmt.Errorf("unknown way to pass a file: %q", pf.How)
}

// openLoad opens a file for QEMU to read through /proc/self/fd/N.
func openLoad(path string, otherUser bool) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !otherUser || fi.Mode().Perm()&0o004 != 0 {
		return f, err
	}
	defer f.Close()
	return memfdCopy(f)
}

// memfdCopy copies r into a memory file that QEMU's user may reopen
// (a memfd's mode is 0777), sealed against change.
func memfdCopy(r io.Reader) (*os.File, error) {
	fd, err := unix.MemfdCreate("spirit-load", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	m := os.NewFile(uintptr(fd), "memfd:spirit-load")
	if _, err := io.Copy(m, r); err != nil {
		m.Close()
		return nil, fmt.Errorf("copy into a memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(m.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		m.Close()
		return nil, fmt.Errorf("seal the memfd: %w", err)
	}
	return m, nil
}

// listenFile makes a unix socket listening at path that only its owner
// may connect to, and returns its descriptor.
func listenFile(path string) (*os.File, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The socket is QEMU's from here: closing this copy must not
	// remove its path.
	ln.SetUnlinkOnClose(false)
	defer ln.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	return ln.File()
}

// passer allocates the descriptors of one command line.
type passer struct {
	files []PassedFile
}

// add passes the file and returns its descriptor.
func (p *passer) add(path string, how Pass) int {
	return p.addFile(PassedFile{Path: path, How: how})
}

func (p *passer) addFile(f PassedFile) int {
	p.files = append(p.files, f)
	return PassedFD(len(p.files) - 1)
}

// fdset passes path as an fdset of its own, and returns the options
// that declare it (-add-fd, once per descriptor) and the name QEMU opens
// it by. A writable image gets a read-only descriptor too: QEMU reopens
// an image read-only while no device writes to it, and an fdset lends
// only a descriptor of the access mode asked for. The opaque string is
// the path, for people (and endOrphan) reading QEMU's command line.
func (p *passer) fdset(path string, hows ...Pass) (opts [][]string, name string) {
	set := ""
	for _, how := range hows {
		fd := strconv.Itoa(p.add(path, how))
		if set == "" {
			set = fd
		}
		opts = append(opts, []string{"fd=" + fd, "set=" + set, "opaque=" + esc(path)})
	}
	return opts, "/dev/fdset/" + set
}
