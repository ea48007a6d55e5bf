// Package guest is the agent's side of the protocol: it serves a host's
// connection, runs commands and moves files for it.
package guest

import (
	"io"

	"spirit/agents/wire"
)

// process is a command started for an exec request. Each OS has its own
// (proc_unix.go, proc_windows.go).
type process interface {
	// Stdin is where the command's input goes, nil when the request has
	// no stdin. Closing it gives the command EOF (not under a pty).
	Stdin() io.WriteCloser
	// Stdout and Stderr are the command's output; Stderr is nil under a
	// pty, where both are one. A read after the command and all it
	// started have closed them returns io.EOF.
	Stdout() io.Reader
	Stderr() io.Reader
	// Signal sends a signal (one of wire.Signals) to the command and
	// everything it started: its process group, or its job on Windows.
	Signal(name string) error
	// Kill ends the command and everything it started, at once.
	Kill() error
	// Resize changes the pty's size; an error when there is no pty.
	Resize(size wire.Resize) error
	// CloseOutput closes the agent's end of stdout (1) or stderr (2), so
	// that the command's next write to it fails as in a broken pipe.
	CloseOutput(fd int) error
	// Wait waits for the command itself (not what it started) to end.
	Wait() (wire.ExitMsg, error)
	// Release frees what the process holds once it is over and its
	// output has been read: pipe ends, the pty, the job handle.
	Release()
}

// startProcess starts the command a request describes, in its own process
// group (or job), with the agent's environment plus req.Env, in req.Dir.
// The error wraps fs.ErrNotExist when the program or the directory does
// not exist.
//
// It is defined per OS:
//
//	func startProcess(req *wire.Request) (process, error)
