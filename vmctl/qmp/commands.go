package qmp

import (
	"context"
	"errors"
	"time"
)

// Status is QEMU's run state, from query-status.
type Status struct {
	Running bool
	// Status is QEMU's RunState: "running", "paused", "inmigrate",
	// "postmigrate", "prelaunch", "shutdown", "suspended", "restore-vm",
	// "save-vm", "internal-error", "io-error", "guest-panicked", ...
	Status string
}

// Status returns QEMU's run state.
func (m *Monitor) Status(ctx context.Context) (Status, error) {
	var r struct {
		Running bool   `json:"running"`
		Status  string `json:"status"`
	}
	if err := m.Run(ctx, "query-status", nil, &r); err != nil {
		return Status{}, err
	}
	return Status{Running: r.Running, Status: r.Status}, nil
}

// VCPU is a virtual CPU and the host thread that runs it.
type VCPU struct {
	Index    int // "cpu-index"
	ThreadID int // host thread id: /proc/PID/task/THREAD
}

// VCPUs lists the virtual CPUs (query-cpus-fast). Under TCG without
// multi-threading all vCPUs share one thread.
func (m *Monitor) VCPUs(ctx context.Context) ([]VCPU, error) {
	var r []struct {
		Index    int `json:"cpu-index"`
		ThreadID int `json:"thread-id"`
	}
	if err := m.Run(ctx, "query-cpus-fast", nil, &r); err != nil {
		return nil, err
	}
	cpus := make([]VCPU, len(r))
	for i, c := range r {
		cpus[i] = VCPU{Index: c.Index, ThreadID: c.ThreadID}
	}
	return cpus, nil
}

// Stop pauses the guest (stop).
func (m *Monitor) Stop(ctx context.Context) error { return m.Run(ctx, "stop", nil, nil) }

// Cont resumes a paused guest (cont).
func (m *Monitor) Cont(ctx context.Context) error { return m.Run(ctx, "cont", nil, nil) }

// Powerdown asks the guest to shut down, as the power button does
// (system_powerdown). It returns once QEMU has pressed the button, not when
// the guest is off; a guest without ACPI support ignores it.
func (m *Monitor) Powerdown(ctx context.Context) error {
	return m.Run(ctx, "system_powerdown", nil, nil)
}

// Quit makes QEMU exit at once (quit). QEMU closing the connection before
// its reply arrives counts as success. Done is closed when QEMU has closed
// the connection; wait for the process itself to know it is gone.
func (m *Monitor) Quit(ctx context.Context) error {
	err := m.Run(ctx, "quit", nil, nil)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// SetBalloon sets the balloon target: the guest's RAM size in bytes the
// balloon driver should aim for (balloon). QEMU only records the target;
// nothing changes until a driver in the guest inflates or deflates. Without
// a balloon device it fails with Class "DeviceNotActive".
func (m *Monitor) SetBalloon(ctx context.Context, bytes int64) error {
	return m.Run(ctx, "balloon", map[string]int64{"value": bytes}, nil)
}

// Balloon returns the guest's RAM size in bytes as the balloon driver has
// made it (query-balloon "actual"): the full RAM until a driver in the guest
// has inflated the balloon, whatever SetBalloon asked for.
func (m *Monitor) Balloon(ctx context.Context) (int64, error) {
	var r struct {
		Actual int64 `json:"actual"`
	}
	if err := m.Run(ctx, "query-balloon", nil, &r); err != nil {
		return 0, err
	}
	return r.Actual, nil
}

// KVM reports whether QEMU runs the guest with KVM (enabled) and whether this
// QEMU was built with KVM support (present; it says nothing of /dev/kvm).
func (m *Monitor) KVM(ctx context.Context) (enabled, present bool, err error) {
	var r struct {
		Enabled bool `json:"enabled"`
		Present bool `json:"present"`
	}
	if err := m.Run(ctx, "query-kvm", nil, &r); err != nil {
		return false, false, err
	}
	return r.Enabled, r.Present, nil
}

// Drive is a block device with a medium, from query-block.
type Drive struct {
	Device    string // the -drive id ("disk0"); empty for a -blockdev
	NodeName  string // the top node's name, which snapshot commands take; "#blockNNN" when QEMU made it up
	ReadOnly  bool
	Format    string // "qcow2", "raw", ...
	Snapshots []Snapshot
}

// Snapshot is an internal snapshot stored in a drive's image.
type Snapshot struct {
	ID          string
	Name        string // the tag
	VMStateSize int64  // 0 for a disk-only snapshot
	Date        time.Time
	VMClock     time.Duration // guest time at the snapshot
}

// Drives lists the block devices that have a medium inserted.
func (m *Monitor) Drives(ctx context.Context) ([]Drive, error) {
	var r []struct {
		Device   string `json:"device"`
		Inserted *struct {
			NodeName string `json:"node-name"`
			RO       bool   `json:"ro"`
			Drv      string `json:"drv"`
			Image    struct {
				Snapshots []struct {
					ID          string `json:"id"`
					Name        string `json:"name"`
					VMStateSize int64  `json:"vm-state-size"`
					DateSec     int64  `json:"date-sec"`
					DateNsec    int64  `json:"date-nsec"`
					VMClockSec  int64  `json:"vm-clock-sec"`
					VMClockNsec int64  `json:"vm-clock-nsec"`
				} `json:"snapshots"`
			} `json:"image"`
		} `json:"inserted"`
	}
	if err := m.Run(ctx, "query-block", nil, &r); err != nil {
		return nil, err
	}
	var drives []Drive
	for _, b := range r {
		in := b.Inserted
		if in == nil {
			continue
		}
		d := Drive{Device: b.Device, NodeName: in.NodeName, ReadOnly: in.RO, Format: in.Drv}
		for _, s := range in.Image.Snapshots {
			d.Snapshots = append(d.Snapshots, Snapshot{
				ID:          s.ID,
				Name:        s.Name,
				VMStateSize: s.VMStateSize,
				Date:        time.Unix(s.DateSec, s.DateNsec),
				VMClock:     time.Duration(s.VMClockSec)*time.Second + time.Duration(s.VMClockNsec),
			})
		}
		drives = append(drives, d)
	}
	return drives, nil
}

// pollInterval is how often a wait asks QEMU for the truth; events only
// make it ask sooner.
const pollInterval = 100 * time.Millisecond

// cleanupTimeout bounds the commands that undo or tidy up after a wait was
// cancelled (job-cancel, job-dismiss, migrate_cancel, closefd).
const cleanupTimeout = 10 * time.Second

// poll calls check at once, then on every event named name from wake and
// every pollInterval, until check reports done or fails, or ctx ends.
func poll(ctx context.Context, wake <-chan Event, name string, check func(context.Context) (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				break wait
			case ev, ok := <-wake:
				if !ok { // connection gone: the next check says so
					wake = nil
					break wait
				}
				if ev.Name == name {
					break wait
				}
			}
		}
	}
}

// cleanupContext is for tidying up after ctx ended: not cancelled with it,
// but bounded.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
