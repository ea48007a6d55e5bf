package guest

import (
	"io"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gathering returns a reader of a command's output pipe that reads it in
// larger pieces than a producer that writes a little at a time makes
// (busybox head writes 4 KiB): after a read of at least gatherFrom bytes
// that left room in the buffer, it gives the producer gatherWait to write
// more and takes, without waiting, what it wrote meanwhile, for as long
// as more comes. Each piece is one frame on the port, and on a guest with
// one vCPU, where the agent and the producer take turns, a frame per 4 KiB
// costs the agent more CPU than the producer uses. An output that pauses
// goes out at once: the first read that finds nothing ends the gathering;
// a small read (a line, a prompt) is sent without waiting. Anything but a
// pipe is read as it is.
func gathering(r io.Reader) io.Reader {
	f, ok := r.(*os.File)
	if !ok {
		return r
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return r
	}
	return &gatherReader{f: f, rc: rc}
}

const (
	// gatherFrom is the smallest read worth gathering after: a full
	// page, what stdio and busybox write at a time.
	gatherFrom = 4 << 10
	// gatherWait is what the producer is given to write more: about
	// what a frame costs the agent under TCG.
	gatherWait = time.Millisecond
)

type gatherReader struct {
	f  *os.File
	rc syscall.RawConn
}

func (g *gatherReader) Read(p []byte) (int, error) {
	n, err := g.f.Read(p)
	if n < gatherFrom {
		return n, err
	}
	for err == nil && n < len(p) {
		// The thread sleeps, not the goroutine, and without telling the
		// runtime (a raw system call): a sleep it knew of would have it
		// hand this P to another thread, whose search for work takes
		// the one vCPU from the producer at every wait.
		ts := unix.NsecToTimespec(gatherWait.Nanoseconds())
		unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
		m := 0
		// A read that does not wait, whether or not the pipe is in
		// non-blocking mode (Fd, which F_SETPIPE_SZ needs, takes it out
		// of it): only when poll says there are bytes. fn returning true
		// tells the runtime's poller not to park. Nothing to read, the
		// end and errors all stop the gathering; the next Read meets
		// them again.
		if rerr := g.rc.Read(func(fd uintptr) bool {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if k, err := unix.Poll(fds, 0); err == nil && k > 0 && fds[0].Revents&unix.POLLIN != 0 {
				m, _ = unix.Read(int(fd), p[n:])
			}
			return true
		}); rerr != nil || m <= 0 {
			break
		}
		n += m
	}
	return n, err
}
