package gpu

import (
	"context"
	"fmt"
	"sync"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// Systemd is Units over systemd's D-Bus API on the system bus.
type Systemd struct {
	mu   sync.Mutex
	conn *sd.Conn // nil until first use
}

func (s *Systemd) dial(ctx context.Context) (*sd.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	c, err := sd.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("reach systemd over D-Bus: %w", err)
	}
	s.conn = c
	return c, nil
}

// Close ends the D-Bus connection.
func (s *Systemd) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Active is Units.Active: a unit not installed is not active.
func (s *Systemd) Active(ctx context.Context, unit string) (bool, error) {
	st, err := s.status(ctx, unit)
	return err == nil && st.ActiveState == "active", err
}

// Loaded is Units.Loaded: systemd found the unit's file.
func (s *Systemd) Loaded(ctx context.Context, unit string) (bool, error) {
	st, err := s.status(ctx, unit)
	return err == nil && st.LoadState == "loaded", err
}

// status is what systemd says of unit; the zero status when it lists
// nothing for it.
func (s *Systemd) status(ctx context.Context, unit string) (sd.UnitStatus, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return sd.UnitStatus{}, err
	}
	st, err := c.ListUnitsByNamesContext(ctx, []string{unit})
	if err != nil {
		return sd.UnitStatus{}, fmt.Errorf("ask systemd about %s: %w", unit, err)
	}
	if len(st) != 1 {
		return sd.UnitStatus{}, nil
	}
	return st[0], nil
}

// Stop stops a unit and waits for the job.
func (s *Systemd) Stop(ctx context.Context, unit string) error {
	return s.job(ctx, "stop", unit, (*sd.Conn).StopUnitContext)
}

// Start starts a unit and waits for the job.
func (s *Systemd) Start(ctx context.Context, unit string) error {
	return s.job(ctx, "start", unit, (*sd.Conn).StartUnitContext)
}

type jobFunc func(*sd.Conn, context.Context, string, string, chan<- string) (int, error)

func (s *Systemd) job(ctx context.Context, verb, unit string, f jobFunc) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	// Buffered: the library's dispatcher must never block on it, even
	// once this has stopped waiting.
	done := make(chan string, 1)
	if _, err := f(c, ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case r := <-done:
		if r != "done" {
			return fmt.Errorf("%s %s: systemd's job ended %q (journalctl -u %s says why)", verb, unit, r, unit)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, context.Cause(ctx))
	}
}
