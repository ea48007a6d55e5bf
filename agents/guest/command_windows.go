//go:build windows

package guest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
)

// winCommand builds the command a request names, the one place that
// does for every kind of command (on pipes, under a pseudo console, on
// the desktop): the shell is cmd.exe (cmdFlags), a batch file goes
// through batchCommand, and SysProcAttr.CmdLine is the whole command
// line, which every starter passes as it is.
func winCommand(req *wire.Request) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if req.Shell != "" {
		cmd = shellCommand(req.Shell)
	} else {
		cmd = exec.Command(req.Argv[0], req.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: argvCmdLine(cmd.Args)}
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
	// Names are the same whatever their case on Windows.
	cmd.Env = mergeEnv(os.Environ(), req.Env, strings.EqualFold)
	if err := checkDir(req.Dir); err != nil {
		return nil, err
	}
	cmd.Dir = req.Dir
	return cmd, nil
}

// argvCmdLine is the command line of args as os/exec makes it.
func argvCmdLine(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = syscall.EscapeArg(a)
	}
	return strings.Join(quoted, " ")
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
// its console. Each command on pipes gets a new console
// (CREATE_NO_WINDOW), whose code page is the system's OEM one; the
// agent's own console code page would be 0 under the service manager,
// which gives it no console. x/sys/windows lacks GetOEMCP, hence the
// lazy lookup.
func shellCodePage() uint32 {
	proc := windows.NewLazySystemDLL("kernel32.dll").NewProc("GetOEMCP")
	if proc.Find() != nil {
		return cpUTF8 // unknowable: pass the bytes through
	}
	cp, _, _ := proc.Call()
	return uint32(cp)
}
