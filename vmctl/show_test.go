package vmctl

import (
	"bytes"
	"strings"
	"testing"

	"spirit/vmctl/control"
)

// TestShowEscapesTheGuest: what a guest's agent said of itself is shown
// with its control characters escaped, in the status and in the list.
func TestShowEscapesTheGuest(t *testing.T) {
	st := control.Status{Name: "linux", State: control.StateRunning, PID: 1, AgentReady: true,
		Agent: &control.AgentInfo{Version: "1\x1b]0;pwned\x07", Hostname: "g\x1b[2J", OS: "linux\x9b"}}
	var status, list bytes.Buffer
	if err := WriteStatus(&status, Definition{Name: "linux", Cores: 1, Threads: 1}, st); err != nil {
		t.Fatal(err)
	}
	if err := WriteList(&list, map[string]Definition{"linux": {Name: "linux", Cores: 1, Threads: 1}}, []control.Status{st}); err != nil {
		t.Fatal(err)
	}
	for what, out := range map[string]string{"status": status.String(), "list": list.String()} {
		if !strings.Contains(out, `1\x1b]0;pwned\x07`) {
			t.Errorf("%s %q does not show the version escaped", what, out)
		}
		if strings.Contains(out, "pwned\x07") || strings.Contains(out, "\x1b[2J") {
			t.Errorf("%s %q holds the guest's escape sequences", what, out)
		}
	}
	if !strings.Contains(status.String(), `g\x1b[2J`) || !strings.Contains(status.String(), `linux\x9b`) {
		t.Errorf("status %q does not show the host name and OS escaped", status.String())
	}
}
