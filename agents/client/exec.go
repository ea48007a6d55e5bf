package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/target"
	"spirit/target/stream"
)

// ctlWriteTimeout bounds a frame written to an exec's control stream, so
// that an agent that never reads it cannot hold a signal back for good.
const ctlWriteTimeout = 2 * time.Second

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
		// The target's setting, or this command's option.
		Desktop: c.o.Desktop || rc.Desktop,
	}
	if rc.TTY != nil {
		req.TTY = &wire.Resize{Rows: rc.TTY.Size.Rows, Cols: rc.TTY.Size.Cols}
	}
	cn, ctl, err := c.open(ctx, req)
	if err != nil {
		return stream.NotStarted(ctx, err)
	}
	e := &execRun{c: c, cn: cn, ctl: ctl}
	if err := e.attach(req); err != nil {
		e.Close()
		return 1, c.lost(cn, err)
	}
	return stream.Run(ctx, rc, e, e.streams(), c.o.Log.With("target", c.o.Name))
}

// execRun is one exec in flight: its control stream and the streams of its
// standard files. It is the agent's side of a stream.Remote.
type execRun struct {
	c   *Client
	cn  *conn
	ctl *yamux.Stream
	// streams of fds 0, 1, 2; nil when the command has no such file.
	fds   [3]*yamux.Stream
	ctlMu sync.Mutex // frames on ctl come from several goroutines
}

var _ stream.Remote = (*execRun)(nil)

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

func (e *execRun) streams() stream.Streams {
	var s stream.Streams
	if st := e.fds[0]; st != nil {
		s.Stdin = stdin{st}
	}
	for fd := 1; fd <= 2; fd++ {
		if st := e.fds[fd]; st != nil {
			s.Outputs = append(s.Outputs, stream.Output{FD: fd, R: &output{st: st}})
		}
	}
	return s
}

// Exit reads the agent's report of the command's end.
func (e *execRun) Exit(context.Context, <-chan struct{}) (int, error) {
	var m wire.ExitMsg
	err := wire.Expect(e.ctl, wire.TExit, &m)
	var re *errcode.Error
	switch {
	case errors.As(err, &re):
		return 1, remoteErr(re)
	case err != nil:
		return 1, e.c.lost(e.cn, err)
	}
	return m.Status, nil
}

// Stop asks the agent to signal the command and all it started, and to
// kill what is left shortly after. A frame that cannot be sent is only
// logged: the connection is failing then, and the agent kills what a lost
// client ran.
func (e *execRun) Stop(_ context.Context, sig string) error {
	e.writeCtl(wire.TSignal, wire.SignalMsg{Signal: sig, Cancel: true})
	return nil
}

// Signal has the agent stop or continue the command's process group.
func (e *execRun) Signal(_ context.Context, sig target.Signal) error {
	return e.writeCtl(wire.TSignal, wire.SignalMsg{Signal: string(sig)})
}

func (e *execRun) Resize(_ context.Context, s target.WinSize) error {
	return e.writeCtl(wire.TResize, wire.Resize{Rows: s.Rows, Cols: s.Cols})
}

// OutputGone has the agent close that output on its side: the command
// meets a broken pipe, and reports its own status.
func (e *execRun) OutputGone(_ context.Context, fd int) (bool, error) {
	e.writeCtl(wire.TCloseOut, wire.CloseOutMsg{FD: fd})
	return false, nil
}

func (e *execRun) writeCtl(t wire.Type, v any) error {
	e.ctlMu.Lock()
	defer e.ctlMu.Unlock()
	e.ctl.SetWriteDeadline(time.Now().Add(ctlWriteTimeout))
	err := wire.WriteFrame(e.ctl, t, v)
	if err != nil {
		e.c.o.Log.Debug("exec control", "type", t, "err", err)
	}
	return err
}

// Close ends every stream of the run; an agent that still runs the command
// then (a lost client) kills it. A yamux stream closed on this side still
// reads what the agent sends, so reads are cut too: they return what has
// arrived, then fail.
func (e *execRun) Close() error {
	now := time.Now()
	for _, st := range append(e.fds[:], e.ctl) {
		if st != nil {
			st.SetReadDeadline(now)
			st.Close()
		}
	}
	return nil
}

// stdin is the stream of the command's stdin; closing it is the command's
// EOF.
type stdin struct{ st *yamux.Stream }

func (s stdin) Write(p []byte) (int, error) { return s.st.Write(p) }
func (s stdin) CloseWrite() error           { return s.st.Close() }

// output is the stream of one of the command's outputs: an OK frame, then
// its bytes. The stream's failure ends it as EOF would: the exit, read
// from the control stream, says why.
type output struct {
	st      *yamux.Stream
	started bool
}

func (o *output) Read(p []byte) (int, error) {
	if !o.started {
		var ok wire.Reply
		if err := wire.Expect(o.st, wire.TOK, &ok); err != nil {
			var re *errcode.Error
			if errors.As(err, &re) {
				return 0, remoteErr(re) // the agent refused the stream
			}
			return 0, io.EOF // or the exec did not start: its control stream says why
		}
		o.started = true
	}
	n, err := o.st.Read(p)
	if err != nil {
		err = io.EOF
	}
	return n, err
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
