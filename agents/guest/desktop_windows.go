//go:build windows

package guest

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
)

// userDesktop is the window station and desktop of a logged-on user's
// programs: without it, CreateProcessAsUser gives the process an
// invisible desktop.
const userDesktop = `winsta0\default`

// wts is sessionAPI on Windows' own calls.
type wts struct{}

// hasDesktop: a Windows agent can run commands on the user's desktop.
func hasDesktop() bool { return true }

func (wts) ConsoleSession() uint32 { return windows.WTSGetActiveConsoleSessionId() }

func (wts) Sessions() ([]session, error) {
	var list *windows.WTS_SESSION_INFO
	var n uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &list, &n); err != nil {
		return nil, err
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(list)))
	out := make([]session, 0, n)
	for _, s := range unsafe.Slice(list, n) {
		out = append(out, session{ID: s.SessionID, State: s.State})
	}
	return out, nil
}

func (wts) UserToken(id uint32) (uintptr, error) {
	var t windows.Token
	if err := windows.WTSQueryUserToken(id, &t); err != nil {
		return 0, err
	}
	return uintptr(t), nil
}

// startDesktop starts a request's command as the user logged on to the
// desktop, in their session, on their desktop, with their environment
// (and the request's), in their profile unless the request names a
// directory; under a pseudo console when the request has a terminal.
func startDesktop(req *wire.Request) (process, error) {
	if req.TTY != nil && !hasPty() {
		return nil, noConPTY()
	}
	raw, session, err := desktopToken(wts{})
	if err != nil {
		return nil, err
	}
	token := windows.Token(raw)
	defer token.Close()
	cmd, err := winCommand(req)
	if err != nil {
		return nil, err
	}
	l := &launch{token: token, desktop: userDesktop}
	l.command(cmd)
	if l.env, err = userEnv(token, req.Env); err != nil {
		return nil, desktopError(fmt.Sprintf("environment of session %d's user", session), err)
	}
	if req.Dir == "" {
		if dir, err := token.GetUserProfileDirectory(); err == nil {
			l.dir = dir
		}
	}
	// Not killed with its job: what it started on the desktop (start
	// notepad) is the user's once it has ended.
	if req.TTY != nil {
		return startOnConsole(l, req, false)
	}
	return startOnPipes(l, req)
}

// userEnv is the user's own environment, as a logon makes it, with the
// request's added.
func userEnv(token windows.Token, extra []string) ([]string, error) {
	var block *uint16
	if err := windows.CreateEnvironmentBlock(&block, token, false); err != nil {
		return nil, err
	}
	defer windows.DestroyEnvironmentBlock(block)
	// NAME=value strings, each ended by a NUL, and a NUL after the last.
	var env []string
	at := unsafe.Pointer(block)
	for {
		n := 0
		for *(*uint16)(unsafe.Add(at, 2*n)) != 0 {
			n++
		}
		if n == 0 {
			break
		}
		env = append(env, windows.UTF16ToString(unsafe.Slice((*uint16)(at), n)))
		at = unsafe.Add(at, 2*(n+1))
	}
	return mergeEnv(env, extra, strings.EqualFold), nil
}

// startOnPipes starts l with pipes for its standard files, in a job that
// does not end its programs when let go. Its outputs end when the
// command has ended and what it wrote has been read, even though a
// program it started (start notepad) holds them: that program is the
// desktop's, and the host does not wait for it.
func startOnPipes(l *launch, req *wire.Request) (process, error) {
	p, err := newProcess(false)
	if err != nil {
		return nil, err
	}
	theirs, err := p.pipes(req.Stdin)
	if err == nil {
		err = p.launch(l, theirs)
	}
	closeAll(theirs[:]) // the command has its own copies now
	if err != nil {
		p.Release()
		return nil, err
	}
	p.decode(req, untilExit(p.outs[1], p.proc), untilExit(p.outs[2], p.proc))
	return p, nil
}
