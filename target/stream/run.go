package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"spirit/target"
)

const (
	// cancelWait bounds how long a cancelled run waits for the remote end
	// to report the command gone once it has been told to stop it.
	cancelWait = 3 * time.Second
	// outputGrace is how long, after the exit, an output may keep the run
	// waiting on the remote end without sending anything: a peer behind a
	// relay may report the exit before the last of the output, but not
	// long before.
	outputGrace = 2 * time.Second
)

// Run streams c's files to and from a command the backend has started,
// until it ends, and returns its status; see target.Target's Exec. log
// may be nil.
//
// Whatever the remote end does (it never reads stdin, never ends its
// outputs, never reports the exit), Run returns within a short grace of
// the exit or of ctx's end: it closes the transport before it waits for
// its helpers. Once the transport is closed, an output still blocked in a
// write on the host is waited for only that grace too.
func Run(ctx context.Context, c *target.Command, r Remote, s Streams, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The helpers' context outlives ctx: a cancelled run still waits
	// (a little) for the exit, which may need the transport.
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	x := &run{
		c: c, r: r, s: s, log: log,
		done:        make(chan struct{}),
		cut:         make(chan struct{}),
		gone:        make(chan int, 2),
		readErr:     make(chan error, len(s.Outputs)),
		outputEnded: make(chan struct{}),
		exit:        make(chan exitResult, 1),
	}
	defer x.end(stop)
	x.startOutputs()
	x.startStdin()
	if c.TTY != nil {
		x.helpers.Go(func() { x.resize(hctx, c.TTY) })
	}
	if c.Signals != nil {
		// Drained even when r takes no signals, so that a sender that
		// waits for each to be handled does not wait in vain.
		sr, _ := r.(Signaler)
		x.helpers.Go(func() { x.relaySignals(hctx, sr, c.Signals) })
	}
	x.helpers.Go(func() {
		status, err := r.Exit(hctx, x.outputEnded)
		x.exit <- exitResult{status, err}
	})
	return x.wait(ctx)
}

// NotStarted is the status of a command whose start failed with err: 130
// when ctx's end cut the start short (the command ran at most briefly),
// else 1 and err.
func NotStarted(ctx context.Context, err error) (int, error) {
	if ctx.Err() != nil {
		return StatusInterrupted, nil
	}
	return 1, err
}

// run is one command being run.
type run struct {
	c   *target.Command
	r   Remote
	s   Streams
	log *slog.Logger

	done        chan struct{} // closed when the run is over: helpers stop
	cut         chan struct{} // closed then too: outputs stop at their next read
	gone        chan int      // an output whose writer failed, once each
	readErr     chan error    // an output whose read failed
	outputEnded chan struct{} // closed when every output has ended
	exit        chan exitResult
	readers     []*peerReader
	helpers     sync.WaitGroup // the goroutines of the run but its copiers
}

type exitResult struct {
	status int
	err    error
}

// end stops the helpers, closes the transport (which unblocks any of them
// that waits on the remote end), then waits for them.
func (x *run) end(stop context.CancelFunc) {
	close(x.done)
	close(x.cut)
	stop()
	if err := x.r.Close(); err != nil {
		x.log.Debug("close a command's transport", "err", err)
	}
	x.helpers.Wait()
	// Once the transport is closed, an output's copier can only be
	// blocked in a write on the host (to a pager that does not read):
	// the run cannot hurry that, and does not wait for it long.
	select {
	case <-x.outputEnded:
	case <-time.After(outputGrace):
		x.log.Debug("an output is still being written on the host")
	}
}

// wait waits for the command's end, a failed output, or ctx's end.
func (x *run) wait(ctx context.Context) (int, error) {
	for {
		select {
		case e := <-x.exit:
			if e.err != nil {
				return 1, e.err
			}
			x.drain(ctx, time.Now())
			return e.status, nil
		case err := <-x.readErr:
			if serr := x.r.Stop(ctx, "INT"); serr != nil {
				err = errors.Join(err, serr)
			}
			return 1, err
		case fd := <-x.gone:
			// Like SIGPIPE in a shell pipeline: the reader is gone.
			stopped, err := x.r.OutputGone(ctx, fd)
			if err != nil {
				return 1, err
			}
			if stopped {
				return StatusBrokenPipe, nil
			}
		case <-ctx.Done():
			return x.interrupt(ctx)
		}
	}
}

// interrupt stops a cancelled command and waits a little for the remote
// end to report it gone.
func (x *run) interrupt(ctx context.Context) (int, error) {
	if err := x.r.Stop(ctx, "INT"); err != nil {
		return 1, err
	}
	select {
	case e := <-x.exit:
		if e.err == nil {
			// What the command wrote on its way out (ping's
			// statistics, a program's "saved") is the user's to
			// see, as it is on a terminal.
			x.drain(context.WithoutCancel(ctx), time.Now())
		}
	case <-time.After(cancelWait):
		x.log.Debug("the remote end did not report a cancelled command's end")
	}
	return StatusInterrupted, nil
}

// drain waits, after the exit, for the outputs to end. An output that
// has waited on the remote end for outputGrace since the exit or since
// its last bytes is not waited for any more; time spent writing the
// output on the host does not count, so a slow reader loses nothing.
func (x *run) drain(ctx context.Context, exited time.Time) {
	t := time.NewTicker(outputGrace / 8)
	defer t.Stop()
	for {
		select {
		case <-x.outputEnded:
			return
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, r := range x.readers {
				if r.waited(exited, now) > outputGrace {
					x.log.Debug("the remote end holds an output open after the exit", "fd", r.fd)
					return
				}
			}
		}
	}
}
