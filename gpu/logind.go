package gpu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// Logind is Sessions over logind's D-Bus API on the system bus
// (org.freedesktop.login1). It calls godbus itself: go-systemd's login1
// (v22.7.0) drops TerminateSession's error, takes no context for it and
// lacks GetSessionByPID, and the hand-over must know whether a session
// ended, bound each call and refuse to end its own session.
type Logind struct {
	mu   sync.Mutex
	conn *dbus.Conn // nil until first use; guarded by mu
}

const (
	login1      = "org.freedesktop.login1"
	login1Path  = dbus.ObjectPath("/org/freedesktop/login1")
	login1Mgr   = "org.freedesktop.login1.Manager"
	login1Sess  = "org.freedesktop.login1.Session"
	login1User  = "org.freedesktop.login1.User"
	noSuchError = "org.freedesktop.login1.NoSuchSession"
)

func (l *Logind) dial(ctx context.Context) (*dbus.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		return l.conn, nil
	}
	c, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reach logind over D-Bus: %w", err)
	}
	l.conn = c
	return c, nil
}

// Close ends the D-Bus connection.
func (l *Logind) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.Close()
		l.conn = nil
	}
}

// Graphical is Sessions.Graphical.
func (l *Logind) Graphical(ctx context.Context, seatName string) ([]Session, error) {
	c, err := l.dial(ctx)
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID   string
		UID  uint32
		User string
		Seat string
		Path dbus.ObjectPath
	}
	if err := c.Object(login1, login1Path).CallWithContext(ctx, login1Mgr+".ListSessions", 0).Store(&list); err != nil {
		return nil, fmt.Errorf("list logind's sessions: %w", err)
	}
	var self dbus.ObjectPath
	// No session for this process (a service, a cron job) is no error.
	_ = c.Object(login1, login1Path).CallWithContext(ctx, login1Mgr+".GetSessionByPID", 0, uint32(os.Getpid())).Store(&self)
	var out []Session
	for _, s := range list {
		if s.Seat != seatName {
			continue
		}
		v, err := c.Object(login1, s.Path).GetProperty(login1Sess + ".Type")
		if err != nil {
			continue // ended meanwhile
		}
		typ, _ := v.Value().(string)
		if slices.Contains([]string{"x11", "wayland", "mir"}, typ) {
			out = append(out, Session{ID: s.ID, Seat: s.Seat, Type: typ, User: s.User, Self: s.Path == self})
		}
	}
	return out, nil
}

// Terminate is Sessions.Terminate. When the session was its user's last
// and the user does not linger, the user's manager (systemd --user: a
// Wayland compositor's services, PipeWire on the card's audio) is ended
// too, as logind itself would after UserStopDelaySec (10 s by default,
// most of the bound on the wait for the GPU's users).
func (l *Logind) Terminate(ctx context.Context, id string) error {
	c, err := l.dial(ctx)
	if err != nil {
		return err
	}
	mgr := c.Object(login1, login1Path)
	var user struct {
		UID  uint32
		Path dbus.ObjectPath
	}
	var sess dbus.ObjectPath
	known := mgr.CallWithContext(ctx, login1Mgr+".GetSession", 0, id).Store(&sess) == nil &&
		storeProperty(ctx, c.Object(login1, sess), login1Sess+".User", &user) == nil
	err = mgr.CallWithContext(ctx, login1Mgr+".TerminateSession", 0, id).Err
	var de dbus.Error
	if errors.As(err, &de) && de.Name == noSuchError {
		return nil
	}
	if err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	if !known {
		return nil
	}
	return l.endIdleUser(ctx, c, id, user.UID, user.Path)
}

// endIdleUser ends the user's processes when ended was their only
// session and they do not linger: what is left of them then is their
// manager, which logind would stop anyway. A user with another session
// (an SSH login) or lingering services keeps them.
func (l *Logind) endIdleUser(ctx context.Context, c *dbus.Conn, ended string, uid uint32, path dbus.ObjectPath) error {
	obj := c.Object(login1, path)
	var linger bool
	var sessions []struct {
		ID   string
		Path dbus.ObjectPath
	}
	if storeProperty(ctx, obj, login1User+".Linger", &linger) != nil ||
		storeProperty(ctx, obj, login1User+".Sessions", &sessions) != nil {
		return nil // gone with its session: nothing is left of it
	}
	ids := make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.ID
	}
	if !userIdle(ended, ids, linger) {
		return nil
	}
	err := c.Object(login1, login1Path).CallWithContext(ctx, login1Mgr+".TerminateUser", 0, uid).Err
	if err != nil {
		return fmt.Errorf("end the services of user %d after their last session: %w", uid, err)
	}
	return nil
}

// userIdle says whether a user whose session ended has nothing else
// that must stay: no other session (one still listed as closing is the
// ended one) and no lingering.
func userIdle(ended string, sessions []string, linger bool) bool {
	if linger {
		return false
	}
	for _, s := range sessions {
		if s != ended {
			return false
		}
	}
	return true
}

// storeProperty reads a D-Bus property into v.
func storeProperty(ctx context.Context, obj dbus.BusObject, name string, v any) error {
	i := strings.LastIndexByte(name, '.')
	return obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, name[:i], name[i+1:]).Store(v)
}
