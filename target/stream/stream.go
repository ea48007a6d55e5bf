// Package stream runs one command that a backend has started on a target,
// with the same rules for every kind of target: it copies the command's
// input and output (and what a failed write means), forwards terminal
// sizes, relays a cancel, and turns how the run ended into a status. It
// closes the transport before it waits for its helpers, and bounds every
// wait on the remote end, so that no peer can hang the host.
//
// A backend (the agent client, the Docker Engine exec) supplies only what
// differs, as a Remote and its Streams: how to signal the command, resize
// its terminal, read its exit and close its transport. This package starts
// nothing and speaks no protocol.
package stream

import (
	"context"
	"io"

	"spirit/target"
)

// Statuses of runs that spirit ends itself, as a shell reports them.
const (
	StatusInterrupted = 130 // 128 + SIGINT: the context was cancelled
	StatusBrokenPipe  = 141 // 128 + SIGPIPE: nobody reads the output any more
)

// Remote is a command started on a target, as its backend drives it. Run
// calls Resize from a goroutine of its own while it calls the others.
type Remote interface {
	// Exit waits for the command's end and returns its status (128+N
	// for a death by signal N). outputEnded is closed once every output
	// has reached its end, for a remote that reports the end only after
	// that. Exit must return once ctx is done or Close has been called.
	Exit(ctx context.Context, outputEnded <-chan struct{}) (int, error)
	// Stop sends sig ("INT") to the command and everything it started,
	// and has what is left killed after a short grace. An error means
	// the command may still be running.
	Stop(ctx context.Context, sig string) error
	// Resize sets the size of the command's terminal.
	Resize(ctx context.Context, s target.WinSize) error
	// OutputGone tells the remote end that nobody reads output fd (1 or
	// 2) any more, so that the command meets a broken pipe as it would on
	// the host. It reports whether it stopped the command instead (a
	// remote that cannot close one output alone): the run ends then.
	OutputGone(ctx context.Context, fd int) (stopped bool, err error)
	// Close ends the transport: pending and later reads and writes of the
	// streams and of Exit return. It may be called more than once.
	Close() error
}

// Signaler is a Remote that can stop and continue the command and all it
// started (target.SignalStop, target.SignalCont), for job control. A
// remote that is not one leaves the command running while the job is
// stopped on the host (its output then waits in the flow control).
type Signaler interface {
	Signal(ctx context.Context, sig target.Signal) error
}

// Streams are a started command's standard files as its remote offers
// them.
type Streams struct {
	// Stdin takes the command's input; nil when it reads none.
	Stdin Input
	// Outputs carry its output: one stream for each file, or one for
	// both.
	Outputs []Output
}

// Input is the writing end of a command's stdin; CloseWrite gives the
// command EOF.
type Input interface {
	io.Writer
	CloseWrite() error
}

// Output is one stream of a command's output. A read error other than
// io.EOF ends the run with that error, once the command is stopped.
type Output struct {
	R io.Reader
	// FD is the command's file whose bytes R carries: 1 or 2 (a
	// terminal's output is 1).
	FD int
	// Demux, when not nil, splits R between stdout and stderr: R carries
	// both, framed (as the Docker Engine frames them). It must not stop
	// at a failed write: the writers Run gives never fail.
	Demux func(stdout, stderr io.Writer, r io.Reader) (int64, error)
}
