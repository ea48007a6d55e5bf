package supervisor

import (
	"context"
	"net"
	"time"

	"spirit/agents/client"
	"spirit/vmctl"
	"spirit/vmctl/control"
)

// newAgent makes the client of the guest's agent, over the chardev
// socket behind the virtio-serial port (one host at a time: this one).
func (s *sup) newAgent() *client.Client {
	return client.New(client.Options{
		Name:    s.b.Def.Name,
		Version: s.o.Version,
		Log:     s.log,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.env.Path(vmctl.AgentSocket))
		},
		// A paused guest cannot answer pings, and is not dead.
		Paused: func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.state != control.StateRunning
		},
	})
}

// watchAgent keeps agentReady true while the guest's agent answers, and
// reconnects when it does not, until ctx ends. A boot is one long
// handshake: the host's sync is resent until the agent is up to answer.
func (s *sup) watchAgent(ctx context.Context) {
	for ctx.Err() == nil {
		s.mu.Lock()
		running := s.state == control.StateRunning
		s.mu.Unlock()
		if !running {
			s.sleep(ctx, 200*time.Millisecond)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.agent.Ping(pctx)
		cancel()
		if err != nil {
			s.setAgent(false)
			s.log.Debug("agent ping", "err", err)
			s.sleep(ctx, 100*time.Millisecond)
			continue
		}
		if hello, err := s.agent.Hello(ctx); err == nil {
			s.mu.Lock()
			s.hello = hello
			s.mu.Unlock()
		}
		s.setAgent(true)
		s.sleep(ctx, time.Second)
	}
}

// sleep waits d, or less when resetAgent wants the agent checked now.
func (s *sup) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-s.recheck:
	case <-time.After(d):
	}
}

// resetAgent drops the connection to the guest's agent (every relayed
// shell with it), after a snapshot load put the guest back in time: the
// next use handshakes anew.
func (s *sup) resetAgent() {
	s.agent.Reset()
	s.setAgent(false)
	select {
	case s.recheck <- struct{}{}:
	default: // one is pending already
	}
}

// relay serves a shell's agent connection once the guest's agent
// answers.
func (s *sup) relay(ctx context.Context, conn net.Conn, timeout time.Duration) error {
	if err := s.waitAgent(ctx, timeout); err != nil {
		return err
	}
	if err := control.WriteReply(conn, control.Reply{}); err != nil {
		return nil
	}
	err := s.agent.Relay(ctx, conn, client.RelayOptions{Refuse: s.refuse})
	if err != nil {
		s.log.Debug("relay ended", "err", err)
	}
	return nil
}

// refuse turns requests away while the guest cannot run them.
func (s *sup) refuse() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == control.StateRunning {
		return nil
	}
	return s.stateError("run commands in")
}
