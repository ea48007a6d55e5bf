package guest

import (
	"errors"
	"fmt"
	"slices"
	"syscall"

	"spirit/errcode"
)

// A desktop command (wire.Request.Desktop) runs as the user logged on to
// the guest's desktop, in that user's session, where its windows show:
// the agent is a service, in session 0, which has no visible desktop.
// The decisions are here, over the few Windows calls they need
// (sessionAPI), so that they are tested where Windows is not: Wine has a
// single session and no user token.

// session is one Windows (Terminal Services) session.
type session struct {
	ID    uint32
	State uint32 // WTS_CONNECTSTATE_CLASS
}

// The session states that matter here (WTS_CONNECTSTATE_CLASS).
const (
	wtsActive       = 0 // a user works in it (a locked console is still active)
	wtsDisconnected = 4 // a user is logged on, with nobody looking
)

// noConsoleSession is what WTSGetActiveConsoleSessionId returns while the
// console is changing hands.
const noConsoleSession = 0xFFFFFFFF

// Windows errors that the desktop's calls give, by number, so that the
// decisions compile and are tested on any OS.
const (
	errNoToken           = syscall.Errno(1008) // ERROR_NO_TOKEN: nobody is logged on to the session
	errAccessDenied      = syscall.Errno(5)    // ERROR_ACCESS_DENIED
	errPrivilegeNotHeld  = syscall.Errno(1314) // ERROR_PRIVILEGE_NOT_HELD: not LocalSystem
	errCtxWinStationNone = syscall.Errno(7022) // ERROR_CTX_WINSTATION_NOT_FOUND: the session went away
)

// sessionAPI is what a desktop command needs of Windows' session calls.
type sessionAPI interface {
	// ConsoleSession is WTSGetActiveConsoleSessionId.
	ConsoleSession() uint32
	// Sessions is WTSEnumerateSessions.
	Sessions() ([]session, error)
	// UserToken is WTSQueryUserToken: the primary token of the user
	// logged on to the session, which the caller closes.
	UserToken(id uint32) (uintptr, error)
}

// pickSession chooses the session a desktop command runs in: the
// console's when it is active (a user sits at the VM's display, its
// screen maybe locked), else the active session with the lowest ID (a
// user logged on through RDP), else a disconnected one (a user is logged
// on; the windows show when they come back). Session 0 is the services'.
// A console session that the list lacks (Wine lists none) is tried too:
// asking for its user's token tells whether anybody is there.
func pickSession(console uint32, all []session) (uint32, bool) {
	users := slices.DeleteFunc(slices.Clone(all), func(s session) bool { return s.ID == 0 })
	slices.SortFunc(users, func(a, b session) int { return int(a.ID) - int(b.ID) })
	for _, want := range []uint32{wtsActive, wtsDisconnected} {
		if console != noConsoleSession && console != 0 &&
			slices.Contains(users, session{ID: console, State: want}) {
			return console, true
		}
		for _, s := range users {
			if s.State == want {
				return s.ID, true
			}
		}
	}
	listed := slices.ContainsFunc(all, func(s session) bool { return s.ID == console })
	if console != noConsoleSession && console != 0 && !listed {
		return console, true
	}
	return 0, false
}

// nobodyMsg says what to do when nobody is logged on.
const nobodyMsg = "nobody is logged on to the guest's desktop: log on (on the VM's display, or through RDP), or run the command without --desktop"

// desktopToken returns the token of the user of the chosen session, and
// the session.
func desktopToken(api sessionAPI) (uintptr, uint32, error) {
	all, err := api.Sessions()
	if err != nil {
		return 0, 0, desktopError("list sessions", err)
	}
	id, ok := pickSession(api.ConsoleSession(), all)
	if !ok {
		return 0, 0, errcode.New(errcode.State, "%s", nobodyMsg)
	}
	tok, err := api.UserToken(id)
	if err != nil {
		return 0, 0, desktopError(fmt.Sprintf("user token of session %d", id), err)
	}
	return tok, id, nil
}

// desktopError says in the user's terms why a desktop command cannot
// start, with the step and Windows' own words after; errors.Is still
// finds the Windows error.
func desktopError(step string, err error) error {
	var code errcode.Code
	msg := "cannot start a program on the user's desktop"
	switch {
	case errors.Is(err, errNoToken), errors.Is(err, errCtxWinStationNone):
		code, msg = errcode.State, nobodyMsg
	case errors.Is(err, errPrivilegeNotHeld), errors.Is(err, errAccessDenied):
		code = errcode.Denied
		msg = "only the agent's service (LocalSystem) can start a program on the user's desktop: install it with `spirit-agent.exe install-service`"
	default:
		code = errcode.Failed
	}
	return causeErr{coded: errcode.New(code, "%s (%s: %v)", msg, step, err), cause: err}
}

// causeErr is an *errcode.Error, which goes over the wire, that keeps the
// error it was made from.
type causeErr struct {
	coded *errcode.Error
	cause error
}

func (e causeErr) Error() string   { return e.coded.Error() }
func (e causeErr) Unwrap() []error { return []error{e.coded, e.cause} }

// noDesktop is the answer of an agent that has no user's desktop.
func noDesktop() error {
	return errcode.New(errcode.NotYet, "--desktop is for Windows guests, where the agent is a service apart from the logged-on user: on this guest, run the command without it")
}
