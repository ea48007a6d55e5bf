package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"spirit/internal/agenttest"
)

// These tests drive spirit with the real spirit-agent as target @a, on a
// unix socket. The agent runs on this machine, so what it starts can be
// seen in /proc.

// agentSession starts an agent and a spirit session whose configuration
// names it @a, and waits for the prompt.
func agentSession(t *testing.T) (*session, *agenttest.Agent) {
	t.Helper()
	a := agenttest.Start(t, agentBin)
	home := t.TempDir()
	agenttest.Config(t, filepath.Join(home, ".config"), "a", a.Sock)
	s := startSessionIn(t, home, nil)
	s.expect(hostPrompt, 5*time.Second)
	return s, a
}

// promptWith is the start of the host prompt after a line that ended with
// status.
func promptWith(status int) string { return fmt.Sprintf("spirit ~ [%d] ", status) }

// proc is a process seen in /proc.
type proc struct {
	pid  int
	line string // its command line, the arguments joined by spaces
}

func (p proc) String() string { return fmt.Sprintf("%d: %s", p.pid, p.line) }

// procs lists the live processes whose command line match accepts. A
// zombie has no command line and is not listed: it runs nothing and holds
// nothing, and here (this machine's pid 1 reaps no orphans) one may stay
// in the table for good.
func procs(t *testing.T, match func(line string) bool) []proc {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	self := os.Getpid()
	var found []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone meanwhile, a zombie or a kernel thread
		}
		line := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if match(line) {
			found = append(found, proc{pid, line})
		}
	}
	return found
}

// containing matches a command line with s in it.
func containing(s string) func(string) bool {
	return func(line string) bool { return strings.Contains(line, s) }
}

// exactly matches the command line s.
func exactly(s string) func(string) bool {
	return func(line string) bool { return line == s }
}

// waitProcs waits until at least n processes whose command line match
// accepts run, and returns them.
func waitProcs(t *testing.T, match func(string) bool, n int, within time.Duration) []proc {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		found := procs(t, match)
		if len(found) >= n {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v %d processes match, want %d: %v", within, len(found), n, found)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits until no live process has arg in its command line, and
// returns how long that took from since. It fails the test if one is left
// at since+within.
func waitGone(t *testing.T, arg string, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	deadline := since.Add(within)
	for {
		found := procs(t, containing(arg))
		if len(found) == 0 {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v later these still run: %v", within, found)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ignoresINT reports whether process pid ignores SIGINT.
func ignoresINT(t *testing.T, pid int) bool {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("status of %d: %v", pid, err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("status of %d: %q: %v", pid, l, err)
			}
			return mask&(1<<(unix.SIGINT-1)) != 0
		}
	}
	t.Fatalf("status of %d has no SigIgn", pid)
	return false
}

// expectMatch is expect for a regular expression; it returns the
// submatches.
func (s *session) expectMatch(re *regexp.Regexp, within time.Duration) []string {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s.mu.Lock()
		raw := s.out.String()[s.seen:]
		text := ansi.ReplaceAllString(raw, "")
		if m := re.FindStringSubmatchIndex(text); m != nil {
			s.seen += rawOffset(raw, m[1])
			s.mu.Unlock()
			return re.FindStringSubmatch(text)
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			s.t.Fatalf("after %v the screen does not match %q; it shows:\n%q", within, re, s.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAgentTTY(t *testing.T) {
	s, _ := agentSession(t)
	// Alone on the terminal, the command gets a terminal of its own on
	// the agent, not the one spirit runs on.
	s.typeKeys("@a tty", enter)
	m := s.expectMatch(regexp.MustCompile(`\n(/dev/pts/[0-9]+)\r\n`), 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)
	remote := m[1]
	if remote == s.tty.Name() {
		t.Errorf("@a tty printed spirit's own terminal %s, not a pty on the agent", remote)
	}
	t.Logf("spirit's terminal %s, the agent's %s", s.tty.Name(), remote)

	// With its output piped to the host it has no terminal.
	s.typeKeys("@a tty | @spirit cat", enter)
	s.expect("\nnot a tty\r\n", 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)
	// In "@a tty | cat" the cat runs on the agent too: the line is one
	// segment, alone on the terminal, so tty's input is a pty there.
	s.typeKeys("@a tty | cat", enter)
	s.expectMatch(regexp.MustCompile(`\n/dev/pts/[0-9]+\r\n`), 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)
}

func TestAgentResize(t *testing.T) {
	s, _ := agentSession(t)
	s.typeKeys("@a stty size", enter)
	s.expect("\n40 120\r\n", 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)

	// A size change while the command runs: the terminal's new size
	// reaches spirit as SIGWINCH (it is the terminal's foreground group),
	// and the remote terminal must follow before the command reads its
	// line and asks.
	s.typeKeys(`@a sh -c 'echo ready-$((3+4)); read x; stty size'`, enter)
	s.expect("\nready-7\r\n", 5*time.Second)
	sh := waitProcs(t, containing("read x; stty size"), 1, 2*time.Second)
	if err := pty.Setsize(s.ptmx, &pty.Winsize{Rows: 30, Cols: 100}); err != nil {
		t.Fatalf("resize: %v", err)
	}
	start := time.Now()
	waitRemoteSize(t, sh[0].pid, 30, 100, 3*time.Second)
	t.Logf("the remote terminal was 30x100 %v after the resize", time.Since(start).Round(time.Millisecond))
	s.typeKeys("x", enter)
	s.expect("\n30 100\r\n", 5*time.Second)
	s.expect(hostPrompt, 5*time.Second)
}

// waitRemoteSize waits until the terminal on process pid's stdin is
// rows x cols, looking at it through /proc.
func waitRemoteSize(t *testing.T, pid int, rows, cols uint16, within time.Duration) {
	t.Helper()
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", pid), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open the remote terminal: %v", err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(within)
	for {
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err != nil {
			t.Fatalf("remote terminal size: %v", err)
		}
		if ws.Row == rows && ws.Col == cols {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the remote terminal is %dx%d, want %dx%d", within, ws.Row, ws.Col, rows, cols)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// interruptCase is a line that runs sleep ARG on the agent, to be ended
// with Ctrl-C.
type interruptCase struct {
	line, arg string
	sleeps    int  // how many sleep ARG it starts
	ignoring  bool // one of them ignores SIGINT
}

// interrupt runs c.line, waits until its sleeps run, types Ctrl-C and
// checks that everything with c.arg in its command line (the sleeps, and
// a shell that started them) is gone within 2 s, that the prompt comes
// back and that the status is 130.
func interrupt(t *testing.T, s *session, c interruptCase) {
	t.Helper()
	s.typeKeys(c.line, enter)
	sleeps := waitProcs(t, exactly("sleep "+c.arg), c.sleeps, 5*time.Second)
	if c.ignoring {
		// Only then does the case show that what ignores SIGINT goes too.
		if !slices.ContainsFunc(sleeps, func(p proc) bool { return ignoresINT(t, p.pid) }) {
			t.Fatalf("no sleep %s ignores SIGINT: %v", c.arg, sleeps)
		}
	}
	start := time.Now()
	s.typeKeys(ctrlC)
	gone := waitGone(t, c.arg, start, 2*time.Second)
	s.expect(promptWith(130), 3*time.Second)
	t.Logf("%s: gone %v after Ctrl-C, prompt back %v after", c.line,
		gone.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	s.typeKeys("echo status=$?", enter)
	s.expect("\nstatus=130\r\n", 2*time.Second)
	s.expect(hostPrompt, 2*time.Second)
}

// interruptBoth ends with Ctrl-C, in one agent session, "@a sleep
// ARG1"+tail and then "@a sh -c 'sleep ARG2 & sleep ARG2; wait'"+tail,
// whose background sleep ignores SIGINT (a non-interactive sh's does), as
// interrupt checks.
func interruptBoth(t *testing.T, tail, arg1, arg2 string) {
	t.Helper()
	s, _ := agentSession(t)
	interrupt(t, s, interruptCase{line: "@a sleep " + arg1 + tail, arg: arg1, sleeps: 1})
	interrupt(t, s, interruptCase{
		line: fmt.Sprintf("@a sh -c 'sleep %s & sleep %s; wait'%s", arg2, arg2, tail), arg: arg2,
		sleeps: 2, ignoring: true,
	})
}

// TestAgentCtrlCInPty: a command alone on the terminal runs under a pty on
// the agent, and spirit's terminal is raw while it runs, so Ctrl-C is the
// byte 0x03, which the remote line discipline turns into a SIGINT for the
// remote foreground group; spirit itself gets no signal and cancels
// nothing. The status is then the remote command's own: sleep, or the sh
// that waits for it, dies of SIGINT, 128+2 = 130. The background sleep
// that ignores SIGINT goes all the same: the sh is the session leader of
// the remote terminal, and when it exits the kernel hangs the terminal up
// and sends its foreground group SIGHUP.
func TestAgentCtrlCInPty(t *testing.T) {
	interruptBoth(t, "", "100.321", "100.322")
}

// TestAgentCtrlCPipeline: piped to a host command the segment has no pty
// and the terminal keeps its normal mode, so Ctrl-C is a SIGINT to spirit
// (and to the host's cat); the router cancels the line and the client asks
// the agent to stop the command: SIGINT to its process group, then SIGKILL
// of what is left once the command has ended (or after 1 s). The
// background sleep ignores SIGINT and nobody hangs up a terminal: only the
// agent's kill of what is left of the group ends it.
func TestAgentCtrlCPipeline(t *testing.T) {
	interruptBoth(t, " | @spirit cat", "100.654", "100.655")
}

func TestAgentLostShowsError(t *testing.T) {
	s, a := agentSession(t)
	s.typeKeys("@a sleep 30.987", enter)
	waitProcs(t, exactly("sleep 30.987"), 1, 5*time.Second)
	start := time.Now()
	a.Kill()
	s.expect("spirit: @a: connection to the agent lost", 5*time.Second)
	t.Logf("error shown %v after the kill", time.Since(start).Round(time.Millisecond))
	s.expect(promptWith(125), 2*time.Second)
	// The agent's death takes what it ran with it.
	waitGone(t, "30.987", start, 2*time.Second)

	a.Restart()
	s.typeKeys("@a echo again-$((6*7))", enter)
	s.expect("\nagain-42\r\n", 5*time.Second)
	s.expect(hostPrompt, 2*time.Second)
}
