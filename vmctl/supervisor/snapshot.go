package supervisor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"spirit/errcode"
	"spirit/vmctl/control"
	"spirit/vmctl/qmp"
)

// snapshot saves, loads, deletes or lists internal snapshots: each
// writable drive keeps its own state under the tag, and the VM's first
// disk keeps the RAM and devices too.
func (s *sup) snapshot(ctx context.Context, action, tag string) (control.Reply, error) {
	name := s.name()
	if len(s.b.Def.GPU) > 0 && action != "list" && action != "delete" {
		return control.Reply{}, errcode.New(errcode.Refused, "cannot %s a snapshot of vm %s: a GPU is passed through to it (VFIO devices cannot be saved)", action, name)
	}
	vmstate, devices, err := s.snapshotDrives(ctx)
	if err != nil {
		return control.Reply{}, err
	}
	if action == "list" {
		snaps, err := s.snapshots(ctx, vmstate)
		return control.Reply{Snapshots: snaps}, err
	}
	var during string
	want := []string{control.StateRunning, control.StatePaused}
	end, err := s.begin("snapshot "+action, during, want...)
	if err != nil {
		return control.Reply{}, err
	}
	defer end()
	snaps, err := s.snapshots(ctx, vmstate)
	if err != nil {
		return control.Reply{}, err
	}
	exists := false
	var names []string
	for _, sn := range snaps {
		names = append(names, sn.Name)
		exists = exists || sn.Name == tag
	}
	switch action {
	case "save":
		if exists {
			return control.Reply{}, errcode.New(errcode.Refused, "vm %s has a snapshot %s already: delete it first (@%s --snapshot delete %s)", name, tag, name, tag)
		}
		if err := s.mon.SnapshotSave(ctx, tag, vmstate, devices); err != nil {
			return control.Reply{}, fmt.Errorf("snapshot save %s: %w", tag, err)
		}
		return control.Reply{Message: fmt.Sprintf("vm %s: saved snapshot %s", name, tag)}, nil
	case "load", "delete":
		if !exists {
			return control.Reply{}, errcode.New(errcode.Refused, "vm %s has no snapshot %s (snapshots: %s)", name, tag, listOrNone(names))
		}
	}
	if action == "delete" {
		if err := s.mon.SnapshotDelete(ctx, tag, devices); err != nil {
			return control.Reply{}, fmt.Errorf("snapshot delete %s: %w", tag, err)
		}
		return control.Reply{Message: fmt.Sprintf("vm %s: deleted snapshot %s", name, tag)}, nil
	}
	s.mu.Lock()
	hadAgent := s.agentReady
	s.mu.Unlock()
	if err := s.mon.SnapshotLoad(ctx, tag, vmstate, devices); err != nil {
		return control.Reply{}, fmt.Errorf("snapshot load %s: %w", tag, err)
	}
	// The guest's agent is back at the save, mid-session with a host
	// that is gone: every connection to it starts over.
	// Answer once the agent does, so that the next command just works;
	// but only if it answered before the load: a guest with no agent
	// (still booting, or none at all) would hold the VM busy for the
	// whole wait, and a shell's next command waits for the agent anyway.
	s.resetAgent()
	msg := fmt.Sprintf("vm %s: loaded snapshot %s", name, tag)
	if hadAgent {
		if err := s.waitAgent(ctx, time.Minute); err != nil {
			msg += fmt.Sprintf(" (its agent does not answer yet: %v)", err)
		}
	}
	return control.Reply{Message: msg}, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " ")
}

// snapshotDrives finds the drive that keeps the RAM (the first disk of
// the definition, disk0) and every writable drive, which must all be
// qcow2: QEMU saves internal snapshots only when each one can hold one.
func (s *sup) snapshotDrives(ctx context.Context) (vmstate string, devices []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	drives, err := s.mon.Drives(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("snapshot: %w", err)
	}
	for _, d := range drives {
		if d.ReadOnly {
			continue
		}
		if d.Format != "qcow2" {
			return "", nil, errcode.New(errcode.Refused, "vm %s cannot take snapshots: drive %s is %s, and internal snapshots need every writable drive in qcow2", s.name(), d.Device, d.Format)
		}
		devices = append(devices, d.NodeName)
		if d.Device == "disk0" {
			vmstate = d.NodeName
		}
	}
	if vmstate == "" {
		return "", nil, errcode.New(errcode.Refused, "vm %s cannot take snapshots: it has no qcow2 disk to keep them", s.name())
	}
	return vmstate, devices, nil
}

// snapshots lists the snapshots that hold a VM state, on the vmstate
// drive.
func (s *sup) snapshots(ctx context.Context, vmstate string) ([]control.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	drives, err := s.mon.Drives(ctx)
	if err != nil {
		return nil, err
	}
	var out []control.Snapshot
	for _, d := range drives {
		if d.NodeName != vmstate {
			continue
		}
		for _, sn := range d.Snapshots {
			out = append(out, snapshotInfo(sn))
		}
	}
	return out, nil
}

func snapshotInfo(sn qmp.Snapshot) control.Snapshot {
	return control.Snapshot{Name: sn.Name, Date: sn.Date, VMState: sn.VMStateSize, VMClock: sn.VMClock}
}
