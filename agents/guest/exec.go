package guest

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"spirit/agents/wire"
	"spirit/internal/fdcopy"
)

// outputBuf is the copy buffer of each output: a full yamux window.
const outputBuf = wire.StreamWindow

// cancelGrace is how long a cancelled command has to end on SIGINT before
// what is left of its group is killed.
const cancelGrace = time.Second

// exec runs an exec request whose control stream is ctl, until the command
// has ended and its output has been sent, or the client is gone.
func (s *Server) exec(ctx context.Context, ctl net.Conn, req *wire.Request, att *attachments) {
	need := [3]bool{req.Stdin, true, req.TTY == nil}
	p, streams, err := att.claim(ctx, req.ID, need)
	if err != nil {
		s.fail(ctl, err)
		return
	}
	defer att.release(req.ID, p)
	proc, err := startProcess(req)
	if err != nil {
		s.fail(ctl, err)
		return
	}
	// An output stream starts with OK, so that the client can tell this
	// exec's bytes from a refusal of the stream.
	for fd := 1; fd <= 2; fd++ {
		if streams[fd] != nil {
			s.ok(streams[fd], wire.Reply{})
		}
	}
	defer proc.Release()
	s.log.Debug("exec", "id", req.ID, "shell", req.Shell, "argv", req.Argv, "tty", req.TTY != nil)
	r := &run{proc: proc, log: s.log, exited: make(chan struct{})}
	exit, err := r.wait(ctx, ctl, streams)
	if err != nil {
		s.log.Debug("exec ended without its client", "id", req.ID, "err", err)
		return
	}
	if err := wire.WriteFrame(ctl, wire.TExit, exit); err != nil {
		s.log.Debug("exec exit", "id", req.ID, "err", err)
	}
}

// run is one running command and the streams that serve it.
type run struct {
	proc   process
	log    interface{ Debug(string, ...any) }
	exited chan struct{} // closed when the command itself has ended

	mu        sync.Mutex
	cancelled bool
}

// wait pumps the command's files until it ends and returns how it ended.
// An error means the client went away; the command's group is killed then.
func (r *run) wait(ctx context.Context, ctl net.Conn, streams [3]net.Conn) (wire.ExitMsg, error) {
	var pumps sync.WaitGroup
	if w := r.proc.Stdin(); w != nil {
		// Not waited for: it ends when the client closes stdin or the
		// stream dies with the session.
		go r.copyStdin(w, streams[0])
	}
	for fd, src := range []io.Reader{nil, r.proc.Stdout(), r.proc.Stderr()} {
		if src != nil && streams[fd] != nil {
			pumps.Go(func() { r.copyOutput(fd, streams[fd], src) })
		}
	}
	gone := make(chan error, 1) // the client closed the control stream or vanished
	go func() { gone <- r.control(ctl) }()

	waited := make(chan waitResult, 1)
	go func() {
		exit, err := r.proc.Wait()
		close(r.exited)
		waited <- waitResult{exit, err}
	}()
	output := make(chan struct{})
	go func() { pumps.Wait(); close(output) }()

	var res waitResult
	select {
	case res = <-waited:
	case err := <-gone:
		return r.abandon(err, waited, output)
	case <-ctx.Done():
		return r.abandon(ctx.Err(), waited, output)
	}
	// The output ends when every process holding it has closed it, as a
	// host pipeline waits for all writers.
	select {
	case <-output:
	case err := <-gone:
		return r.abandon(err, waited, output)
	case <-ctx.Done():
		return r.abandon(ctx.Err(), waited, output)
	}
	if res.err != nil {
		return wire.ExitMsg{}, res.err
	}
	return res.exit, nil
}

type waitResult struct {
	exit wire.ExitMsg
	err  error
}

// abandon kills everything the command started, because nobody is there to
// see it end any more, and waits for it so nothing is left running.
func (r *run) abandon(why error, waited <-chan waitResult, output <-chan struct{}) (wire.ExitMsg, error) {
	r.proc.Kill()
	select {
	case <-waited:
	case <-r.exited:
	}
	r.proc.Kill() // children that the command started meanwhile
	r.proc.Release()
	select {
	case <-output:
	case <-time.After(time.Second):
	}
	return wire.ExitMsg{}, why
}

// control reads signals, resizes and output closes from the client until
// the control stream ends, which before the exit means the client is gone.
func (r *run) control(ctl net.Conn) error {
	for {
		f, err := wire.ReadFrame(ctl)
		if err != nil {
			select {
			case <-r.exited:
				return nil
			default:
			}
			if err == io.EOF {
				return errors.New("client closed the control stream")
			}
			return err
		}
		if err := r.apply(f); err != nil {
			r.log.Debug("exec control", "frame", f.Type, "err", err)
		}
	}
}

func (r *run) apply(f wire.Frame) error {
	switch f.Type {
	case wire.TSignal:
		var m wire.SignalMsg
		if err := f.Decode(&m); err != nil {
			return err
		}
		if m.Cancel {
			r.cancel()
		}
		return r.proc.Signal(m.Signal)
	case wire.TResize:
		var m wire.Resize
		if err := f.Decode(&m); err != nil {
			return err
		}
		return r.proc.Resize(m)
	case wire.TCloseOut:
		var m wire.CloseOutMsg
		if err := f.Decode(&m); err != nil {
			return err
		}
		return r.proc.CloseOutput(m.FD)
	}
	return errors.New("unexpected frame")
}

// cancel kills what is left of the command's group once the command has
// ended on the signal that came with the cancel, or after a grace if it
// has not: a cancelled command leaves nothing behind, even what ignores
// SIGINT (a non-interactive shell's background jobs do).
func (r *run) cancel() {
	r.mu.Lock()
	first := !r.cancelled
	r.cancelled = true
	r.mu.Unlock()
	if !first {
		return
	}
	go func() {
		t := time.NewTimer(cancelGrace)
		defer t.Stop()
		select {
		case <-r.exited:
			if g, ok := r.proc.(groupWaiter); ok {
				g.waitGroup(t.C)
			}
		case <-t.C:
		}
		r.proc.Kill()
	}()
}

// groupWaiter is a process that can wait for everything it started to
// end (Windows: its job). A console's Ctrl-C reaches them all at once,
// and a shell may end before the program it ran has finished handling
// it (Wine's cmd.exe does): the program keeps its grace to print and
// save before what is left is killed.
type groupWaiter interface {
	// waitGroup returns when the group is empty, or when stop fires.
	waitGroup(stop <-chan time.Time)
}

func (r *run) copyStdin(w io.WriteCloser, src net.Conn) {
	_, err := io.Copy(w, src)
	if err != nil {
		r.log.Debug("exec stdin", "err", err)
	}
	w.Close()
}

// copyOutput sends one output to its stream, then ends the stream. Once
// the client stops reading, what follows is drained so that the command
// is not blocked forever on a full pipe the client asked to close.
func (r *run) copyOutput(fd int, dst net.Conn, src io.Reader) {
	if _, err := fdcopy.Copy(dst, gathering(src), make([]byte, outputBuf)); err != nil {
		r.log.Debug("exec output", "fd", fd, "err", err)
		io.Copy(io.Discard, src)
	}
	dst.Close()
}
