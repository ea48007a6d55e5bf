package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/internal/fdcopy"
	"spirit/target"
)

// Statuses for runs that spirit ends itself, as a shell reports them.
const statusInterrupted = 130 // 128 + SIGINT: the context was cancelled

// cancelWait bounds how long a cancelled exec waits for the agent to report
// the command gone (it kills what is left after a second).
const cancelWait = 3 * time.Second

// Exec runs c.Text with the guest's shell; see target.Target.
func (c *Client) Exec(ctx context.Context, rc *target.Command) (int, error) {
	c.mu.Lock()
	dir := c.dir
	c.mu.Unlock()
	req := wire.Request{
		Op:    wire.OpExec,
		ID:    rand.Text(),
		Shell: rc.Text,
		Env:   rc.Env,
		Dir:   dir,
		Stdin: rc.Stdin != nil,
	}
	if rc.TTY != nil {
		req.TTY = &wire.Resize{Rows: rc.TTY.Size.Rows, Cols: rc.TTY.Size.Cols}
	}
	cn, ctl, err := c.open(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return statusInterrupted, nil
		}
		return 1, err
	}
	e := &execRun{c: c, cn: cn, ctl: ctl, rc: rc, done: make(chan struct{}), refused: make(chan error, 2)}
	defer e.close()
	if err := e.attach(req); err != nil {
		return 1, c.lost(cn, err)
	}
	return e.wait(ctx)
}

// execRun is one exec in flight: its control stream and the streams of its
// standard files.
type execRun struct {
	c   *Client
	cn  *conn
	ctl *yamux.Stream
	rc  *target.Command
	// streams of fds 0, 1, 2; nil when the command has no such file.
	fds [3]*yamux.Stream

	done    chan struct{} // closed when the run is over
	refused chan error    // an output stream the agent refused
	outputs sync.WaitGroup
	ctlMu   sync.Mutex // frames on ctl come from several goroutines
}

// attach opens the streams of the command's files, named by its ID.
func (e *execRun) attach(req wire.Request) error {
	need := [3]bool{req.Stdin, true, req.TTY == nil}
	for fd, want := range need {
		if !want {
			continue
		}
		st, err := e.cn.mux.OpenStream()
		if err != nil {
			return err
		}
		e.fds[fd] = st
		if err := wire.WriteFrame(st, wire.TRequest, wire.Request{Op: wire.OpAttach, ID: req.ID, FD: fd}); err != nil {
			return err
		}
	}
	return nil
}

// wait streams input and output until the agent reports the end.
func (e *execRun) wait(ctx context.Context) (int, error) {
	outs := []io.Writer{nil, e.rc.Stdout, e.rc.Stderr}
	for fd := 1; fd <= 2; fd++ {
		if e.fds[fd] != nil {
			e.outputs.Go(func() { e.copyOutput(fd, outs[fd]) })
		}
	}
	var helpers sync.WaitGroup
	defer helpers.Wait()
	defer close(e.done)
	if e.fds[0] != nil {
		if f, ok := e.rc.Stdin.(*os.File); ok {
			helpers.Go(func() { e.copyFileStdin(f) })
		} else {
			// Not waited for: a Read may block until the reader's
			// owner closes it, which may be after the command ends.
			go e.copyStdin()
		}
	}
	if e.rc.TTY != nil {
		helpers.Go(func() { e.resize(e.rc.TTY) })
	}

	exit := make(chan exitResult, 1)
	go func() { exit <- e.readExit() }()
	select {
	case r := <-exit:
		return e.finish(r)
	case err := <-e.refused:
		return 1, remoteErr(err)
	case <-ctx.Done():
		return e.interrupt(exit)
	}
}

type exitResult struct {
	msg wire.ExitMsg
	err error
}

func (e *execRun) readExit() exitResult {
	var m wire.ExitMsg
	err := wire.Expect(e.ctl, wire.TExit, &m)
	return exitResult{m, err}
}

// finish waits for the last output and returns the command's status.
func (e *execRun) finish(r exitResult) (int, error) {
	if r.err != nil {
		var re *errcode.Error
		if errors.As(r.err, &re) {
			return 1, remoteErr(re)
		}
		return 1, e.c.lost(e.cn, r.err)
	}
	// The agent ends the output streams before it reports the exit.
	e.outputs.Wait()
	return r.msg.Status, nil
}

// interrupt asks the agent to stop the command and all it started, and
// waits a little for it to report them gone.
func (e *execRun) interrupt(exit <-chan exitResult) (int, error) {
	e.signal(wire.SignalMsg{Signal: "INT", Cancel: true})
	select {
	case <-exit:
	case <-time.After(cancelWait):
		e.c.o.Log.Debug("agent did not report a cancelled exec's end", "target", e.c.o.Name)
	}
	return statusInterrupted, nil
}

func (e *execRun) signal(m wire.SignalMsg) {
	e.ctlMu.Lock()
	defer e.ctlMu.Unlock()
	if err := wire.WriteFrame(e.ctl, wire.TSignal, m); err != nil {
		e.c.o.Log.Debug("exec signal", "err", err)
	}
}

// close ends every stream of the run; an agent that still runs the command
// then (a lost client) kills it.
func (e *execRun) close() {
	for _, st := range e.fds {
		if st != nil {
			st.Close()
		}
	}
	e.ctl.Close()
}

// copyOutput copies one output to its writer. When the writer fails (the
// next segment of a pipeline has exited), the agent closes that output
// on its side, so the command meets a broken pipe as it would on the
// host; the rest of the stream is drained.
func (e *execRun) copyOutput(fd int, w io.Writer) {
	st := e.fds[fd]
	if w == nil {
		w = io.Discard
	}
	var ok wire.Reply
	if err := wire.Expect(st, wire.TOK, &ok); err != nil {
		var re *errcode.Error
		if errors.As(err, &re) {
			e.refused <- re
		}
		return // or the exec did not start: its control stream says why
	}
	writeFailed, _ := fdcopy.Copy(w, st, make([]byte, wire.StreamWindow))
	if !writeFailed {
		return // the end, or the stream's failure, which the exit reports
	}
	e.ctlMu.Lock()
	if werr := wire.WriteFrame(e.ctl, wire.TCloseOut, wire.CloseOutMsg{FD: fd}); werr != nil {
		e.c.o.Log.Debug("exec closeout", "err", werr)
	}
	e.ctlMu.Unlock()
	io.Copy(io.Discard, st)
}

func (e *execRun) copyFileStdin(f *os.File) {
	eof, err := fdcopy.FromFile(e.fds[0], f, e.done)
	if err != nil {
		e.c.o.Log.Debug("exec stdin", "err", err)
	}
	if eof {
		e.fds[0].Close() // EOF for the command
	}
}

func (e *execRun) copyStdin() {
	if _, err := io.Copy(e.fds[0], e.rc.Stdin); err != nil {
		e.c.o.Log.Debug("exec stdin", "err", err)
		return
	}
	e.fds[0].Close()
}

// resize forwards the terminal's new sizes until the run is over.
func (e *execRun) resize(tty *target.TTY) {
	for {
		select {
		case <-e.done:
			return
		case s, ok := <-tty.Resize:
			if !ok {
				return
			}
			e.ctlMu.Lock()
			err := wire.WriteFrame(e.ctl, wire.TResize, wire.Resize{Rows: s.Rows, Cols: s.Cols})
			e.ctlMu.Unlock()
			if err != nil {
				e.c.o.Log.Debug("exec resize", "err", err)
			}
		}
	}
}

// remoteErr turns an agent's refusal into the router's terms.
func remoteErr(err error) error {
	var re *errcode.Error
	if !errors.As(err, &re) {
		return err
	}
	if errors.Is(re, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", target.ErrNotFound, re.Msg)
	}
	return re
}
