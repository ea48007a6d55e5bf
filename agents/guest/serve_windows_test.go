//go:build windows

package guest

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"spirit/agents/wire"
)

// pipeIO is a fake vioserial handle whose host is the other end of a
// pipe: what the agent writes, the host reads, and the other way round.
type pipeIO struct {
	c    net.Conn
	mu   sync.Mutex
	dead bool
}

func (p *pipeIO) kill() {
	p.mu.Lock()
	p.dead = true
	p.mu.Unlock()
	p.c.Close()
}

func (p *pipeIO) gone() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.dead }

func (p *pipeIO) hostConnected() (bool, error) {
	if p.gone() {
		return false, errGone
	}
	return true, nil
}

func (p *pipeIO) read(b []byte, cancelWhen func(done <-chan struct{}) bool) (uint32, error) {
	done, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		if cancelWhen(done) {
			p.c.SetReadDeadline(time.Now())
		}
	}()
	n, err := p.c.Read(b)
	close(done)
	<-watched
	p.c.SetReadDeadline(time.Time{})
	switch {
	case p.gone():
		return 0, errGone
	case errors.Is(err, os.ErrDeadlineExceeded):
		return uint32(n), windows.ERROR_OPERATION_ABORTED
	case err != nil:
		return uint32(n), windows.ERROR_NO_SYSTEM_RESOURCES // the host has gone
	}
	return uint32(n), nil
}

func (p *pipeIO) write(b []byte, _ func(done <-chan struct{}) bool) (uint32, error) {
	n, err := p.c.Write(b)
	if p.gone() {
		return uint32(n), errGone
	}
	if err != nil {
		return uint32(n), windows.ERROR_CANT_WAIT
	}
	return uint32(n), nil
}

func (p *pipeIO) close() error { return p.c.Close() }

// hostExec runs text on the agent at the other end of conn, as the
// host's client does, and returns its stdout and status.
func hostExec(ctx context.Context, conn net.Conn, text string) (string, int, error) {
	_, mc, err := wire.HostSync(ctx, conn, wire.Hello{Proto: wire.Proto, Version: "test"})
	if err != nil {
		return "", 0, err
	}
	mux, _, err := wire.HostSession(ctx, mc)
	if err != nil {
		return "", 0, err
	}
	defer mux.Close()
	req := wire.Request{Op: wire.OpExec, ID: "x1", Shell: text}
	ctl, err := mux.OpenStream()
	if err != nil {
		return "", 0, err
	}
	if err := wire.WriteFrame(ctl, wire.TRequest, req); err != nil {
		return "", 0, err
	}
	var outs [3]net.Conn
	for fd := 1; fd <= 2; fd++ {
		st, err := mux.OpenStream()
		if err != nil {
			return "", 0, err
		}
		if err := wire.WriteFrame(st, wire.TRequest, wire.Request{Op: wire.OpAttach, ID: req.ID, FD: fd}); err != nil {
			return "", 0, err
		}
		outs[fd] = st
	}
	var out []byte
	for fd := 1; fd <= 2; fd++ {
		if err := wire.Expect(outs[fd], wire.TOK, &wire.Reply{}); err != nil {
			return "", 0, err
		}
		b, _ := io.ReadAll(outs[fd])
		if fd == 1 {
			out = b
		}
	}
	var exit wire.ExitMsg
	if err := wire.Expect(ctl, wire.TExit, &exit); err != nil {
		return "", 0, err
	}
	return string(out), exit.Status, nil
}

// TestServeReopensPort: the agent's server on a port whose handle dies
// opens it again, and the next command works; the log has one line at
// Info for the loss of the session and one for the device, not a flood.
func TestServeReopensPort(t *testing.T) {
	hosts := make(chan net.Conn, 4)
	handles := make(chan *pipeIO, 4)
	open := func() (Port, error) {
		agent, host := net.Pipe()
		h := &pipeIO{c: agent}
		handles <- h
		hosts <- host
		return &virtioPort{h: h, name: "fake"}, nil
	}
	var log syncBuffer
	port := newReopenPort(open, log.logger())
	port.min = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- NewServer(log.logger(), "test").Serve(ctx, port) }()
	defer func() {
		cancel()
		port.Close()
		<-served
	}()

	for i, h := range []string{"first handle", "after its death"} {
		host := <-hosts
		out, status, err := hostExec(ctx, host, "echo hi")
		if err != nil || status != 0 || out != "hi\r\n" {
			t.Fatalf("%s: stdout %q status %d err %v\n%s", h, out, status, err, log.String())
		}
		if i == 0 {
			(<-handles).kill()
		}
	}
	time.Sleep(200 * time.Millisecond) // a flood would show by now
	if n := log.atInfo(); n > 2 {
		t.Fatalf("%d lines above Debug for one loss, want 2 at most:\n%s", n, log.String())
	}
}
