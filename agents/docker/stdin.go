package docker

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval bounds how long the file stdin copier takes to notice that
// the run is over.
const pollInterval = 50 * time.Millisecond

// copyFileStdin copies a file (the user's terminal, a script being read, a
// pipe from another segment) to the exec, then gives it EOF. It reads only
// when poll says the file is readable and the run is not over, so no read
// is left pending when the command ends, and no byte is taken from the file
// after that: the next command, or the shell, gets it.
func (e *execRun) copyFileStdin(f *os.File, done <-chan struct{}) {
	// SyscallConn, unlike Fd, leaves the file's blocking mode alone.
	rc, err := f.SyscallConn()
	if err != nil {
		e.b.log.Debug("docker exec stdin", "exec", e.id, "err", err)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		ok, err := waitReadable(rc, done)
		if err != nil {
			e.b.log.Debug("docker exec stdin poll", "exec", e.id, "err", err)
			return
		}
		if !ok {
			return
		}
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := e.att.Conn.Write(buf[:n]); werr != nil {
				e.b.log.Debug("docker exec stdin", "exec", e.id, "err", werr)
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if err := e.att.CloseWrite(); err != nil {
				e.b.log.Debug("docker exec stdin close", "exec", e.id, "err", err)
			}
			return
		}
		if err != nil {
			e.b.log.Debug("docker exec stdin", "exec", e.id, "err", err)
			return
		}
	}
}

// waitReadable waits until the file has something to read (or its end, or
// an error, which the read will report) and returns true, or returns false
// once done is closed.
func waitReadable(rc syscall.RawConn, done <-chan struct{}) (bool, error) {
	for {
		select {
		case <-done:
			return false, nil
		default:
		}
		var n int
		var perr error
		err := rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, perr = unix.Poll(fds, int(pollInterval/time.Millisecond))
		})
		switch {
		case err != nil:
			return false, err
		case errors.Is(perr, unix.EINTR):
			continue
		case perr != nil:
			return false, perr
		case n > 0:
			// Check again: the command may have ended during the poll.
			select {
			case <-done:
				return false, nil
			default:
				return true, nil
			}
		}
	}
}
