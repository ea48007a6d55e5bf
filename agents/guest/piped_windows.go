//go:build windows

package guest

import (
	"errors"
	"fmt"
	"os/exec"
	"unsafe"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
)

// startPiped starts an ordinary command, on pipes, with os/exec: created
// suspended, so that it is in its job before it can start anything,
// with a console of its own and no window, because the agent (a
// service) has none to share and a window would pop up on a desktop if
// it had.
func startPiped(req *wire.Request) (process, error) {
	cmd, err := winCommand(req)
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr.CreationFlags |= windows.CREATE_SUSPENDED | windows.CREATE_NO_WINDOW
	p, err := newProcess(true)
	if err != nil {
		return nil, err
	}
	theirs, err := p.pipes(req.Stdin)
	if err == nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = theirs[0], theirs[1], theirs[2]
		err = startSuspended(p, cmd)
	}
	closeAll(theirs[:]) // the command has its own copies now
	if err != nil {
		p.Release()
		return nil, err
	}
	p.decode(req, p.outs[1], p.outs[2])
	return p, nil
}

// startSuspended starts cmd suspended, puts it in p's job and lets it run. p
// keeps a handle of the process of its own: os/exec lets go of its one.
func startSuspended(p *windowsProcess, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, lookErr(err))
	}
	var err error
	herr := cmd.Process.WithHandle(func(h uintptr) { err = p.adopt(windows.Handle(h)) })
	if err == nil && herr != nil {
		err = fmt.Errorf("process handle: %w", herr)
	}
	p.pid = uint32(cmd.Process.Pid)
	if err == nil {
		err = resumeProcess(p.pid)
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	cmd.Process.Release() // p has a handle of its own
	return nil
}

// adopt puts the process h in p's job and keeps a handle of it.
func (p *windowsProcess) adopt(h windows.Handle) error {
	if err := windows.AssignProcessToJobObject(p.job, h); err != nil {
		return fmt.Errorf("assign to job: %w", err)
	}
	self := windows.CurrentProcess()
	if err := windows.DuplicateHandle(self, h, self, &p.proc, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return fmt.Errorf("duplicate the process handle: %w", err)
	}
	return nil
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
