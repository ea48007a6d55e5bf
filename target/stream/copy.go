package stream

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"spirit/internal/fdcopy"
	"spirit/target"
)

// outputBuf is the copy buffer of a raw output: a full window of the
// agent protocol's streams, so that a fast producer is read in one go.
const outputBuf = 256 << 10

// errCut is what an output's reader returns once the run is over.
var errCut = errors.New("the run is over")

// startOutputs copies every output to the command's writers.
func (x *run) startOutputs() {
	stdout := x.writer(1, x.c.Stdout)
	stderr := x.writer(2, x.c.Stderr)
	var outputs sync.WaitGroup
	for _, o := range x.s.Outputs {
		pr := &peerReader{r: o.R, fd: o.FD, cut: x.cut}
		x.readers = append(x.readers, pr)
		outputs.Go(func() {
			var err error
			switch {
			case o.Demux != nil:
				_, err = o.Demux(stdout, stderr, pr)
			case o.FD == 2:
				_, err = io.CopyBuffer(stderr, pr, make([]byte, outputBuf))
			default:
				_, err = io.CopyBuffer(stdout, pr, make([]byte, outputBuf))
			}
			if err != nil && !errors.Is(err, errCut) {
				x.readErr <- err
			}
		})
	}
	// Ends with the copiers; see end for how long they are waited for.
	go func() {
		outputs.Wait()
		close(x.outputEnded)
	}()
}

// writer wraps the command's writer for output fd. Its first failure (the
// next segment of a pipeline has exited) is reported on x.gone; what
// follows is discarded, so that the output is still drained: a remote end
// may not report the exit while its output is not read.
func (x *run) writer(fd int, w io.Writer) io.Writer {
	if w == nil {
		w = io.Discard
	}
	return &goneWriter{w: w, fd: fd, gone: x.gone}
}

type goneWriter struct {
	w      io.Writer
	fd     int
	gone   chan<- int // buffered for both outputs
	failed bool
}

func (g *goneWriter) Write(p []byte) (int, error) {
	if g.failed {
		return len(p), nil
	}
	if _, err := g.w.Write(p); err != nil {
		g.failed = true
		g.gone <- g.fd
	}
	return len(p), nil
}

// peerReader reads an output from the remote end and keeps when its
// pending read started, so that a peer that holds the output open after
// the exit is not waited for. It ends once the run is over, even if the
// peer keeps sending.
type peerReader struct {
	r       io.Reader
	fd      int
	cut     <-chan struct{}
	reading atomic.Int64 // start of the pending read, in Unix nanoseconds; 0 for none
}

func (p *peerReader) Read(b []byte) (int, error) {
	select {
	case <-p.cut:
		return 0, errCut
	default:
	}
	p.reading.Store(time.Now().UnixNano())
	defer p.reading.Store(0)
	return p.r.Read(b)
}

// waited is how long the pending read has waited at now, counted from
// since at the earliest.
func (p *peerReader) waited(since, now time.Time) time.Duration {
	start := p.reading.Load()
	if start == 0 {
		return 0
	}
	if t := time.Unix(0, start); t.After(since) {
		since = t
	}
	return now.Sub(since)
}

// startStdin copies the command's stdin to the remote end.
func (x *run) startStdin() {
	in := x.s.Stdin
	if in == nil || x.c.Stdin == nil {
		return
	}
	if f, ok := x.c.Stdin.(*os.File); ok {
		// Waited for: it stops within one poll interval of done, or
		// when the transport is closed under a write.
		x.helpers.Go(func() { x.copyFileStdin(in, f) })
		return
	}
	// Not waited for: a Read may block until the reader's owner closes
	// it, which may be after the command ends. Once the transport is
	// closed, it ends at its next write.
	go x.copyStdin(in)
}

// copyFileStdin copies a file to the command, then gives it EOF; see
// fdcopy.FromFile for why it polls.
func (x *run) copyFileStdin(in Input, f *os.File) {
	eof, err := fdcopy.FromFile(in, f, x.done)
	if err != nil {
		x.log.Debug("a command's stdin", "err", err)
	}
	if eof {
		x.closeStdin(in)
	}
}

func (x *run) copyStdin(in Input) {
	if _, err := io.Copy(in, x.c.Stdin); err != nil {
		x.log.Debug("a command's stdin", "err", err)
		return
	}
	x.closeStdin(in)
}

func (x *run) closeStdin(in Input) {
	if err := in.CloseWrite(); err != nil {
		x.log.Debug("a command's stdin: close", "err", err)
	}
}

// relaySignals hands the job-control signals to the remote end until the
// run is over.
func (x *run) relaySignals(ctx context.Context, sr Signaler, sigs <-chan target.Signal) {
	for {
		select {
		case <-x.done:
			return
		case sig, ok := <-sigs:
			if !ok {
				return
			}
			if sig == target.SignalSync || sr == nil {
				continue
			}
			if err := sr.Signal(ctx, sig); err != nil {
				x.log.Debug("a command's job-control signal", "signal", sig, "err", err)
			}
		}
	}
}

// resizeTries is how often the first size is tried: a remote end may not
// take a size as soon as the command has started (the Docker Engine
// before API 1.42), as the docker CLI knows.
const resizeTries = 10

// resize sets the command's terminal size, then follows tty.Resize until
// the run is over.
func (x *run) resize(ctx context.Context, tty *target.TTY) {
	if tty.Size != (target.WinSize{}) {
		for i := range resizeTries {
			if x.r.Resize(ctx, tty.Size) == nil {
				break
			}
			select {
			case <-x.done:
				return
			case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
			}
		}
	}
	for {
		select {
		case <-x.done:
			return
		case s, ok := <-tty.Resize:
			if !ok {
				return
			}
			if err := x.r.Resize(ctx, s); err != nil {
				x.log.Debug("a command's terminal: resize", "err", err)
			}
		}
	}
}
