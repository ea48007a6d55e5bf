package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"spirit/target"
)

// appendScript appends its stdin to the file $1 inside the container, as
// a shell's >> does there: $1 is the path with its links followed by the
// kernel's rules (destination), the container's kernel opens it, and the
// file keeps its owner and mode. Appending through the archive API would need the whole current
// file on the host first, which a container controls the size of.
const appendScript = `exec cat >>"$1"`

// missingShell are the exit codes of an exec whose program is not there.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// openAppend starts appendScript as an Engine exec with its stdin
// attached, and returns a writer into that stdin; Close ends the stdin
// and reports whether the append succeeded. As root, as the archive API
// writes: the redirection is the host user's, whoever the container's
// default user is.
func (r *resolved) openAppend(ctx context.Context, p string) (io.ReadWriteCloser, error) {
	// An early, clear error for a directory or a missing one, and the
	// kernel's rules for links and files in sticky directories, which
	// the container's kernel applies only when its sysctls say so; the
	// shell in the container decides the rest.
	dest, _, err := r.destination(ctx, p)
	if err != nil {
		return nil, r.fileErr(target.Append, p, err)
	}
	ex, err := r.cli.ExecCreate(ctx, r.id, client.ExecCreateOptions{
		User:         "0",
		Cmd:          []string{"/bin/sh", "-c", appendScript, "spirit-append", dest},
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, r.fileErr(target.Append, p, err)
	}
	att, err := r.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return nil, r.fileErr(target.Append, p, err)
	}
	a := &appender{r: r, ctx: ctx, path: p, exec: ex.ID, att: att.HijackedResponse, outDone: make(chan error, 1)}
	// The connection is closed when ctx ends: a container that never
	// reads its stdin cannot hold a Write or Close for longer.
	a.stopClose = context.AfterFunc(ctx, a.att.Close)
	go a.readOutput()
	return a, nil
}

// appender writes into the stdin of an exec of appendScript.
type appender struct {
	r         *resolved
	ctx       context.Context
	path      string
	exec      string
	att       client.HijackedResponse
	stopClose func() bool

	// out keeps the start of what the exec writes (its error messages);
	// readOutput owns it until it sends on outDone.
	out     limitedBuffer
	outDone chan error

	closed bool
	err    error // the first write error
}

// readOutput reads the exec's output until it ends, so that it never
// blocks on a full stream, and keeps its start.
func (a *appender) readOutput() {
	_, err := stdcopy.StdCopy(&a.out, &a.out, a.att.Reader)
	a.outDone <- err
}

func (a *appender) Read([]byte) (int, error) {
	return 0, errors.New("docker file opened for appending")
}

func (a *appender) Write(p []byte) (int, error) {
	if a.closed {
		return 0, fs.ErrClosed
	}
	n, err := a.att.Conn.Write(p)
	if err != nil {
		if a.err == nil {
			a.err = err
		}
		return n, a.r.fileErr(target.Append, a.path, a.cause(err))
	}
	return n, nil
}

// cause is the context's error when it ended the stream, else err.
func (a *appender) cause(err error) error {
	if a.ctx.Err() != nil {
		return a.ctx.Err()
	}
	return err
}

// Close ends the exec's stdin, waits for it to end, and reports any
// failure to append.
func (a *appender) Close() error {
	if a.closed {
		return fs.ErrClosed
	}
	a.closed = true
	err := a.finish()
	a.stopClose()
	a.att.Close()
	if err != nil {
		return a.r.fileErr(target.Append, a.path, err)
	}
	return nil
}

// finish ends the stdin and returns why the append failed, or nil.
func (a *appender) finish() error {
	werr := a.att.CloseWrite()
	if a.err != nil {
		werr = a.err
	}
	// The output ends when the exec does (or ctx closes the stream).
	outErr := <-a.outDone
	if a.ctx.Err() != nil {
		return a.ctx.Err()
	}
	if outErr != nil {
		return fmt.Errorf("reading the output of the append: %w", outErr)
	}
	code, err := exitCode(a.ctx, a.r.cli, a.exec)
	if err != nil {
		return fmt.Errorf("waiting for the append to end: %w", err)
	}
	msg := strings.TrimSpace(a.out.String())
	switch {
	case code == exitCannotRun || code == exitNotFound:
		return fmt.Errorf("appending needs /bin/sh and cat in the container (exit status %d: %q)", code, msg)
	case code != 0:
		return fmt.Errorf("append in the container: exit status %d: %q", code, msg)
	case werr != nil:
		return werr // the exec ended well, but not all was sent
	}
	return nil
}
