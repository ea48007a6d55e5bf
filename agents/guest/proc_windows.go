//go:build windows

package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
	"spirit/errcode"
)

// windowsProcess is every command a Windows agent runs, however it was
// started (startPiped with os/exec, launch for a pseudo console or the
// user's desktop): a process in a job of its own, on pipes or under a
// pseudo console. Signals, exit statuses and release are here once, so
// that a fix reaches every kind of command.
type windowsProcess struct {
	proc    windows.Handle // the command's process, ours; 0 once released
	pid     uint32
	console *pseudoConsole // nil on pipes
	helper  string         // the executable that runs the Ctrl-C helper
	stdin   io.WriteCloser // nil without stdin
	stdout  io.Reader      // stdout and stderr as the host gets them
	stderr  io.Reader      // nil under a pseudo console
	outs    [3]*os.File    // on pipes: the agent's ends of stdout and stderr
	files   []*os.File     // the agent's ends, closed by Release

	mu   sync.Mutex
	job  windows.Handle // guarded by mu; 0 once released
	sent uint32         // guarded by mu: bit N set, the job was ended for signal N
}

// startProcess starts a request's command: on the user's desktop, under
// a pseudo console, or on pipes.
func startProcess(req *wire.Request) (process, error) {
	switch {
	case req.Desktop:
		return startDesktop(req) // desktop_windows.go
	case req.TTY != nil:
		return startConPTY(req) // conpty_windows.go
	}
	return startPiped(req) // piped_windows.go
}

// newProcess is a command's process before it starts: a job and the
// helper that sends it Ctrl-C. killOnClose: the job ends what is left in
// it when the agent lets it go, so that nothing a command started
// outlives its exec; a desktop command's does not (see startDesktop).
func newProcess(killOnClose bool) (*windowsProcess, error) {
	helper, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the agent's executable, for its Ctrl-C helper: %w", err)
	}
	job, err := newJob(killOnClose)
	if err != nil {
		return nil, err
	}
	return &windowsProcess{job: job, helper: helper}, nil
}

func newJob(killOnClose bool) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job: %w", err)
	}
	if !killOnClose {
		return job, nil
	}
	info := &windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	// Pinned: passed as a uintptr, it must neither move nor go.
	var pin runtime.Pinner
	pin.Pin(info)
	_, err = windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(info)), uint32(unsafe.Sizeof(*info)))
	pin.Unpin()
	if err != nil {
		windows.CloseHandle(job)
		return 0, fmt.Errorf("set job limits: %w", err)
	}
	return job, nil
}

// pipes makes the command's standard files: a pipe for stdin when the
// request has one (NUL otherwise), pipes for stdout and stderr. It keeps
// the agent's ends and returns the command's, for the caller to close
// once the command has its own copies.
func (p *windowsProcess) pipes(stdin bool) (theirs [3]*os.File, err error) {
	if stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return theirs, fmt.Errorf("stdin pipe: %w", err)
		}
		p.stdin, theirs[0] = w, r
		p.files = append(p.files, w)
	} else if theirs[0], err = os.Open(os.DevNull); err != nil {
		return theirs, fmt.Errorf("stdin: %w", err)
	}
	for fd, name := range []string{1: "stdout", 2: "stderr"} {
		if fd == 0 {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return theirs, fmt.Errorf("%s pipe: %w", name, err)
		}
		p.outs[fd], theirs[fd] = r, w
		p.files = append(p.files, r)
	}
	return theirs, nil
}

// closeAll closes the files that are not nil.
func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// decode sets the outputs the host gets: out and errOut (readers of the
// agent's ends), decoded to UTF-8 when cmd.exe writes them (a shell
// command), since cmd.exe writes in its console's code page.
func (p *windowsProcess) decode(req *wire.Request, out, errOut io.Reader) {
	p.stdout, p.stderr = out, errOut
	if req.Shell != "" {
		cp := shellCodePage()
		p.stdout, p.stderr = utf8Reader(out, cp), utf8Reader(errOut, cp)
	}
}

// noTerminal is the answer to a resize of a command on pipes.
func noTerminal() error {
	return &errcode.Error{Code: errcode.Failed, Msg: "resize: the command has no terminal"}
}

func (p *windowsProcess) Stdin() io.WriteCloser { return p.stdin }
func (p *windowsProcess) Stdout() io.Reader     { return p.stdout }
func (p *windowsProcess) Stderr() io.Reader     { return p.stderr }

// signalNumber is the Linux number of a signal in wire.Signals, so that an
// exit status of 128+N reads the same as from a Linux guest.
func signalNumber(name string) (uint32, bool) {
	switch name {
	case "HUP":
		return 1, true
	case "INT":
		return 2, true
	case "QUIT":
		return 3, true
	case "KILL":
		return 9, true
	case "TERM":
		return 15, true
	}
	return 0, false
}

// Signal sends INT as Ctrl-C: typed on a pseudo console (0x03 on its
// input, which the console turns into CTRL_C_EVENT for everything
// attached to it), or sent to the console of a command on pipes by the
// helper (ctrlc_windows.go); the command may end as it does on one. The
// others end the job, as a job has no signals. The host's cancel ends
// what is left after a grace.
func (p *windowsProcess) Signal(name string) error {
	if name == "STOP" || name == "CONT" {
		return fmt.Errorf("signal %s: a Windows guest cannot stop or continue a command (no job control)", name)
	}
	n, ok := signalNumber(name)
	if !ok {
		return fmt.Errorf("signal %s: not one of %v", name, wire.Signals)
	}
	if name != "INT" {
		return p.terminate(name, n)
	}
	if p.console != nil {
		return p.console.interrupt()
	}
	err := p.ctrlC()
	if err == nil {
		return nil
	}
	// No console left to send it to: end the job as before.
	if terr := p.terminate(name, n); terr != nil {
		return errors.Join(err, terr)
	}
	return err
}

// ctrlC has the helper send Ctrl-C to the command's console, found
// through the command or, once it has gone, what is left in its job.
func (p *windowsProcess) ctrlC() error {
	pids := []uint32{p.pid}
	p.mu.Lock()
	if p.job == 0 {
		p.mu.Unlock()
		return nil // released: nothing is left to interrupt
	}
	more, err := jobPids(p.job)
	p.mu.Unlock()
	if err == nil {
		pids = append(pids, more...)
	}
	return sendCtrlC(context.Background(), p.helper, pids)
}

func (p *windowsProcess) Kill() error { return p.terminate("KILL", 9) }

func (p *windowsProcess) terminate(name string, n uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.job == 0 {
		return nil // released: what was left has ended or is the user's
	}
	p.sent |= 1 << n
	if err := windows.TerminateJobObject(p.job, 128+n); err != nil {
		return fmt.Errorf("signal %s: terminate job: %w", name, err)
	}
	return nil
}

func (p *windowsProcess) Resize(s wire.Resize) error {
	if p.console == nil {
		return noTerminal()
	}
	return p.console.resize(s)
}

// CloseOutput: under a pseudo console both outputs are one, which the
// host stops reading; on pipes the agent's end is closed.
func (p *windowsProcess) CloseOutput(fd int) error {
	if p.console != nil {
		return nil
	}
	if fd < 1 || fd > 2 || p.outs[fd] == nil {
		return fmt.Errorf("close output %d: no such output", fd)
	}
	return p.outs[fd].Close()
}

// Wait waits for the command itself. Its pseudo console is then closed,
// apart (see pseudoConsole.close): only that ends the console's output.
func (p *windowsProcess) Wait() (wire.ExitMsg, error) {
	if _, err := windows.WaitForSingleObject(p.proc, windows.INFINITE); err != nil {
		return wire.ExitMsg{}, fmt.Errorf("wait: %w", err)
	}
	// Exit codes are 32 bits (NTSTATUS values such as 0xC000013A);
	// on a 64-bit int they stay positive and whole.
	var code uint32
	if err := windows.GetExitCodeProcess(p.proc, &code); err != nil {
		return wire.ExitMsg{}, fmt.Errorf("exit code: %w", err)
	}
	if p.console != nil {
		p.console.close()
	}
	return exitMsg(int(code), p.signalFor(int(code))), nil
}

// exitMsg reports an exit code. Ctrl-C's (STATUS_CONTROL_C_EXIT) reads
// as a death by SIGINT, 130, as bash reports a command Ctrl-C ended.
func exitMsg(code int, signal string) wire.ExitMsg {
	if uint32(code) == statusControlCExit {
		return wire.ExitMsg{Status: 128 + 2, Signal: "INT"}
	}
	return wire.ExitMsg{Status: code, Signal: signal}
}

// signalFor names the signal that ended the command, if the agent ended
// it with one and the exit status is the one that signal gives.
func (p *windowsProcess) signalFor(code int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range wire.Signals {
		n, ok := signalNumber(name)
		if ok && p.sent&(1<<n) != 0 && code == 128+int(n) {
			return name
		}
	}
	return ""
}

// Release closes the agent's ends first, so that a console still
// closing (it writes a last frame) meets a closed pipe rather than wait
// for a reader, then waits for the console, then lets the job go, which
// ends what is left in it unless it is a desktop command's. It may be
// called more than once.
func (p *windowsProcess) Release() {
	if p.console != nil {
		p.console.close()
	}
	closeAll(p.files)
	if p.console != nil {
		p.console.wait()
	}
	p.mu.Lock()
	job, proc := p.job, p.proc
	p.job, p.proc = 0, 0
	p.mu.Unlock()
	for _, h := range []windows.Handle{job, proc} {
		if h != 0 {
			windows.CloseHandle(h)
		}
	}
}
