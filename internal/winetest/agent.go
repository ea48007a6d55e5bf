//go:build linux

package winetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"spirit/internal/agenttest"
)

// Agents starts spirit-agent.exe --stdio under Wine, one process per
// connection, and keeps their logs.
type Agents struct {
	w    *Wine
	Log  agenttest.LockedBuffer // every agent's stderr, in turn
	Args []string               // more arguments for each agent; set before the first Dial
}

// Agents returns a starter of agents whose logs are shown if t fails.
func (w *Wine) Agents(t testing.TB) *Agents {
	t.Helper()
	w.Need(t)
	a := &Agents{w: w}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", a.Log.String())
		}
	})
	return a
}

// Dial starts an agent and returns its stdin and stdout as a connection,
// for client.Options.Dial. Closing the connection closes the agent's
// stdin, which ends it, and waits for it.
func (a *Agents) Dial(ctx context.Context) (net.Conn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	// Not ctx: it bounds the dial, not the connection's life.
	cmd := exec.Command("wine", append([]string{a.w.Agent, "--stdio", "--debug"}, a.Args...)...)
	cmd.Env = a.w.Env()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, &a.Log
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s under Wine: %w", a.w.Agent, err)
	}
	c := &stdioConn{in: inW, out: outR, cmd: cmd, done: make(chan struct{})}
	go c.wait()
	return c, nil
}

// stdioConn is one agent's stdin and stdout.
type stdioConn struct {
	in   *os.File // the agent's stdin
	out  *os.File // the agent's stdout
	cmd  *exec.Cmd
	once sync.Once
	done chan struct{} // closed when the agent has exited
}

func (c *stdioConn) wait() {
	c.cmd.Wait()
	close(c.done)
}

func (c *stdioConn) Read(b []byte) (int, error)  { return c.out.Read(b) }
func (c *stdioConn) Write(b []byte) (int, error) { return c.in.Write(b) }

// Close ends the agent: EOF on its stdin, then a kill if it does not go.
func (c *stdioConn) Close() error {
	c.once.Do(func() {
		c.in.Close()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
		c.out.Close()
	})
	return nil
}

func (c *stdioConn) LocalAddr() net.Addr                { return stdioAddr{} }
func (c *stdioConn) RemoteAddr() net.Addr               { return stdioAddr{} }
func (c *stdioConn) SetDeadline(t time.Time) error      { c.in.SetDeadline(t); return c.out.SetDeadline(t) }
func (c *stdioConn) SetReadDeadline(t time.Time) error  { return c.out.SetReadDeadline(t) }
func (c *stdioConn) SetWriteDeadline(t time.Time) error { return c.in.SetWriteDeadline(t) }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "spirit-agent.exe under Wine" }

// Bridge listens on a unix socket and serves each connection with an
// agent of its own, so that spirit reaches the agent under Wine as an
// [agents.NAME] target: Wine 8.0 has no AF_UNIX for the agent to listen
// on itself. It returns the socket's path; everything stops with the test.
func (a *Agents) Bridge(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sw") // short: a socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "a.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { a.serve(c) })
		}
	})
	return sock
}

// serve copies between a host's connection and an agent of its own until
// either side ends.
func (a *Agents) serve(host net.Conn) {
	defer host.Close()
	agent, err := a.Dial(context.Background())
	if err != nil {
		fmt.Fprintf(&a.Log, "bridge: %v\n", err)
		return
	}
	defer agent.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(agent, host); done <- struct{}{} }()
	go func() { io.Copy(host, agent); done <- struct{}{} }()
	<-done
	host.Close()
	agent.Close()
	<-done
}
