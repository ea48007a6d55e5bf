package vmctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"spirit/agents/client"
	"spirit/target"
	"spirit/vmctl/control"
)

// Target is the router's target @NAME for a VM: commands and files go to
// the guest's agent through the VM's supervisor, control words to the
// supervisor itself. A VM defined with autostart starts on first use.
type Target struct {
	m    *Manager
	name string
	c    *client.Client
}

var (
	_ target.Target     = (*Target)(nil)
	_ target.Controller = (*Target)(nil)
)

// Target returns the target of the VM name; it connects on first use.
// Close it when done.
func (m *Manager) Target(name string) (*Target, error) {
	if _, err := m.Definition(name); err != nil {
		return nil, err
	}
	t := &Target{m: m, name: name}
	t.c = client.New(client.Options{
		Name:    name,
		Version: m.o.Version,
		Log:     m.o.Log,
		Dial:    t.dial,
		// The dial waits for a booting guest; the handshake after it is
		// with the supervisor, which answers at once.
		HandshakeTimeout: m.o.BootTimeout,
	})
	return t, nil
}

// Close drops the connection to the supervisor; the VM runs on.
func (t *Target) Close() error { return t.c.Close() }

// Exec runs a command in the guest.
func (t *Target) Exec(ctx context.Context, c *target.Command) (int, error) {
	return t.c.Exec(ctx, c)
}

// Open opens a file in the guest.
func (t *Target) Open(ctx context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	return t.c.Open(ctx, path, mode)
}

// dial makes sure that the VM runs (starting it when its definition says
// autostart) and its agent answers, then opens a relayed connection to
// the agent.
func (t *Target) dial(ctx context.Context) (net.Conn, error) {
	st, err := t.m.Status(ctx, t.name)
	if err != nil {
		return nil, err
	}
	switch st.State {
	case control.StateStopped, control.StateSuspended:
		if err := t.autostart(ctx, st.State); err != nil {
			return nil, err
		}
	case control.StateRunning:
		if st.AgentReady {
			break
		}
		if err := t.waitBoot(ctx, time.Now(), "waiting for the agent of vm %s"); err != nil {
			return nil, err
		}
	}
	_, conn, err := t.m.dial(ctx, t.name, control.Request{Op: control.OpAgent})
	return conn, err
}

// autostart starts a stopped VM whose definition allows it, saying so.
func (t *Target) autostart(ctx context.Context, state string) error {
	d, _ := t.m.Definition(t.name)
	if !d.Autostart {
		return t.m.notRunning(t.name)
	}
	start := time.Now()
	what := "starting vm %s (autostart)"
	if state == control.StateSuspended {
		what = "resuming vm %s from its suspended state (autostart)"
	}
	t.progress(what+"...", t.name)
	st, err := t.m.Start(ctx, t.name, StartOptions{})
	if errors.Is(err, ErrRunning) {
		// Another shell started it a moment ago: wait for it as well.
		if err := t.m.awaitStart(ctx, t.name); err != nil {
			return err
		}
		return t.waitBoot(ctx, start, "")
	}
	if err != nil {
		return err
	}
	if st.Accel == "tcg" {
		t.progress("vm %s runs under TCG (emulation, slower): KVM cannot run a guest here (spirit vm status %s)", t.name, t.name)
	}
	return t.waitBoot(ctx, start, "")
}

// waitBoot waits for the guest's agent and says when it answers.
func (t *Target) waitBoot(ctx context.Context, since time.Time, what string) error {
	if what != "" {
		t.progress(what+"...", t.name)
	}
	if _, err := t.m.WaitAgent(ctx, t.name); err != nil {
		return err
	}
	t.progress("vm %s is up: its agent answered after %.1f s", t.name, time.Since(since).Seconds())
	return nil
}

func (t *Target) progress(format string, args ...any) {
	if t.m.o.Progress != nil {
		fmt.Fprintf(t.m.o.Progress, "spirit: "+format+"\n", args...)
	}
}
