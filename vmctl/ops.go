package vmctl

import (
	"context"
	"fmt"
	"time"

	"spirit/vmctl/control"
)

// do sends a request whose reply is a message.
func (m *Manager) do(ctx context.Context, name string, req control.Request) (string, error) {
	rep, err := m.Call(ctx, name, req)
	return rep.Message, err
}

// Stop asks the guest to power off (ACPI), and makes QEMU quit when it
// has not after timeout (zero: DefaultStopTimeout). It returns once QEMU
// has exited.
func (m *Manager) Stop(ctx context.Context, name string, timeout time.Duration) (string, error) {
	return m.do(ctx, name, control.Request{Op: control.OpStop, Timeout: timeout})
}

// Kill ends QEMU at once (SIGKILL), as pulling the plug.
func (m *Manager) Kill(ctx context.Context, name string) (string, error) {
	return m.do(ctx, name, control.Request{Op: control.OpKill})
}

// Pause stops the guest's vCPUs (QMP stop); Resume runs them again.
func (m *Manager) Pause(ctx context.Context, name string) (string, error) {
	return m.do(ctx, name, control.Request{Op: control.OpPause})
}

func (m *Manager) Resume(ctx context.Context, name string) (string, error) {
	return m.do(ctx, name, control.Request{Op: control.OpResume})
}

// Suspend saves the guest's RAM and devices to a file and ends QEMU; the
// next Start resumes from it.
func (m *Manager) Suspend(ctx context.Context, name string) (string, error) {
	return m.do(ctx, name, control.Request{Op: control.OpSuspend})
}

// Balloon sets the guest's memory through its balloon to size ("192M").
func (m *Manager) Balloon(ctx context.Context, name, size string) (string, error) {
	n, err := ParseSize(size)
	if err != nil {
		return "", fmt.Errorf("balloon %s: %w", name, err)
	}
	return m.do(ctx, name, control.Request{Op: control.OpBalloon, Bytes: n})
}

// Snapshot saves, loads or deletes the internal snapshot tag, or lists
// the snapshots (action "list", no tag).
func (m *Manager) Snapshot(ctx context.Context, name, action, tag string) (control.Reply, error) {
	switch action {
	case "save", "load", "delete":
		if tag == "" {
			return control.Reply{}, fmt.Errorf("snapshot %s: needs a snapshot name", action)
		}
		if !validWord.MatchString(tag) {
			return control.Reply{}, fmt.Errorf("snapshot %s: %q: a snapshot name is letters, digits, . _ and -", action, tag)
		}
	case "list":
		if tag != "" {
			return control.Reply{}, fmt.Errorf("snapshot list: takes no name")
		}
	default:
		return control.Reply{}, fmt.Errorf("snapshot: unknown action %q (save, load, list, delete)", action)
	}
	return m.Call(ctx, name, control.Request{Op: control.OpSnapshot, Action: action, Tag: tag})
}
