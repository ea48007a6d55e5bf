//go:build unix

package guest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"spirit/agents/wire"
)

// unixProcess is a command in its own process group, on pipes or a pty.
type unixProcess struct {
	cmd    *exec.Cmd
	stdin  *os.File // ours: write end, or the pty
	stdout *os.File // ours: read end, or the pty
	stderr *os.File // ours: read end; nil under a pty
	pty    *os.File
}

// pipeSize is the kernel buffer of a command's pipes. Larger than
// the default 64 KiB, each read gives a whole yamux frame's worth, which
// halves the system calls per byte streamed; it is also what a command
// can write ahead of a host that reads slowly.
const pipeSize = 1 << 20

func startProcess(req *wire.Request) (process, error) {
	if req.Desktop {
		return nil, noDesktop()
	}
	cmd, err := command(req)
	if err != nil {
		return nil, err
	}
	if req.TTY != nil {
		return startPty(cmd, req)
	}
	// Pdeathsig: if the agent itself is killed, its commands do not
	// outlive it (their own children may; nothing short of a subreaper
	// can reach those).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &unixProcess{cmd: cmd}
	var theirs []*os.File
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
	}()
	pipe := func(ours **os.File, write bool) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		// Best effort: above the user's pipe quota the default stays.
		// Through SyscallConn, not Fd, which would put the file in
		// blocking mode: each read of an output would then hold a
		// thread, and the runtime hand its P to another at every wait
		// (on a one-vCPU guest, CPU taken from the command).
		if rc, err := r.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
		}
		if write {
			*ours = w
			theirs = append(theirs, r)
			return r, nil
		}
		*ours = r
		theirs = append(theirs, w)
		return w, nil
	}
	var perr error
	if req.Stdin {
		cmd.Stdin, perr = pipe(&p.stdin, true)
	}
	if perr == nil {
		cmd.Stdout, perr = pipe(&p.stdout, false)
	}
	if perr == nil {
		cmd.Stderr, perr = pipe(&p.stderr, false)
	}
	if perr == nil {
		perr = cmd.Start()
	}
	if perr != nil {
		p.Release()
		return nil, startErr(cmd, perr)
	}
	return p, nil
}

func startPty(cmd *exec.Cmd, req *wire.Request) (process, error) {
	// pty.StartWithAttrs makes the command a session leader with the pty
	// as its controlling terminal, so ^C typed on the host reaches its
	// foreground process group through the line discipline.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Pdeathsig: syscall.SIGKILL}
	if !hasEnv(cmd.Env, "TERM") {
		cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	}
	f, err := pty.StartWithAttrs(cmd, &pty.Winsize{Rows: req.TTY.Rows, Cols: req.TTY.Cols}, cmd.SysProcAttr)
	if err != nil {
		return nil, startErr(cmd, err)
	}
	p := &unixProcess{cmd: cmd, pty: f, stdout: f}
	if req.Stdin {
		p.stdin = f
	}
	return p, nil
}

// command builds the command a request names; the shell is /bin/sh.
func command(req *wire.Request) (*exec.Cmd, error) {
	argv := req.Argv
	if req.Shell != "" {
		argv = []string{"/bin/sh", "-c", req.Shell}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if cmd.Err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], notFound(cmd.Err))
	}
	cmd.Env = mergeEnv(os.Environ(), req.Env, sameName)
	if err := checkDir(req.Dir); err != nil {
		return nil, err
	}
	cmd.Dir = req.Dir
	return cmd, nil
}

func notFound(err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("command not found: %w", fs.ErrNotExist)
	}
	return err
}

func startErr(cmd *exec.Cmd, err error) error {
	return fmt.Errorf("start %s: %w", cmd.Path, notFound(err))
}

func hasEnv(env []string, name string) bool {
	return slices.ContainsFunc(env, func(e string) bool {
		return envKey(e) == name
	})
}

func (p *unixProcess) Stdin() io.WriteCloser {
	if p.stdin == nil {
		return nil
	}
	if p.pty != nil {
		// EOF on the host's stdin must not close the terminal: the
		// command would lose its output too.
		return nopCloser{p.stdin}
	}
	return p.stdin
}

func (p *unixProcess) Stdout() io.Reader {
	if p.pty != nil {
		return ptyReader{p.pty}
	}
	return p.stdout
}

func (p *unixProcess) Stderr() io.Reader {
	if p.stderr == nil {
		return nil
	}
	return p.stderr
}

var signalNumbers = map[string]unix.Signal{
	"INT": unix.SIGINT, "TERM": unix.SIGTERM, "HUP": unix.SIGHUP, "KILL": unix.SIGKILL, "QUIT": unix.SIGQUIT,
	"STOP": unix.SIGSTOP, "CONT": unix.SIGCONT,
}

func (p *unixProcess) Signal(name string) error {
	sig, ok := signalNumbers[name]
	if !ok {
		return fmt.Errorf("signal %s: not one of %v", name, wire.Signals)
	}
	return p.signal(sig)
}

// signal sends sig to the command's process group and, under a pty, to
// the terminal's foreground group, which a job-control shell may have moved
// elsewhere.
func (p *unixProcess) signal(sig unix.Signal) error {
	pid := p.cmd.Process.Pid
	err := unix.Kill(-pid, sig)
	if p.pty != nil {
		if fg, ferr := unix.IoctlGetInt(int(p.pty.Fd()), unix.TIOCGPGRP); ferr == nil && fg > 0 && fg != pid {
			unix.Kill(-fg, sig)
		}
	}
	if errors.Is(err, unix.ESRCH) {
		return nil // all gone already
	}
	if err != nil {
		return fmt.Errorf("signal %v to process group %d: %w", sig, pid, err)
	}
	return nil
}

func (p *unixProcess) Kill() error { return p.signal(unix.SIGKILL) }

func (p *unixProcess) Resize(s wire.Resize) error {
	if p.pty == nil {
		return errors.New("resize: the command has no terminal")
	}
	return pty.Setsize(p.pty, &pty.Winsize{Rows: s.Rows, Cols: s.Cols})
}

func (p *unixProcess) CloseOutput(fd int) error {
	switch {
	case p.pty != nil:
		return nil // one stream for both; the host discards the rest
	case fd == 1:
		return p.stdout.Close()
	case fd == 2:
		return p.stderr.Close()
	}
	return fmt.Errorf("close output %d: no such output", fd)
}

func (p *unixProcess) Wait() (wire.ExitMsg, error) {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return wire.ExitMsg{}, fmt.Errorf("wait: %w", err)
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		name := unix.SignalName(ws.Signal())
		if len(name) > 3 {
			name = name[3:] // SIGKILL → KILL
		}
		return wire.ExitMsg{Status: 128 + int(ws.Signal()), Signal: name}, nil
	}
	return wire.ExitMsg{Status: p.cmd.ProcessState.ExitCode()}, nil
}

func (p *unixProcess) Release() {
	for _, f := range []*os.File{p.stdin, p.stdout, p.stderr} {
		if f != nil {
			f.Close()
		}
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// ptyReader turns the EIO that a pty's master returns once the command
// side is closed into EOF.
type ptyReader struct{ f *os.File }

func (r ptyReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if errors.Is(err, unix.EIO) {
		return n, io.EOF
	}
	return n, err
}
