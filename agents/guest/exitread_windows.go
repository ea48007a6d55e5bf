//go:build windows

package guest

import (
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// exitPoll is how long a read of an empty pipe waits for the command to
// end before it looks at the pipe again: the most that output waits.
const exitPoll = 20 // milliseconds

// exitReader reads a command's output pipe until the command has ended
// and the pipe is empty, or until every writer has closed it. It never
// blocks in a read of an empty pipe, from which nothing could take it
// back once a program the command started (and that inherited the pipe)
// is all that holds its other end: it looks at the pipe
// (PeekNamedPipe) and waits on the command's process in turns.
type exitReader struct {
	f    *os.File
	proc windows.Handle
	peek *windows.LazyProc
}

// untilExit reads f, an output of the process proc, as exitReader does.
func untilExit(f *os.File, proc windows.Handle) io.Reader {
	return &exitReader{f: f, proc: proc,
		peek: windows.NewLazySystemDLL("kernel32.dll").NewProc("PeekNamedPipe")}
}

func (r *exitReader) Read(b []byte) (int, error) {
	for {
		n, err := r.available()
		if err != nil {
			return 0, io.EOF // broken pipe: every writer has closed it
		}
		if n > 0 {
			return r.f.Read(b[:min(len(b), n)])
		}
		ev, err := windows.WaitForSingleObject(r.proc, exitPoll)
		if err != nil {
			return 0, fmt.Errorf("wait for the command: %w", err)
		}
		if ev == windows.WAIT_OBJECT_0 {
			// Ended: what it wrote before is in the pipe now.
			if n, err := r.available(); err != nil || n == 0 {
				return 0, io.EOF
			}
		}
	}
}

// available is how many bytes the pipe holds.
func (r *exitReader) available() (int, error) {
	var n uint32
	ok, _, err := r.peek.Call(r.f.Fd(), 0, 0, 0, uintptr(unsafe.Pointer(&n)), 0)
	if ok == 0 {
		return 0, err
	}
	return int(n), nil
}

// Close closes the agent's end, for CloseOutput.
func (r *exitReader) Close() error { return r.f.Close() }
