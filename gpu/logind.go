package gpu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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

// Terminate is Sessions.Terminate.
func (l *Logind) Terminate(ctx context.Context, id string) error {
	c, err := l.dial(ctx)
	if err != nil {
		return err
	}
	err = c.Object(login1, login1Path).CallWithContext(ctx, login1Mgr+".TerminateSession", 0, id).Err
	var de dbus.Error
	if errors.As(err, &de) && de.Name == noSuchError {
		return nil
	}
	if err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	return nil
}
