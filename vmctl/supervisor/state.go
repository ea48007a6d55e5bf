package supervisor

import (
	"context"
	"slices"
	"time"

	"spirit/errcode"
	"spirit/vmctl"
	"spirit/vmctl/control"
)

// changed wakes everyone waiting for a change of state (mu held).
func (s *sup) changed() {
	close(s.agentCh)
	s.agentCh = make(chan struct{})
}

func (s *sup) setState(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != state {
		s.log.Info("state", "from", s.state, "to", state)
		s.state = state
		s.changed()
	}
}

// setStateUnlessBusy follows an event, unless a long operation owns the
// state (a suspend pauses the guest, but the VM is suspending, not
// paused).
func (s *sup) setStateUnlessBusy(state string) {
	s.mu.Lock()
	busy := s.busy != ""
	s.mu.Unlock()
	if !busy {
		s.setState(state)
	}
}

// begin claims the VM for a long operation (stop, suspend, snapshot) in
// a state among want, and sets the state it is in meanwhile ("" keeps
// it). end gives it back.
func (s *sup) begin(op, during string, want ...string) (end func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy != "" {
		return nil, errcode.New(errcode.State, "vm %s is busy with a %s; try again when it is done", s.b.Def.Name, s.busy)
	}
	if len(want) > 0 && !slices.Contains(want, s.state) {
		return nil, s.stateError(op)
	}
	s.busy = op
	if during != "" {
		s.state = during
		s.changed()
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.busy = ""
	}, nil
}

// stateError refuses op in the current state (mu held).
func (s *sup) stateError(op string) error {
	name := s.b.Def.Name
	if s.state == control.StatePaused {
		return errcode.New(errcode.Paused, "vm %s is paused: resume it with @%s --resume (or spirit vm resume %s)", name, name, name)
	}
	return errcode.New(errcode.State, "cannot %s vm %s: it is %s", op, name, s.state)
}

// setAgent records whether the guest's agent answers.
func (s *sup) setAgent(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agentReady == ready {
		return
	}
	s.agentReady = ready
	if ready && s.bootToAgent == 0 {
		s.bootToAgent = time.Since(s.started)
		s.log.Info("agent ready", "after", s.bootToAgent)
	}
	s.changed()
}

// status is the VM's state for clients.
func (s *sup) status(ctx context.Context) control.Status {
	s.mu.Lock()
	st := control.Status{
		Name:        s.b.Def.Name,
		State:       s.state,
		PID:         s.qemu.Process.Pid,
		Supervisor:  pid(),
		Started:     s.started,
		Accel:       accel(s.env),
		AgentReady:  s.agentReady,
		BootToAgent: s.bootToAgent,
		Pinning:     s.pins,
		Resumed:     s.resumed,
		Notes:       notes(s.b.Notes),
	}
	select {
	case <-s.exited:
		// Said before the event loop gets to it: a kill's reply and
		// the status asked right after it must agree.
		st.State = control.StateStopped
	default:
	}
	if s.hello.Version != "" {
		st.Agent = &control.AgentInfo{Version: s.hello.Version, OS: s.hello.OS, Hostname: s.hello.Hostname}
	}
	s.mu.Unlock()
	if s.b.Def.Balloon {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if n, err := s.mon.Balloon(ctx); err == nil {
			st.Balloon = n
		}
	}
	return st
}

// notes are the command line's notes, as the protocol carries them.
func notes(ns []vmctl.Note) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func accel(env vmctl.Env) string {
	if env.KVM {
		return "kvm"
	}
	return "tcg"
}

// waitAgent waits until the guest's agent answers, QEMU ends, the VM is
// paused or timeout passes.
func (s *sup) waitAgent(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		s.mu.Lock()
		ready, state, ch := s.agentReady, s.state, s.agentCh
		s.mu.Unlock()
		switch {
		case ready && state == control.StateRunning:
			return nil
		case state != control.StateRunning:
			return s.lockedStateError("reach the agent of")
		}
		select {
		case <-ch:
		case <-s.exited:
			return errcode.New(errcode.State, "vm %s ended (qemu: %s)", s.b.Def.Name, exitText(s.waitErr))
		case <-ctx.Done():
			return errcode.New(errcode.Failed, "the agent of vm %s did not answer within %v of the wait (console: spirit vm console %s; log: %s)",
				s.b.Def.Name, timeout, s.b.Def.Name, s.env.Path(vmctl.ConsoleLog))
		}
	}
}

func (s *sup) lockedStateError(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateError(op)
}
