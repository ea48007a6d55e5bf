//go:build windows

package guest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"spirit/errcode"
)

// cmdFlags are cmd.exe's options for every command the agent runs with
// it: /d skips the AutoRun commands in the registry, as `sh -c` reads no
// startup file (they are for interactive prompts: doskey macros, colours);
// /e:on and /v:off fix command extensions on and delayed expansion off,
// so that a registry default does not change what `!` and `%` mean.
const cmdFlags = `/d /e:on /v:off`

// shellCmdLine is the command line that runs text with cmd.exe. With /s,
// cmd.exe takes what is between the first and the last quote verbatim,
// whatever quotes the text itself has. cmd.exe runs the first line of
// text only: a line feed ends the command.
func shellCmdLine(comspec, text string) string {
	return syscall.EscapeArg(comspec) + " " + cmdFlags + ` /s /c "` + text + `"`
}

// isBatch says whether path is a batch file, which CreateProcess runs
// with cmd.exe, whose parser then reads the arguments again.
func isBatch(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".bat" || ext == ".cmd"
}

// withExtension is path with the first PATHEXT extension that makes it
// name a file, when it has no extension and names no file itself:
// CreateProcess may find `x` as x.bat where os/exec has not looked.
func withExtension(path string) string {
	if filepath.Ext(path) != "" || isFile(path) {
		return path
	}
	exts := os.Getenv("PATHEXT")
	if exts == "" {
		exts = ".COM;.EXE;.BAT;.CMD"
	}
	for _, e := range strings.Split(exts, ";") {
		if e != "" && isFile(path+e) {
			return path + e
		}
	}
	return path
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// batchCommand runs a batch file with its arguments through cmd.exe,
// each argument in double quotes, so that cmd.exe reads `&`, `|`, `<`,
// `>`, `^` and `(` in it as text (the BatBadBut class, golang/go#27199:
// Go quotes arguments for programs, not for cmd.exe). What quotes cannot
// protect is refused: `"` ends the quoting, `%` expands even inside
// quotes, and a line feed ends the command.
func batchCommand(path string, args []string) (*exec.Cmd, error) {
	var b strings.Builder
	b.WriteString(`"` + path + `"`)
	for _, a := range args {
		if i := strings.IndexAny(a, "\"%\r\n\x00"); i >= 0 {
			return nil, &errcode.Error{
				Code: errcode.Refused,
				Msg: fmt.Sprintf("argument %q of batch file %s: cmd.exe would read %q in it as its own syntax (\", %%, a line feed): pass it another way, e.g. in the environment",
					a, filepath.Base(path), a[i]),
			}
		}
		b.WriteString(` "` + a + `"`)
	}
	cmd := shellCommand(b.String())
	return cmd, nil
}
