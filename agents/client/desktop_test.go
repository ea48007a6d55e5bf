package client_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"spirit/agents/client"
	"spirit/internal/agenttest"
	"spirit/target"
)

// TestDesktopReachesAgent checks that a command's --desktop and the
// target's desktop setting both reach the agent, which on Linux refuses
// them rather than run the command as itself; System tells the agent's
// OS.
func TestDesktopReachesAgent(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tests := []struct {
		name    string
		setting bool
		option  bool
		refused bool
	}{
		{"neither", false, false, false},
		{"option", false, true, true},
		{"setting", true, false, true},
	}
	for _, tc := range tests {
		c := newClient(t, a.Sock, client.Options{Desktop: tc.setting})
		status, err := c.Exec(t.Context(), &target.Command{Text: "true", Desktop: tc.option, Stdout: io.Discard, Stderr: io.Discard})
		refused := err != nil && errors.Is(err, errors.ErrUnsupported) && strings.Contains(err.Error(), "--desktop")
		if refused != tc.refused || (!tc.refused && (err != nil || status != 0)) {
			t.Errorf("%s: status %d, error %v; refused %v, want %v", tc.name, status, err, refused, tc.refused)
		}
	}
	c := newClient(t, a.Sock, client.Options{})
	if sys, err := c.System(t.Context()); err != nil || sys != "linux" {
		t.Errorf("System() = %q, %v; want linux", sys, err)
	}
}
