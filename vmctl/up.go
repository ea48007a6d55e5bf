package vmctl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"spirit/vmctl/control"
)

// DialAgent makes sure that the VM name runs (starting it when its
// definition says autostart) and its agent answers, then opens a
// connection to the agent, relayed by the VM's supervisor. What it does
// on the way it says on ManagerOptions.Progress.
func (m *Manager) DialAgent(ctx context.Context, name string) (net.Conn, error) {
	st, err := m.Status(ctx, name)
	if err != nil {
		return nil, err
	}
	switch st.State {
	case control.StateStopped, control.StateSuspended:
		if err := m.autostart(ctx, name, st.State); err != nil {
			return nil, err
		}
	case control.StateRunning:
		if st.AgentReady {
			break
		}
		if err := m.waitBoot(ctx, name, time.Now(), "waiting for the agent of vm %s"); err != nil {
			return nil, err
		}
	}
	_, conn, err := m.dial(ctx, name, control.Request{Op: control.OpAgent})
	return conn, err
}

// HandshakeTimeout bounds the agent handshake on a connection from
// DialAgent: the dial waits for a booting guest, and the handshake after
// it is with the supervisor, which answers at once.
func (m *Manager) HandshakeTimeout() time.Duration { return m.o.BootTimeout }

// autostart starts a stopped VM whose definition allows it, saying so.
func (m *Manager) autostart(ctx context.Context, name, state string) error {
	d, _ := m.Definition(name)
	if !d.Autostart {
		return m.notRunning(name)
	}
	start := time.Now()
	what := "starting vm %s (autostart)"
	if state == control.StateSuspended {
		what = "resuming vm %s from its suspended state (autostart)"
	}
	m.progress(what+"...", name)
	st, err := m.Start(ctx, name, StartOptions{})
	if errors.Is(err, ErrRunning) {
		// Another shell started it a moment ago: wait for it as well.
		if err := m.awaitStart(ctx, name); err != nil {
			return err
		}
		return m.waitBoot(ctx, name, start, "")
	}
	if err != nil {
		return err
	}
	if st.Accel == "tcg" {
		m.progress("vm %s runs under TCG (emulation, slower): KVM cannot run a guest here (spirit vm status %s)", name, name)
	}
	return m.waitBoot(ctx, name, start, "")
}

// waitBoot waits for the guest's agent and says when it answers.
func (m *Manager) waitBoot(ctx context.Context, name string, since time.Time, what string) error {
	if what != "" {
		m.progress(what+"...", name)
	}
	if _, err := m.WaitAgent(ctx, name); err != nil {
		return err
	}
	m.progress("vm %s is up: its agent answered after %.1f s", name, time.Since(since).Seconds())
	return nil
}

func (m *Manager) progress(format string, args ...any) {
	if m.o.Progress != nil {
		fmt.Fprintf(m.o.Progress, "spirit: "+format+"\n", args...)
	}
}
