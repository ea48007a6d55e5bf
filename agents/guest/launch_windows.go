//go:build windows

package guest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// procThreadAttributeJobList is PROC_THREAD_ATTRIBUTE_JOB_LIST
// (ProcThreadAttributeValue(13, FALSE, TRUE, FALSE)), which x/sys/windows
// lacks: the process is in its jobs from its first instruction.
const procThreadAttributeJobList = 0x0002000D

// launch is a process creation that os/exec cannot make: attached to a
// pseudo console, as another user on a given desktop, in its job from the
// start. os/exec passes neither PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE nor a
// desktop (SysProcAttr.Token leaves lpDesktop empty, so a window would
// go to an invisible one).
type launch struct {
	app     string   // the program's path
	cmdLine string   // its whole command line
	env     []string // NAME=value
	dir     string   // "" for the agent's own
	job     windows.Handle
	// console is the pseudo console the process attaches to; 0 for none.
	console windows.Handle
	// std are the process's standard handles, inheritable, when it has no
	// console; only they are inherited.
	std [3]windows.Handle
	// token, when not 0, is the user the process runs as, on desktop.
	token   windows.Token
	desktop string
}

// command fills in what a request's *exec.Cmd (winCommand's) says: the
// program, its command line, environment and directory.
func (l *launch) command(cmd *exec.Cmd) {
	l.app, l.env, l.dir = cmd.Path, cmd.Env, cmd.Dir
	l.cmdLine = cmd.SysProcAttr.CmdLine
}

// launch starts l as p's command, in p's job, with std as its standard
// files unless it has a pseudo console.
func (p *windowsProcess) launch(l *launch, std [3]*os.File) error {
	l.job = p.job
	if l.console == 0 {
		defer closeHandles(l.std[:]) // the command has its own copies
		for i, f := range std {
			h, err := inheritable(f)
			if err != nil {
				return err
			}
			l.std[i] = h
		}
	}
	var err error
	p.proc, p.pid, err = l.start()
	return err
}

func closeHandles(hs []windows.Handle) {
	for _, h := range hs {
		if h != 0 {
			windows.CloseHandle(h)
		}
	}
}

// start creates the process, running, and returns its handle and id.
func (l *launch) start() (windows.Handle, uint32, error) {
	attrs, err := windows.NewProcThreadAttributeList(3)
	if err != nil {
		return 0, 0, fmt.Errorf("attribute list: %w", err)
	}
	defer attrs.Delete()
	si := &windows.StartupInfoEx{}
	si.Cb = uint32(unsafe.Sizeof(*si))
	// With a pseudo console the standard handles stay NULL: without
	// STARTF_USESTDHANDLES the child would be handed the agent's own
	// (the protocol's stream under --stdio) instead of the console's
	// (microsoft/terminal#11276).
	si.Flags = windows.STARTF_USESTDHANDLES
	jobs := []windows.Handle{l.job}
	if err := attrs.Update(procThreadAttributeJobList, unsafe.Pointer(&jobs[0]), unsafe.Sizeof(jobs[0])); err != nil {
		return 0, 0, fmt.Errorf("job attribute: %w", err)
	}
	inherit := false
	if l.console != 0 {
		// The attribute's value is the HPCON itself, not a pointer to it.
		hpc := *(*unsafe.Pointer)(unsafe.Pointer(&l.console))
		if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, hpc, unsafe.Sizeof(l.console)); err != nil {
			return 0, 0, fmt.Errorf("pseudo console attribute: %w", err)
		}
	} else {
		si.StdInput, si.StdOutput, si.StdErr = l.std[0], l.std[1], l.std[2]
		handles := l.std[:]
		if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_HANDLE_LIST, unsafe.Pointer(&handles[0]), uintptr(len(handles))*unsafe.Sizeof(handles[0])); err != nil {
			return 0, 0, fmt.Errorf("handle list attribute: %w", err)
		}
		inherit = true
	}
	si.ProcThreadAttributeList = attrs.List()
	if l.desktop != "" {
		d, err := windows.UTF16PtrFromString(l.desktop)
		if err != nil {
			return 0, 0, err
		}
		si.Desktop = d
	}
	pi, err := l.create(si, inherit)
	if err != nil {
		return 0, 0, fmt.Errorf("start %s: %w", l.app, lookErr(err))
	}
	windows.CloseHandle(pi.Thread)
	return pi.Process, pi.ProcessId, nil
}

func (l *launch) create(si *windows.StartupInfoEx, inherit bool) (*windows.ProcessInformation, error) {
	app, err := windows.UTF16PtrFromString(l.app)
	if err != nil {
		return nil, err
	}
	line, err := windows.UTF16PtrFromString(l.cmdLine)
	if err != nil {
		return nil, err
	}
	var dir *uint16
	if l.dir != "" {
		if dir, err = windows.UTF16PtrFromString(l.dir); err != nil {
			return nil, err
		}
	}
	env, err := envBlock(l.env)
	if err != nil {
		return nil, err
	}
	// A console of its own when it has no pseudo console, without a
	// window, as startPiped's commands get.
	flags := uint32(windows.EXTENDED_STARTUPINFO_PRESENT | windows.CREATE_UNICODE_ENVIRONMENT)
	if l.console == 0 {
		flags |= windows.CREATE_NO_WINDOW
	}
	pi := &windows.ProcessInformation{}
	if l.token != 0 {
		err = windows.CreateProcessAsUser(l.token, app, line, nil, nil, inherit, flags, &env[0], dir, &si.StartupInfo, pi)
	} else {
		err = windows.CreateProcess(app, line, nil, nil, inherit, flags, &env[0], dir, &si.StartupInfo, pi)
	}
	return pi, err
}

// envBlock is env as CreateProcess takes it: NAME=value strings in
// UTF-16, each ended by a NUL, and a NUL after the last.
func envBlock(env []string) ([]uint16, error) {
	var b []uint16
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("environment entry %q has a NUL", kv)
		}
		u, err := windows.UTF16FromString(kv)
		if err != nil {
			return nil, err
		}
		b = append(b, u...)
	}
	if len(b) == 0 {
		b = append(b, 0)
	}
	return append(b, 0), nil
}

// inheritable returns an inheritable duplicate of f's handle, for the
// child's side of a pipe; the caller closes it once the child has it.
func inheritable(f *os.File) (windows.Handle, error) {
	self := windows.CurrentProcess()
	var h windows.Handle
	err := windows.DuplicateHandle(self, windows.Handle(f.Fd()), self, &h, 0, true, windows.DUPLICATE_SAME_ACCESS)
	if err != nil {
		return 0, fmt.Errorf("duplicate handle: %w", err)
	}
	return h, nil
}
