package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"spirit/agents/client"
	"spirit/agents/wire"
	"spirit/errcode"
	"spirit/internal/agenttest"
	"spirit/internal/proctest"
	"spirit/target"
)

// testRelay is a VM supervisor's socket in miniature: each connection to
// its unix socket is relayed to the agent through one upstream client.
type testRelay struct {
	upstream *client.Client
	sock     string
	accepted atomic.Int32
	ended    chan error // each Relay's return, in order
	refusal  atomic.Pointer[error]
	stop     context.CancelFunc // ends every Relay
}

// startRelay relays to the agent on agentSock until the test ends.
func startRelay(t *testing.T, agentSock string) *testRelay {
	t.Helper()
	return startRelayWith(t, agentSock, client.Options{})
}

// startRelayWith is startRelay with o the upstream client's options.
func startRelayWith(t *testing.T, agentSock string, o client.Options) *testRelay {
	t.Helper()
	// A short directory: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "r")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tr := &testRelay{
		upstream: newClient(t, agentSock, o),
		sock:     filepath.Join(dir, "r.sock"),
		ended:    make(chan error, 64),
	}
	l, err := net.Listen("unix", tr.sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr.stop = cancel
	var g errgroup.Group
	g.Go(func() error {
		for {
			conn, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("accept: %w", err)
			}
			tr.accepted.Add(1)
			g.Go(func() error {
				err := tr.upstream.Relay(ctx, conn, client.RelayOptions{Refuse: tr.refuse})
				select {
				case tr.ended <- err:
				default:
				}
				return nil
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("relay: %v", err)
		}
		// Each Relay has waited for its goroutines before returning.
		var stacks bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&stacks, 2)
		for _, g := range strings.Split(stacks.String(), "\n\n") {
			if strings.Contains(g, "client.(*relay)") || strings.Contains(g, "client.(*Client).Relay") {
				t.Errorf("a goroutine of a relay outlives it:\n%s", g)
			}
		}
	})
	return tr
}

func (tr *testRelay) refuse() error {
	if err := tr.refusal.Load(); err != nil {
		return *err
	}
	return nil
}

func (tr *testRelay) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", tr.sock)
}

// shell returns a client of the relay, as a spirit shell has.
func (tr *testRelay) shell(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	if o.Dial == nil {
		o.Dial = tr.dial
	}
	return newClient(t, "", o)
}

// end waits for the next Relay to return.
func (tr *testRelay) end(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-tr.ended:
		return err
	case <-time.After(d):
		t.Fatalf("no relay returned within %v", d)
		return nil
	}
}

func TestRelayExec(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	sh := tr.shell(t, client.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	t.Run("outputs", func(t *testing.T) {
		r := agenttest.Run(ctx, sh, "echo out; echo err >&2; exit 7", nil)
		if r.Err != nil || r.Status != 7 || r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Errorf("got %+v, want status 7 stdout out stderr err", r)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		var in bytes.Buffer
		for i := range 100000 {
			fmt.Fprintln(&in, i+1)
		}
		r := agenttest.Run(ctx, sh, "wc -l", &in)
		if r.Err != nil || r.Status != 0 || strings.TrimSpace(r.Stdout) != "100000" {
			t.Errorf("wc -l of 100000 lines: %+v", r)
		}
		// A stdin that is a pipe, not a buffer, and stays open after
		// the command has read its line.
		pr, pw := io.Pipe()
		var writer sync.WaitGroup
		writer.Go(func() { io.WriteString(pw, "line\n") })
		r = agenttest.Run(ctx, sh, "head -n 1", pr)
		pw.Close()
		writer.Wait()
		if r.Err != nil || r.Status != 0 || r.Stdout != "line\n" {
			t.Errorf("head -n 1 of an open pipe: %+v", r)
		}
	})

	t.Run("pty", func(t *testing.T) {
		text := fmt.Sprintf("echo ready-$((%d+1)); read x; stty size", os.Getpid())
		ready := fmt.Sprintf("ready-%d", os.Getpid()+1)
		resize := make(chan target.WinSize, 1)
		pr, pw := io.Pipe()
		defer pw.Close()
		var out agenttest.LockedBuffer
		ch := execAsync(ctx, sh, text, &target.Command{
			Stdin:  pr,
			Stdout: &out,
			TTY:    &target.TTY{Size: target.WinSize{Rows: 24, Cols: 80}, Resize: resize},
		})
		waitFor(t, func() bool { return strings.Contains(out.String(), ready) }, "the pty's first line")
		pid := proctest.Wait(t, "/bin/sh -c "+text, a.Pid(), 1)[0]
		if rows, cols := termSize(t, pid); rows != 24 || cols != 80 {
			t.Errorf("first size %dx%d, want 24x80", rows, cols)
		}
		resize <- target.WinSize{Rows: 30, Cols: 100}
		waitFor(t, func() bool { r, c := termSize(t, pid); return r == 30 && c == 100 }, "the resize")
		io.WriteString(pw, "x\n")
		r := within(t, ch, 10*time.Second, "pty exec")
		if r.Err != nil || r.Status != 0 || !strings.Contains(out.String(), "\n30 100\r\n") {
			t.Errorf("pty exec: status %d err %v output %q, want 30 100", r.Status, r.Err, out.String())
		}
	})

	t.Run("broken pipe", func(t *testing.T) {
		// The shell's writer fails: the agent closes that output and
		// the command meets a broken pipe, as on the host.
		status, err := sh.Exec(ctx, &target.Command{Text: "yes", Stdout: &failAfter{limit: 1 << 20}, Stderr: io.Discard})
		if status != 141 || err != nil {
			t.Errorf("yes into a failing writer: status %d err %v, want 141 (SIGPIPE)", status, err)
		}
	})

	t.Run("files", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f")
		data := randomBytes(8 << 20)
		f, err := sh.Open(ctx, path, target.Write)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if disk, err := os.ReadFile(path); err != nil || sha256.Sum256(disk) != sha256.Sum256(data) {
			t.Fatalf("on disk: %d bytes (%v), want the %d written", len(disk), err, len(data))
		}
		f, err = sh.Open(ctx, path, target.Read)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), sumOf(data)) {
			t.Fatalf("read back: %d bytes (%v), want the %d written with the same sha256", n, err, len(data))
		}
		if _, err := sh.Open(ctx, path+".missing", target.Read); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("read of a missing file: %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("control", func(t *testing.T) {
		dir := t.TempDir()
		if err := sh.Control(ctx, "--cd", []string{dir}, io.Discard); err != nil {
			t.Fatal(err)
		}
		agenttest.MustRun(t, sh, "pwd", dir+"\n")
		err := sh.Control(ctx, "--cd", []string{"missing"}, io.Discard)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("--cd missing: %v, want fs.ErrNotExist", err)
		}
		// The shell sees the agent's hello, not the relay's.
		var out bytes.Buffer
		if err := sh.Control(ctx, "--status", nil, &out); err != nil {
			t.Fatal(err)
		}
		host, _ := os.Hostname()
		if !strings.Contains(out.String(), " on "+host+" (") || !strings.Contains(out.String(), "protocol 1") {
			t.Errorf("--status: %q, want the agent's hostname %s", out.String(), host)
		}
		h, err := sh.Hello(ctx)
		up, uerr := tr.upstream.Hello(ctx)
		if err != nil || uerr != nil || h.Version != up.Version || h.OS != up.OS || strings.Join(h.Caps, " ") != strings.Join(up.Caps, " ") {
			t.Errorf("hello through the relay %+v (%v), the agent's %+v (%v)", h, err, up, uerr)
		}
	})
	if n := tr.accepted.Load(); n != 1 {
		t.Errorf("the shell connected %d times, want once", n)
	}
}

func sumOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// termSize is the size of the terminal on process pid's stdin.
func termSize(t *testing.T, pid int) (rows, cols uint16) {
	t.Helper()
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", pid), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open the command's terminal: %v", err)
	}
	defer unix.Close(fd)
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		t.Fatalf("the command's terminal size: %v", err)
	}
	return ws.Row, ws.Col
}

// TestRelayConcurrent runs execs from several shells at once through one
// relay and one connection to the agent.
func TestRelayConcurrent(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	const shells, execs = 5, 10
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for s := range shells {
		sh := tr.shell(t, client.Options{})
		for e := range execs {
			g.Go(func() error {
				in := fmt.Sprintf("in-%d-%d\n", s, e)
				text := fmt.Sprintf("cat; echo out-%d-%d; echo err-%d-%d >&2; head -c %d /dev/zero | wc -c; exit %d", s, e, s, e, 100000*(e+1), e)
				r := agenttest.Run(gctx, sh, text, strings.NewReader(in))
				want := fmt.Sprintf("%sout-%d-%d\n%d\n", in, s, e, 100000*(e+1))
				if r.Err != nil || r.Status != e || strings.ReplaceAll(r.Stdout, " ", "") != want || r.Stderr != fmt.Sprintf("err-%d-%d\n", s, e) {
					return fmt.Errorf("shell %d exec %d: %+v, want status %d stdout %q", s, e, r, e, want)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Error(err)
	}
	t.Logf("%d execs from %d shells in %v", shells*execs, shells, time.Since(start).Round(time.Millisecond))
	if n := tr.accepted.Load(); n != shells {
		t.Errorf("%d connections to the relay, want %d", n, shells)
	}
}

// counter counts what is written to it.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestRelayThroughput streams 256 MiB out of the agent, with and without
// the relay, and logs both rates.
func TestRelayThroughput(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	const size = 256 << 20
	for _, c := range []struct {
		name string
		c    *client.Client
	}{{"direct", newClient(t, a.Sock, client.Options{})}, {"relay", tr.shell(t, client.Options{})}} {
		ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
		var out counter
		start := time.Now()
		status, err := c.c.Exec(ctx, &target.Command{Text: "head -c " + strconv.Itoa(size) + " /dev/zero", Stdout: &out, Stderr: io.Discard})
		d := time.Since(start)
		cancel()
		if err != nil || status != 0 || out.n.Load() != size {
			t.Fatalf("%s: status %d err %v, %d bytes, want %d", c.name, status, err, out.n.Load(), size)
		}
		t.Logf("%s: %d MiB in %v, %.0f MB/s", c.name, size>>20, d.Round(time.Millisecond), float64(size)/d.Seconds()/1e6)
	}
}

// TestRelayCancel interrupts a relayed exec: it returns at once and its
// command is gone on the agent.
func TestRelayCancel(t *testing.T) {
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	r0 := startSleep(t, ctx, 100)
	sh, ch, pids := r0.sh, r0.ch, r0.pids
	interrupt()
	start := time.Now()
	r := within(t, ch, 3*time.Second, "cancelled relayed exec")
	t.Logf("a cancelled relayed exec returned in %v", time.Since(start).Round(time.Millisecond))
	if r.Status != 130 || r.Err != nil {
		t.Errorf("cancelled exec: status %d err %v, want 130", r.Status, r.Err)
	}
	proctest.WaitGone(t, pids, 2*time.Second, "the cancelled sleep")
	agenttest.MustRun(t, sh, "echo still there", "still there\n")
}

// relayedSleep is a fresh agent behind a fresh relay, and a shell whose
// exec of a unique sleep through it runs on the agent.
type relayedSleep struct {
	a    *agenttest.Agent
	tr   *testRelay
	sh   *client.Client
	ch   <-chan agenttest.Result
	pids []int
}

// startSleep starts `sleep secs` through a new relay under ctx (bounded
// to a minute) and returns once it runs. The sleep is killed when the
// test ends: a SIGKILLed agent cannot end what its commands started.
func startSleep(t *testing.T, ctx context.Context, secs int) relayedSleep {
	t.Helper()
	r := relayedSleep{a: agenttest.Start(t, agentBin)}
	r.tr = startRelay(t, r.a.Sock)
	r.sh = r.tr.shell(t, client.Options{})
	sleep := proctest.UniqueSleep(secs)
	t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(cancel)
	r.ch = execAsync(ctx, r.sh, sleep, nil)
	r.pids = proctest.Wait(t, sleep, r.a.Pid(), 1)
	return r
}

// TestRelayShellGone ends a shell in the middle of an exec: its command
// and all it started are killed on the agent, and the relay returns.
func TestRelayShellGone(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	for _, how := range []string{"client closed", "conn closed"} {
		t.Run(how, func(t *testing.T) {
			var last atomic.Pointer[net.Conn]
			sh := tr.shell(t, client.Options{Dial: func(ctx context.Context) (net.Conn, error) {
				c, err := tr.dial(ctx)
				if err == nil {
					last.Store(&c)
				}
				return c, err
			}})
			sleep := proctest.UniqueSleep(100)
			t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// A background job too: the whole group must go.
			ch := execAsync(ctx, sh, fmt.Sprintf("sh -c '%s & %s; wait'", sleep, sleep), nil)
			pids := proctest.Wait(t, sleep, a.Pid(), 2)
			if how == "client closed" {
				sh.Close()
			} else {
				(*last.Load()).Close()
			}
			r := within(t, ch, 5*time.Second, "exec of a shell gone")
			if r.Err == nil {
				t.Errorf("exec of a shell gone: status %d, no error", r.Status)
			}
			proctest.WaitGone(t, pids, 2*time.Second, "the sleep of a shell gone")
			if err := tr.end(t, 5*time.Second); err != nil {
				t.Errorf("relay of a shell gone returned %v, want nil", err)
			}
		})
	}
	agenttest.MustRun(t, tr.shell(t, client.Options{}), "echo next", "next\n")
}

// TestRelayContext ends the relay's context under a relayed exec: the
// shell loses its connection, and the command is killed.
func TestRelayContext(t *testing.T) {
	r0 := startSleep(t, t.Context(), 100)
	tr, ch, pids := r0.tr, r0.ch, r0.pids
	tr.stop()
	if r := within(t, ch, 5*time.Second, "relayed exec after the relay's end"); !errors.Is(r.Err, client.ErrLost) {
		t.Errorf("relayed exec after the relay's end: status %d err %v, want ErrLost", r.Status, r.Err)
	}
	if err := tr.end(t, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("relay after its context's end: %v, want context.Canceled", err)
	}
	proctest.WaitGone(t, pids, 2*time.Second, "the sleep of an ended relay")
	// The upstream connection stays.
	agenttest.MustRun(t, tr.upstream, "echo upstream", "upstream\n")
}

// TestRelayAgentKilled kills the agent under a relayed exec: the shell
// learns that the connection is lost, and works again once the agent is
// back.
func TestRelayAgentKilled(t *testing.T) {
	r0 := startSleep(t, t.Context(), 30)
	a, tr, sh, ch := r0.a, r0.tr, r0.sh, r0.ch
	start := time.Now()
	a.Kill()
	r := within(t, ch, 5*time.Second, "relayed exec after the agent's SIGKILL")
	t.Logf("the shell learnt of the agent's death in %v: %v", time.Since(start).Round(time.Millisecond), r.Err)
	if !errors.Is(r.Err, client.ErrLost) {
		t.Errorf("relayed exec after the agent's death: status %d err %v, want ErrLost", r.Status, r.Err)
	}
	if err := tr.end(t, 5*time.Second); !errors.Is(err, client.ErrLost) {
		t.Errorf("relay after the agent's death: %v, want ErrLost", err)
	}

	a.Restart()
	agenttest.MustRun(t, sh, "echo again", "again\n")
	agenttest.MustRun(t, tr.shell(t, client.Options{}), "echo new shell", "new shell\n")
}

// TestRelayReset drops the upstream connection under relayed execs: the
// relays end, their commands with them, and the shells connect again on
// their next use.
func TestRelayReset(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sleep := proctest.UniqueSleep(100)
	t.Cleanup(func() { proctest.KillAll(proctest.With(sleep, 0)) })
	var shells []*client.Client
	var chans []<-chan agenttest.Result
	for range 2 {
		sh := tr.shell(t, client.Options{})
		shells = append(shells, sh)
		chans = append(chans, execAsync(ctx, sh, sleep, nil))
	}
	pids := proctest.Wait(t, sleep, a.Pid(), 2)
	tr.upstream.Reset()
	for i, ch := range chans {
		if r := within(t, ch, 5*time.Second, "relayed exec after Reset"); !errors.Is(r.Err, client.ErrLost) {
			t.Errorf("shell %d: status %d err %v, want ErrLost", i, r.Status, r.Err)
		}
		if err := tr.end(t, 5*time.Second); !errors.Is(err, client.ErrLost) {
			t.Errorf("relay after Reset: %v, want ErrLost", err)
		}
	}
	proctest.WaitGone(t, pids, 2*time.Second, "the sleeps of the reset connection")
	for i, sh := range shells {
		agenttest.MustRun(t, sh, fmt.Sprintf("echo shell %d", i), fmt.Sprintf("shell %d\n", i))
	}
	if n := tr.accepted.Load(); n != 4 {
		t.Errorf("%d connections to the relay, want 4 (2 shells, twice)", n)
	}
}

// TestRelayRefuse pauses the relay: requests fail with its message, pings
// go on, and the same connection works once it is resumed.
func TestRelayRefuse(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	sh := tr.shell(t, client.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	agenttest.MustRun(t, sh, "echo before", "before\n")

	paused := errors.New("vm a is paused: run spirit vm resume a")
	tr.refusal.Store(&paused)
	r := agenttest.Run(ctx, sh, "true", nil)
	if r.Status == 0 || r.Err == nil || r.Err.Error() != paused.Error() {
		t.Errorf("exec while refused: status %d err %v, want %q", r.Status, r.Err, paused)
	}
	if _, err := sh.Open(ctx, filepath.Join(t.TempDir(), "f"), target.Write); err == nil || err.Error() != paused.Error() {
		t.Errorf("write while refused: %v, want %q", err, paused)
	}
	if _, err := sh.Ping(ctx); err != nil {
		t.Errorf("ping while refused: %v", err)
	}
	time.Sleep(time.Second) // the shell's keepalive pings ten times meanwhile
	tr.refusal.Store(nil)

	agenttest.MustRun(t, sh, "echo after", "after\n")
	if n := tr.accepted.Load(); n != 1 {
		t.Errorf("the shell connected %d times, want once", n)
	}
}

// TestRelayGarbage sends the relay garbage before a shell's handshake, and
// on a connection that never handshakes.
func TestRelayGarbage(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	raw, err := tr.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write(agenttest.Garbage()); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if err := tr.end(t, 5*time.Second); err == nil {
		t.Errorf("relay of a connection with no handshake returned nil")
	}

	sh := tr.shell(t, client.Options{Dial: agenttest.WithGarbage(tr.dial)})
	agenttest.MustRun(t, sh, "echo after garbage", "after garbage\n")
}

// rawSession speaks to the relay by hand, for requests a client would not
// make.
func rawSession(ctx context.Context, t *testing.T, tr *testRelay) *yamux.Session {
	t.Helper()
	conn, err := tr.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, mc, err := wire.HostSync(ctx, conn, wire.Hello{Proto: wire.Proto, Version: "raw"})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	sess, err := yamux.Client(mc, wire.MuxConfig())
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// open opens a stream that starts with a frame of type typ.
func open(t *testing.T, sess *yamux.Session, typ wire.Type, v any) *yamux.Stream {
	t.Helper()
	st, err := sess.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.WriteFrame(st, typ, v); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRelayRequests sends the relay requests no client makes: each bad
// one is answered with an error and ends only its stream; two hosts that
// use the same exec ID each get their own exec.
func TestRelayRequests(t *testing.T) {
	a := agenttest.Start(t, agentBin)
	tr := startRelay(t, a.Sock)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sess := rawSession(ctx, t, tr)

	for _, c := range []struct {
		name string
		typ  wire.Type
		v    any
		want string
	}{
		{"not a request", wire.TOK, wire.Reply{}, "relay: malformed frame: a stream starts with ok, want request"},
		{"unknown op", wire.TRequest, wire.Request{Op: "nope"}, `relay: malformed frame: request: unknown op "nope"`},
		{"exec without text", wire.TRequest, wire.Request{Op: wire.OpExec, ID: "x"}, "relay: malformed frame: request: exec needs shell text or argv, not both"},
	} {
		var r wire.Reply
		err := wire.Expect(open(t, sess, c.typ, c.v), wire.TOK, &r)
		if re := (*errcode.Error)(nil); !errors.As(err, &re) || re.Msg != c.want {
			t.Errorf("%s: %v, want the error %q", c.name, err, c.want)
		}
	}
	var r wire.Reply
	if err := wire.Expect(open(t, sess, wire.TRequest, wire.Request{Op: wire.OpPing}), wire.TOK, &r); err != nil {
		t.Errorf("ping after bad requests: %v", err)
	}

	// Two hosts, one exec ID, their streams interleaved on the agent's
	// connection.
	hosts := []*yamux.Session{sess, rawSession(ctx, t, tr)}
	var ctls, outs [2]*yamux.Stream
	for i, s := range hosts {
		ctls[i] = open(t, s, wire.TRequest, wire.Request{Op: wire.OpExec, ID: "same", Shell: fmt.Sprintf("echo host %d", i)})
	}
	for fd := 1; fd <= 2; fd++ {
		for i, s := range hosts {
			st := open(t, s, wire.TRequest, wire.Request{Op: wire.OpAttach, ID: "same", FD: fd})
			if fd == 1 {
				outs[i] = st
			}
		}
	}
	for i := range hosts {
		var ok wire.Reply
		if err := wire.Expect(outs[i], wire.TOK, &ok); err != nil {
			t.Fatalf("host %d: stdout: %v", i, err)
		}
		out, err := io.ReadAll(outs[i])
		var exit wire.ExitMsg
		eerr := wire.Expect(ctls[i], wire.TExit, &exit)
		if want := fmt.Sprintf("host %d\n", i); err != nil || string(out) != want || eerr != nil || exit.Status != 0 {
			t.Errorf("host %d: stdout %q (%v), exit %+v (%v), want %q and status 0", i, out, err, exit, eerr, want)
		}
	}
}
