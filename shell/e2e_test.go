package shell

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"spirit/internal/dockertest"
)

// Keys as a terminal sends them.
const (
	enter = "\r"
	tab   = "\t"
	ctrlC = "\x03"
	ctrlD = "\x04"
)

// hostPrompt is the start of the prompt on the host, in its home.
const hostPrompt = "spirit ~ "

func TestTabCompletesTarget(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("@do", tab)
	s.expect("@docker", 2*time.Second)
	// Enter takes the suggestion; a line that is only a target word makes
	// it the default, which the prompt then shows.
	s.typeKeys(enter)
	s.expect("spirit@docker ", 2*time.Second)
	s.typeKeys("@spirit", enter)
	s.expect(hostPrompt, 2*time.Second)
}

func TestInteractiveReadsRC(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(home+"/.spiritrc", []byte("greeting=hello-from-rc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSessionIn(t, home, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("echo $greeting", enter)
	s.expect("\nhello-from-rc", 2*time.Second)
}

func TestHistoryRecall(t *testing.T) {
	home := t.TempDir()
	hist := home + "/.state/spirit/history"
	if err := os.MkdirAll(home+"/.state/spirit", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hist, []byte("echo from-an-earlier-shell\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSessionIn(t, home, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("\x1b[A", enter) // Up, Enter
	s.expect("\nfrom-an-earlier-shell", 2*time.Second)
}

func TestContinuationLine(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys(`echo "one`, enter)
	s.expect("\n> ", 2*time.Second)
	s.typeKeys(`two"`, enter)
	// Only the command's output has the two words on consecutive lines:
	// the screen shows the typed ones with the "> " prompt between.
	s.expect("one\r\ntwo\r\n", 2*time.Second)
	s.expect(hostPrompt, 2*time.Second)
}

func TestPasteRunsEachLine(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	// One write, as a terminal delivers a paste: both lines must run.
	s.paste("echo first-$((1+1))\recho second-$((2+1))\r")
	s.expect("first-2\r\n", 3*time.Second)
	s.expect("second-3\r\n", 3*time.Second)
}

// ctrlDTermios is a terminal mode unlike the default, so that restoring
// some default instead of the saved mode shows.
func unusualMode(t *testing.T) (func(tty *os.File), func() *unix.Termios) {
	var before *unix.Termios
	prepare := func(tty *os.File) {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatalf("get termios: %v", err)
		}
		tio.Cc[unix.VKILL] = 0x0b // Ctrl-K, not Ctrl-U
		tio.Lflag &^= unix.ECHOCTL
		if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
			t.Fatalf("set termios: %v", err)
		}
		before = tio
	}
	return prepare, func() *unix.Termios { return before }
}

func assertMode(t *testing.T, tty *os.File, want *unix.Termios) {
	t.Helper()
	got, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("get termios: %v", err)
	}
	if got.Iflag != want.Iflag || got.Oflag != want.Oflag || got.Cflag != want.Cflag ||
		got.Lflag != want.Lflag || got.Cc != want.Cc {
		t.Errorf("terminal mode not restored:\n got %+v\nwant %+v", *got, *want)
	}
}

func TestTypeAheadGoesToCommand(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	// What follows the line is left in the terminal for cat, as bash
	// leaves it; the prompt never echoes it.
	s.paste("cat\rtyped-ahead\r")
	s.expect("typed-ahead", 3*time.Second)
	s.typeKeys(ctrlD) // cat's end of input, not the shell's
	s.expect(hostPrompt, 3*time.Second)
	s.typeKeys("echo still-here", enter)
	s.expect("\nstill-here", 2*time.Second)
}

func TestCtrlCStopsHostCommand(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("sleep 100", enter)
	time.Sleep(300 * time.Millisecond)
	s.typeKeys(ctrlC)
	s.expect("[130]", 2*time.Second)
	// The interrupted line does not end the shell.
	s.typeKeys("echo alive", enter)
	s.expect("\nalive", 2*time.Second)
}

func TestCtrlDRestoresTerminal(t *testing.T) {
	prepare, before := unusualMode(t)
	s := startSession(t, prepare)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("false", enter)
	s.expect("[1]", 2*time.Second)
	s.typeKeys(ctrlD)
	if st := s.wait(3 * time.Second); st != 1 {
		t.Errorf("exit status %d after false and Ctrl-D, want 1 (the last status)", st)
	}
	assertMode(t, s.tty, before())

	// The line went to the history file, which only its owner can read.
	hist := s.home + "/.state/spirit/history"
	data, err := os.ReadFile(hist)
	if err != nil || string(data) != "false\n" {
		t.Errorf("history file: %q, %v; want \"false\\n\"", data, err)
	}
	for path, want := range map[string]os.FileMode{hist: 0o600, s.home + "/.state/spirit": 0o700} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, st.Mode().Perm(), err, want)
		}
	}
}

func TestExitBuiltin(t *testing.T) {
	prepare, before := unusualMode(t)
	s := startSession(t, prepare)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("exit 7", enter)
	if st := s.wait(3 * time.Second); st != 7 {
		t.Errorf("exit status %d, want 7", st)
	}
	assertMode(t, s.tty, before())
}

func TestSIGTERMRestoresTerminal(t *testing.T) {
	prepare, before := unusualMode(t)
	s := startSession(t, prepare)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("echo half-typed")
	s.expect("half-typed", 2*time.Second)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := s.wait(3 * time.Second); st != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d after SIGTERM, want %d", st, 128+int(syscall.SIGTERM))
	}
	assertMode(t, s.tty, before())
	// Its output would be on a line of its own, not after "echo ".
	if strings.Contains(s.screen(), "\nhalf-typed") {
		t.Errorf("the half-typed line ran: %q", s.screen())
	}
}

func TestCtrlCAtPromptClearsLine(t *testing.T) {
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("echo never-run", ctrlC)
	s.typeKeys("echo ran", enter)
	s.expect("ran\r\n", 2*time.Second)
	if strings.Contains(s.screen(), "never-run") {
		t.Errorf("the cleared line ran")
	}
	s.typeKeys(`echo "open`, enter, ctrlC, "echo after", enter)
	s.expect("after\r\n", 2*time.Second)
}

func TestDefaultContainer(t *testing.T) {
	name := dockertest.Container(t, "")
	host := containerHostname(t, name)
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("@docker:"+name, enter)
	s.expect("spirit@docker:"+name+" ", 5*time.Second)
	s.typeKeys("cat /etc/hostname", enter)
	s.expect(host+"\r\n", 10*time.Second)
	s.expect("spirit@docker:"+name+" ", 5*time.Second)
}

func TestCtrlCStopsContainerCommand(t *testing.T) {
	name := dockertest.Container(t, "")
	s := startSession(t, nil)
	s.expect(hostPrompt, 5*time.Second)
	s.typeKeys("@docker:"+name+" sleep 4321", enter)
	time.Sleep(1500 * time.Millisecond) // let it start in the container
	start := time.Now()
	s.typeKeys(ctrlC)
	s.expect("[130]", 2*time.Second)
	t.Logf("prompt back %v after Ctrl-C", time.Since(start).Round(time.Millisecond))
	s.typeKeys("echo status=$?", enter)
	s.expect("status=130\r\n", 2*time.Second)

	// The main process (sleep 1000000) shows that ps ran; no sleep 4321
	// may be left beside it.
	s.typeKeys("@docker:"+name+" ps -o args", enter)
	s.expect("sleep 1000000", 10*time.Second)
	s.expect(hostPrompt, 5*time.Second)
	s.mu.Lock()
	out := s.out.String()
	s.mu.Unlock()
	if i := strings.LastIndex(out, "ps -o args"); strings.Contains(out[i:], "sleep 4321") {
		t.Errorf("sleep 4321 still runs in the container:\n%s", out[i:])
	}
}

// containerHostname is the hostname Docker gave the container.
func containerHostname(t *testing.T, name string) string {
	cli := dockertest.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	if res.Container.Config == nil || res.Container.Config.Hostname == "" {
		t.Fatalf("container %s has no hostname", name)
	}
	return res.Container.Config.Hostname
}
