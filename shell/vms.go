package shell

import (
	"context"
	"time"

	"spirit/vmctl/control"
)

// remoteDefault is the default target's word, or "" when it is the host.
func (s *shell) remoteDefault() string {
	if w := s.plan.Default(); !s.targets.IsLocal(w[1:]) {
		return w
	}
	return ""
}

// vmStates are the VMs that are not stopped, for the prompt. A VM whose
// supervisor does not answer at once is left out: the prompt must not
// wait.
func (s *shell) vmStates(ctx context.Context) []vmState {
	vms := s.vms
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var out []vmState
	for _, name := range vms.Names() {
		st, err := vms.Status(ctx, name)
		if err != nil || st.State == control.StateStopped {
			continue
		}
		out = append(out, vmState{name, st.State})
	}
	return out
}
