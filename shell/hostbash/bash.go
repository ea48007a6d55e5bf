// Package hostbash keeps the real bash (/bin/bash) that runs the host's
// part of every line spirit plans. The front end reads a line, plans it,
// and hands the bash text to Run; bash reads it from a pipe of spirit's,
// runs it with the user's stdin (the terminal, when interactive), stdout
// and stderr as its own, and reports over a second pipe when it is done:
// the status and $PWD. Everything else bash keeps itself: $?, PIPESTATUS,
// $_, variables, functions, aliases, traps and the table of jobs.
//
// It knows nothing of targets, of planning or of the prompt.
package hostbash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Options are what a bash is started with.
type Options struct {
	// Path is the bash to run; "" is /bin/bash.
	Path string
	// Interactive makes bash an interactive shell with job control on
	// Stdin, which must then be the controlling terminal: each line runs
	// with the terminal in bash's hands, as typed at bash's own prompt.
	Interactive bool
	// Login makes bash a login shell (it reports so to shopt login_shell;
	// the startup files are the caller's to source, see Run).
	Login bool
	// Stdin, Stdout and Stderr are what the commands get.
	Stdin, Stdout, Stderr *os.File
	Env                   []string // NAME=value
	// Arg0 is $0 in bash ("" keeps bash's own).
	Arg0 string
	Log  *slog.Logger
}

// Report is what bash says when a line is done.
type Report struct {
	Status int    // $?
	Dir    string // $PWD
}

// ErrExited is returned by Run when bash has exited; ExitStatus says how.
var ErrExited = errors.New("bash exited")

// Bash is one running bash, fed a line at a time. Its methods are for one
// goroutine at a time.
type Bash struct {
	opts    Options
	log     *slog.Logger
	cmd     *exec.Cmd
	lines   *os.File // bash's command input
	reports *os.File // bash's reports, read by readReports
	term    *terminal

	reported chan Report   // from readReports
	stop     chan struct{} // closed by Close: readReports gives up sending
	exited   chan struct{} // closed when bash has exited
	status   int           // bash's exit status, set before exited is closed
	wg       sync.WaitGroup
	closed   bool
}

// Start starts bash, sets it up (fds, the report hook) and waits until it
// is ready for Run; the caller then sources the startup files with Run.
// While Start runs, an interactive bash has the terminal.
func Start(ctx context.Context, o Options) (*Bash, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Path == "" {
		o.Path = "/bin/bash"
	}
	if o.Stdin == nil && !o.Interactive {
		// Commands that read stdin read nothing, as from bash -c LINE </dev/null.
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, fmt.Errorf("start bash: %w", err)
		}
		defer null.Close()
		o.Stdin = null
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start bash: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return nil, fmt.Errorf("start bash: %w", err)
	}
	b := &Bash{
		opts: o, log: o.Log, lines: cmdW, reports: repR,
		reported: make(chan Report), stop: make(chan struct{}), exited: make(chan struct{}),
	}
	b.cmd = b.command(cmdR, repW)
	if o.Interactive {
		if b.term, err = newTerminal(o.Stdin); err != nil {
			b.closeFiles(cmdR, repW)
			return nil, fmt.Errorf("start bash: %w", err)
		}
	}
	err = b.cmd.Start()
	cmdR.Close()
	repW.Close()
	if err != nil {
		b.closeFiles()
		return nil, fmt.Errorf("start bash: %w", err)
	}
	b.wg.Go(b.wait)
	b.wg.Go(b.readReports)
	if _, err := b.send(ctx, setup(o)); err != nil {
		b.Close()
		if errors.Is(err, ErrExited) {
			return nil, fmt.Errorf("bash exited at its start, status %d", b.status)
		}
		return nil, fmt.Errorf("start bash: %w", err)
	}
	return b, nil
}

// command is bash's command line. Its commands come on stdin (a pipe);
// fd 3 is the stdin the commands get, fd 4 the report pipe, both moved
// out of the way by the setup text.
func (b *Bash) command(cmdR, repW *os.File) *exec.Cmd {
	args := []string{"--norc", "--noprofile"}
	if b.opts.Interactive {
		args = append(args, "--noediting", "-i")
	}
	if b.opts.Login {
		args = append(args, "-l")
	}
	cmd := exec.Command(b.opts.Path, args...)
	cmd.Args[0] = "bash"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = cmdR, b.opts.Stdout, b.opts.Stderr
	cmd.ExtraFiles = []*os.File{b.opts.Stdin, repW}
	// An empty PS1 from the start: bash prints its prompt before reading
	// each line, and spirit draws its own.
	cmd.Env = append(withoutVars(b.opts.Env, "PS1", "PROMPT_COMMAND"), "PS1=")
	if b.opts.Interactive {
		// bash's group gets the terminal before bash looks: an
		// interactive bash stops itself (SIGTTIN) until it is in the
		// foreground.
		cmd.SysProcAttr = &syscall.SysProcAttr{Foreground: true, Ctty: int(b.opts.Stdin.Fd())}
	}
	return cmd
}

func (b *Bash) closeFiles(more ...*os.File) {
	for _, f := range append(more, b.lines, b.reports) {
		f.Close()
	}
}

// wait records bash's exit.
func (b *Bash) wait() {
	err := b.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		b.status = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			b.status = 128 + int(ws.Signal())
		}
	default:
		b.status = 1
	}
	close(b.exited)
}

// Run has bash run text, a complete line (or several) of bash, and waits
// until bash reports it done, has exited (ErrExited) or ctx ends. While
// it runs, an interactive bash's process group has the terminal, and the
// caller must not read it; Run takes it back before returning.
func (b *Bash) Run(ctx context.Context, text string) (Report, error) {
	if b.term != nil {
		if err := b.term.give(b.cmd.Process.Pid); err != nil {
			b.log.Debug("give bash the terminal", "err", err)
		}
		defer b.term.takeBack()
	}
	return b.send(ctx, b.wrap(text))
}

// send writes text to bash and waits for the report that follows it. A
// report left over from an earlier line (bash reports twice for some
// syntax errors) is dropped first.
func (b *Bash) send(ctx context.Context, text string) (Report, error) {
	for drained := false; !drained; {
		select {
		case r := <-b.reported:
			b.log.Debug("bash: a stale report dropped", "report", r)
		default:
			drained = true
		}
	}
	if _, err := io.WriteString(b.lines, text); err != nil {
		if b.waitExit(time.Second) {
			return Report{Status: b.status}, ErrExited
		}
		return Report{}, fmt.Errorf("send a line to bash: %w", err)
	}
	select {
	case r := <-b.reported:
		return r, nil
	case <-b.exited:
		return Report{Status: b.status}, ErrExited
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
}

// ExitStatus is bash's exit status, once Run has returned ErrExited.
func (b *Bash) ExitStatus() int {
	<-b.exited
	return b.status
}

// Hangup ends bash as a hang-up of the terminal does: an interactive bash
// sends SIGHUP on to its jobs (and SIGCONT to the stopped ones) and exits.
func (b *Bash) Hangup() {
	_ = b.cmd.Process.Signal(syscall.SIGHUP)
}

// Close ends bash if it still runs (the end of its input, then SIGHUP,
// then SIGKILL) and waits for it and for the goroutines of b.
func (b *Bash) Close() {
	if b.closed {
		return
	}
	b.closed = true
	b.lines.Close()
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGKILL} {
		if b.waitExit(2 * time.Second) {
			break
		}
		_ = b.cmd.Process.Signal(sig)
	}
	<-b.exited
	close(b.stop)
	b.reports.Close()
	b.wg.Wait()
	if b.term != nil {
		b.term.takeBack()
	}
}

// waitExit reports whether bash exits within d.
func (b *Bash) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.exited:
		return true
	case <-t.C:
		return false
	}
}

// withoutVars is env without the variables named.
func withoutVars(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, n := range names {
			if len(kv) > len(n) && kv[:len(n)+1] == n+"=" {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
