package shell

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spirit/internal/dockertest"
)

// agentHome makes a home whose spirit.toml sends the commands of container
// name through the agent; spirit finds the agent beside itself.
func agentHome(t *testing.T, name string) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".config", "spirit")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("[docker]\ndefault = %q\nagent = [%q]\n", name, name)
	if err := os.WriteFile(filepath.Join(dir, "spirit.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestDockerAgentSetting: with docker.agent, commands run under the agent
// (the parent of their shell is spirit-agent, where an Engine exec has
// none), and a later spirit process makes no Engine exec at all.
func TestDockerAgentSetting(t *testing.T) {
	name := dockertest.Container(t, "")
	home := agentHome(t, name)
	spirit := func(line string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, spiritBin, "-c", line)
		cmd.Env = testEnv(home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("spirit -c %q: %v\n%s", line, err, out)
		}
		return string(out)
	}
	out := spirit(`@docker echo hi; @docker tr '\0' ' ' </proc/$PPID/cmdline`)
	if !strings.HasPrefix(out, "hi\n/.spirit/spirit-agent-") {
		t.Errorf("output %q: want hi, then the agent's command line", out)
	}
	since := time.Now()
	if out := spirit("@docker:" + name + " echo again"); out != "again\n" {
		t.Errorf("output %q, want again", out)
	}
	if n := dockertest.ExecsSince(t, name, since); n != 0 {
		t.Errorf("a second spirit made %d Engine execs, want none", n)
	}
}

// TestDockerAgentCtrlC: Ctrl-C stops a container command run through the
// agent, and nothing is left in the container.
func TestDockerAgentCtrlC(t *testing.T) {
	name := dockertest.Container(t, "")
	s := startSessionIn(t, agentHome(t, name), nil)
	s.expect(hostPrompt, 5*time.Second)
	// The quotes keep the typed line from showing what the output shows.
	// One command in the container: with a bare `; sleep 4321` the sleep
	// would be the host's (a ; ends the segment), and a Ctrl-C typed
	// between the two would race bash's handing of the terminal.
	s.typeKeys("@docker:"+name+" sh -c \"echo sta''rted; sleep 4321\"", enter)
	s.expect("\r\nstarted\r\n", 10*time.Second)
	s.typeKeys(ctrlC)
	// A lost Ctrl-C leaves sleep 4321 running; a slow one (the race
	// detector on a loaded machine) may take seconds.
	s.expect("[130]", 10*time.Second)
	s.typeKeys("@docker:"+name+" ps -o args | grep -c '^sleep 432[1]'", enter)
	s.expect("\r\n0\r\n", 10*time.Second)
}
