//go:build windows

package guest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
)

// startNative starts a command that os/exec cannot: on the user's
// desktop, or under a pseudo console.
func startNative(req *wire.Request) (process, error) {
	if req.Desktop {
		return startDesktop(req)
	}
	return startConPTY(req)
}

// hasDesktop: a Windows agent can run commands on the user's desktop.
func hasDesktop() bool { return true }

// nativeProcess is a command the agent created itself (launch): under a
// pseudo console, or on the user's desktop. Its job holds it from its
// start.
type nativeProcess struct {
	proc    windows.Handle // closed by Release
	console *pseudoConsole // nil without a pty
	stdin   io.WriteCloser // nil without stdin
	stdout  io.Reader
	stderr  io.Reader   // nil under a pty
	files   []*os.File  // the agent's ends, closed by Release
	outs    [3]*os.File // on pipes: the agent's ends of stdout and stderr

	mu   sync.Mutex
	job  windows.Handle // guarded by mu; 0 once released
	sent uint32         // guarded by mu: bit N set, the job was ended for signal N
}

func (p *nativeProcess) Stdin() io.WriteCloser { return p.stdin }
func (p *nativeProcess) Stdout() io.Reader     { return p.stdout }
func (p *nativeProcess) Stderr() io.Reader     { return p.stderr }

// Signal: under a pseudo console INT is what Ctrl-C typed there is, a
// 0x03 on its input, which the console turns into CTRL_C_EVENT for every
// process attached to it; the cancel that comes with it ends the job
// after the grace. Any other signal ends the job, as for a command on
// pipes.
func (p *nativeProcess) Signal(name string) error {
	if name == "STOP" || name == "CONT" {
		return fmt.Errorf("signal %s: a Windows guest cannot stop or continue a command (no job control)", name)
	}
	if name == "INT" && p.console != nil {
		return p.console.interrupt()
	}
	n, ok := signalNumber(name)
	if !ok {
		return fmt.Errorf("signal %s: not one of %v", name, wire.Signals)
	}
	return p.terminate(name, n)
}

func (p *nativeProcess) Kill() error { return p.terminate("KILL", 9) }

func (p *nativeProcess) terminate(name string, n uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.job == 0 {
		return nil
	}
	p.sent |= 1 << n
	if err := windows.TerminateJobObject(p.job, 128+n); err != nil {
		return fmt.Errorf("signal %s: terminate job: %w", name, err)
	}
	return nil
}

func (p *nativeProcess) Resize(s wire.Resize) error {
	if p.console == nil {
		return errors.New("resize: the command has no terminal")
	}
	return p.console.resize(s)
}

// CloseOutput: under a pty both outputs are one, which the host stops
// reading; on pipes the agent's end is closed, as for any command.
func (p *nativeProcess) CloseOutput(fd int) error {
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
func (p *nativeProcess) Wait() (wire.ExitMsg, error) {
	if _, err := windows.WaitForSingleObject(p.proc, windows.INFINITE); err != nil {
		return wire.ExitMsg{}, fmt.Errorf("wait: %w", err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(p.proc, &code); err != nil {
		return wire.ExitMsg{}, fmt.Errorf("exit code: %w", err)
	}
	if p.console != nil {
		p.console.close()
	}
	return wire.ExitMsg{Status: int(code), Signal: p.signalFor(int(code))}, nil
}

func (p *nativeProcess) signalFor(code int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range wire.Signals {
		n, _ := signalNumber(name)
		if n != 0 && p.sent&(1<<n) != 0 && code == 128+int(n) {
			return name
		}
	}
	return ""
}

// Release closes the agent's ends first, so that a console still
// closing (it writes a last frame) meets a closed pipe rather than wait
// for a reader, then waits for the console, then lets the job go.
func (p *nativeProcess) Release() {
	if p.console != nil {
		p.console.close()
	}
	for _, f := range p.files {
		f.Close()
	}
	if p.console != nil {
		p.console.wait()
	}
	p.mu.Lock()
	job, proc := p.job, p.proc
	p.job, p.proc = 0, 0
	p.mu.Unlock()
	if job != 0 {
		windows.CloseHandle(job)
	}
	if proc != 0 {
		windows.CloseHandle(proc)
	}
}

// jobFor makes a command's job: one that ends what is left in it when
// the agent lets it go (newJob's), or, for a desktop command, one that
// leaves the programs it started on the user's desktop running.
func jobFor(killOnClose bool) (windows.Handle, error) {
	if killOnClose {
		return newJob()
	}
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job: %w", err)
	}
	return job, nil
}
