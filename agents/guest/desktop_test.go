package guest

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"spirit/agents/wire"
	"spirit/errcode"
)

func TestPickSession(t *testing.T) {
	active := func(id uint32) session { return session{ID: id, State: wtsActive} }
	gone := func(id uint32) session { return session{ID: id, State: wtsDisconnected} }
	listen := session{ID: 65536, State: 6} // the RDP listener
	tests := []struct {
		name    string
		console uint32
		all     []session
		want    uint32
		ok      bool
	}{
		{"console user", 1, []session{active(0), active(1), listen}, 1, true},
		{"console first, RDP too", 1, []session{active(0), active(3), active(1)}, 1, true},
		{"RDP only", 1, []session{active(0), {ID: 1, State: 1}, active(2)}, 2, true},
		{"lowest RDP", noConsoleSession, []session{active(0), active(5), active(3)}, 3, true},
		{"console changing hands", noConsoleSession, []session{active(0), active(2)}, 2, true},
		{"disconnected user", 1, []session{active(0), {ID: 1, State: 1}, gone(2)}, 2, true},
		{"active before disconnected", 2, []session{gone(2), active(4)}, 4, true},
		{"console disconnected, no other", 2, []session{active(0), gone(2)}, 2, true},
		{"nobody", 1, []session{active(0), {ID: 1, State: 1}, listen}, 0, false},
		{"services only", 0, []session{active(0)}, 0, false},
		{"none", noConsoleSession, nil, 0, false},
		{"console not listed", 1, nil, 1, true},
		{"console not listed, services only", 1, []session{active(0)}, 1, true},
	}
	for _, tc := range tests {
		got, ok := pickSession(tc.console, tc.all)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: pickSession(%d, %v) = %d, %v; want %d, %v", tc.name, tc.console, tc.all, got, ok, tc.want, tc.ok)
		}
	}
}

// fakeSessions stands in for the WTS calls.
type fakeSessions struct {
	console  uint32
	all      []session
	listErr  error
	tokenErr error
	asked    []uint32 // sessions whose token was asked for
}

func (f *fakeSessions) ConsoleSession() uint32       { return f.console }
func (f *fakeSessions) Sessions() ([]session, error) { return f.all, f.listErr }
func (f *fakeSessions) UserToken(id uint32) (uintptr, error) {
	f.asked = append(f.asked, id)
	if f.tokenErr != nil {
		return 0, f.tokenErr
	}
	return uintptr(100 + id), nil
}

func TestDesktopToken(t *testing.T) {
	users := []session{{ID: 0}, {ID: 1, State: 1}, {ID: 2}}
	tests := []struct {
		name  string
		api   *fakeSessions
		token uintptr
		code  errcode.Code
		errIs error  // the Windows error kept, if any
		msg   string // in the message
	}{
		{"RDP user", &fakeSessions{console: 1, all: users}, 102, "", nil, ""},
		{"nobody", &fakeSessions{console: 1, all: users[:2]}, 0, errcode.State, nil, "nobody is logged on"},
		{"no token", &fakeSessions{console: 1, all: users, tokenErr: errNoToken}, 0, errcode.State, errNoToken, "nobody is logged on"},
		{"session gone", &fakeSessions{console: 1, all: users, tokenErr: errCtxWinStationNone}, 0, errcode.State, errCtxWinStationNone, "nobody is logged on"},
		{"not a service", &fakeSessions{console: 1, all: users, tokenErr: errPrivilegeNotHeld}, 0, errcode.Denied, errPrivilegeNotHeld, "install-service"},
		{"denied", &fakeSessions{console: 1, all: users, tokenErr: errAccessDenied}, 0, errcode.Denied, errAccessDenied, "LocalSystem"},
		{"other", &fakeSessions{console: 1, all: users, tokenErr: syscall.Errno(87)}, 0, errcode.Failed, syscall.Errno(87), "session 2"},
		{"list fails", &fakeSessions{listErr: errAccessDenied}, 0, errcode.Denied, errAccessDenied, "list sessions"},
	}
	for _, tc := range tests {
		tok, _, err := desktopToken(tc.api)
		if tok != tc.token || errcode.Of(err) != tc.code {
			t.Errorf("%s: token %d, error %v (code %q); want token %d, code %q", tc.name, tok, err, errcode.Of(err), tc.token, tc.code)
			continue
		}
		if err == nil {
			continue
		}
		if tc.errIs != nil && !errors.Is(err, tc.errIs) {
			t.Errorf("%s: %v does not wrap %v", tc.name, err, tc.errIs)
		}
		// What the host reads is the message on the wire.
		if m := wire.ErrorFor(err); m.Code != tc.code || !strings.Contains(m.Message, tc.msg) {
			t.Errorf("%s: on the wire %+v; want code %q and %q in the message", tc.name, m, tc.code, tc.msg)
		}
	}
}
