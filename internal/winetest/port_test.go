//go:build linux

package winetest

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"spirit/internal/agenttest"
)

// TestNoPortUnderWine: without a spirit.0 port (Wine has no vioserial),
// the agent waits for it instead of exiting (which, as a service, meant a
// restart every 5 s), and says so once, not at each retry.
func TestNoPortUnderWine(t *testing.T) {
	wine.Need(t)
	var log agenttest.LockedBuffer
	cmd := exec.Command("wine", wine.Agent)
	cmd.Env = wine.Env()
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("the agent exited without its port: %v\n%s", err, log.String())
	case <-time.After(4 * time.Second): // 0.25 + 0.5 + 1 + 2: four retries
	}
	cmd.Process.Kill()
	<-exited
	if n := strings.Count(log.String(), "waiting for the port's device"); n != 1 {
		t.Fatalf("%d lines about the missing port, want 1:\n%s", n, log.String())
	}
}
