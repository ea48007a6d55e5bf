package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"spirit/agents/client"
	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/internal/agenttest"
	"spirit/internal/proctest"
	"spirit/internal/spiritbin"
	"spirit/target"
)

// These tests run a Client against the real spirit-agent, a process of its
// own, built once without the race detector.
var agentBin string

func TestMain(m *testing.M) { spiritbin.MainBins(m, spiritbin.Bins{Agent: &agentBin}) }

// newClient returns a client of the agent on sock, closed when the test
// ends; o's Dial, if set, replaces the dial of sock.
func newClient(t *testing.T, sock string, o client.Options) *client.Client {
	t.Helper()
	o.Name, o.Version = "a", "test"
	if o.Dial == nil {
		o.Dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	}
	c := client.New(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// execAsync runs text in the background; the agenttest.Result arrives on the channel.
func execAsync(ctx context.Context, c *client.Client, text string, rc *target.Command) <-chan agenttest.Result {
	ch := make(chan agenttest.Result, 1)
	if rc == nil {
		rc = &target.Command{Stdout: io.Discard, Stderr: io.Discard}
	}
	rc.Text = text
	go func() {
		status, err := c.Exec(ctx, rc)
		ch <- agenttest.Result{Status: status, Err: err}
	}()
	return ch
}

// within waits up to d for a result.
func within(t *testing.T, ch <-chan agenttest.Result, d time.Duration, what string) agenttest.Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("%s: no agenttest.Result after %v", what, d)
		return agenttest.Result{}
	}
}

func TestExecBuffers(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	ctx := t.Context()

	r := agenttest.Run(ctx, c, "cat; echo err >&2; exit 3", strings.NewReader("hello\n"))
	if r.Err != nil || r.Status != 3 || r.Stdout != "hello\n" || r.Stderr != "err\n" {
		t.Errorf("cat: %+v, want status 3 stdout hello stderr err", r)
	}
	// No stdin: the command reads an empty one.
	agenttest.MustRun(t, c, "cat; echo end", "end\n")
	// A stdin nobody closes does not keep a finished command waiting.
	pr, pw := io.Pipe()
	defer pw.Close()
	if r := agenttest.Run(ctx, c, "echo done", pr); r.Err != nil || r.Status != 0 || r.Stdout != "done\n" {
		t.Errorf("with an open stdin: %+v", r)
	}

	for _, s := range []struct {
		sig  string
		want int
	}{{"TERM", 143}, {"KILL", 137}, {"INT", 130}} {
		// The command's shell kills itself: its status is 128+N.
		r := agenttest.Run(ctx, c, "sh -c 'kill -"+s.sig+" $$'", nil)
		if r.Err != nil || r.Status != s.want {
			t.Errorf("kill -%s: status %d err %v, want %d", s.sig, r.Status, r.Err, s.want)
		}
	}

	r = agenttest.Run(ctx, c, `printf '%s|%s' "$F" "$G"`, nil)
	if r.Stdout != "|" {
		t.Errorf("F and G are set on the agent already: %q", r.Stdout)
	}
	var out bytes.Buffer
	status, err := c.Exec(ctx, &target.Command{Text: `printf '%s|%s' "$F" "$G"`, Env: []string{"F=hello world", "G="}, Stdout: &out, Stderr: io.Discard})
	if err != nil || status != 0 || out.String() != "hello world|" {
		t.Errorf("env: status %d err %v stdout %q", status, err, out.String())
	}
}

func TestExecFiles(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	data := randomBytes(3 << 20)

	inR, inW := pipe(t)
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	go func() {
		inW.Write(data)
		inW.Close()
	}()
	var out, errOut []byte
	var readers sync.WaitGroup
	readers.Go(func() { out, _ = io.ReadAll(outR) })
	readers.Go(func() { errOut, _ = io.ReadAll(errR) })
	status, err := c.Exec(t.Context(), &target.Command{Text: "cat; echo err >&2; exit 5", Stdin: inR, Stdout: outW, Stderr: errW})
	outW.Close()
	errW.Close()
	readers.Wait()
	if err != nil || status != 5 || !bytes.Equal(out, data) || string(errOut) != "err\n" {
		t.Errorf("through pipes: status %d err %v, %d bytes of stdout (want %d, same: %v), stderr %q",
			status, err, len(out), len(data), bytes.Equal(out, data), errOut)
	}

	// A stdin pipe that stays open does not keep a finished command.
	inR2, inW2 := pipe(t)
	defer inW2.Close()
	var out2 bytes.Buffer
	ch := make(chan agenttest.Result, 1)
	go func() {
		status, err := c.Exec(t.Context(), &target.Command{Text: "echo hi", Stdin: inR2, Stdout: &out2, Stderr: io.Discard})
		ch <- agenttest.Result{Status: status, Err: err}
	}()
	if r := within(t, ch, 10*time.Second, "echo with an open stdin pipe"); r.Err != nil || r.Status != 0 || out2.String() != "hi\n" {
		t.Errorf("with an open stdin pipe: status %d err %v stdout %q", r.Status, r.Err, out2.String())
	}
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n)}).Read(b)
	return b
}

func TestControl(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	ctx := t.Context()
	control := func(word string, args ...string) (string, error) {
		var out bytes.Buffer
		err := c.Control(ctx, word, args, &out)
		return out.String(), err
	}

	out, err := control("--status")
	if err != nil || !strings.Contains(out, "protocol 1") || !strings.Contains(out, "(linux/") {
		t.Errorf("--status: %q, %v", out, err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := control("--cd", dir); err != nil {
		t.Fatal(err)
	}
	agenttest.MustRun(t, c, "pwd", dir+"\n")
	if _, err := control("--cd", "sub"); err != nil {
		t.Fatal(err)
	}
	agenttest.MustRun(t, c, "pwd", dir+"/sub\n")
	if out, _ := control("--status"); !strings.Contains(out, "working directory "+dir+"/sub") {
		t.Errorf("--status does not name the directory: %q", out)
	}

	// A missing directory or a file is refused and changes nothing.
	_, err = control("--cd", "/nonexistent")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, target.ErrNotFound) {
		t.Errorf("--cd /nonexistent: %v, want fs.ErrNotExist and target.ErrNotFound", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := control("--cd", file); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("--cd FILE: %v, want not a directory", err)
	}
	agenttest.MustRun(t, c, "pwd", dir+"/sub\n")

	// No argument: the agent's own directory again.
	if _, err := control("--cd"); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	agenttest.MustRun(t, c, "pwd", wd+"\n")
}

// TestAgentRestart keeps one client across the agent's death and restart.
func TestAgentRestart(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	agenttest.MustRun(t, c, "echo one", "one\n")

	sleep := proctest.UniqueSleep(30)
	// A SIGKILLed agent cannot end what its commands started: the sleep
	// outlives it.
	t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
	ch := execAsync(t.Context(), c, sleep, nil)
	proctest.Wait(t, sleep, a.Pid(), 1)
	a.Kill()
	r := within(t, ch, 5*time.Second, "exec after the agent's SIGKILL")
	if !errors.Is(r.Err, client.ErrLost) {
		t.Errorf("exec after the agent's death: status %d err %v, want ErrLost", r.Status, r.Err)
	}

	a.Restart()
	agenttest.MustRun(t, c, "echo two", "two\n")
	if h, err := c.Hello(t.Context()); err != nil || h.Proto != wire.Proto {
		t.Errorf("hello after the restart: %+v, %v", h, err)
	}
}

// TestStaleGarbage sends an agent garbage before a host's handshake: on a
// connection of its own, and on the host's connection itself.
func TestStaleGarbage(t *testing.T) {
	a := agenttest.Start(t, agentBin)

	raw, err := net.Dial("unix", a.Sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write(agenttest.Garbage()); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	c := newClient(t, a.Sock, client.Options{})
	agenttest.MustRun(t, c, "echo clean", "clean\n")

	dirty := newClient(t, a.Sock, client.Options{Dial: agenttest.WithGarbage(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", a.Sock)
	})})
	agenttest.MustRun(t, dirty, "echo after garbage", "after garbage\n")
}

// port gives hosts, one at a time, the agent's stdin and stdout: a stream
// that outlives each host's connection, as a virtio-serial port does. What
// a host leaves unread or half-written stays for the next one.
type port struct {
	toAgent   *os.File // the agent's stdin
	fromAgent *os.File // the agent's stdout

	mu  sync.Mutex
	cur *portConn
}

// Dial ends the last connection and makes a new one on the same pipes.
func (p *port) Dial(ctx context.Context) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.take()
	p.cur = &portConn{p: p}
	p.cur.idle = sync.NewCond(&p.cur.mu)
	return p.cur, nil
}

// take ends the current connection and waits until none of its Reads or
// Writes is under way, so that the pipes are free to use.
func (p *port) take() {
	if p.cur != nil {
		p.cur.Close()
		p.cur.wait()
		p.cur = nil
	}
	p.toAgent.SetDeadline(time.Time{})
	p.fromAgent.SetDeadline(time.Time{})
}

// inject writes b to the agent between connections.
func (p *port) inject(b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.take()
	p.toAgent.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := p.toAgent.Write(b)
	return err
}

// portConn is one host's use of the port; closing it leaves the pipes open.
type portConn struct {
	p      *port
	mu     sync.Mutex
	closed bool
	busy   int // Reads and Writes under way
	idle   *sync.Cond
}

func (c *portConn) enter() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.busy++
	return nil
}

func (c *portConn) leave(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	if c.busy == 0 {
		c.idle.Broadcast()
	}
	if err != nil && c.closed {
		return net.ErrClosed
	}
	return err
}

func (c *portConn) wait() {
	c.mu.Lock()
	for c.busy > 0 {
		c.idle.Wait()
	}
	c.mu.Unlock()
}

func (c *portConn) Read(b []byte) (int, error) {
	if err := c.enter(); err != nil {
		return 0, err
	}
	n, err := c.p.fromAgent.Read(b)
	return n, c.leave(err)
}

func (c *portConn) Write(b []byte) (int, error) {
	if err := c.enter(); err != nil {
		return 0, err
	}
	n, err := c.p.toAgent.Write(b)
	return n, c.leave(err)
}

// Close cuts the Reads and Writes under way with a deadline.
func (c *portConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.p.toAgent.SetDeadline(time.Now())
		c.p.fromAgent.SetDeadline(time.Now())
	}
	return nil
}

func (c *portConn) deadline(f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	return f()
}

func (c *portConn) SetDeadline(t time.Time) error {
	return c.deadline(func() error {
		return errors.Join(c.p.toAgent.SetDeadline(t), c.p.fromAgent.SetDeadline(t))
	})
}

func (c *portConn) SetReadDeadline(t time.Time) error {
	return c.deadline(func() error { return c.p.fromAgent.SetReadDeadline(t) })
}

func (c *portConn) SetWriteDeadline(t time.Time) error {
	return c.deadline(func() error { return c.p.toAgent.SetWriteDeadline(t) })
}

func (c *portConn) LocalAddr() net.Addr  { return portAddr{} }
func (c *portConn) RemoteAddr() net.Addr { return portAddr{} }

type portAddr struct{}

func (portAddr) Network() string { return "pipe" }
func (portAddr) String() string  { return "agent stdio" }

// startStdio runs the agent with --stdio on pipes; it ends when its stdin
// does, at the end of the test.
func startStdio(t *testing.T) (*port, *exec.Cmd) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var log agenttest.LockedBuffer
	cmd := exec.Command(agentBin, "--stdio", "--debug")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		inW.Close() // EOF: no more hosts
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent --stdio exited with %v at the end of its stdin", err)
			}
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("agent --stdio still runs 5 s after the end of its stdin")
		}
		outR.Close()
		if t.Failed() {
			t.Logf("agent log:\n%s", log.String())
		}
	})
	return &port{toAgent: inW, fromAgent: outR}, cmd
}

// TestPersistentStream drops a host's connection while a command's output
// flows, puts garbage in the agent's stdin, and connects again over the
// same pipes: the agent skips the garbage and the host the old session's
// output.
func TestPersistentStream(t *testing.T) {
	p, agent := startStdio(t)
	c := newClient(t, "", client.Options{Dial: p.Dial})
	agenttest.MustRun(t, c, "echo one", "one\n")

	yes := fmt.Sprintf("yes flowing-%d", rand.IntN(1e9))
	var out agenttest.LockedBuffer
	ch := execAsync(t.Context(), c, yes, &target.Command{Stdout: &out, Stderr: io.Discard})
	deadline := time.Now().Add(10 * time.Second)
	for out.Len() < 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes of output after 10 s", out.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Reset()
	if r := within(t, ch, 5*time.Second, "exec after Reset"); !errors.Is(r.Err, client.ErrLost) {
		t.Errorf("exec cut by Reset: status %d err %v, want ErrLost", r.Status, r.Err)
	}
	if err := p.inject(agenttest.Garbage()); err != nil {
		t.Fatal(err)
	}
	agenttest.MustRun(t, c, "echo two", "two\n")
	// The old session ended on the agent, and its command with it.
	proctest.WaitNone(t, yes, agent.Process.Pid, 2*time.Second)
	agenttest.MustRun(t, c, "echo three", "three\n")
}

// TestCancel cancels an exec whose shell waits for a background job that
// ignores SIGINT: nothing of it may be left.
func TestCancel(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	sleep := proctest.UniqueSleep(100)
	t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := execAsync(ctx, c, fmt.Sprintf("sh -c '%s & %s; wait'", sleep, sleep), nil)
	proctest.Wait(t, sleep, a.Pid(), 2)
	cancel()
	start := time.Now()
	r := within(t, ch, 3*time.Second, "cancelled exec")
	t.Logf("a cancelled exec returned in %v", time.Since(start).Round(time.Millisecond))
	if r.Status != 130 || r.Err != nil {
		t.Errorf("cancelled exec: status %d err %v, want 130", r.Status, r.Err)
	}
	// Anywhere, not only under the agent: an orphan would have left it.
	proctest.WaitNone(t, sleep, 0, 2*time.Second)
	agenttest.MustRun(t, c, "echo still there", "still there\n")
}

// failAfter is a writer that fails once it has taken limit bytes, as a
// pipe to a reader that exited does.
type failAfter struct {
	limit, n int
}

func (w *failAfter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, syscall.EPIPE
	}
	w.n += len(p)
	return len(p), nil
}

// TestBrokenPipe gives a command's output to a writer that fails: the
// command must meet a broken pipe, not run forever.
func TestBrokenPipe(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	w := &failAfter{limit: 1 << 20}
	status, err := c.Exec(ctx, &target.Command{Text: "yes", Stdout: w, Stderr: io.Discard})
	if status != 141 || err != nil {
		t.Errorf("yes into a failing writer: status %d err %v, want 141 (SIGPIPE)", status, err)
	}
	// Output arrives in pieces of up to a copy buffer (a yamux window):
	// the one that crosses the limit fails whole.
	if w.n < 1<<20-wire.StreamWindow {
		t.Errorf("the writer took %d bytes before it failed", w.n)
	}
}

func TestFiles(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	c := newClient(t, a.Sock, client.Options{})
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	data := randomBytes(3<<20 + 17)

	write := func(mode target.OpenMode, b []byte) {
		t.Helper()
		f, err := c.Open(ctx, path, mode)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			n := min(len(b), 100<<10)
			if _, err := f.Write(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close after %v: %v", mode, err)
		}
	}
	check := func(want []byte) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("on disk: %d bytes (%v), want %d", len(got), err, len(want))
		}
		f, err := c.Open(ctx, path, target.Read)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err = io.ReadAll(f)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read back: %d bytes (%v), want %d", len(got), err, len(want))
		}
	}
	write(target.Write, data)
	check(data)
	write(target.Append, []byte("tail"))
	check(append(bytes.Clone(data), "tail"...))
	write(target.Write, []byte("short"))
	check([]byte("short"))

	_, err := c.Open(ctx, filepath.Join(dir, "missing"), target.Read)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read of a missing file: %v, want fs.ErrNotExist", err)
	}
	_, err = c.Open(ctx, filepath.Join(dir, "nodir", "f"), target.Write)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write into a missing directory: %v, want fs.ErrNotExist", err)
	}
	_, err = c.Open(ctx, dir, target.Read)
	if err == nil {
		t.Errorf("read of a directory: no error")
	}
}

// TestFileWriteCut closes the client in the middle of a write: the file
// stays as it was, and nothing is left beside it.
func TestFileWriteCut(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	for _, mode := range []target.OpenMode{target.Write, target.Append} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, []byte("original\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, a.Sock, client.Options{})
			f, err := c.Open(t.Context(), path, mode)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(randomBytes(1 << 20)); err != nil {
				t.Fatal(err)
			}
			c.Close()
			if err := f.Close(); err == nil {
				t.Errorf("Close of a write cut short returned nil")
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				ents, _ := os.ReadDir(dir)
				got, _ := os.ReadFile(path)
				if string(got) != "original\n" {
					t.Fatalf("the file is now %d bytes, want the original", len(got))
				}
				if len(ents) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("left beside the file after 2 s: %v", ents)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestKeepalive stops the agent with SIGSTOP: a client drops the
// connection after a missed ping, unless it knows the agent is paused.
func TestKeepalive(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	pid := a.Pid()
	stop := func(t *testing.T) {
		t.Helper()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	}
	opts := client.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 300 * time.Millisecond}

	t.Run("dead", func(t *testing.T) {
		c := newClient(t, a.Sock, opts)
		sleep := proctest.UniqueSleep(30)
		t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
		ch := execAsync(t.Context(), c, sleep, nil)
		proctest.Wait(t, sleep, pid, 1)
		stop(t)
		r := within(t, ch, 2*time.Second, "exec on a stopped agent")
		if !errors.Is(r.Err, client.ErrLost) {
			t.Errorf("exec on a stopped agent: status %d err %v, want ErrLost", r.Status, r.Err)
		}
		syscall.Kill(pid, syscall.SIGCONT)
		// The agent learns that the host left and kills the command.
		proctest.WaitNone(t, sleep, 0, 2*time.Second)
		agenttest.MustRun(t, c, "echo back", "back\n")
	})

	t.Run("paused", func(t *testing.T) {
		var paused atomic.Bool
		o := opts
		o.Paused = paused.Load
		c := newClient(t, a.Sock, o)
		sleep := proctest.UniqueSleep(1)
		t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
		var out agenttest.LockedBuffer
		ch := execAsync(t.Context(), c, sleep+"; echo done", &target.Command{Stdout: &out, Stderr: io.Discard})
		proctest.Wait(t, sleep, pid, 1)
		paused.Store(true)
		stop(t)
		select {
		case r := <-ch:
			t.Fatalf("exec on a paused agent ended: status %d err %v", r.Status, r.Err)
		case <-time.After(2 * time.Second):
		}
		syscall.Kill(pid, syscall.SIGCONT)
		paused.Store(false)
		r := within(t, ch, 10*time.Second, "exec after the pause")
		if r.Err != nil || r.Status != 0 || out.String() != "done\n" {
			t.Errorf("exec across a pause: status %d err %v stdout %q", r.Status, r.Err, out.String())
		}
	})
}

// TestLimits fills the agent: one more exec is refused as busy, and the
// others are not disturbed.
func TestLimits(t *testing.T) {
	for _, full := range []string{"sessions", "streams"} {
		t.Run(full, func(t *testing.T) {
			a := agenttest.Start(t, agentBin)
			// Pings every 100 ms while the agent is full: refused as
			// busy when no stream is free, they must not make the
			// client drop the connection. A refusal is answered at
			// once; an answer may still take seconds on a loaded
			// machine while the agent starts 64 processes under the
			// race detector (a 3 s timeout dropped it there).
			c := newClient(t, a.Sock, client.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 10 * time.Second})
			// Each command waits until the test creates the file
			// release: no race with the clock.
			release := filepath.Join(t.TempDir(), "release")
			wait := fmt.Sprintf("while ! test -e %s; do sleep 0.05; done; echo done", release)
			t.Cleanup(func() { os.WriteFile(release, nil, 0o644) })
			var chans []<-chan agenttest.Result
			var stdins []*io.PipeWriter
			var outs []*agenttest.LockedBuffer
			for i := range wire.MaxSessions {
				out := &agenttest.LockedBuffer{}
				rc := &target.Command{Stdout: out, Stderr: out}
				// With a stdin, an exec takes 4 streams; 63 of them
				// and one without take 255 of the connection's 256,
				// which leaves one for the (sequential) pings.
				if full == "streams" && i < wire.MaxSessions-1 {
					pr, pw := io.Pipe()
					rc.Stdin = pr
					stdins = append(stdins, pw)
				}
				chans = append(chans, execAsync(t.Context(), c, wait, rc))
				outs = append(outs, out)
			}
			proctest.Wait(t, "/bin/sh -c "+wait, a.Pid(), wire.MaxSessions)

			r := agenttest.Run(t.Context(), c, "echo one too many", nil)
			if !errors.Is(r.Err, errcode.ErrBusy) {
				t.Errorf("exec %d: status %d err %v stdout %q, want busy", wire.MaxSessions+1, r.Status, r.Err, r.Stdout)
			}
			// Several pings while the agent is full.
			time.Sleep(500 * time.Millisecond)
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, pw := range stdins {
				pw.Close()
			}
			failed := 0
			for i, ch := range chans {
				r := within(t, ch, 30*time.Second, fmt.Sprintf("exec %d", i))
				if r.Err != nil || r.Status != 0 || outs[i].String() != "done\n" {
					if failed++; failed <= 3 {
						t.Errorf("exec %d: status %d err %v output %q", i, r.Status, r.Err, outs[i].String())
					}
				}
			}
			if failed > 0 {
				t.Errorf("%d of %d execs failed", failed, len(chans))
			}
			agenttest.MustRun(t, c, "echo after", "after\n")
		})
	}
}

// TestResetDuringDial resets and closes a client whose dial hangs (a VM
// still booting): neither waits for it, and the request being made fails
// as a lost connection.
func TestResetDuringDial(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dialing := make(chan struct{}, 2)
	c := client.New(client.Options{Name: "slow", Dial: func(ctx context.Context) (net.Conn, error) {
		dialing <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	ping := func() <-chan error {
		ch := make(chan error, 1)
		go func() { _, err := c.Ping(ctx); ch <- err }()
		return ch
	}
	for _, end := range []struct {
		name string
		f    func()
	}{{"Reset", c.Reset}, {"Close", func() { c.Close() }}} {
		ch := ping()
		<-dialing
		start := time.Now()
		end.f()
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s waited %v for the dial", end.name, d)
		}
		select {
		case err := <-ch:
			if end.name == "Reset" && !errors.Is(err, client.ErrLost) {
				t.Errorf("a request whose dial was reset: %v, want ErrLost", err)
			}
			if end.name == "Close" && err == nil {
				t.Errorf("a request whose dial was closed: no error")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the request is still dialing 5 s after %s", end.name)
		}
	}
}
