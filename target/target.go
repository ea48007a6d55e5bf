// Package target is the contract every kind of target implements: a place
// other than the host where a command runs (a VM guest, a container, an
// agent at an address), its Command and terminal, and the Registry in which
// each kind of target is registered once (package kinds registers them), with
// the one rule for the names a user gives targets (CheckName). It is a leaf:
// it imports nothing of spirit's, so the agent, the supervisor and every
// backend can depend on it without the shell or its interpreter. How a
// command's streams are run is its sub-package stream's.
package target

import (
	"context"
	"errors"
	"io"
)

// Target is a place other than the host where a segment runs: a VM guest
// reached through its agent, or a container reached through the Docker
// Engine. It is kept small so that both can implement it.
type Target interface {
	// Exec runs c.Text with the target's own shell (/bin/sh -c, cmd.exe /c)
	// and returns its exit status (128+N for a death by signal N). It
	// returns when the command has ended and all of its output has been
	// written. When ctx is cancelled the target signals the command and
	// everything it started (then kills them after a short grace) and
	// returns once they are gone.
	Exec(ctx context.Context, c *Command) (int, error)
	// Open opens path on the target. A file opened to write is complete on
	// the target only once Close has returned nil: Close reports any
	// failure to store it.
	Open(ctx context.Context, path string, mode OpenMode) (io.ReadWriteCloser, error)
}

// Controller is implemented by targets that take control words, as in
// "@docker:web --pause".
type Controller interface {
	// Control carries out a control word ("--pause", "--status", ...) with
	// its arguments and writes what it has to say to stdout.
	Control(ctx context.Context, word string, args []string, stdout io.Writer) error
	// ControlWords lists the words Control accepts, for messages and
	// completion.
	ControlWords() []string
}

// Command is one segment to run on a target.
type Command struct {
	// Text is the segment's exact source text, without its @target word.
	Text string
	// Env holds NAME=value pairs from the segment's assignment prefixes,
	// evaluated on the host.
	Env []string
	// Stdin is nil when the command reads nothing. A read from it may
	// block until the command ends; the target must not wait for such a
	// read once the command has exited.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Signals, when not nil, delivers job-control signals while the
	// command runs: SignalStop stops the command and everything it
	// started, SignalCont continues them. A target that cannot do so
	// ignores them. A target receives the next value only once it has
	// handled the one before, so that a sender that must not go on
	// before a stop has reached the target (a stand-in about to stop
	// itself) sends SignalSync after it on an unbuffered channel.
	Signals <-chan Signal
	// TTY is non-nil when the segment is alone on a terminal: the command
	// runs under a pseudo-terminal of this size, and Stdout receives the
	// terminal's output (Stderr is unused).
	TTY *TTY
	// Desktop runs the command as the user logged on to the target's
	// desktop, where its windows show (`@windows --desktop notepad`): a
	// Windows guest's agent is a service with no visible desktop. A
	// target that has no such user refuses it (errors.ErrUnsupported).
	Desktop bool
}

// Signal is a job-control signal for a running command.
type Signal string

// The job-control signals of Command.Signals.
const (
	SignalStop Signal = "STOP"
	SignalCont Signal = "CONT"
	// SignalSync is no signal: its receipt means the one before it has
	// been handled.
	SignalSync Signal = ""
)

// TTY describes the local terminal a command runs on.
type TTY struct {
	Size WinSize
	// Resize delivers new sizes while the command runs. It is closed when
	// the command's run ends.
	Resize <-chan WinSize
}

// WinSize is a terminal size in character cells.
type WinSize struct {
	Rows, Cols uint16
}

// OpenMode says how Target.Open opens a file.
type OpenMode int

const (
	// Read opens an existing file for reading.
	Read OpenMode = iota
	// Write creates the file or truncates it.
	Write
	// Append creates the file or appends to it.
	Append
)

func (m OpenMode) String() string {
	switch m {
	case Read:
		return "read"
	case Write:
		return "write"
	case Append:
		return "append"
	}
	return "unknown"
}

// ErrUnknownTarget is wrapped by Registry.Resolve (and Kind.Lookup) for
// names it does not know.
var ErrUnknownTarget = errors.New("unknown target")

// ErrNotFound is wrapped by targets when the thing named does not exist
// (no such container, no such VM); the router reports it with status 127.
var ErrNotFound = errors.New("not found")
