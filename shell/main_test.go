package shell

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"spirit/internal/spiritbin"
)

// spiritBin is the real spirit and agentBin the real spirit-agent, built
// once for the terminal tests. They are set by TestMain only.
var spiritBin, agentBin string

func TestMain(m *testing.M) {
	spiritbin.MainBins(m, spiritbin.Bins{Spirit: &spiritBin, Agent: &agentBin})
}

// session is spirit running on a pseudo-terminal, driven as a person would:
// keys typed one at a time, the screen read as it comes.
type session struct {
	t    *testing.T
	ptmx *os.File // the terminal's keyboard and screen
	tty  *os.File // spirit's end, kept open here to read its mode
	cmd  *exec.Cmd
	home string

	mu   sync.Mutex
	out  bytes.Buffer // guarded by mu: everything spirit wrote
	seen int          // guarded by mu: how far expect has matched
	wg   sync.WaitGroup

	exited  chan struct{} // closed when spirit has exited
	waitErr error         // set before exited is closed
}

// typing is the pause between keys: go-prompt polls its input every 10 ms.
const typing = 25 * time.Millisecond

// testEnv is the environment spirit runs with: its own home, config and
// state directories, and the test Docker engine.
func testEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"TERM=xterm-256color",
		"LC_ALL=C.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".state"),
		"DOCKER_HOST=" + os.Getenv("DOCKER_HOST"),
		// VMs of the test's own, never the host's in /run/spirit.
		"SPIRIT_RUNTIME_DIR=" + filepath.Join(home, ".run"),
		"SPIRIT_STATE_DIR=" + filepath.Join(home, ".state", "spirit"),
	}
}

// startSession starts spirit with args on a new terminal, in a new home.
// prepare, when not nil, may change the terminal's mode before spirit
// starts.
func startSession(t *testing.T, prepare func(tty *os.File), args ...string) *session {
	t.Helper()
	return startSessionIn(t, t.TempDir(), prepare, args...)
}

// startSessionIn is startSession with home as $HOME and the directory.
func startSessionIn(t *testing.T, home string, prepare func(tty *os.File), args ...string) *session {
	t.Helper()
	return startSessionEnv(t, home, nil, prepare, args...)
}

// startSessionEnv is startSessionIn with env added to the environment.
func startSessionEnv(t *testing.T, home string, env []string, prepare func(tty *os.File), args ...string) *session {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatalf("pty size: %v", err)
	}
	if prepare != nil {
		prepare(tty)
	}
	cmd := exec.Command(spiritBin, args...)
	cmd.Dir = home
	cmd.Env = append(testEnv(home), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// Its own session with this terminal as the controlling one, as a
	// login gives it: go-prompt opens /dev/tty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start spirit: %v", err)
	}
	s := &session{t: t, ptmx: ptmx, tty: tty, cmd: cmd, home: home, exited: make(chan struct{})}
	s.wg.Go(s.read)
	s.wg.Go(func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	})
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
		}
		<-s.exited
		// bash and its jobs are in spirit's session and hold the
		// terminal: a test that failed half-way may leave some, and a
		// read of the terminal would wait for them.
		killSession(cmd.Process.Pid)
		tty.Close()
		ptmx.Close() // ends read
		s.wg.Wait()
	})
	return s
}

// killSession kills every process of session sid.
func killSession(sid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 3 && f[3] == strconv.Itoa(sid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// read copies the screen into out until the terminal is closed.
func (s *session) read() {
	buf := make([]byte, 4096)
	for {
		n, err := s.ptmx.Read(buf)
		s.mu.Lock()
		s.out.Write(buf[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// typeKeys types each key of keys with a pause between them. A key is a
// character or one of the escape strings in special.
func (s *session) typeKeys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		for _, key := range splitTyping(k) {
			if _, err := s.ptmx.Write([]byte(key)); err != nil {
				s.t.Fatalf("type %q: %v", key, err)
			}
			time.Sleep(typing)
		}
	}
}

// splitTyping cuts text into keys: escape sequences whole, every other
// character alone.
func splitTyping(text string) []string {
	var keys []string
	b := []byte(text)
	for len(b) > 0 {
		n := 1
		if b[0] == 0x1b {
			n = keyLen(b)
		} else if b[0] >= 0x80 {
			n = len(string([]rune(string(b))[0]))
		}
		keys = append(keys, string(b[:n]))
		b = b[n:]
	}
	return keys
}

// paste writes text in one go, as a terminal does with a paste.
func (s *session) paste(text string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(text)); err != nil {
		s.t.Fatalf("paste %q: %v", text, err)
	}
}

// ansi matches the escape sequences go-prompt and lipgloss write.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B]|[=>78])`)

// screen is what spirit wrote since the last match, without escape
// sequences.
func (s *session) screen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(s.out.String()[s.seen:], "")
}

// expect waits until the screen (without escape sequences) shows want
// after what earlier calls matched, and consumes up to the match. It fails
// the test when within does not suffice.
func (s *session) expect(want string, within time.Duration) {
	s.t.Helper()
	if !s.waitFor(want, within) {
		s.t.Fatalf("after %v the screen does not show %q; it shows:\n%q", within, want, s.screen())
	}
}

// waitFor is expect without the failure.
func (s *session) waitFor(want string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		s.mu.Lock()
		raw := s.out.String()[s.seen:]
		// Match on the text with escapes removed, then consume the raw
		// bytes up to the same point.
		if i := strings.Index(ansi.ReplaceAllString(raw, ""), want); i >= 0 {
			s.seen += rawOffset(raw, i+len(want))
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawOffset maps an offset in raw with escapes removed back to raw.
func rawOffset(raw string, stripped int) int {
	locs := ansi.FindAllStringIndex(raw, -1)
	off, skipped := stripped, 0
	for _, l := range locs {
		if l[0] > off {
			break
		}
		skipped += l[1] - l[0]
		off = stripped + skipped
	}
	return off
}

// wait waits up to within for spirit to exit and returns its status.
func (s *session) wait(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(within):
		s.t.Fatalf("spirit still runs %v later; the screen shows:\n%q", within, s.screen())
	}
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			s.t.Fatalf("spirit died of %v; the screen shows:\n%q", ws.Signal(), s.screen())
		}
		return ee.ExitCode()
	}
	if s.waitErr != nil {
		s.t.Fatalf("wait for spirit: %v", s.waitErr)
	}
	return 0
}
