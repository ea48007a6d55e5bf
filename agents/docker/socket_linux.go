package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"syscall"

	"golang.org/x/sys/unix"
)

// errUnreachable is wrapped when the host cannot see into the container
// at all (not root, a kernel without openat2): starting an agent there
// would not help.
var errUnreachable = errors.New("the container's files are not reachable from here")

// dialInContainer connects to the unix socket at sock inside the
// container whose first process is pid, from the host.
//
// The path is resolved with openat2(RESOLVE_IN_ROOT) under
// /proc/PID/root, so that a symbolic link in the container (made by
// whoever is root there) cannot lead out of it to a socket of the host's;
// the socket must belong to the container's root and be private to it.
// It is reached through the O_PATH descriptor's /proc/self/fd link.
func dialInContainer(ctx context.Context, pid int, sock string) (net.Conn, error) {
	proc := fmt.Sprintf("/proc/%d", pid)
	var owner unix.Stat_t
	if err := unix.Stat(proc, &owner); err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreachable, err)
	}
	root, err := unix.Open(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/root: %v", errUnreachable, proc, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, path.Clean("./"+sock), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return nil, fmt.Errorf("%w: openat2: %v", errUnreachable, err)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: sock, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: sock, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Uid != owner.Uid || st.Mode&0o077 != 0 {
		return nil, &os.PathError{Op: "dial", Path: sock, Err: errors.New("not a private socket of the container's root")}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: %v", errUnreachable, err)
		}
		return nil, err
	}
	return conn, nil
}
