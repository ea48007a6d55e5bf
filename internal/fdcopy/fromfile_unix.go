//go:build unix

package fdcopy

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval bounds how long the copier takes to notice that the run is
// over.
const pollInterval = 50 * time.Millisecond

// FromFile copies f (the user's terminal, a script being read, a pipe from
// another segment) to w until f's end, and reports whether it got there.
// It reads only when poll says f is readable and done is not closed, so no
// read is left pending when the command ends, and no byte is taken from
// the file after that: the next command, or the shell, gets it.
func FromFile(w io.Writer, f *os.File, done <-chan struct{}) (eof bool, err error) {
	return FromFileWhen(w, f, done, nil)
}

// FromFileWhen is FromFile that reads only while may (when not nil) says
// so, checking again every pollInterval: a terminal is read only by the
// job in its foreground.
func FromFileWhen(w io.Writer, f *os.File, done <-chan struct{}, may func() bool) (eof bool, err error) {
	// SyscallConn, unlike Fd, leaves the file's blocking mode alone.
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	buf := make([]byte, 32<<10)
	for {
		ok, err := waitReadable(rc, done)
		if err != nil || !ok {
			return false, err
		}
		if may != nil && !may() {
			select {
			case <-done:
				return false, nil
			case <-time.After(pollInterval):
			}
			continue
		}
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
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
