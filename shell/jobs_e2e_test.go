package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"spirit/internal/dockertest"
)

const ctrlZ = "\x1a"

// procState is the state letter of process pid (R, S, T for stopped...).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("state of %d: %v", pid, err)
	}
	// pid (comm) STATE ...: comm may hold spaces, so cut after its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return fields[0]
}

// notStopped fails the test if spirit is stopped.
func (s *session) notStopped() {
	s.t.Helper()
	if st := procState(s.t, s.cmd.Process.Pid); st == "T" || st == "t" {
		s.t.Fatalf("spirit is stopped (state %s)", st)
	}
}

// stopJob types line, waits for its process (cmdline want), types Ctrl-Z
// and waits for bash's notice and the prompt with status 148.
func (s *session) stopJob(line, want string) []proc {
	s.t.Helper()
	s.typeKeys(line, enter)
	ps := waitProcs(s.t, exactly(want), 1, 5*time.Second)
	s.typeKeys(ctrlZ)
	s.expect("[1]+  Stopped                 "+line, 3*time.Second)
	s.expect(promptWith(128+20), 3*time.Second)
	for _, p := range ps {
		if st := procState(s.t, p.pid); st != "T" {
			s.t.Errorf("%v: state %s after Ctrl-Z, want T", p, st)
		}
	}
	s.notStopped()
	return ps
}

// TestHostJobControl: Ctrl-Z stops a host command and bash's job control
// takes it from there (jobs, bg, fg, Ctrl-C, kill %1); spirit itself is
// never stopped, and Ctrl-Z at the prompt does nothing.
func TestHostJobControl(t *testing.T) {
	const line, arg = "sleep 1001.25", "1001.25"
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)

	s.typeKeys(ctrlZ, "echo idle-$((2+3))", enter)
	s.expect("\nidle-5\r\n", 3*time.Second)
	s.expect(hostPrompt, 2*time.Second)
	s.notStopped()

	s.stopJob(line, line)
	s.typeKeys("jobs", enter)
	s.expect("[1]+  Stopped                 "+line+"\r\n", 3*time.Second)
	s.typeKeys("bg", enter)
	s.expect("[1]+ "+line+" &\r\n", 3*time.Second)
	s.expect(hostPrompt, 3*time.Second)
	s.typeKeys("fg", enter)
	s.expect(line+"\r\n", 3*time.Second)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	s.typeKeys(ctrlC)
	s.expect(promptWith(130), 3*time.Second)
	t.Logf("Ctrl-C on fg: prompt back %v after", time.Since(start).Round(time.Millisecond))
	waitGone(t, arg, time.Now(), 2*time.Second)

	s.stopJob(line, line)
	s.typeKeys("kill %1", enter)
	waitGone(t, arg, time.Now(), 2*time.Second)
	// bash tells of the job's end before a later prompt, once it has
	// reaped it. bash 5.2 itself sometimes misses the SIGCHLD of a
	// stopped job that kill %1 ends (3 runs in 20 in a real terminal on
	// a loaded machine: the job stays "Stopped", a zombie) until it
	// next waits for a child; so the later lines run an external true.
	told := false
	for i := 0; i < 5 && !told; i++ {
		s.typeKeys("/bin/true", enter)
		told = s.waitFor("Terminated", 2*time.Second)
	}
	if !told {
		t.Errorf("bash never told of the job's end: %q", s.screen())
	}
	s.notStopped()
}

// TestExitWithStoppedJob: exit with a stopped job warns once, as bash
// does; the second exit ends the shell, and the job with it.
func TestExitWithStoppedJob(t *testing.T) {
	const line, arg = "sleep 1002.25", "1002.25"
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.stopJob(line, line)
	s.typeKeys("exit", enter)
	s.expect("There are stopped jobs.", 3*time.Second)
	s.expect(promptWith(1), 3*time.Second)
	s.typeKeys("exit", enter)
	if st := s.wait(5 * time.Second); st != 1 {
		t.Errorf("status %d after the second exit, want 1 (the failed exit's)", st)
	}
	waitGone(t, arg, time.Now(), 2*time.Second)
}

// TestHangupEndsJobs: when the terminal hangs up, bash sends SIGHUP on to
// its jobs, stopped or running, and spirit ends.
func TestHangupEndsJobs(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.stopJob("sleep 1003.25", "sleep 1003.25")
	s.typeKeys("sleep 1003.5 &", enter)
	waitProcs(t, exactly("sleep 1003.5"), 1, 5*time.Second)
	s.expect(hostPrompt, 3*time.Second)
	// What the kernel sends the session leader when the terminal hangs
	// up (closing this end would wait for the screen's reader).
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if st := s.wait(5 * time.Second); st != 128+int(syscall.SIGHUP) {
		t.Errorf("status %d after SIGHUP, want %d", st, 128+int(syscall.SIGHUP))
	}
	waitGone(t, "1003.", time.Now(), 3*time.Second)
}

// TestSpiritrcAliases: aliases and functions from ~/.spiritrc work at the
// prompt, as they would from ~/.bashrc in bash.
func TestSpiritrcAliases(t *testing.T) {
	home := t.TempDir()
	rc := "alias hi='echo alias-works'\nshout() { echo \"${1^^}\"; }\n"
	if err := os.WriteFile(filepath.Join(home, ".spiritrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSessionIn(t, home, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("hi", enter)
	s.expect("\nalias-works\r\n", 3*time.Second)
	s.typeKeys("shout loud", enter)
	s.expect("\nLOUD\r\n", 3*time.Second)
}

// TestStatusKeepsBashState: $?, PIPESTATUS and $_ reach the next line as
// bash leaves them, and a line spirit cannot plan sets $? to its status.
func TestStatusKeepsBashState(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("false | true | (exit 3)", enter)
	s.expect(promptWith(3), 3*time.Second)
	s.typeKeys(`echo "ps=${PIPESTATUS[*]}"`, enter)
	s.expect("\nps=1 0 3\r\n", 3*time.Second)
	s.typeKeys("echo one two", enter)
	s.expect("\none two\r\n", 3*time.Second)
	s.typeKeys(`echo "last=$_"`, enter)
	s.expect("\nlast=two\r\n", 3*time.Second)
	s.typeKeys("@nosuch true", enter)
	s.expect("spirit: unknown target @nosuch", 3*time.Second)
	s.expect(promptWith(127), 3*time.Second)
	s.typeKeys(`echo "st=$?"`, enter)
	s.expect("\nst=127\r\n", 3*time.Second)
	s.typeKeys("cd /tmp && pwd", enter)
	s.expect("spirit /tmp ", 3*time.Second)
}

// remoteJobControl runs the job-control round on a remote target word
// (e.g. "@docker:c"): Ctrl-Z stops the remote command and bash shows the
// job as typed; jobs, bg, fg, Ctrl-C and kill %1 act on it there; exit
// twice leaves nothing running. The remote processes are this machine's
// (a container, or an agent here), so /proc shows their state.
func remoteJobControl(t *testing.T, s *session, word, arg string) {
	t.Helper()
	line := word + " sleep " + arg
	remote := "sleep " + arg
	s.typeKeys(line, enter)
	ps := waitProcs(t, exactly(remote), 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.typeKeys(ctrlZ)
	s.expect("[1]+  Stopped                 "+line, 5*time.Second)
	s.expect(promptWith(128+20), 3*time.Second)
	waitState(t, ps[0].pid, "T", 3*time.Second)
	s.notStopped()

	s.typeKeys("jobs", enter)
	s.expect("[1]+  Stopped                 "+line+"\r\n", 3*time.Second)
	s.typeKeys("bg", enter)
	s.expect("[1]+ "+line+" &\r\n", 3*time.Second)
	waitState(t, ps[0].pid, "S", 3*time.Second)
	s.expect(hostPrompt, 3*time.Second)
	s.typeKeys("fg", enter)
	s.expect(line+"\r\n", 3*time.Second)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	s.typeKeys(ctrlC)
	s.expect(promptWith(130), 3*time.Second)
	t.Logf("%s: Ctrl-C after fg: prompt back %v after", word, time.Since(start).Round(time.Millisecond))
	waitGone(t, arg, start, remoteGone)

	s.typeKeys(line, enter)
	waitProcs(t, exactly(remote), 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.typeKeys(ctrlZ)
	s.expect(promptWith(128+20), 5*time.Second)
	s.typeKeys("kill %1", enter)
	waitGone(t, arg, time.Now(), remoteGone)
	// Past the prompts drawn so far, which show the last status.
	s.typeKeys("echo synced-$((1+1))", enter)
	s.expect("\nsynced-2\r\n", 3*time.Second)

	s.typeKeys(line, enter)
	waitProcs(t, exactly(remote), 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	s.typeKeys(ctrlZ)
	s.expect(promptWith(128+20), 5*time.Second)
	s.typeKeys("exit", enter)
	s.expect("There are stopped jobs.", 3*time.Second)
	s.typeKeys("exit", enter)
	s.wait(5 * time.Second)
	waitGone(t, arg, time.Now(), remoteGone)
}

// remoteGone bounds how long a remote command may take to go once its
// job is ended: the Engine path ends it with an exec of a kill script,
// which took over 3 s under the race detector on a loaded machine (the
// stand-in, orphaned by the exit of bash, still ended it). The time to
// the prompt is logged; this only checks that nothing is left.
const remoteGone = 10 * time.Second

// waitState waits until process pid is in state want (T stopped, S
// sleeping).
func waitState(t *testing.T, pid int, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := procState(t, pid)
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is in state %s after %v, want %s", pid, st, within, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestContainerJobControl(t *testing.T) {
	for _, agent := range []bool{false, true} {
		t.Run(map[bool]string{false: "engine", true: "agent"}[agent], func(t *testing.T) {
			name := dockertest.Container(t, "")
			home := t.TempDir()
			if agent {
				home = agentHome(t, name)
			}
			s := startSessionIn(t, home, nil)
			s.expect(hostPrompt, 5*time.Second)
			remoteJobControl(t, s, "@docker:"+name, map[bool]string{false: "1005.25", true: "1005.5"}[agent])
		})
	}
}

func TestAgentJobControl(t *testing.T) {
	s, _ := agentSession(t)
	remoteJobControl(t, s, "@a", "1006.25")
}
