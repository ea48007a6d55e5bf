package docker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"spirit/target"
	"spirit/target/stream"
)

// tagVar is the environment variable that marks every process of one exec,
// children included, so that a cancelled exec can be found and killed: the
// Engine has no call to kill an exec, and closing the connection leaves the
// process running.
const tagVar = "SPIRIT_EXEC"

// Exec runs c.Text with /bin/sh -c in the container; see target.Target.
func (t *Target) Exec(ctx context.Context, c *target.Command) (int, error) {
	if c.Desktop {
		return 1, fmt.Errorf("--desktop: a container has no user's desktop: %w", errors.ErrUnsupported)
	}
	r, err := t.resolve(ctx, needRunning, func(name string) string { return "exec in " + name })
	if err != nil {
		return stream.NotStarted(ctx, err)
	}
	cl, err := t.b.agentClient(ctx, r)
	if err != nil {
		return stream.NotStarted(ctx, err)
	}
	if cl != nil {
		return cl.Exec(ctx, c)
	}
	return r.engineExec(ctx, c)
}

// engineExec runs c with one Engine exec of its own.
func (r *resolved) engineExec(ctx context.Context, c *target.Command) (int, error) {
	tty := c.TTY != nil
	tag := tagVar + "=" + rand.Text()
	create := client.ExecCreateOptions{
		Cmd:          []string{"/bin/sh", "-c", c.Text},
		Env:          append(slices.Clone(c.Env), tag),
		AttachStdin:  c.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
		TTY:          tty,
	}
	var size client.ConsoleSize
	if tty {
		size = consoleSize(c.TTY.Size)
		create.ConsoleSize = size
	}
	ex, err := r.cli.ExecCreate(ctx, r.id, create)
	if err != nil {
		return stream.NotStarted(ctx, r.execErr(err)) // created at most
	}
	run := &execRun{b: r.b, r: r, id: ex.ID, tag: tag}
	r.b.log.Debug("docker exec", "container", r.name, "exec", ex.ID, "tag", tag, "tty", tty)
	att, err := r.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: tty, ConsoleSize: size})
	if err != nil {
		if ctx.Err() != nil {
			// The engine may have started the command before the
			// cancellation cut the handshake.
			if kerr := run.Stop(ctx, "INT"); kerr != nil {
				return 1, r.execErr(kerr)
			}
			return stream.StatusInterrupted, nil
		}
		return 1, r.execErr(err)
	}
	run.att = att.HijackedResponse
	return run.wait(ctx, c)
}

// execRun is one exec being run: the Engine's side of a stream.Remote.
type execRun struct {
	b   *Backend
	r   *resolved
	id  string // exec ID
	tag string // tagVar=value in the exec's environment
	att client.HijackedResponse
}

var _ stream.Remote = (*execRun)(nil)

// wait streams the exec's input and output until it ends, and returns its
// status.
func (e *execRun) wait(ctx context.Context, c *target.Command) (int, error) {
	// The engine multiplexes stdout and stderr on one stream, unless the
	// exec has a TTY: its stream is raw then, the two are one.
	out := stream.Output{FD: 1, R: outputReader{e.att.Reader}}
	if c.TTY == nil {
		out.Demux = stdcopy.StdCopy
	}
	s := stream.Streams{Outputs: []stream.Output{out}}
	if c.Stdin != nil {
		s.Stdin = stdin{e.att}
	}
	status, err := stream.Run(ctx, c, e, s, e.b.log.With("exec", e.id))
	if err != nil {
		return status, e.r.execErr(err)
	}
	return status, nil
}

// Exit waits for the exec to be reported ended once its output has reached
// EOF (the two are not ordered in the engine), and returns its code.
func (e *execRun) Exit(ctx context.Context, outputEnded <-chan struct{}) (int, error) {
	select {
	case <-outputEnded:
	case <-ctx.Done():
		return 1, ctx.Err()
	}
	code, err := exitCode(ctx, e.r.cli, e.id)
	if err != nil {
		return 1, err
	}
	return code, nil
}

// OutputGone stops the exec as SIGPIPE would: the engine cannot close one
// of its outputs alone.
func (e *execRun) OutputGone(ctx context.Context, fd int) (bool, error) {
	e.b.log.Debug("docker exec output not read", "exec", e.id, "fd", fd)
	if err := e.Stop(ctx, "PIPE"); err != nil {
		return false, err
	}
	return true, nil
}

func (e *execRun) Resize(ctx context.Context, s target.WinSize) error {
	// Bounded: the run waits for the resizer before it returns.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := e.r.cli.ExecResize(ctx, e.id, client.ExecResizeOptions{Height: uint(s.Rows), Width: uint(s.Cols)})
	return err
}

// Close closes the hijacked connection: the output's reads and stdin's
// writes fail then.
func (e *execRun) Close() error {
	e.att.Close()
	return nil
}

// stdin is the exec's stdin: the hijacked connection's writing half.
type stdin struct{ att client.HijackedResponse }

func (s stdin) Write(p []byte) (int, error) { return s.att.Conn.Write(p) }
func (s stdin) CloseWrite() error           { return s.att.CloseWrite() }

// outputReader says what failed when the exec's output cannot be read.
type outputReader struct{ r io.Reader }

func (o outputReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("reading output: %w", err)
	}
	return n, err
}

func consoleSize(s target.WinSize) client.ConsoleSize {
	return client.ConsoleSize{Height: uint(s.Rows), Width: uint(s.Cols)}
}

// execErr wraps an error of an exec in the container.
func (r *resolved) execErr(err error) error {
	return fmt.Errorf("docker exec in %s: %w", r.name, r.b.engineErr(r.cli, err))
}
