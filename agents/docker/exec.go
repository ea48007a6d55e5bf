package docker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"spirit/target"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// tagVar is the environment variable that marks every process of one exec,
// children included, so that a cancelled exec can be found and killed: the
// Engine has no call to kill an exec, and closing the connection leaves the
// process running.
const tagVar = "SPIRIT_EXEC"

// Statuses for runs that spirit ends itself, as a shell reports them.
const (
	statusInterrupted = 130 // 128 + SIGINT: the context was cancelled
	statusBrokenPipe  = 141 // 128 + SIGPIPE: nobody reads the output any more
)

// Exec runs c.Text with /bin/sh -c in the container; see target.Target.
func (t *Target) Exec(ctx context.Context, c *target.Command) (int, error) {
	r, err := t.resolve(ctx, needRunning, func(name string) string { return "exec in " + name })
	if err != nil {
		if ctx.Err() != nil {
			return statusInterrupted, nil // cancelled before anything ran
		}
		return 1, err
	}
	if cl := t.b.agentClient(ctx, r); cl != nil {
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
		if ctx.Err() != nil {
			return statusInterrupted, nil // created at most, not started
		}
		return 1, r.execErr(err)
	}
	run := &execRun{b: r.b, r: r, id: ex.ID, tag: tag, c: c}
	r.b.log.Debug("docker exec", "container", r.name, "exec", ex.ID, "tag", tag, "tty", tty)
	att, err := r.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: tty, ConsoleSize: size})
	if err != nil {
		if ctx.Err() != nil {
			// The engine may have started the command before the
			// cancellation cut the handshake.
			if kerr := run.stop(ctx, "INT"); kerr != nil {
				return 1, r.execErr(kerr)
			}
			return statusInterrupted, nil
		}
		return 1, r.execErr(err)
	}
	run.att = att.HijackedResponse
	return run.wait(ctx)
}

// execRun is one exec being run.
type execRun struct {
	b   *Backend
	r   *resolved
	id  string // exec ID
	tag string // tagVar=value in the exec's environment
	c   *target.Command
	att client.HijackedResponse
}

// wait streams the exec's input and output until it ends, and returns its
// status.
func (e *execRun) wait(ctx context.Context) (int, error) {
	// done tells the stdin copier and the resizer that the run is over.
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer e.att.Close() // unblocks the output copier and stdin writes
	defer close(done)

	out := make(chan error, 1)
	writeFailed := make(chan error, 1)
	wg.Go(func() { out <- e.copyOutput(writeFailed) })
	if e.c.Stdin != nil {
		if f, ok := e.c.Stdin.(*os.File); ok {
			// Waited for: it stops within one poll interval of done.
			wg.Go(func() { e.copyFileStdin(f, done) })
		} else {
			// Not waited for: a Read may block until the reader's
			// owner closes it, which may be after the command ends.
			go e.copyStdin()
		}
	}
	if e.c.TTY != nil {
		wg.Go(func() { e.resize(ctx, e.c.TTY, done) })
	}

	select {
	case err := <-out:
		if err != nil {
			err = fmt.Errorf("reading output: %w", err)
			if kerr := e.stop(ctx, "INT"); kerr != nil {
				err = errors.Join(err, kerr)
			}
			return 1, e.r.execErr(err)
		}
		return e.exitStatus(ctx)
	case err := <-writeFailed:
		// Like SIGPIPE in a shell pipeline: the reader is gone, so stop
		// the writer rather than let it run forever. The output is
		// still drained meanwhile: the engine does not report an exec
		// ended while its output is not read.
		e.b.log.Debug("docker exec output not read", "exec", e.id, "err", err)
		if err := e.stop(ctx, "PIPE"); err != nil {
			return 1, e.r.execErr(err)
		}
		return statusBrokenPipe, nil
	case <-ctx.Done():
		return e.interrupt(ctx, out)
	}
}

// interrupt stops a cancelled exec and lets its last output through; out
// is nil when the output has already ended.
func (e *execRun) interrupt(ctx context.Context, out <-chan error) (int, error) {
	e.b.log.Debug("docker exec cancelled", "exec", e.id)
	if err := e.stop(ctx, "INT"); err != nil {
		return 1, e.r.execErr(err)
	}
	if out != nil {
		// The processes are gone, so the stream ends soon; the bound
		// is for a stream the engine keeps open anyway.
		select {
		case <-out:
		case <-time.After(time.Second):
		}
	}
	return statusInterrupted, nil
}

// exitStatus waits for the exec to be reported ended once its output has
// reached EOF (the two are not ordered in the engine), and returns its code.
func (e *execRun) exitStatus(ctx context.Context) (int, error) {
	delay := 5 * time.Millisecond
	for {
		ins, err := e.r.cli.ExecInspect(ctx, e.id, client.ExecInspectOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return e.interrupt(ctx, nil)
			}
			return 1, e.r.execErr(err)
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return e.interrupt(ctx, nil)
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// copyOutput copies the exec's output to the command's writers until EOF,
// as it comes: stdcopy frames are at most 32 KiB, so memory stays bounded.
// It returns the error of reading the stream; a failed write is reported on
// writeFailed, and the rest of the output is discarded.
func (e *execRun) copyOutput(writeFailed chan<- error) error {
	failed := func(err error) {
		select {
		case writeFailed <- err:
		default:
		}
	}
	stdout := &outWriter{w: orDiscard(e.c.Stdout), failed: failed}
	if e.c.TTY != nil {
		// A TTY's stream is raw: stdout and stderr are one.
		_, err := io.Copy(stdout, e.att.Reader)
		return err
	}
	stderr := &outWriter{w: orDiscard(e.c.Stderr), failed: failed}
	_, err := stdcopy.StdCopy(stdout, stderr, e.att.Reader)
	return err
}

// outWriter reports its writer's first error, then discards what follows,
// so that the stream is still drained.
type outWriter struct {
	w      io.Writer
	failed func(error)
	err    error
}

func (w *outWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return len(p), nil
	}
	if _, err := w.w.Write(p); err != nil {
		w.err = err
		w.failed(err)
	}
	return len(p), nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// copyStdin copies a reader that is not a file to the exec, then gives it
// EOF. Once the run is over the connection is closed, so the copier ends at
// its next write, or when its source is closed.
func (e *execRun) copyStdin() {
	if _, err := io.Copy(e.att.Conn, e.c.Stdin); err != nil {
		e.b.log.Debug("docker exec stdin", "exec", e.id, "err", err)
		return
	}
	if err := e.att.CloseWrite(); err != nil {
		e.b.log.Debug("docker exec stdin close", "exec", e.id, "err", err)
	}
}

// resize sets the exec's terminal size, then follows tty.Resize until the
// run is over.
func (e *execRun) resize(ctx context.Context, tty *target.TTY, done <-chan struct{}) {
	// Engines before API 1.42 ignore the size given at creation, and the
	// exec may not have started yet when the attach returns: retry a
	// little, as the docker CLI does.
	if tty.Size.Rows != 0 || tty.Size.Cols != 0 {
		for i := range 10 {
			if e.setSize(ctx, tty.Size) == nil {
				break
			}
			select {
			case <-done:
				return
			case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
			}
		}
	}
	for {
		select {
		case <-done:
			return
		case s, ok := <-tty.Resize:
			if !ok {
				return
			}
			if err := e.setSize(ctx, s); err != nil {
				e.b.log.Debug("docker exec resize", "exec", e.id, "err", err)
			}
		}
	}
}

func (e *execRun) setSize(ctx context.Context, s target.WinSize) error {
	// Bounded: the run waits for the resizer before it returns.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := e.r.cli.ExecResize(ctx, e.id, client.ExecResizeOptions{Height: uint(s.Rows), Width: uint(s.Cols)})
	return err
}

func consoleSize(s target.WinSize) client.ConsoleSize {
	return client.ConsoleSize{Height: uint(s.Rows), Width: uint(s.Cols)}
}

// execErr wraps an error of an exec in the container.
func (r *resolved) execErr(err error) error {
	return fmt.Errorf("docker exec in %s: %w", r.name, r.b.engineErr(r.cli, err))
}
