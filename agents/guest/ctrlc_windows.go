//go:build windows

package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// How a Ctrl-C reaches a command as a console sends it. A console control
// event goes to every process attached to a console, and only a process
// attached to that console can generate it. The agent does not attach
// itself: attachment is per process, so two commands cancelled at once
// would race for it, and the event would reach the agent too, whose Go
// runtime ends the process on it. So a short-lived helper does it: the
// agent's own executable, re-run detached (no console of its own), which
// attaches to the command's console, ignores Ctrl-C for itself and
// generates CTRL_C_EVENT for process group 0, that is, for everything on
// that console. CREATE_NEW_PROCESS_GROUP is not the way: it turns Ctrl-C
// off in the new group, and GenerateConsoleCtrlEvent cannot aim Ctrl-C at
// a group anyway (only Ctrl-Break).

// statusControlCExit is the exit code of a process that Ctrl-C ended
// (STATUS_CONTROL_C_EXIT), what Windows' default handler exits with.
const statusControlCExit = uint32(windows.STATUS_CONTROL_C_EXIT)

// helperTimeout bounds the helper's run: attaching and sending is quick.
const helperTimeout = 5 * time.Second

var (
	kernel32                  = windows.NewLazySystemDLL("kernel32.dll")
	procAttachConsole         = kernel32.NewProc("AttachConsole")
	procFreeConsole           = kernel32.NewProc("FreeConsole")
	procSetConsoleCtrlHandler = kernel32.NewProc("SetConsoleCtrlHandler")
)

// sendCtrlC runs the helper against the console of the first of pids that
// has one (the command, else what it started). exe is the agent's
// executable, or a test binary that handles CtrlCArg in its TestMain.
func sendCtrlC(ctx context.Context, exe string, pids []uint32) error {
	if len(pids) == 0 {
		return errors.New("ctrl-c: no process left to send it to")
	}
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	args := []string{CtrlCArg}
	for _, pid := range pids {
		args = append(args, strconv.FormatUint(uint64(pid), 10))
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	// No console: AttachConsole fails in a process that has one.
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.DETACHED_PROCESS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctrl-c helper: %w: %s", err, out)
	}
	return nil
}

// CtrlCHelper is the helper's whole run, with the pids it was given: it
// returns the process's exit status and writes why it failed to stderr.
func CtrlCHelper(args []string) int {
	if err := ctrlCConsole(args); err != nil {
		fmt.Fprintf(os.Stderr, "spirit-agent %s: %v\n", CtrlCArg, err)
		return 1
	}
	return 0
}

func ctrlCConsole(args []string) error {
	var errs []error
	for _, a := range args {
		pid, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return fmt.Errorf("pid %q: %w", a, err)
		}
		if r, _, err := procAttachConsole.Call(uintptr(pid)); r == 0 {
			errs = append(errs, fmt.Errorf("attach to the console of %d: %w", pid, err))
			continue
		}
		return generateCtrlC()
	}
	return errors.Join(errs...)
}

// generateCtrlC sends Ctrl-C to the console the helper is attached to,
// which it ignores itself.
func generateCtrlC() error {
	defer procFreeConsole.Call()
	if r, _, err := procSetConsoleCtrlHandler.Call(0, 1); r == 0 {
		return fmt.Errorf("ignore ctrl-c: %w", err)
	}
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_C_EVENT, 0); err != nil {
		return fmt.Errorf("generate ctrl-c: %w", err)
	}
	return nil
}

// jobPids lists the processes in a job, for the helper to find a console
// when the command itself has already gone.
func jobPids(job windows.Handle) ([]uint32, error) {
	// JOBOBJECT_BASIC_PROCESS_ID_LIST: two DWORD counts, then ULONG_PTRs.
	const maxPids = 256
	var buf struct {
		assigned, listed uint32
		ids              [maxPids]uintptr
	}
	err := windows.QueryInformationJobObject(job, windows.JobObjectBasicProcessIdList,
		uintptr(unsafe.Pointer(&buf)), uint32(unsafe.Sizeof(buf)), nil)
	if err != nil && !errors.Is(err, windows.ERROR_MORE_DATA) {
		return nil, fmt.Errorf("list the job's processes: %w", err)
	}
	pids := make([]uint32, 0, buf.listed)
	for _, id := range buf.ids[:min(buf.listed, maxPids)] {
		pids = append(pids, uint32(id))
	}
	return pids, nil
}

// jobPoll is how often waitGroup looks at the job: it waits a second
// at most, once per cancel.
const jobPoll = 20 * time.Millisecond

// waitGroup returns when the job has no process left, or when stop fires.
func (p *windowsProcess) waitGroup(stop <-chan time.Time) {
	t := time.NewTicker(jobPoll)
	defer t.Stop()
	for {
		p.mu.Lock()
		n, err := activeProcesses(p.job)
		p.mu.Unlock()
		if err != nil || n == 0 {
			return
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// activeProcesses is the number of processes in a job; 0 once released.
func activeProcesses(job windows.Handle) (uint32, error) {
	if job == 0 {
		return 0, nil
	}
	// JOBOBJECT_BASIC_ACCOUNTING_INFORMATION.
	var info struct {
		totalUser, totalKernel, thisUser, thisKernel        int64
		totalPageFaults, totalProcesses, active, terminated uint32
	}
	err := windows.QueryInformationJobObject(job, windows.JobObjectBasicAccountingInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil)
	if err != nil {
		return 0, fmt.Errorf("job accounting: %w", err)
	}
	return info.active, nil
}
