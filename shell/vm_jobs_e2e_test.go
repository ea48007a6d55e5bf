package shell

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"spirit/internal/dockertest"
)

// vmSession starts spirit with the demo guest as @linux (autostart) and
// a container, and boots the guest with a first command.
func vmSession(t *testing.T) (*session, string, []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a VM")
	}
	name := dockertest.Container(t, "")
	home, run := demoVMHome(t)
	env := []string{"SPIRIT_RUNTIME_DIR=" + run, "SPIRIT_BASE=" + home}
	s := startSessionEnv(t, home, env, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("@linux echo up-$((20+22))", enter)
	s.expect("spirit: vm linux is up", 3*time.Minute)
	s.expect("\nup-42\r\n", 30*time.Second)
	// Keys typed before the prompt would go to the remote terminal.
	s.expect(hostPrompt, 10*time.Second)
	return s, name, append(testEnv(home), env...)
}

// vmPromptWith is the prompt after a line that ended with status, the VM
// running.
func vmPromptWith(status int) string {
	return fmt.Sprintf("spirit ~ linux:running [%d] ", status)
}

// check runs line, waits for want in its output and then for the prompt:
// keys typed before it would go to the remote terminal of the line.
func (s *session) check(line, want string, within time.Duration) {
	s.t.Helper()
	s.typeKeys(line, enter)
	s.expect(want, within)
	s.expect(hostPrompt, 10*time.Second)
}

// stoppedInGuest is a line that prints stopped=N, N being the number of
// the guest's processes in state T whose command line is args.
func stoppedInGuest(args string) string {
	return `@linux ps -o stat,args | grep -c '^T *` + args + `$' | sed 's/^/stopped=/'`
}

// TestVMJobControl: Ctrl-Z, jobs, bg, fg and Ctrl-C on a command in the
// demo guest, then on a pipeline across a container, the host and the
// guest; kill %1 and exit twice leave nothing running in the container
// or the guest.
func TestVMJobControl(t *testing.T) {
	s, name, env := vmSession(t)
	const line = "@linux sleep 1007.25"
	s.typeKeys(line, enter)
	time.Sleep(2 * time.Second) // started in the guest, under TCG
	s.typeKeys(ctrlZ)
	s.expect("[1]+  Stopped                 "+line, 10*time.Second)
	s.expect(vmPromptWith(148), 5*time.Second)
	s.notStopped()
	s.check(stoppedInGuest("sleep 1007.25"), "\nstopped=1\r\n", 30*time.Second)
	s.typeKeys("jobs", enter)
	s.expect("[1]+  Stopped                 "+line+"\r\n", 5*time.Second)
	s.typeKeys("bg", enter)
	s.expect("[1]+ "+line+" &\r\n", 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)
	s.check(stoppedInGuest("sleep 1007.25"), "\nstopped=0\r\n", 30*time.Second)
	s.typeKeys("fg", enter)
	s.expect(line+"\r\n", 5*time.Second)
	time.Sleep(time.Second)
	start := time.Now()
	s.typeKeys(ctrlC)
	s.expect(vmPromptWith(130), 5*time.Second)
	t.Logf("@linux: Ctrl-C after fg: prompt back %v after", time.Since(start).Round(time.Millisecond))
	s.check("@linux ps -o args | grep -c '^[s]leep 1007' | sed 's/^/left=/'", "\nleft=0\r\n", 30*time.Second)

	// A pipeline across the three: stopped, continued in the background
	// and in the foreground, it still counts every line.
	pipe := "@docker:" + name + " seq 1 1000000 | @spirit cat | @linux wc -l"
	s.typeKeys(pipe, enter)
	// Stopped while it runs: as soon as its stand-ins are there.
	waitProcs(t, containing(spiritBin+" segment -- @linux wc -l"), 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	s.typeKeys(ctrlZ)
	s.expect("Stopped", 10*time.Second)
	s.expect(vmPromptWith(148), 5*time.Second)
	// bash shows the job as planned: the host's "@spirit cat" is "cat".
	shown := "@docker:" + name + " seq 1 1000000 | cat | @linux wc -l"
	s.typeKeys("jobs", enter)
	s.expect("Stopped                 "+shown, 5*time.Second)
	s.typeKeys("bg", enter)
	s.expect(shown+" &\r\n", 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("fg", enter)
	s.expectMatch(regexp.MustCompile(`\n1000000\r\n`), 2*time.Minute)
	s.expect(hostPrompt, 10*time.Second)

	// kill %1 of a stopped pipeline, then exit twice with a stopped job.
	s.typeKeys(pipe, enter)
	waitProcs(t, containing(spiritBin+" segment -- @linux wc -l"), 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	s.typeKeys(ctrlZ)
	s.expect(vmPromptWith(148), 10*time.Second)
	s.typeKeys("kill %1", enter)
	s.expect(hostPrompt, 10*time.Second)
	s.check("@docker:"+name+" ps -o args | grep -c '^[s]eq 1 1000000' | sed 's/^/container=/'", "\ncontainer=0\r\n", 30*time.Second)
	s.check("@linux ps -o args | grep -c '^[w]c -l' | sed 's/^/guest=/'", "\nguest=0\r\n", 30*time.Second)

	s.typeKeys(line, enter)
	time.Sleep(2 * time.Second)
	s.typeKeys(ctrlZ)
	s.expect(vmPromptWith(148), 10*time.Second)
	s.typeKeys("exit", enter)
	s.expect("There are stopped jobs.", 5*time.Second)
	s.typeKeys("exit", enter)
	s.wait(10 * time.Second)
	// The VM outlives the shell: another spirit looks in it.
	cmd := exec.Command(spiritBin, "-c", "@linux ps -o args | grep -c '^[s]leep 1007'")
	cmd.Env = env
	if out, _ := cmd.Output(); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("after exit, sleeps left in the guest: %q", out)
	}
}
