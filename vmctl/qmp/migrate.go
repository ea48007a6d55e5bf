package qmp

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Suspend to a file is a migration whose destination is a file descriptor
// passed over the QMP socket (getfd, then "fd:NAME"): QEMU never opens the
// path and no shell is involved, so the path needs no quoting. Verified with
// QEMU 7.2 in both directions on regular files.

// unlimitedBandwidth lifts migration's rate limit (QEMU's default is 128
// MiB/s, meant to spare a network link) so a suspend writes as fast as the
// disk takes it. It stays well below any overflow in QEMU's arithmetic.
const unlimitedBandwidth = 1 << 40 // bytes per second

// MigrateToFile writes the VM's state (RAM and devices, not the disks) to
// path, created with mode 0600 or truncated: it passes the file's descriptor
// to QEMU (getfd), turns on MIGRATION events, lifts the bandwidth limit,
// runs migrate to it, waits for "completed" (MIGRATION events wake the wait;
// query-migrate every 100 ms is the truth), then fsyncs and closes the file.
// On failure the file is removed; if ctx ends first the migration is
// cancelled.
//
// The caller stops the VM before (a running guest would be migrated live,
// its dirty RAM written again and again) and quits QEMU after: the source is
// left "postmigrate". The disks must not change until the state is loaded
// back, since the file refers to their contents.
func (m *Monitor) MigrateToFile(ctx context.Context, path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("qmp migrate to file: %w", err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(path)
			err = fmt.Errorf("qmp migrate to %s: %w", path, err)
		}
	}()

	if err := m.migrationEvents(ctx); err != nil {
		return err
	}
	err = m.Run(ctx, "migrate-set-parameters", map[string]any{"max-bandwidth": unlimitedBandwidth}, nil)
	if err != nil {
		return err
	}
	wake, unsubscribe := m.Subscribe()
	defer unsubscribe()
	if err := m.migrateFD(ctx, "migrate", f); err != nil {
		return err
	}
	if err := m.waitMigration(ctx, wake); err != nil {
		if ctx.Err() != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if cerr := m.Run(cctx, "migrate_cancel", nil, nil); cerr != nil {
				m.log.Warn("qmp: migrate_cancel", "err", cerr)
			} else if werr := m.waitMigration(cctx, wake); werr != nil {
				m.log.Debug("qmp: migration after migrate_cancel", "err", werr)
			}
		}
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	closed = true
	return f.Close()
}

// MigrateFromFile loads the VM's state from path, written by MigrateToFile,
// into a QEMU started with "-incoming defer" (and the same devices and
// disks): getfd, then migrate-incoming, then it waits for "completed".
//
// QEMU then restores the run state the source had when it was saved: a VM
// stopped before MigrateToFile comes back "paused" and needs Cont; one saved
// while running comes back "running" (unless QEMU was started with -S, which
// leaves it "paused" too). QEMU sets that state before it reports
// "completed", so Status is settled when this returns.
//
// When loading fails (a file that is not a migration stream, or one from a
// QEMU with other devices), QEMU 7.2 exits; the error then wraps ErrClosed
// and QEMU's stderr says why. If ctx ends first, QEMU goes on loading: an
// incoming migration cannot be cancelled, so the caller quits that QEMU.
func (m *Monitor) MigrateFromFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("qmp migrate from file: %w", err)
	}
	defer f.Close() // QEMU has its own descriptor
	if err := m.migrationEvents(ctx); err != nil {
		return fmt.Errorf("qmp migrate from %s: %w", path, err)
	}
	wake, unsubscribe := m.Subscribe()
	defer unsubscribe()
	if err := m.migrateFD(ctx, "migrate-incoming", f); err != nil {
		return fmt.Errorf("qmp migrate from %s: %w", path, err)
	}
	if err := m.waitMigration(ctx, wake); err != nil {
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("qmp migrate from %s: QEMU exited, as it does when loading fails (its stderr says why): %w", path, err)
		}
		return fmt.Errorf("qmp migrate from %s: %w", path, err)
	}
	return nil
}

// migrationEvents turns on the MIGRATION events that wake waitMigration:
// QEMU sends them only with the "events" capability, which is off by default.
func (m *Monitor) migrationEvents(ctx context.Context) error {
	return m.Run(ctx, "migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "events", "state": true}},
	}, nil)
}

// migrateFD passes f's descriptor to QEMU under a unique name and runs cmd
// (migrate or migrate-incoming) with the URI "fd:NAME". QEMU takes the
// descriptor from the monitor when the command succeeds; when it fails (or
// getfd was abandoned to ctx and may still be filed), the descriptor is
// closed in QEMU here.
func (m *Monitor) migrateFD(ctx context.Context, cmd string, f *os.File) error {
	name := m.uniqueName("fd")
	err := m.run(ctx, "getfd", map[string]string{"fdname": name}, nil, f)
	if err == nil {
		err = m.Run(ctx, cmd, map[string]string{"uri": "fd:" + name}, nil)
	}
	var qerr *Error
	if err != nil && !(errors.As(err, &qerr) && qerr.Command == "getfd") && !errors.Is(err, ErrClosed) {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if cerr := m.Run(cctx, "closefd", map[string]string{"fdname": name}, nil); cerr != nil {
			m.log.Debug("qmp: closefd", "fdname", name, "err", cerr)
		}
	}
	return err
}

// waitMigration waits until the migration (outgoing or incoming) has
// completed, and fails if it failed or was cancelled. MIGRATION events wake
// it; query-migrate is the truth.
func (m *Monitor) waitMigration(ctx context.Context, wake <-chan Event) error {
	return poll(ctx, wake, "MIGRATION", func(ctx context.Context) (bool, error) {
		var r struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := m.Run(ctx, "query-migrate", nil, &r); err != nil {
			return false, err
		}
		switch r.Status {
		case "completed":
			return true, nil
		case "failed", "cancelled":
			if r.ErrorDesc == "" {
				return false, errors.New("migration " + r.Status)
			}
			return false, fmt.Errorf("migration %s: %s", r.Status, r.ErrorDesc)
		}
		return false, nil
	})
}
