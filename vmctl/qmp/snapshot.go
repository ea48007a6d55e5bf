package qmp

import (
	"context"
	"errors"
	"fmt"
)

// Internal snapshots are stored inside the drives' qcow2 images, with the VM
// state (RAM and devices) in one of them. Since QEMU 6.0 they are jobs. In
// QEMU 7.2 a snapshot job does all its work in one main-loop callback, so the
// monitor answers nothing (not even query-jobs) until the snapshot is taken
// or loaded, and job-cancel comes too late to stop it.

// SnapshotSave takes an internal snapshot named tag of the drives whose node
// names (Drive.NodeName) are in devices, with the VM state stored in the
// drive whose node name is vmstate (which must be one of devices). A running
// guest is paused meanwhile and resumed afterwards. A snapshot with the same
// tag is replaced.
func (m *Monitor) SnapshotSave(ctx context.Context, tag, vmstate string, devices []string) error {
	err := m.runJob(ctx, "snapshot-save", map[string]any{"tag": tag, "vmstate": vmstate, "devices": nonNil(devices)})
	if err != nil {
		return fmt.Errorf("qmp snapshot-save %s: %w", tag, err)
	}
	return nil
}

// SnapshotLoad reverts the drives in devices (node names) and the VM state
// stored in vmstate to the snapshot named tag. A guest that was running runs
// on from the snapshot; a paused one stays paused.
func (m *Monitor) SnapshotLoad(ctx context.Context, tag, vmstate string, devices []string) error {
	err := m.runJob(ctx, "snapshot-load", map[string]any{"tag": tag, "vmstate": vmstate, "devices": nonNil(devices)})
	if err != nil {
		return fmt.Errorf("qmp snapshot-load %s: %w", tag, err)
	}
	return nil
}

// SnapshotDelete deletes the snapshot named tag from the drives in devices
// (node names).
func (m *Monitor) SnapshotDelete(ctx context.Context, tag string, devices []string) error {
	err := m.runJob(ctx, "snapshot-delete", map[string]any{"tag": tag, "devices": nonNil(devices)})
	if err != nil {
		return fmt.Errorf("qmp snapshot-delete %s: %w", tag, err)
	}
	return nil
}

// nonNil makes a nil list marshal as [] (QEMU rejects null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// runJob starts the job cmd with a unique job-id, waits until it has
// concluded, dismisses it and returns the error it concluded with (a
// *JobError). If ctx ends first it cancels the job, still dismisses it
// (within cleanupTimeout), and returns ctx's error.
func (m *Monitor) runJob(ctx context.Context, cmd string, args map[string]any) error {
	id := m.uniqueName("job")
	args["job-id"] = id
	wake, unsubscribe := m.Subscribe() // before the job starts, not to miss its events
	defer unsubscribe()
	if err := m.Run(ctx, cmd, args, nil); err != nil {
		if ctx.Err() != nil {
			// QEMU may have started the job before the deadline cut
			// the wait for its answer.
			m.cancelJob(ctx, wake, id)
		}
		return err
	}

	jobErr, err := m.waitJob(ctx, wake, id)
	if err != nil {
		if ctx.Err() != nil {
			m.cancelJob(ctx, wake, id)
		}
		return err // or the connection is gone: nothing to tidy
	}
	if err := m.Run(ctx, "job-dismiss", map[string]string{"id": id}, nil); err != nil {
		return err
	}
	if jobErr != "" {
		return &JobError{Command: cmd, Desc: jobErr}
	}
	return nil
}

// cancelJob cancels job id, waits for it to conclude and dismisses it,
// with a context of its own since ctx is done. A job that does not exist
// (it never started) ends the tidying at once.
func (m *Monitor) cancelJob(ctx context.Context, wake <-chan Event, id string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := m.Run(cctx, "job-cancel", map[string]string{"id": id}, nil); err != nil {
		m.log.Debug("qmp: job-cancel", "job", id, "err", err)
	}
	if _, err := m.waitJob(cctx, wake, id); err != nil {
		if errors.Is(err, errNoJob) {
			return // it never started: QMP runs commands in order
		}
		m.log.Warn("qmp: cancelled job did not conclude; left undismissed", "job", id, "err", err)
		return
	}
	if err := m.Run(cctx, "job-dismiss", map[string]string{"id": id}, nil); err != nil {
		m.log.Debug("qmp: job-dismiss", "job", id, "err", err)
	}
}

// errNoJob is waitJob's error for a job that QEMU does not list.
var errNoJob = errors.New("no such job")

// waitJob waits until job id has concluded and returns its error ("" for
// success). JOB_STATUS_CHANGE events wake it; query-jobs is the truth.
func (m *Monitor) waitJob(ctx context.Context, wake <-chan Event, id string) (jobErr string, err error) {
	err = poll(ctx, wake, "JOB_STATUS_CHANGE", func(ctx context.Context) (bool, error) {
		var jobs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := m.Run(ctx, "query-jobs", nil, &jobs); err != nil {
			return false, err
		}
		for _, j := range jobs {
			if j.ID == id {
				jobErr = j.Error
				return j.Status == "concluded", nil
			}
		}
		return false, fmt.Errorf("job %s: %w", id, errNoJob)
	})
	return jobErr, err
}
