package docker

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"spirit/internal/dockertest"
	"spirit/internal/spiritbin"
	"spirit/target"
)

// testAgentBin is the spirit-agent built for these tests, static as it ships.
var testAgentBin string

func TestMain(m *testing.M) {
	if code, ok := runHelper(); ok {
		os.Exit(code)
	}
	spiritbin.MainBins(m, spiritbin.Bins{Agent: &testAgentBin})
}

// ways are the two ways to a container's agent.
var ways = []struct {
	name     string
	noSocket bool
}{{"socket", false}, {"exec", true}}

// eachWay runs f in parallel subtests, one per way to the agent, each
// with a container of its own and a backend that uses the agent in it.
// noSocket says which way, for a test that makes more backends.
func eachWay(t *testing.T, f func(t *testing.T, noSocket bool, name string, b *Backend, tgt target.Target)) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			t.Parallel()
			name := dockertest.Container(t, "")
			b := agentBackend(t, way.noSocket)
			f(t, way.noSocket, name, b, b.Target(name))
		})
	}
}

// agentBackend returns a backend that uses the agent in every container.
func agentBackend(t *testing.T, noSocket bool) *Backend {
	t.Helper()
	b := New(Options{Agent: []string{"*"}, AgentBinary: testAgentBin, Version: "test"})
	b.noSocket = noSocket
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestAgentExec(t *testing.T) {
	t.Parallel()
	eachWay(t, func(t *testing.T, _ bool, name string, b *Backend, tgt target.Target) {
		ctx := testContext(t)
		if got := mustRun(t, tgt, "echo first"); got != "first\n" {
			t.Fatalf("first command: %q", got)
		}
		before := time.Now()

		res := run(ctx, tgt, "echo out; echo err >&2; exit 3", nil)
		if res.err != nil || res.status != 3 || res.stdout != "out\n" || res.stderr != "err\n" {
			t.Errorf("got %+v, want status 3, out\\n, err\\n", res)
		}
		res = run(ctx, tgt, "wc -c", &target.Command{Stdin: strings.NewReader(strings.Repeat("x", 300000))})
		if res.err != nil || res.status != 0 || strings.TrimSpace(res.stdout) != "300000" {
			t.Errorf("stdin: got %+v, want 300000", res)
		}
		res = run(ctx, tgt, `echo "$A $PWD"; kill -TERM $$`, &target.Command{Env: []string{"A=host value"}})
		if res.err != nil || res.status != 128+15 || res.stdout != "host value /\n" {
			t.Errorf("env and signal: got %+v, want status 143, %q", res, "host value /\n")
		}
		res = run(ctx, tgt, "tty; stty size", &target.Command{TTY: &target.TTY{Size: target.WinSize{Rows: 33, Cols: 101}}})
		if res.err != nil || res.status != 0 || !strings.HasPrefix(res.stdout, "/dev/pts/") || !strings.HasSuffix(res.stdout, "33 101\r\n") {
			t.Errorf("terminal: got %+v", res)
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			pw.WriteString("from a pipe\n")
			pw.Close()
		}()
		res = run(ctx, tgt, "cat", &target.Command{Stdin: pr})
		pr.Close()
		if res.err != nil || res.status != 0 || res.stdout != "from a pipe\n" {
			t.Errorf("stdin from a pipe: got %+v", res)
		}
		if status := brokenPipe(t, tgt); status != 141 {
			t.Errorf("a reader that goes away: status %d, want 141", status)
		}
		f, err := tgt.Open(ctx, "/etc/passwd", target.Read)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil || !strings.HasPrefix(string(data), "root:x:0:0:") {
			t.Errorf("read /etc/passwd: %q, %v", data, err)
		}
		if _, err := tgt.Open(ctx, "/no/such/file", target.Read); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/no/such/file") {
			t.Errorf("read a missing file: %v", err)
		}
		if n := dockertest.ExecsSince(t, name, before); n > 0 {
			t.Errorf("commands after the first made Engine execs %v, want none", n)
		}
	})
}

// brokenPipe runs "yes" into a pipe whose reader goes away, and returns
// the status.
func brokenPipe(t *testing.T, tgt target.Target) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	go func() {
		buf := make([]byte, 10)
		_, _ = io.ReadFull(r, buf)
		r.Close()
	}()
	status, err := tgt.Exec(testContext(t), &target.Command{Text: "yes spirit-yes", Stdout: w})
	if err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, tgt, "yes spirit-yes"); len(left) > 0 {
		t.Errorf("left in the container: %q", left)
	}
	return status
}

// TestAgentShared: with the socket, a second spirit (a second Backend)
// makes no Engine exec either, and both run commands at once.
func TestAgentShared(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t, "")
	b1 := agentBackend(t, false)
	mustRun(t, b1.Target(name), "true")
	before := time.Now()
	b2 := agentBackend(t, false)
	ctx := testContext(t)
	var g errgroup.Group
	for i, b := range []*Backend{b1, b2, b1, b2} {
		g.Go(func() error {
			res := run(ctx, b.Target(name), "seq 1 20000 | wc -l; exit 5", nil)
			if res.err != nil || res.status != 5 || strings.TrimSpace(res.stdout) != "20000" {
				t.Errorf("run %d: %+v", i, res)
			}
			return nil
		})
	}
	g.Wait()
	if n := dockertest.ExecsSince(t, name, before); n > 0 {
		t.Errorf("a second backend made Engine execs %v, want none", n)
	}
}

// TestAgentCancel: a cancel kills the command in the container, and so
// does the end of the Backend that ran it (spirit exiting), while the
// other Backend's command goes on.
func TestAgentCancel(t *testing.T) {
	t.Parallel()
	eachWay(t, func(t *testing.T, noSocket bool, name string, b *Backend, tgt target.Target) {
		status := runUntilCancel(t, tgt, "sleep 101")
		if status != 130 {
			t.Errorf("cancelled: status %d, want 130", status)
		}
		if left := leftovers(t, tgt, "sleep 101"); len(left) > 0 {
			t.Errorf("left in the container after a cancel: %q", left)
		}

		other := agentBackend(t, noSocket)
		ctx := testContext(t)
		otherDone := make(chan result, 1)
		startAndWait(t, ctx, other.Target(name), "sleep 102", otherDone)
		closed := make(chan result, 1)
		startAndWait(t, ctx, tgt, "sleep 103", closed)
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		<-closed
		check := New(Options{}) // the Engine's exec, to look
		defer check.Close()
		waitGone(t, check.Target(name), "sleep 103")
		if left := leftovers(t, check.Target(name), "sleep 102"); len(left) != 1 {
			t.Errorf("the other backend's command: %q, want it running", left)
		}
		other.Close()
		<-otherDone
		waitGone(t, check.Target(name), "sleep 102")
	})
}

// runUntilCancel runs "echo started; exec CMD" and cancels it once it has
// started; it returns the status.
func runUntilCancel(t *testing.T, tgt target.Target, cmd string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	done := make(chan result, 1)
	startAndWait(t, ctx, tgt, cmd, done)
	cancel()
	res := <-done
	if res.err != nil {
		t.Errorf("%s: %v", cmd, res.err)
	}
	return res.status
}

// startAndWait starts "echo started; exec cmd" in tgt and returns once it
// has printed; the result is sent on done.
func startAndWait(t *testing.T, ctx context.Context, tgt target.Target, cmd string, done chan<- result) {
	t.Helper()
	pr, pw := io.Pipe()
	ended := make(chan result, 1)
	go func() {
		var stderr strings.Builder
		status, err := tgt.Exec(ctx, &target.Command{Text: "echo started; exec " + cmd, Stdout: pw, Stderr: &stderr})
		pw.Close()
		res := result{status: status, err: err, stderr: stderr.String()}
		ended <- res
		done <- res
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if line != "started\n" {
		t.Fatalf("%s: did not start: %q %v; the run: %+v", cmd, line, err, <-ended)
	}
}

// waitGone waits until no process in the container runs cmd.
func waitGone(t *testing.T, tgt target.Target, cmd string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(leftovers(t, tgt, cmd)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still runs in the container", cmd)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAgentFallback: with no usable agent, commands go through the
// Engine's exec, quietly.
func TestAgentFallback(t *testing.T) {
	t.Parallel()
	notExec := filepath.Join(t.TempDir(), "spirit-agent")
	if err := os.WriteFile(notExec, []byte("not a program\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, bin string
	}{
		{"missing binary", filepath.Join(t.TempDir(), "no-spirit-agent")},
		{"not a program", notExec},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := dockertest.Container(t, "")
			b := New(Options{Agent: []string{name}, AgentBinary: tt.bin})
			defer b.Close()
			tgt := b.Target(name)
			mustRun(t, tgt, "true")
			before := time.Now()
			res := run(testContext(t), tgt, "echo out; echo err >&2; exit 4", nil)
			if res.err != nil || res.status != 4 || res.stdout != "out\n" || res.stderr != "err\n" {
				t.Errorf("got %+v", res)
			}
			if n := dockertest.ExecsSince(t, name, before); n != 1 {
				t.Errorf("a command made Engine execs %v, want one", n)
			}
		})
	}
}

// TestAgentPlaces: the agent finds a place in containers with a tmpfs on
// /tmp or a read-only root and a volume on /tmp; one whose root is
// read-only with nowhere else to write uses the Engine's exec.
func TestAgentPlaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		host  container.HostConfig
		vols  map[string]struct{}
		agent bool // whether the agent is used
	}{
		{name: "tmpfs on tmp", host: container.HostConfig{Tmpfs: map[string]string{"/tmp": "exec"}}, agent: true},
		{name: "read-only root, volume on tmp", host: container.HostConfig{ReadonlyRootfs: true}, vols: map[string]struct{}{"/tmp": {}}, agent: true},
		{name: "read-only root", host: container.HostConfig{ReadonlyRootfs: true}},
		{name: "read-only root, tmpfs on tmp", host: container.HostConfig{ReadonlyRootfs: true, Tmpfs: map[string]string{"/tmp": "exec"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cli := dockertest.Client(t)
			ctx := testContext(t)
			name := fmt.Sprintf("spirit-test-places-%d-%s", i, strings.ToLower(rand.Text()[:8]))
			host := tt.host
			host.NetworkMode = "none"
			res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
				Name: name,
				Config: &container.Config{Image: dockertest.Image, Cmd: []string{"sleep", "1000000"},
					Volumes: tt.vols, Labels: map[string]string{dockertest.Label: t.Name()}},
				HostConfig: &host,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				cli.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			})
			if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
				t.Fatal(err)
			}
			tgt := agentBackend(t, false).Target(name)
			if got := mustRun(t, tgt, "echo here"); got != "here\n" {
				t.Errorf("got %q", got)
			}
			since := time.Now()
			mustRun(t, tgt, "true")
			want := 1
			if tt.agent {
				want = 0
			}
			if n := dockertest.ExecsSince(t, name, since); n != want {
				t.Errorf("a command made Engine execs %v, want %d", n, want)
			}
		})
	}
}

// TestAgentRestart: after the container restarts (its agent dies with
// it), the next command starts a fresh agent, once.
func TestAgentRestart(t *testing.T) {
	t.Parallel()
	eachWay(t, func(t *testing.T, _ bool, name string, b *Backend, tgt target.Target) {
		mustRun(t, tgt, "true")
		cli := dockertest.Client(t)
		zero := 0
		if _, err := cli.ContainerRestart(testContext(t), name, client.ContainerRestartOptions{Timeout: &zero}); err != nil {
			t.Fatal(err)
		}
		if got := mustRun(t, tgt, "echo again"); got != "again\n" {
			t.Errorf("after the restart: %q", got)
		}
		before := time.Now()
		mustRun(t, tgt, "true")
		mustRun(t, tgt, "true")
		if n := dockertest.ExecsSince(t, name, before); n > 0 {
			t.Errorf("commands after the restart made Engine execs %v, want none", n)
		}
	})
}

// TestAgentExecEnds: the exec way's agent exits when its Backend closes
// its stdin.
func TestAgentExecEnds(t *testing.T) {
	t.Parallel()
	name := dockertest.Container(t, "")
	b := agentBackend(t, true)
	tgt := b.Target(name)
	mustRun(t, tgt, "true")
	check := New(Options{})
	defer check.Close()
	if left := leftovers(t, check.Target(name), agentCmd(t, "--stdio")); len(left) != 1 {
		t.Fatalf("agent processes: %q, want one", left)
	}
	b.Close()
	waitGone(t, check.Target(name), agentCmd(t, "--stdio"))
}

// agentCmd is the command line of the test agent in a container.
func agentCmd(t *testing.T, args ...string) string {
	t.Helper()
	return strings.Join(append([]string{agentExe(t)}, args...), " ")
}
