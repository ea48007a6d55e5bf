package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"spirit/target"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shTarget runs segments with the host's /bin/sh in a directory of its
// own, standing in for a guest so that the router's routing, streaming
// and statuses can be tested without one. The real targets have their
// own tests against real guests and containers.
type shTarget struct{ root string }

func (t shTarget) Exec(ctx context.Context, c *target.Command) (int, error) {
	cmd := exec.Command("/bin/sh", "-c", c.Text)
	cmd.Dir = t.root
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.root}, c.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

func (t shTarget) Open(_ context.Context, path string, mode target.OpenMode) (io.ReadWriteCloser, error) {
	p := filepath.Join(t.root, path)
	switch mode {
	case target.Write:
		return os.Create(p)
	case target.Append:
		return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	return os.Open(p)
}

type shResolver struct {
	targets map[string]shTarget
	win     winTarget
}

func (r shResolver) Lookup(name string) (target.Target, error) {
	switch name {
	case "ctl":
		return echoController{}, nil
	case "full":
		return fullTarget{}, nil
	case "win":
		return r.win, nil
	}
	if t, ok := r.targets[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w @%s", target.ErrUnknownTarget, name)
}

func (r shResolver) registry() *target.Registry { return withHost(r.Lookup, "@a", "@b", "@win") }

// echoController prints the arguments its control word gets, one a line.
type echoController struct{ shTarget }

func (echoController) ControlWords() []string { return []string{"--echo"} }

func (echoController) Control(_ context.Context, word string, args []string, stdout io.Writer) error {
	for _, a := range args {
		fmt.Fprintf(stdout, "[%s]\n", a)
	}
	return nil
}

func TestControlArgs(t *testing.T) {
	e := newRunEnv(t)
	tests := []struct {
		src, out, err string
		status        int
	}{
		{`d="a b"; @ctl --echo "$d" $d 'x y'`, "[a b]\n[a]\n[b]\n[x y]\n", "", 0},
		{`@ctl --echo $HOME/x`, "[" + e.host + "/x]\n", "", 0},
		{`@ctl --echo`, "", "", 0},
		{`@ctl --echo a=1`, "[a=1]\n", "", 0},
		{`@ctl --nope`, "", "spirit: @ctl: unknown control word --nope (control words: --echo)\n", 2},
	}
	for _, tc := range tests {
		status, out, er := e.run(t, tc.src)
		if status != tc.status || out != tc.out || er != tc.err {
			t.Errorf("%q:\n got status %d, stdout %q, stderr %q\nwant status %d, stdout %q, stderr %q",
				tc.src, status, out, er, tc.status, tc.out, tc.err)
		}
	}
}

// runEnv runs lines as spirit -c does: planned, then run by bash with the
// prelude, the stand-in being this test binary (TestMain), whose targets
// @a and @b are shTargets in directories of their own.
type runEnv struct {
	p       *Planner
	a, b    string // roots of @a and @b
	win     string // root of @win
	host    string // the host's working directory
	prelude string // a file with the prelude
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	e := &runEnv{a: t.TempDir(), b: t.TempDir(), win: t.TempDir(), host: t.TempDir()}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e.p = NewPlanner(PlannerOptions{Targets: testRegistry(e.a, e.b, e.win), Self: self})
	e.prelude = filepath.Join(t.TempDir(), "prelude")
	if err := os.WriteFile(e.prelude, []byte(e.p.Prelude()), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// run plans src, runs it and returns its status, stdout and stderr.
func (e *runEnv) run(t *testing.T, src string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, out, er, ok := e.command(ctx, t, src)
	if !ok {
		return cmd.ProcessState.ExitCode(), out.String(), er.String()
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %q: %v", src, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), er.String()
}

// command is the bash that runs src; ok is false when planning failed,
// with the message in er (and a finished *exec.Cmd with its status).
func (e *runEnv) command(ctx context.Context, t *testing.T, src string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, bool) {
	t.Helper()
	var out, er bytes.Buffer
	text, err := e.p.Plan(src)
	if err != nil {
		var pe *PlanError
		status := 2
		if errors.As(err, &pe) {
			status = pe.Status
		}
		fmt.Fprintf(&er, "spirit: %v\n", err)
		cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf("exit %d", status))
		cmd.Run()
		return cmd, &out, &er, false
	}
	cmd := exec.CommandContext(ctx, "/bin/bash", "-c", text, "test")
	cmd.Dir = e.host
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + e.host, "BASH_ENV=" + e.prelude,
		"SPIRIT_TEST_ROOTS=" + e.a + ":" + e.b + ":" + e.win}
	cmd.Stdout, cmd.Stderr = &out, &er
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, &out, &er, true
}

func TestRun(t *testing.T) {
	e := newRunEnv(t)
	os.WriteFile(filepath.Join(e.a, "hostname"), []byte("guest-a\n"), 0o644)
	tests := []struct {
		src, out, err string
		status        int
	}{
		{"@a cat hostname | @spirit tr a-z A-Z", "GUEST-A\n", "", 0},
		{"seq 1 100000 | @a wc -l", "100000\n", "", 0},
		{"@a sh -c 'echo out; echo err >&2; exit 7'", "out\n", "err\n", 7},
		{"@a echo x | cat hostname", "guest-a\n", "", 0},
		{"@a echo $HOME", e.a + "\n", "", 0},
		{"v=abc; F=$v @a echo $F", "abc\n", "", 0},
		{"@a false | @spirit true; echo $?", "0\n", "", 0},
		{"set -o pipefail; @a exit 3 | @spirit true; echo $?", "3\n", "", 0},
		{"@a kill -TERM $$; echo $?", "143\n", "", 0},
		{"if @a test -f hostname; then echo yes; fi", "yes\n", "", 0},
		{"for i in 1 2 3; do I=$i @a echo $I; done | @b wc -l", "3\n", "", 0},
		{"x=$(@a cat hostname); echo \"[$x]\"", "[guest-a]\n", "", 0},
		{"@a echo hi > @spirit f1; cat f1", "hi\n", "", 0},
		{"echo data | @spirit cat > @b y; @b cat y", "data\n", "", 0},
		{"echo more >> @b y; @b cat y", "data\nmore\n", "", 0},
		{"@a tr a-z A-Z < @b y", "DATA\nMORE\n", "", 0},
		{"@a cat hostname > @b copied; @b cat copied", "guest-a\n", "", 0},
		{"cat < @a nothing-here", "", "spirit: read @a nothing-here", 1},
		{"@nope ls; echo ran", "", "spirit: unknown target @nope (targets: @spirit @a @b @win)\n", 127},
		{"set -e; @a false; echo not reached", "", "", 1},
		{"@a cat <<EOF\nhello $HOME\nEOF", "hello " + e.a + "\n", "", 0},
		{"t=@a; $t echo 'dynamic  words'", "dynamic  words\n", "", 0},
		{"@a --pause", "", "spirit: @a takes no control words\n", 2},
		{"@a sh -c 'echo e >&2' |& @spirit cat", "e\n", "", 0},
	}
	for _, tc := range tests {
		status, out, er := e.run(t, tc.src)
		if status != tc.status || out != tc.out || !strings.HasPrefix(er, tc.err) || (tc.err == "" && er != "") {
			t.Errorf("%q:\n got status %d, stdout %q, stderr %q\nwant status %d, stdout %q, stderr %q",
				tc.src, status, out, er, tc.status, tc.out, tc.err)
		}
	}
}

func TestDefaultTarget(t *testing.T) {
	e := newRunEnv(t)
	os.WriteFile(filepath.Join(e.a, "hostname"), []byte("guest-a\n"), 0o644)
	if status, _, er := e.run(t, "@a"); status != 0 || e.p.Default() != "@a" {
		t.Fatalf("@a: status %d, default %s, stderr %q", status, e.p.Default(), er)
	}
	if _, out, _ := e.run(t, "cat hostname | tr a-z A-Z"); out != "GUEST-A\n" {
		t.Errorf("with default @a: %q", out)
	}
	if _, out, _ := e.run(t, "cd /; pwd"); out != "/\n" {
		t.Errorf("whole statement on the default target: %q", out)
	}
	e.run(t, "@spirit")
	if e.p.Default() != "@"+target.Host {
		t.Errorf("@spirit did not reset the default: %s", e.p.Default())
	}
	if _, out, _ := e.run(t, "pwd"); out != e.host+"\n" {
		t.Errorf("back on the host: %q", out)
	}
}

// TestCancel interrupts a pipeline as Ctrl-C does (SIGINT to the job's
// process group): the remote command is cancelled and the status is 130.
func TestCancel(t *testing.T) {
	e := newRunEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, out, _, _ := e.command(ctx, t, "@a sleep 100 | @spirit cat; echo not reached")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	cmd.Wait()
	if st := cmd.ProcessState.ExitCode(); st != 130 && !cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		t.Errorf("status %d, want 130 or death by SIGINT", st)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if strings.Contains(out.String(), "not reached") {
		t.Errorf("ran on after the cancel: %q", out)
	}
}

// TestStandinSignal: a stand-in killed by SIGTERM cancels its remote
// command and exits 143, as the remote command would have.
func TestStandinSignal(t *testing.T) {
	e := newRunEnv(t)
	start := time.Now()
	status, _, er := e.run(t, "@a sleep 100 & sleep 0.5; kill %1; wait %1; echo $? >&2")
	if status != 0 || er != "143\n" {
		t.Errorf("status %d, stderr %q; want 0 and 143", status, er)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestExitTrapAndArg0(t *testing.T) {
	e := newRunEnv(t)
	if _, out, _ := e.run(t, "trap 'echo bye' EXIT; @a echo one"); out != "one\nbye\n" {
		t.Errorf("EXIT trap: %q", out)
	}
	if _, out, _ := e.run(t, `echo $0 "${0}"`); out != "test test\n" {
		t.Errorf("$0: %q", out)
	}
	if _, out, _ := e.run(t, "@a false; echo $?"); out != "1\n" {
		t.Errorf("$? of a segment: %q", out)
	}
}
