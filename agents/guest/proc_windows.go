//go:build windows

package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
	"spirit/errcode"
)

// windowsProcess is a command in a job object of its own, on pipes.
type windowsProcess struct {
	cmd    *exec.Cmd
	stdin  *os.File // ours: the write end; nil without stdin
	stdout *os.File // ours: the read ends
	stderr *os.File
	out    io.Reader // stdout and stderr as the host gets them
	errOut io.Reader
	helper string // the executable that runs the Ctrl-C helper

	mu   sync.Mutex
	job  windows.Handle // 0 once released
	sent uint32         // bit N set: the job was ended for signal N
}

// noTerminal is the answer to a resize of a command on pipes.
func noTerminal() error {
	return &errcode.Error{Code: errcode.Failed, Msg: "resize: the command has no terminal"}
}

func startProcess(req *wire.Request) (process, error) {
	if req.TTY != nil || req.Desktop {
		return startNative(req) // a pty or the user's desktop: native_windows.go
	}
	cmd, err := winCommand(req)
	if err != nil {
		return nil, err
	}
	job, err := newJob()
	if err != nil {
		return nil, err
	}
	p := &windowsProcess{cmd: cmd, job: job}
	if p.helper, err = os.Executable(); err != nil {
		windows.CloseHandle(job)
		return nil, fmt.Errorf("the agent's executable, for its Ctrl-C helper: %w", err)
	}
	theirs, err := p.pipes(req.Stdin)
	if err == nil {
		err = p.start()
	}
	for _, f := range theirs {
		f.Close() // the command has its own copies now
	}
	if err != nil {
		p.Release()
		return nil, err
	}
	p.out, p.errOut = p.stdout, p.stderr
	if req.Shell != "" {
		cp := shellCodePage()
		p.out, p.errOut = utf8Reader(p.stdout, cp), utf8Reader(p.stderr, cp)
	}
	return p, nil
}

// winCommand builds the command a request names; the shell is cmd.exe.
func winCommand(req *wire.Request) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if req.Shell != "" {
		cmd = shellCommand(req.Shell)
	} else {
		cmd = exec.Command(req.Argv[0], req.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		if path := withExtension(cmd.Path); cmd.Err == nil && isBatch(path) {
			var err error
			if cmd, err = batchCommand(path, req.Argv[1:]); err != nil {
				return nil, err
			}
		}
	}
	if cmd.Err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Path, lookErr(cmd.Err))
	}
	// Suspended, so that it is in its job before it can start anything;
	// with a console of its own, without a window, because the agent
	// (a service) has none to share and a window would pop up on a
	// desktop if it had.
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED | windows.CREATE_NO_WINDOW
	// Names are the same whatever their case on Windows.
	cmd.Env = mergeEnv(os.Environ(), req.Env, strings.EqualFold)
	if err := checkDir(req.Dir); err != nil {
		return nil, err
	}
	cmd.Dir = req.Dir
	return cmd, nil
}

// shellCommand runs text with cmd.exe (shellCmdLine). The command line
// is given as is, since Go's quoting of arguments is not cmd.exe's.
func shellCommand(text string) *exec.Cmd {
	comspec := os.Getenv("ComSpec")
	if comspec == "" {
		comspec = defaultComSpec()
	}
	cmd := exec.Command(comspec)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CmdLine: shellCmdLine(comspec, text),
	}
	return cmd
}

func defaultComSpec() string {
	if dir, err := windows.GetSystemDirectory(); err == nil {
		return filepath.Join(dir, "cmd.exe")
	}
	return `C:\Windows\System32\cmd.exe`
}

func lookErr(err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("command not found: %w", fs.ErrNotExist)
	}
	return err
}

// shellCodePage is the code page cmd.exe writes its output in: that of
// its console. Each command gets a new console (CREATE_NO_WINDOW), whose
// code page is the system's OEM one; the agent's own console code page
// would be 0 under the service manager, which gives it no console.
// x/sys/windows lacks GetOEMCP, hence the lazy lookup.
func shellCodePage() uint32 {
	proc := windows.NewLazySystemDLL("kernel32.dll").NewProc("GetOEMCP")
	if proc.Find() != nil {
		return cpUTF8 // unknowable: pass the bytes through
	}
	cp, _, _ := proc.Call()
	return uint32(cp)
}

// newJob makes a job that ends everything in it when its last handle is
// closed, so that nothing a command started outlives its exec.
func newJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job: %w", err)
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
// request has one (NUL otherwise), pipes for stdout and stderr. It returns
// the command's ends, for the caller to close once the command has them.
func (p *windowsProcess) pipes(stdin bool) ([]*os.File, error) {
	var theirs []*os.File
	if stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return theirs, fmt.Errorf("stdin pipe: %w", err)
		}
		p.stdin, p.cmd.Stdin = w, r
		theirs = append(theirs, r)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return theirs, fmt.Errorf("stdout pipe: %w", err)
	}
	p.stdout, p.cmd.Stdout = r, w
	theirs = append(theirs, w)
	r, w, err = os.Pipe()
	if err != nil {
		return theirs, fmt.Errorf("stderr pipe: %w", err)
	}
	p.stderr, p.cmd.Stderr = r, w
	return append(theirs, w), nil
}

// start starts the command suspended, puts it in the job and lets it run.
func (p *windowsProcess) start() error {
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cmd.Path, lookErr(err))
	}
	if err := p.adopt(); err != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		return fmt.Errorf("start %s: %w", p.cmd.Path, err)
	}
	return nil
}

func (p *windowsProcess) adopt() error {
	var err error
	herr := p.cmd.Process.WithHandle(func(h uintptr) {
		err = windows.AssignProcessToJobObject(p.job, windows.Handle(h))
	})
	if herr != nil {
		return fmt.Errorf("process handle: %w", herr)
	}
	if err != nil {
		return fmt.Errorf("assign to job: %w", err)
	}
	return resumeProcess(uint32(p.cmd.Process.Pid))
}

// resumeProcess resumes the threads of a process created suspended. Go's
// os/exec closes the main thread's handle, so the thread is looked up;
// a new process has only that one, and resuming a running thread is a
// no-op.
func resumeProcess(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("resume: list threads: %w", err)
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		if err := resumeThread(te.ThreadID); err != nil {
			return err
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return fmt.Errorf("resume: list threads: %w", err)
	}
	if resumed == 0 {
		return fmt.Errorf("resume: process %d has no thread", pid)
	}
	return nil
}

func resumeThread(tid uint32) error {
	th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, tid)
	if err != nil {
		return fmt.Errorf("resume: open thread %d: %w", tid, err)
	}
	defer windows.CloseHandle(th)
	if _, err := windows.ResumeThread(th); err != nil {
		return fmt.Errorf("resume thread %d: %w", tid, err)
	}
	return nil
}

func (p *windowsProcess) Stdin() io.WriteCloser {
	if p.stdin == nil {
		return nil // not a nil *os.File in a non-nil interface
	}
	return p.stdin
}

func (p *windowsProcess) Stdout() io.Reader { return p.out }
func (p *windowsProcess) Stderr() io.Reader { return p.errOut }

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

// Signal sends INT as a console's Ctrl-C (ctrlc_windows.go), so that the
// command may end as it does on one; the others end the job, as a job has
// no signals. The host's cancel kills what is left after a grace.
func (p *windowsProcess) Signal(name string) error {
	if name == "STOP" || name == "CONT" {
		return fmt.Errorf("signal %s: a Windows guest cannot stop or continue a command (no job control)", name)
	}
	n, ok := signalNumber(name)
	if !ok {
		return fmt.Errorf("signal %s: not one of %v", name, wire.Signals)
	}
	if name == "INT" {
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
	return p.terminate(name, n)
}

// ctrlC has the helper send Ctrl-C to the command's console, found
// through the command or, once it has gone, what is left in its job.
func (p *windowsProcess) ctrlC() error {
	pids := []uint32{uint32(p.cmd.Process.Pid)}
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
		return nil // released: closing the job ended what was left
	}
	p.sent |= 1 << n
	if err := windows.TerminateJobObject(p.job, 128+n); err != nil {
		return fmt.Errorf("signal %s: terminate job: %w", name, err)
	}
	return nil
}

func (p *windowsProcess) Resize(wire.Resize) error { return noTerminal() }

func (p *windowsProcess) CloseOutput(fd int) error {
	switch fd {
	case 1:
		return p.stdout.Close()
	case 2:
		return p.stderr.Close()
	}
	return fmt.Errorf("close output %d: no such output", fd)
}

func (p *windowsProcess) Wait() (wire.ExitMsg, error) {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return wire.ExitMsg{}, fmt.Errorf("wait: %w", err)
	}
	// Exit codes are 32 bits (NTSTATUS values such as 0xC000013A);
	// on a 64-bit int they stay positive and whole.
	code := p.cmd.ProcessState.ExitCode()
	return exitMsg(code, p.signalFor(code)), nil
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
		n, _ := signalNumber(name)
		if p.sent&(1<<n) != 0 && code == 128+int(n) {
			return name
		}
	}
	return ""
}

// Release closes the job, which ends whatever is still in it, and the
// agent's pipe ends. It may be called more than once.
func (p *windowsProcess) Release() {
	p.mu.Lock()
	job := p.job
	p.job = 0
	p.mu.Unlock()
	if job != 0 {
		windows.CloseHandle(job)
	}
	for _, f := range []*os.File{p.stdin, p.stdout, p.stderr} {
		if f != nil {
			f.Close()
		}
	}
}
