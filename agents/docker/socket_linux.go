package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errUnreachable is wrapped when the host cannot see into the container
// at all (not root, a kernel without openat2 or pidfds): starting an
// agent there would not help.
var errUnreachable = errors.New("the container's files are not reachable from here")

// startSlack is how much later than the Engine's StartedAt the
// container's first process may seem to have started: the Engine stamps
// StartedAt after the process is made, so only a clock stepped meanwhile
// moves it later. A process that took a dead container's PID started
// after the container's.
const startSlack = 2 * time.Second

// heldProc is a container's first process, held from its check to the end
// of every dial through it. The host reaches the agent's socket through
// the process's root, /proc/PID/root; looked up by number again, that
// would be whichever process has the PID by then, another user's once the
// container's has exited and PIDs wrap. A /proc/PID directory descriptor
// names one process for good (lookups under it fail once it is gone), and
// its pidfd says whether it still runs.
type heldProc struct {
	container string // its name, for messages
	pid       int
	pidfd     int
	dir       int    // /proc/PID, O_PATH
	start     string // the process's start time (field 22 of its stat)
	pidns     [2]uint64
	// rootUID and rootGID are the container's root as the host sees it:
	// 0 unless the Engine maps the container's users (userns-remap).
	rootUID, rootGID uint32
}

// holdProcess holds the process pid, which the Engine gives as the first
// process of the container id, named name, started at startedAt
// (RFC 3339), and checks that it is that: in the container's cgroup, and
// started no later than the container did.
func holdProcess(name, id string, pid int, startedAt string) (*heldProc, error) {
	started, err := time.Parse(time.RFC3339Nano, startedAt)
	if err != nil {
		return nil, fmt.Errorf("%w: the Engine's start time %q: %v", errUnreachable, startedAt, err)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return nil, &goneError{container: name, pid: pid, why: "has exited"}
	case err != nil:
		return nil, fmt.Errorf("%w: pidfd of process %d: %v", errUnreachable, pid, err)
	}
	h := &heldProc{container: name, pid: pid, pidfd: pidfd, dir: -1}
	if err := h.hold(id, started); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// hold opens the process's /proc directory and reads what is checked.
func (h *heldProc) hold(id string, started time.Time) error {
	dir, err := unix.Open("/proc/"+strconv.Itoa(h.pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return h.goneOr("has exited", fmt.Errorf("%w: /proc/%d: %v", errUnreachable, h.pid, err))
	}
	h.dir = dir
	// The pidfd was opened first: if its process still runs, the
	// directory opened after is that process's, not a successor's.
	if err := h.alive(); err != nil {
		return &goneError{container: h.container, pid: h.pid, why: "has exited"}
	}
	stat, err := h.read("stat")
	if err != nil {
		return h.goneOr("has exited", err)
	}
	if h.start, err = startTime(stat); err != nil {
		return err
	}
	if at, err := h.startedAt(); err != nil {
		return err
	} else if at.After(started.Add(startSlack)) {
		return &goneError{container: h.container, pid: h.pid,
			why: fmt.Sprintf("was replaced: what has that PID now started at %s, after the container (%s)", at.Format(time.RFC3339Nano), started.Format(time.RFC3339Nano))}
	}
	cg, err := h.read("cgroup")
	if err != nil {
		return h.goneOr("has exited", err)
	}
	if !bytes.Contains(cg, []byte(id)) {
		return &goneError{container: h.container, pid: h.pid, why: "was replaced: what has that PID now is not in the container's cgroup"}
	}
	if h.pidns, err = h.nsOf(h.dir); err != nil {
		return h.goneOr("has exited", fmt.Errorf("%w: %v", errUnreachable, err))
	}
	for _, m := range []struct {
		file string
		id   *uint32
	}{{"uid_map", &h.rootUID}, {"gid_map", &h.rootGID}} {
		data, err := h.read(m.file)
		if err != nil {
			return h.goneOr("has exited", err)
		}
		if *m.id, err = mapRoot(data); err != nil {
			return fmt.Errorf("%w: process %d's %s: %v", errUnreachable, h.pid, m.file, err)
		}
	}
	return nil
}

// close lets the process go.
func (h *heldProc) close() {
	if h.dir >= 0 {
		unix.Close(h.dir)
	}
	unix.Close(h.pidfd)
}

// alive says (nil) whether the held process still runs. A signal 0
// through its pidfd fails with ESRCH once it has exited (and EPERM for a
// user who may not signal it, which says nothing); an exited process not
// yet reaped takes signals, and its state in stat says what it is.
func (h *heldProc) alive() error {
	if err := unix.PidfdSendSignal(h.pidfd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
		return err
	}
	if h.dir < 0 {
		return nil
	}
	stat, err := h.read("stat")
	if err != nil {
		return err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return fmt.Errorf("malformed stat %q", stat)
	}
	if state := stat[i+2]; state == 'Z' || state == 'X' {
		return errors.New("it has exited")
	}
	return nil
}

// goneOr is a goneError when the process no longer runs, and err
// otherwise: a failed lookup under /proc/PID means the former.
func (h *heldProc) goneOr(why string, err error) error {
	if h.alive() != nil {
		return &goneError{container: h.container, pid: h.pid, why: why}
	}
	return err
}

// still says (nil) whether the process is still the one checked: it
// runs, and the process that has its PID has its start time.
func (h *heldProc) still() error {
	if h.alive() != nil {
		return &goneError{container: h.container, pid: h.pid, why: "exited while spirit connected"}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(h.pid) + "/stat")
	if err != nil {
		return h.goneOr("exited while spirit connected", err)
	}
	if start, err := startTime(stat); err != nil || start != h.start {
		return &goneError{container: h.container, pid: h.pid, why: "was replaced while spirit connected"}
	}
	return nil
}

// read reads a file of the process's /proc directory.
func (h *heldProc) read(name string) ([]byte, error) {
	fd, err := unix.Openat(h.dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: fmt.Sprintf("/proc/%d/%s", h.pid, name), Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<10))
}

// nsOf is the device and inode of the pid namespace of the process whose
// /proc directory is dir.
func (h *heldProc) nsOf(dir int) ([2]uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, "ns/pid", &st, 0); err != nil {
		return [2]uint64{}, fmt.Errorf("pid namespace: %w", err)
	}
	return [2]uint64{st.Dev, st.Ino}, nil
}

// startedAt is when the process started, by the wall clock.
func (h *heldProc) startedAt() (time.Time, error) {
	ticks, err := strconv.ParseUint(h.start, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("process %d's start time %q: %v", h.pid, h.start, err)
	}
	var boot unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		return time.Time{}, err
	}
	// Start times are in USER_HZ, 100 a second on every Linux Go runs on.
	since := time.Duration(boot.Nano()) - time.Duration(ticks)*(time.Second/100)
	return time.Now().Add(-since), nil
}

// startTime is field 22 of a /proc/PID/stat: the process's start, in
// clock ticks since boot. Its name, field 2, may hold anything but ends at
// the last ')'.
func startTime(stat []byte) (string, error) {
	i := bytes.LastIndexByte(stat, ')')
	fields := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(fields) < 20 {
		return "", fmt.Errorf("malformed stat %q", stat)
	}
	return fields[19], nil
}

// mapRoot is what id 0 maps to in a uid_map or gid_map.
func mapRoot(data []byte) (uint32, error) {
	for line := range strings.Lines(string(data)) {
		var in, out, n uint64
		if _, err := fmt.Sscan(line, &in, &out, &n); err != nil {
			return 0, err
		}
		if in == 0 && n > 0 {
			return uint32(out), nil
		}
	}
	return 0, errors.New("the container's root maps to no user of the host")
}

// root opens the process's root directory.
func (h *heldProc) root() (int, error) {
	fd, err := unix.Openat(h.dir, "root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, h.goneOr("exited while spirit connected", fmt.Errorf("%w: /proc/%d/root: %v", errUnreachable, h.pid, err))
	}
	return fd, nil
}

// openIn opens p in the container, as the container would resolve it:
// with openat2(RESOLVE_IN_ROOT) under the process's root, so that a
// symbolic link in the container (made by whoever is root there) cannot
// lead out of it to a file of the host's.
func (h *heldProc) openIn(p string, flags uint64) (int, error) {
	root, err := h.root()
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, path.Clean("./"+p), &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return -1, fmt.Errorf("%w: openat2: %v", errUnreachable, err)
	}
	if err != nil {
		return -1, h.goneOr("exited while spirit connected", &os.PathError{Op: "open", Path: p, Err: err})
	}
	return fd, nil
}

// private says (nil) whether st is a file of kind (S_IFMT bits) that
// belongs to the container's root and that no one else can use.
func (h *heldProc) private(st *unix.Stat_t, kind uint32, mask uint32) error {
	switch {
	case st.Mode&unix.S_IFMT != kind:
		return errors.New("not of the expected kind")
	case st.Uid != h.rootUID:
		return fmt.Errorf("owned by uid %d, not the container's root (%d)", st.Uid, h.rootUID)
	case st.Mode&mask != 0:
		return fmt.Errorf("mode %o gives others access", st.Mode&0o7777)
	}
	return nil
}

// dial connects to the unix socket at sock inside the container, which
// must belong to the container's root and be private to it; it is reached
// through the O_PATH descriptor's /proc/self/fd link. The process must
// still be the one checked once connected, and the listener must be the
// container's root in the container's pid namespace.
func (h *heldProc) dial(ctx context.Context, sock string) (net.Conn, error) {
	fd, err := h.openIn(sock, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: sock, Err: err}
	}
	if err := h.private(&st, unix.S_IFSOCK, 0o077); err != nil {
		return nil, &os.PathError{Op: "dial", Path: sock, Err: fmt.Errorf("not a private socket of the container's root: %w", err)}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w: %v", errUnreachable, err)
		}
		return nil, h.goneOr("exited while spirit connected", err)
	}
	if err := h.still(); err != nil {
		closeQuietly(conn)
		return nil, err
	}
	if err := h.checkPeer(conn); err != nil {
		closeQuietly(conn)
		return nil, &os.PathError{Op: "dial", Path: sock, Err: err}
	}
	return conn, nil
}

// checkPeer says (nil) whether what listens at the other end of conn is
// the container's root, in the container's pid namespace: the
// credentials that the kernel recorded when it listened, not what the
// socket file says.
func (h *heldProc) checkPeer(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("not a unix connection: %T", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	peerfd := -1
	var credErr, pidfdErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		peerfd, pidfdErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD)
	}); err != nil {
		return err
	}
	if credErr != nil {
		if pidfdErr == nil {
			unix.Close(peerfd)
		}
		return fmt.Errorf("the listener's credentials: %w", credErr)
	}
	if pidfdErr != nil {
		// Before Linux 6.5: hold the listener by its PID now; it may
		// have exited already, and a check of a successor fails below
		// unless that is the container's root in the container too.
		peerfd, pidfdErr = unix.PidfdOpen(int(cred.Pid), 0)
		if pidfdErr != nil {
			return fmt.Errorf("the listener, process %d: %w", cred.Pid, pidfdErr)
		}
	}
	defer unix.Close(peerfd)
	if cred.Uid != h.rootUID {
		return fmt.Errorf("the listener, process %d, runs as uid %d, not the container's root (%d)", cred.Pid, cred.Uid, h.rootUID)
	}
	dir, err := unix.Open("/proc/"+strconv.Itoa(int(cred.Pid)), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("the listener, process %d: %w", cred.Pid, err)
	}
	defer unix.Close(dir)
	ns, err := h.nsOf(dir)
	if err != nil {
		return fmt.Errorf("the listener, process %d: %w", cred.Pid, err)
	}
	if err := unix.PidfdSendSignal(peerfd, 0, nil, 0); errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("the listener, process %d, exited", cred.Pid)
	}
	if ns != h.pidns {
		return fmt.Errorf("the listener, process %d, is not in the container's pid namespace", cred.Pid)
	}
	return nil
}

// agentDir opens dir in the container, a directory of the agent's that
// must belong to the container's root and be writable by no one else.
func (h *heldProc) agentDir(dir string) (int, error) {
	fd, err := h.openIn(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	if err := h.private(&st, unix.S_IFDIR, 0o022); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// agentSocket reads, from dir in the container, the name of the socket
// of the agent last started there from the binary whose key is key (see
// socketName), and returns the socket's path.
func (h *heldProc) agentSocket(dir, key string) (string, error) {
	dfd, err := h.agentDir(dir)
	if err != nil {
		return "", err
	}
	defer unix.Close(dfd)
	file := nameFile(key)
	fd, err := unix.Openat(dfd, file, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", h.goneOr("exited while spirit connected", &os.PathError{Op: "open", Path: dir + "/" + file, Err: err})
	}
	f := os.NewFile(uintptr(fd), file)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: dir + "/" + file, Err: err}
	}
	if err := h.private(&st, unix.S_IFREG, 0o077); err != nil {
		return "", &os.PathError{Op: "open", Path: dir + "/" + file, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return "", &os.PathError{Op: "read", Path: dir + "/" + file, Err: err}
	}
	name := strings.TrimSpace(string(data))
	if !validSocketName(name, key) {
		return "", fmt.Errorf("%s/%s: %q is not a socket name of the agent's", dir, file, name)
	}
	return dir + "/" + name, nil
}

// saveAgentSocket writes, in the agent's directory in the container, the
// name of sock, the socket of an agent that the host started there and
// connected to, for the next spirit to find: a file of the container's
// root that no one else can read.
func (h *heldProc) saveAgentSocket(sock, key string) error {
	dir, name := path.Split(sock)
	dir = path.Clean(dir)
	dfd, err := h.agentDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	file := nameFile(key)
	tmp := file + ".tmp-" + rand.Text()
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: dir + "/" + tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	err = unix.Fchown(fd, int(h.rootUID), int(h.rootGID))
	if err == nil {
		_, err = f.WriteString(name + "\n")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, file)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return &os.PathError{Op: "write", Path: dir + "/" + file, Err: err}
	}
	return nil
}

// removeSocket removes sock, a socket of the agent's in the container that
// no agent listens on any more.
func (h *heldProc) removeSocket(sock string) error {
	dir, name := path.Split(sock)
	dfd, err := h.agentDir(path.Clean(dir))
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Unlinkat(dfd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: sock, Err: err}
	}
	return nil
}
