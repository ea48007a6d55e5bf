//go:build windows

package guest

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"spirit/agents/wire"
	"spirit/errcode"
)

// TestNativeHelper is the program the tests below start: it does nothing
// unless SPIRIT_NATIVE_HELPER says what to do.
func TestNativeHelper(t *testing.T) {
	switch os.Getenv("SPIRIT_NATIVE_HELPER") {
	case "spawn":
		// Starts itself to sleep, holding this one's stdout, and ends.
		cmd := exec.Command(os.Args[0], "-test.run=^TestNativeHelper$")
		cmd.Env = append(os.Environ(), "SPIRIT_NATIVE_HELPER=sleep")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			os.Exit(2)
		}
		io.WriteString(os.Stdout, "spawned\n")
		os.Exit(0)
	case "sleep":
		time.Sleep(30 * time.Second)
		os.Exit(0)
	}
}

// startPlain starts req as startDesktop does, as the agent's own user:
// on pipes, in a job of its own from its start.
func startPlain(t *testing.T, req *wire.Request) process {
	t.Helper()
	cmd, err := winCommand(req)
	if err != nil {
		t.Fatal(err)
	}
	l := &launch{}
	l.command(cmd)
	p, err := startOnPipes(l, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Release)
	return p
}

// readAll reads r within d.
func readAll(t *testing.T, r io.Reader, d time.Duration) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		ch <- string(b)
	}()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		t.Fatalf("output did not end within %v", d)
		return ""
	}
}

func TestLaunchOnPipes(t *testing.T) {
	p := startPlain(t, &wire.Request{Op: wire.OpExec, ID: "1", Shell: "echo out& echo err 1>&2& exit /b 3", Stdin: true})
	p.Stdin().Close()
	var errOut string
	done := make(chan struct{})
	go func() { errOut = readAll(t, p.Stderr(), 10*time.Second); close(done) }()
	out := readAll(t, p.Stdout(), 10*time.Second)
	<-done
	exit, err := p.Wait()
	if err != nil || exit.Status != 3 || strings.TrimSpace(out) != "out" || strings.TrimSpace(errOut) != "err" {
		t.Errorf("exit %+v, %v; stdout %q, stderr %q; want 3, out, err", exit, err, out, errOut)
	}
}

// TestOutputEndsWithCommand checks that a desktop command's output ends
// when the command does, although a program it started still holds it.
func TestOutputEndsWithCommand(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := startPlain(t, &wire.Request{Op: wire.OpExec, ID: "2",
		Argv: []string{self, "-test.run=^TestNativeHelper$"}, Env: []string{"SPIRIT_NATIVE_HELPER=spawn"}})
	defer p.Kill() // the sleeper
	go io.Copy(io.Discard, p.Stderr())
	if out := readAll(t, p.Stdout(), 10*time.Second); out != "spawned\n" {
		t.Errorf("stdout %q, want spawned", out)
	}
	if exit, err := p.Wait(); err != nil || exit.Status != 0 {
		t.Errorf("exit %+v, %v", exit, err)
	}
}

// TestConPTYLifecycle starts a command under a pseudo console and checks
// that it ends, reports its status and lets go of its console without
// hanging, whatever the console does with its output.
func TestConPTYLifecycle(t *testing.T) {
	if !hasPty() {
		t.Fatal("no ConPTY in kernel32")
	}
	p, err := startConPTY(&wire.Request{Op: wire.OpExec, ID: "3", Shell: "exit /b 7", Stdin: true, TTY: &wire.Resize{Rows: 24, Cols: 80}})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, p.Stdout())
	if p.Stderr() != nil {
		t.Error("a pty has one output")
	}
	p.Resize(wire.Resize{Rows: 30, Cols: 100}) // a stub under Wine
	done := make(chan wire.ExitMsg, 1)
	go func() {
		exit, _ := p.Wait()
		done <- exit
	}()
	select {
	case exit := <-done:
		if exit.Status != 7 {
			t.Errorf("exit %+v, want 7", exit)
		}
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Fatal("the command did not end")
	}
	released := make(chan struct{})
	go func() { p.Release(); close(released) }()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("Release hangs")
	}
}

// TestDesktopCommand runs a desktop command: as the session's user (Wine
// gives the caller's token), with that user's environment and the
// request's, in the user's profile.
func TestDesktopCommand(t *testing.T) {
	p, err := startDesktop(&wire.Request{Op: wire.OpExec, ID: "4", Env: []string{"SPIRIT_X=from the host"},
		Shell: "echo [%USERNAME%] [%SPIRIT_X%] [%USERPROFILE%]& cd"})
	if errcode.Of(err) == errcode.Denied {
		t.Skipf("needs LocalSystem (the agent's service) or Wine: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Release)
	go io.Copy(io.Discard, p.Stderr())
	out := readAll(t, p.Stdout(), 10*time.Second)
	if exit, err := p.Wait(); err != nil || exit.Status != 0 {
		t.Fatalf("exit %+v, %v; stdout %q", exit, err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\r\n")
	var user, x, profile string
	if len(lines) == 2 {
		f := strings.Split(strings.Trim(lines[0], "[]"), "] [")
		if len(f) == 3 {
			user, x, profile = f[0], f[1], f[2]
		}
	}
	if user == "" || strings.Contains(user, "%") || x != "from the host" || profile == "" ||
		!strings.EqualFold(lines[len(lines)-1], profile) {
		t.Errorf("stdout %q: want the user's name, the host's variable, and the user's profile as the directory", out)
	}
}

// TestLaunchedCtrlCExit: a command that launch started and that exits
// as Ctrl-C's default handler does reads as 130 INT, as any other.
func TestLaunchedCtrlCExit(t *testing.T) {
	const shell = "exit /b -1073741510" // STATUS_CONTROL_C_EXIT, signed
	starts := map[string]func() process{
		"pipes": func() process { return startPlain(t, &wire.Request{Op: wire.OpExec, ID: "5", Shell: shell}) },
		"pty": func() process {
			p, err := startConPTY(&wire.Request{Op: wire.OpExec, ID: "6", Shell: shell, TTY: &wire.Resize{Rows: 24, Cols: 80}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Release)
			return p
		},
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			p := start()
			go io.Copy(io.Discard, p.Stdout())
			if p.Stderr() != nil {
				go io.Copy(io.Discard, p.Stderr())
			}
			if m := waitFor(t, p, 10*time.Second); m.Status != 130 || m.Signal != "INT" {
				t.Errorf("exit %+v, want 130 INT", m)
			}
		})
	}
}
