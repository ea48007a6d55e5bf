// Package agenttest runs the real spirit-agent for tests, listening on a
// unix socket, and writes the spirit.toml that makes it a target.
package agenttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"spirit/agents/client"
	"spirit/target"
)

// Agent is a spirit-agent process serving a unix socket.
type Agent struct {
	t    *testing.T
	bin  string
	Sock string // the socket it listens on

	mu  sync.Mutex
	cmd *exec.Cmd
	log LockedBuffer // written by exec's copier while the test reads it
}

// LockedBuffer is a bytes.Buffer that one goroutine may write while
// another reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is the length of what has been written.
func (b *LockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Start runs bin --listen unix:SOCK in a temporary directory and waits
// until it accepts connections. It is killed when the test ends, and its
// log is shown if the test failed.
func Start(t *testing.T, bin string) *Agent {
	t.Helper()
	// A short directory: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "sa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &Agent{t: t, bin: bin, Sock: filepath.Join(dir, "a.sock")}
	a.Restart()
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("agent log:\n%s", a.log.String())
		}
	})
	return a
}

// Restart starts the agent again (after Kill), on the same socket.
func (a *Agent) Restart() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	cmd := exec.Command(a.bin, "--listen", "unix:"+a.Sock, "--debug")
	cmd.Stdout, cmd.Stderr = &a.log, &a.log
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("start agent: %v", err)
	}
	a.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", a.Sock)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("agent does not listen on %s: %v\n%s", a.Sock, err, a.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pid is the agent process's pid.
func (a *Agent) Pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd.Process.Pid
}

// Kill kills the agent with SIGKILL and waits for it.
func (a *Agent) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Kill()
	a.cmd.Wait()
	a.cmd = nil
}

// Stop ends the agent with SIGTERM, as a service manager does, and waits
// for it; it reports whether the agent exited cleanly.
func (a *Agent) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return nil
	}
	cmd := a.cmd
	a.cmd = nil
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("agent did not exit within 5 s of SIGINT")
	}
}

// Log is what the agent has logged so far.
func (a *Agent) Log() string { return a.log.String() }

// Config writes $dir/spirit/spirit.toml with an agent target called name
// on sock, and returns the XDG_CONFIG_HOME=dir entry that selects it.
func Config(t *testing.T, dir, name, sock string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "spirit"), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("[agents.%s]\naddress = %q\n", name, "unix:"+sock)
	if err := os.WriteFile(filepath.Join(dir, "spirit", "spirit.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return "XDG_CONFIG_HOME=" + dir
}

// Result is how an exec through a client ended.
type Result struct {
	Status         int
	Stdout, Stderr string
	Err            error
}

// Run execs text through c with stdin (nil for none) and buffers for its
// output.
func Run(ctx context.Context, c *client.Client, text string, stdin io.Reader) Result {
	var out, errb LockedBuffer
	status, err := c.Exec(ctx, &target.Command{Text: text, Stdin: stdin, Stdout: &out, Stderr: &errb})
	return Result{status, out.String(), errb.String(), err}
}

// MustRun runs text and fails the test unless it exits 0 with stdout want
// within 30 s.
func MustRun(t *testing.T, c *client.Client, text, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := Run(ctx, c, text, nil)
	if r.Err != nil || r.Status != 0 || r.Stdout != want {
		t.Fatalf("%s: status %d err %v stdout %q stderr %q, want status 0 stdout %q", text, r.Status, r.Err, r.Stdout, r.Stderr, want)
	}
}

// Garbage is what a port may hold from an old host or session: random
// bytes and fragments of every handshake message (a whole sync among
// them, with a nonce no live host sent), ending in half a sync.
func Garbage() []byte {
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	var b bytes.Buffer
	b.WriteByte('G') // not yamux's version 0: a yamux reader fails at once
	b.Write(random(64 << 10))
	magic := "\x00\xffSPIRIT"
	nonce := string(random(16))
	for _, frag := range []string{
		magic[:1], magic[:2], magic[:5], magic,
		magic + "S", magic + "S" + nonce[:7],
		magic + "S" + nonce, // a whole sync, which an agent acks
		magic + "A" + nonce,
		magic + "G" + nonce + "\xff\xff",       // a go too long to be one
		magic + "G" + nonce + "\x00\x06{\"pro", // a go with a bad hello
		magic + "R" + nonce + "\x00\x02{}",
		magic + "X",
	} {
		b.WriteString(frag)
		b.Write(random(100))
	}
	b.WriteString(magic + "S" + nonce[:9])
	return b.Bytes()
}

// WithGarbage wraps dial so that each connection starts with Garbage, as
// a host whose port still holds an old session's bytes sees it.
func WithGarbage(dial func(context.Context) (net.Conn, error)) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		conn, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := conn.Write(Garbage()); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}
